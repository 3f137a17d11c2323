import { DOWNSTREAM_OPERATIONS } from '../shared/downstream/operations.js';
import { operationHandler } from '../shared/http/operationRoute.js';
import { registerHttpFunction } from '../shared/http/registry.js';
import type { ServicesProvider } from '../shared/runtime.js';
import { instanceServices } from './instance.js';

/** DELETE /api/tasks/{id}: deletes a task (204). */
export function createDeleteTask(services: ServicesProvider) {
  return operationHandler(services, DOWNSTREAM_OPERATIONS.deleteTask);
}

export const deleteTask = createDeleteTask(instanceServices);

registerHttpFunction('deleteTask', {
  route: 'tasks/{id}',
  methods: ['DELETE'],
  authLevel: 'anonymous',
  handler: deleteTask,
});
