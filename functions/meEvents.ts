import { type ApiHandler, handle, NO_STORE } from '../shared/http/handle.js';
import { registerHttpFunction } from '../shared/http/registry.js';
import { getMyUpcomingEvents } from '../shared/profile.js';
import type { ServicesProvider } from '../shared/runtime.js';
import { instanceServices } from './instance.js';

/** GET /api/me/events: the caller's calendar events of the coming days (needs consent to Calendars.Read). */
export function createGetMyEvents(services: ServicesProvider): ApiHandler {
  return (request, context) =>
    handle(request, context, services, async ({ authenticator, downstream }) => {
      const caller = await authenticator.authenticate(request.headers.get('authorization'));
      const events = await getMyUpcomingEvents(downstream, caller);
      return { status: 200, headers: NO_STORE, jsonBody: events };
    });
}

export const getMyEvents = createGetMyEvents(instanceServices);

registerHttpFunction('getMyEvents', {
  route: 'me/events',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: getMyEvents,
});
