import { type ApiHandler, handle, NO_STORE } from '../shared/http/handle.js';
import { registerHttpFunction } from '../shared/http/registry.js';
import type { ServicesProvider } from '../shared/runtime.js';
import { instanceServices } from './instance.js';

/**
 * GET /api/health: anonymous, so it says only that the instance is alive and ready (its configuration
 * is valid and its services are built); 503 `ERR_CONFIG_INVALID` otherwise. The configuration summary
 * is an operator's view: it is logged when the instance starts, never answered here.
 */
export function createGetHealth(services: ServicesProvider): ApiHandler {
  return (request, context) =>
    handle(request, context, services, () =>
      Promise.resolve({ status: 200, headers: NO_STORE, jsonBody: { live: true, ready: true } }),
    );
}

export const getHealth = createGetHealth(instanceServices);

registerHttpFunction('getHealth', {
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: getHealth,
});
