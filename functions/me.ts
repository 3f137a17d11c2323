import { type ApiHandler, handle, NO_STORE } from '../shared/http/handle.js';
import { registerHttpFunction } from '../shared/http/registry.js';
import { getMyProfile } from '../shared/profile.js';
import type { ServicesProvider } from '../shared/runtime.js';
import { instanceServices } from './instance.js';

/** GET /api/me: the caller's Microsoft Graph profile, fetched on the caller's behalf. */
export function createGetMe(services: ServicesProvider): ApiHandler {
  return (request, context) =>
    handle(request, context, services, async ({ authenticator, downstream }) => {
      const caller = await authenticator.authenticate(request.headers.get('authorization'));
      const profile = await getMyProfile(downstream, caller);
      return { status: 200, headers: NO_STORE, jsonBody: profile };
    });
}

export const getMe = createGetMe(instanceServices);

registerHttpFunction('getMe', { route: 'me', methods: ['GET'], authLevel: 'anonymous', handler: getMe });
