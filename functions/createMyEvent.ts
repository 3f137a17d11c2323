import { DOWNSTREAM_OPERATIONS } from '../shared/downstream/operations.js';
import { operationHandler } from '../shared/http/operationRoute.js';
import { registerHttpFunction } from '../shared/http/registry.js';
import type { ServicesProvider } from '../shared/runtime.js';
import { instanceServices } from './instance.js';

/** POST /api/me/events: a new event in the caller's calendar (Calendars.ReadWrite), 201 with the event. */
export function createCreateMyEvent(services: ServicesProvider) {
  return operationHandler(services, DOWNSTREAM_OPERATIONS.createMyEvent);
}

export const createMyEvent = createCreateMyEvent(instanceServices);

registerHttpFunction('createMyEvent', {
  route: 'me/events',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: createMyEvent,
});
