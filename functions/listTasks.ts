import { DOWNSTREAM_OPERATIONS } from '../shared/downstream/operations.js';
import { operationHandler } from '../shared/http/operationRoute.js';
import { registerHttpFunction } from '../shared/http/registry.js';
import type { ServicesProvider } from '../shared/runtime.js';
import { instanceServices } from './instance.js';

/** GET /api/tasks: the caller's tasks on the Tasks API, one page at a time (`?cursor=<next>` for the next). */
export function createListTasks(services: ServicesProvider) {
  return operationHandler(services, DOWNSTREAM_OPERATIONS.listTasks);
}

export const listTasks = createListTasks(instanceServices);

registerHttpFunction('listTasks', {
  route: 'tasks',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: listTasks,
});
