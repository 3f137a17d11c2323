import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { handle, NO_STORE } from '../shared/http/handle.js';
import { registerHttpFunction } from '../shared/http/registry.js';
import { getMyUpcomingEvents } from '../shared/profile.js';

/** GET /api/me/events: the caller's calendar events of the coming days (needs consent to Calendars.Read). */
export async function getMyEvents(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  return handle(request, context, async (services, telemetry) => {
    const caller = await services.authenticator.authenticate(request.headers.get('authorization'));
    const events = await getMyUpcomingEvents(services.downstream, caller, telemetry);
    return { status: 200, headers: NO_STORE, jsonBody: events };
  });
}

registerHttpFunction('getMyEvents', {
  route: 'me/events',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: getMyEvents,
});
