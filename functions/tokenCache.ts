import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { handle, NO_STORE } from '../shared/http/handle.js';
import { registerHttpFunction } from '../shared/http/registry.js';

/** DELETE /api/me/token-cache: forgets the caller's cached tokens (sign-out, erasure). */
export async function deleteMyTokenCache(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  return handle(request, context, async (services, telemetry) => {
    const caller = await services.authenticator.authenticate(request.headers.get('authorization'));
    await services.graphTokens.erase(caller, telemetry);
    return { status: 204, headers: NO_STORE };
  });
}

registerHttpFunction('deleteMyTokenCache', {
  route: 'me/token-cache',
  methods: ['DELETE'],
  authLevel: 'anonymous',
  handler: deleteMyTokenCache,
});
