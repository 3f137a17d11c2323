import { DOWNSTREAM_OPERATIONS } from '../shared/downstream/operations.js';
import { operationHandler } from '../shared/http/operationRoute.js';
import { registerHttpFunction } from '../shared/http/registry.js';
import type { ServicesProvider } from '../shared/runtime.js';
import { instanceServices } from './instance.js';

/** GET /api/tasks/{id}: one of the caller's tasks (404 ERR_DOWNSTREAM_NOT_FOUND when there is none). */
export function createGetTask(services: ServicesProvider) {
  return operationHandler(services, DOWNSTREAM_OPERATIONS.getTask);
}

export const getTask = createGetTask(instanceServices);

registerHttpFunction('getTask', {
  route: 'tasks/{id}',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: getTask,
});
