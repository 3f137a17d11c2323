// The Tasks API's routes: what a request is, from its method and raw path. The kinds are also the names of the
// emulator's counters, latency and faults (kit/control.ts).
import { safeDecode } from '../kit/http.js';

export const TASKS_KINDS = [
  'tasks.list',
  'tasks.create',
  'tasks.read',
  'tasks.update',
  'tasks.delete',
  'other',
] as const;
export type TasksKind = (typeof TASKS_KINDS)[number];

/** A request the API serves (with the task's id for one task), or another one (with the methods its path allows). */
export type Route = { kind: Exclude<TasksKind, 'other'>; id?: string } | { kind: 'other'; allow?: string };

export function routeOf(method: string, path: string): Route {
  if (/^\/tasks\/?$/.test(path)) {
    if (method === 'GET') return { kind: 'tasks.list' };
    if (method === 'POST') return { kind: 'tasks.create' };
    return { kind: 'other', allow: 'GET, POST' };
  }
  const segment = /^\/tasks\/([^/]+)$/.exec(path)?.[1];
  if (segment === undefined) return { kind: 'other' };
  // One segment, decoded once: `%2F`, `..` or anything else that is not an id names no task.
  const id = safeDecode(segment);
  if (method === 'GET') return { kind: 'tasks.read', id };
  if (method === 'PATCH') return { kind: 'tasks.update', id };
  if (method === 'DELETE') return { kind: 'tasks.delete', id };
  return { kind: 'other', allow: 'GET, PATCH, DELETE' };
}
