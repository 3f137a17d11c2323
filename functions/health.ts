import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { handle, NO_STORE } from '../shared/http/handle.js';
import { registerHttpFunction } from '../shared/http/registry.js';

/**
 * GET /api/health: anonymous, so it says only that the instance is alive and ready (its configuration
 * is valid and its services are built); 503 `ERR_CONFIG_INVALID` otherwise. The configuration summary
 * is an operator's view: it is logged when the instance starts, never answered here.
 */
export async function getHealth(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handle(request, context, () =>
    Promise.resolve({ status: 200, headers: NO_STORE, jsonBody: { live: true, ready: true } }),
  );
}

registerHttpFunction('getHealth', {
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: getHealth,
});
