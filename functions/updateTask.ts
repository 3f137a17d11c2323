import { DOWNSTREAM_OPERATIONS } from '../shared/downstream/operations.js';
import { operationHandler } from '../shared/http/operationRoute.js';
import { registerHttpFunction } from '../shared/http/registry.js';
import type { ServicesProvider } from '../shared/runtime.js';
import { instanceServices } from './instance.js';

/** PATCH /api/tasks/{id}: changes a task's title or marks it completed (`{"completed": true}`). */
export function createUpdateTask(services: ServicesProvider) {
  return operationHandler(services, DOWNSTREAM_OPERATIONS.updateTask);
}

export const updateTask = createUpdateTask(instanceServices);

registerHttpFunction('updateTask', {
  route: 'tasks/{id}',
  methods: ['PATCH'],
  authLevel: 'anonymous',
  handler: updateTask,
});
