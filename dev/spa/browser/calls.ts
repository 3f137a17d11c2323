// What the sample SPA's user can ask for (a call), the API request each call makes, and the call carried through a
// redirect to Entra in msal's `state`, read back only when it is one of ours.
import { isRecord } from '../../../shared/narrow.js';

/** What the user asked for: an action and, for the task actions, the task. */
const ACTIONS = [
  'call-api',
  'call-events',
  'erase-cache',
  'call-tasks',
  'task-add',
  'task-complete',
  'task-delete',
  'event-add',
] as const;
type Action = (typeof ACTIONS)[number];
export interface Call {
  action: Action;
  /** task-complete, task-delete: the task's id. */
  id?: string;
  /** task-add: the new task's title. */
  title?: string;
}
/** Carried through a redirect in msal's `state`: what to do on return, and what the round trip satisfied. */
export interface Retry {
  call: Call;
  claims?: string;
  consented?: boolean;
}

/** The API request for a call: path under /api, method, JSON body. */
export function requestOf(call: Call): { path: string; method: string; body?: unknown } {
  const task = `tasks/${encodeURIComponent(call.id ?? '')}`;
  switch (call.action) {
    case 'call-api':
      return { path: 'me', method: 'GET' };
    case 'call-events':
      return { path: 'me/events', method: 'GET' };
    case 'erase-cache':
      return { path: 'me/token-cache', method: 'DELETE' };
    case 'call-tasks':
      return { path: 'tasks', method: 'GET' };
    case 'task-add':
      return { path: 'tasks', method: 'POST', body: { title: call.title ?? '' } };
    case 'task-complete':
      return { path: task, method: 'PATCH', body: { completed: true } };
    case 'task-delete':
      return { path: task, method: 'DELETE' };
    case 'event-add':
      return { path: 'me/events', method: 'POST', body: sampleEvent(new Date()) };
  }
}

/** A small fixed event: half an hour, starting at the next full hour (UTC). */
function sampleEvent(now: Date): unknown {
  const start = new Date(Math.ceil(now.getTime() / 3_600_000) * 3_600_000);
  const end = new Date(start.getTime() + 30 * 60_000);
  const utc = (date: Date): string => date.toISOString().slice(0, 19);
  return {
    subject: 'Planned from the sample SPA',
    start: { dateTime: utc(start), timeZone: 'UTC' },
    end: { dateTime: utc(end), timeZone: 'UTC' },
  };
}

/** The retry a redirect's `state` carries; undefined for any state that is not a well-formed one of ours. */
export function retryOf(state: string | undefined): Retry | undefined {
  try {
    const value: unknown = state === undefined ? undefined : JSON.parse(state);
    if (!isRecord(value) || !isRecord(value.call)) return undefined;
    const { action, id, title } = value.call;
    const known = ACTIONS.find((candidate) => candidate === action);
    if (known === undefined || (id !== undefined && typeof id !== 'string')) return undefined;
    if (title !== undefined && typeof title !== 'string') return undefined;
    return {
      call: { action: known, ...(id === undefined ? {} : { id }), ...(title === undefined ? {} : { title }) },
      ...(typeof value.claims === 'string' ? { claims: value.claims } : {}),
      ...(value.consented === true ? { consented: true } : {}),
    };
  } catch {
    return undefined;
  }
}
