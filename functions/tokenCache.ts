import { type ApiHandler, handle, NO_STORE } from '../shared/http/handle.js';
import { registerHttpFunction } from '../shared/http/registry.js';
import type { ServicesProvider } from '../shared/runtime.js';
import { instanceServices } from './instance.js';

/** DELETE /api/me/token-cache: forgets the caller's cached tokens (sign-out, erasure). */
export function createDeleteMyTokenCache(services: ServicesProvider): ApiHandler {
  return (request, context) =>
    handle(request, context, services, async ({ authenticator, tokens }) => {
      const caller = await authenticator.authenticate(request.headers.get('authorization'));
      await tokens.erase(caller);
      return { status: 204, headers: NO_STORE };
    });
}

export const deleteMyTokenCache = createDeleteMyTokenCache(instanceServices);

registerHttpFunction('deleteMyTokenCache', {
  route: 'me/token-cache',
  methods: ['DELETE'],
  authLevel: 'anonymous',
  handler: deleteMyTokenCache,
});
