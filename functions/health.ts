import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { describeConfig } from '../shared/config.js';
import { handle, NO_STORE } from '../shared/http/handle.js';
import { registerHttpFunction } from '../shared/http/registry.js';

/** GET /api/health: anonymous; 200 when the configuration is valid, naming no secret. */
export async function getHealth(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handle(request, context, (services) =>
    Promise.resolve({
      status: 200,
      headers: NO_STORE,
      jsonBody: { status: 'healthy', configuration: describeConfig(services.config) },
    }),
  );
}

registerHttpFunction('getHealth', {
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: getHealth,
});
