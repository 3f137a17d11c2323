import { describeConfig } from '../shared/config.js';
import { type ApiHandler, handle, NO_STORE } from '../shared/http/handle.js';
import { registerHttpFunction } from '../shared/http/registry.js';
import type { ServicesProvider } from '../shared/runtime.js';
import { instanceServices } from './instance.js';

/** GET /api/health: anonymous; 200 when the configuration is valid, naming no secret. */
export function createGetHealth(services: ServicesProvider): ApiHandler {
  return (request, context) =>
    handle(request, context, services, ({ config }) =>
      Promise.resolve({
        status: 200,
        headers: NO_STORE,
        jsonBody: { status: 'healthy', configuration: describeConfig(config) },
      }),
    );
}

export const getHealth = createGetHealth(instanceServices);

registerHttpFunction('getHealth', {
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: getHealth,
});
