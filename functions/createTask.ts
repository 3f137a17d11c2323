import { DOWNSTREAM_OPERATIONS } from '../shared/downstream/operations.js';
import { operationHandler } from '../shared/http/operationRoute.js';
import { registerHttpFunction } from '../shared/http/registry.js';
import type { ServicesProvider } from '../shared/runtime.js';
import { instanceServices } from './instance.js';

/** POST /api/tasks: a new task (`{"title": "..."}`), 201 with the task and its Location. */
export function createCreateTask(services: ServicesProvider) {
  return operationHandler(services, DOWNSTREAM_OPERATIONS.createTask, {
    location: (task) =>
      typeof task.id === 'string' ? `/api/tasks/${encodeURIComponent(task.id)}` : undefined,
  });
}

export const createTask = createCreateTask(instanceServices);

registerHttpFunction('createTask', {
  route: 'tasks',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: createTask,
});
