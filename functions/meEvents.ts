import { DOWNSTREAM_OPERATIONS } from '../shared/downstream/operations.js';
import { operationHandler } from '../shared/http/operationRoute.js';
import { registerHttpFunction } from '../shared/http/registry.js';
import type { ServicesProvider } from '../shared/runtime.js';
import { instanceServices } from './instance.js';

/**
 * GET /api/me/events: the caller's calendar events of the coming days (Calendars.Read), one page at a time
 * (`?cursor=<next>` for the next).
 */
export function createGetMyEvents(services: ServicesProvider) {
  return operationHandler(services, DOWNSTREAM_OPERATIONS.myUpcomingEvents);
}

export const getMyEvents = createGetMyEvents(instanceServices);

registerHttpFunction('getMyEvents', {
  route: 'me/events',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: getMyEvents,
});
