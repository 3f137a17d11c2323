import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { handle, NO_STORE } from '../shared/http/handle.js';
import { registerHttpFunction } from '../shared/http/registry.js';
import { getMyProfile } from '../shared/profile.js';

/** GET /api/me: the caller's Microsoft Graph profile, fetched on the caller's behalf. */
export async function getMe(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handle(request, context, async (services, telemetry) => {
    const caller = await services.authenticator.authenticate(request.headers.get('authorization'));
    const profile = await getMyProfile(services.downstream, caller, telemetry);
    return { status: 200, headers: NO_STORE, jsonBody: profile };
  });
}

registerHttpFunction('getMe', { route: 'me', methods: ['GET'], authLevel: 'anonymous', handler: getMe });
