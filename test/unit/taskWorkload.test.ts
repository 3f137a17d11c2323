import { describe, expect, test } from '@jest/globals';

import { type TaskAnswer, type TaskRequest, TaskWorkload } from '../../bench/taskWorkload.js';

let created = 0;

/** The answer the Tasks API routes give to `request` when nothing is wrong; `tasks` is the user's list. */
function rightAnswer(
  request: TaskRequest,
  tasks: Map<string, { id: string; title: string; completed: boolean }>,
): TaskAnswer {
  if (request.step === 'create') {
    created += 1;
    const id = `tk_${String(created).padStart(12, '0')}-1`;
    const task = { id, title: request.task.title, completed: false };
    tasks.set(id, task);
    return { status: 201, location: `/api/tasks/${id}`, body: { ...task } };
  }
  if (request.step === 'list') return { status: 200, location: null, body: { value: [...tasks.values()] } };
  const task = tasks.get(request.task.id);
  if (task === undefined) return { status: 404, location: null, body: undefined };
  if (request.step === 'delete') {
    tasks.delete(task.id);
    return { status: 204, location: null, body: undefined };
  }
  if (request.step === 'complete') task.completed = true;
  return { status: 200, location: null, body: { ...task } };
}

describe('the load benchmark write workload', () => {
  test('creates first, then cycles list, complete, create, read, delete, and counts each kind', () => {
    const workload = new TaskWorkload('w');
    const tasks = new Map<string, { id: string; title: string; completed: boolean }>();
    const steps: string[] = [];
    for (let call = 0; call < 11; call++) {
      const request = workload.next(0, 0);
      steps.push(`${request.method} ${request.step}`);
      expect(workload.check(request, rightAnswer(request, tasks))).toBeUndefined();
    }
    expect(steps.slice(0, 6)).toEqual([
      'POST create',
      'GET list',
      'PATCH complete',
      'POST create',
      'GET read',
      'DELETE delete',
    ]);
    expect(workload.takeRequested()).toEqual({
      'tasks.create': 3,
      'tasks.list': 2,
      'tasks.update': 2,
      'tasks.read': 2,
      'tasks.delete': 2,
    });
    expect(workload.takeRequested()).toEqual({});
    expect(tasks.size).toBe(1);
  });

  test('refuses a status other than the route promises', () => {
    const workload = new TaskWorkload('w');
    const request = workload.next(0, 0);
    expect(workload.check(request, { status: 200, location: null, body: {} })).toMatch(
      /answered 200, not 201/,
    );
  });

  test("refuses a created task that is not the caller's, or a 201 without its Location", () => {
    const workload = new TaskWorkload('w');
    const first = workload.next(0, 0);
    const other = { id: 'tk_000000000000-1', title: 'w-u1-c1 task 1', completed: false };
    expect(workload.check(first, { status: 201, location: `/api/tasks/${other.id}`, body: other })).toMatch(
      /other than the one the caller created/,
    );
    const second = workload.next(1, 0);
    const own = { id: 'tk_000000000000-2', title: second.task.title, completed: false };
    expect(workload.check(second, { status: 201, location: null, body: own })).toMatch(/Location/);
  });

  test("refuses a page holding another user's task, or leaving out the caller's", () => {
    const workload = new TaskWorkload('w');
    const tasks = new Map<string, { id: string; title: string; completed: boolean }>();
    const created = workload.next(0, 1);
    expect(workload.check(created, rightAnswer(created, tasks))).toBeUndefined();
    const list = workload.next(0, 1);
    const theirs = { id: 'tk_000000000009-9', title: 'w-u10-c3 task 1', completed: false };
    expect(
      workload.check(list, { status: 200, location: null, body: { value: [...tasks.values(), theirs] } }),
    ).toMatch(/not the caller's/);
    expect(workload.check(list, { status: 200, location: null, body: { value: [] } })).toMatch(/left out/);
  });

  test('refuses a completed task that comes back unchanged', () => {
    const workload = new TaskWorkload('w');
    const tasks = new Map<string, { id: string; title: string; completed: boolean }>();
    for (let call = 0; call < 2; call++) {
      const request = workload.next(0, 0);
      expect(workload.check(request, rightAnswer(request, tasks))).toBeUndefined();
    }
    const complete = workload.next(0, 0);
    expect(complete.step).toBe('complete');
    expect(workload.check(complete, { status: 200, location: null, body: { ...complete.task } })).toMatch(
      /other than the caller's/,
    );
  });
});
