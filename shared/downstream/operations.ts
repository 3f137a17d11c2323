/**
 * Every downstream call the API makes on a caller's behalf, as data: which resource, which method and path, which
 * delegated permissions, what the caller may add (path parameters, allowed query parameters, a checked JSON body),
 * whether it answers in pages, and what the caller's token must grant. A route names its operation; the scopes
 * requested from Entra come from here, so two routes with different permissions never share (or evict) each
 * other's tokens; the app registrations and the sandbox's declared permissions derive from here too
 * (shared/downstream/permissions.ts).
 */

import { API_APP_ROLES } from '../auth/appRoles.js';
import type { RouteAccess } from '../auth/routeAccess.js';
import { isRecord } from '../narrow.js';
import type { HttpMethod, JsonObject } from './resourceClient.js';
import type { DownstreamResource } from './resources.js';

export type { DownstreamResource } from './resources.js';

/** What a body check gives: the object to send downstream, or why the caller's body is refused (400). */
export type BodyCheck = { ok: true; value: JsonObject } | { ok: false; message: string };

export interface DownstreamOperation {
  /** Stable name, used in logs and bound into page cursors. */
  readonly name: string;
  readonly resource: DownstreamResource;
  readonly method: HttpMethod;
  /**
   * The path on the resource, relative to its base URL. `{name}` is a path parameter: the route's parameter of the
   * same name, checked and bound as one encoded segment (shared/downstream/pathParameters.ts).
   */
  readonly path: string;
  /** Query parameters that depend on the time of the call (a calendar window). */
  readonly query?: (now: Date) => Readonly<Record<string, string>>;
  /** Query parameters a caller may send, each with the pattern its value must match; any other is a 400. */
  readonly callerQuery?: Readonly<Record<string, RegExp>>;
  /** The operation takes a JSON body: the check of the caller's body, giving what is sent downstream. */
  readonly body?: (input: unknown) => BodyCheck;
  /** A list: one page of `value` per call, and an opaque cursor to the next (shared/downstream/pages.ts). */
  readonly paged?: boolean;
  /** Delegated permissions on the resource, without its prefix (`User.Read`). */
  readonly permissions: readonly string[];
  /** What the caller's token must grant beyond the API's own scope: another scope it exposes, or an app role. */
  readonly access?: RouteAccess;
}

/** How far ahead `GET /api/me/events` looks. */
export const EVENTS_WINDOW_DAYS = 7;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Longest task title the Tasks API takes. */
export const MAX_TASK_TITLE_LENGTH = 255;
const PAGE_SIZE = /^(?:[1-9]|[1-9][0-9]|100)$/;

export const DOWNSTREAM_OPERATIONS = {
  /** GET /api/me: the caller's profile. */
  myProfile: {
    name: 'myProfile',
    resource: 'graph',
    method: 'GET',
    path: '/v1.0/me',
    permissions: ['User.Read'],
  },
  /** GET /api/me/events: the caller's next calendar events, soonest first, in pages. */
  myUpcomingEvents: {
    name: 'myUpcomingEvents',
    resource: 'graph',
    method: 'GET',
    path: '/v1.0/me/calendarView',
    query: (now) => ({
      startDateTime: now.toISOString(),
      endDateTime: new Date(now.getTime() + EVENTS_WINDOW_DAYS * DAY_MS).toISOString(),
      $orderby: 'start/dateTime',
      $top: '10',
      $select: 'subject,start,end,location,organizer,webLink',
    }),
    paged: true,
    permissions: ['Calendars.Read'],
  },
  /** POST /api/me/events: a new event in the caller's calendar. */
  createMyEvent: {
    name: 'createMyEvent',
    resource: 'graph',
    method: 'POST',
    path: '/v1.0/me/events',
    body: newEvent,
    permissions: ['Calendars.ReadWrite'],
  },
  /** GET /api/tasks: the caller's tasks, in pages. */
  listTasks: {
    name: 'listTasks',
    resource: 'tasks',
    method: 'GET',
    path: '/tasks',
    callerQuery: { $top: PAGE_SIZE },
    paged: true,
    permissions: ['Tasks.ReadWrite'],
  },
  /** POST /api/tasks: a new task (`{"title": "..."}`). */
  createTask: {
    name: 'createTask',
    resource: 'tasks',
    method: 'POST',
    path: '/tasks',
    body: (input) => taskFields(input, true),
    permissions: ['Tasks.ReadWrite'],
  },
  /** GET /api/tasks/{id}. */
  getTask: {
    name: 'getTask',
    resource: 'tasks',
    method: 'GET',
    path: '/tasks/{id}',
    permissions: ['Tasks.ReadWrite'],
  },
  /** PATCH /api/tasks/{id}: a new title, or completed. */
  updateTask: {
    name: 'updateTask',
    resource: 'tasks',
    method: 'PATCH',
    path: '/tasks/{id}',
    body: (input) => taskFields(input, false),
    permissions: ['Tasks.ReadWrite'],
  },
  /** DELETE /api/tasks/{id}: only for users an administrator assigned the API's Tasks.Admin app role. */
  deleteTask: {
    name: 'deleteTask',
    resource: 'tasks',
    method: 'DELETE',
    path: '/tasks/{id}',
    permissions: ['Tasks.ReadWrite'],
    access: { anyRole: [API_APP_ROLES.tasksAdmin.value] },
  },
} as const satisfies Record<string, DownstreamOperation>;

export type OperationName = keyof typeof DOWNSTREAM_OPERATIONS;

/** The scopes to request from Entra for an operation: `<scope prefix>/<permission>` for each permission. */
export function scopesFor(operation: DownstreamOperation, scopePrefix: string): string[] {
  return operation.permissions.map((permission) => `${scopePrefix}/${permission}`);
}

/** The path and query to call: the bound path, the operation's own query at `now`, then the caller's. */
export function requestPathFor(
  operation: DownstreamOperation,
  now: Date,
  bound: { path?: string; callerQuery?: Readonly<Record<string, string>> } = {},
): string {
  const path = bound.path ?? operation.path;
  const query = { ...operation.query?.(now), ...bound.callerQuery };
  if (Object.keys(query).length === 0) return path;
  const search = new URLSearchParams(query).toString();
  return `${path}${path.includes('?') ? '&' : '?'}${search}`;
}

/** `{ title, completed? }` to create (title required), `{ title?, completed? }` to change (one at least). */
function taskFields(input: unknown, creating: boolean): BodyCheck {
  if (!isRecord(input)) return { ok: false, message: 'the body must be a JSON object' };
  const unknown = Object.keys(input).find((name) => name !== 'title' && name !== 'completed');
  if (unknown !== undefined) return { ok: false, message: `"${unknown.slice(0, 40)}" is not a task field` };
  const { title, completed } = input;
  if (
    title !== undefined &&
    (typeof title !== 'string' || title.trim() === '' || title.length > MAX_TASK_TITLE_LENGTH)
  ) {
    return { ok: false, message: `"title" must be a text of 1 to ${MAX_TASK_TITLE_LENGTH} characters` };
  }
  if (completed !== undefined && typeof completed !== 'boolean') {
    return { ok: false, message: '"completed" must be true or false' };
  }
  if (creating && title === undefined) return { ok: false, message: '"title" is required' };
  if (!creating && title === undefined && completed === undefined) {
    return { ok: false, message: 'the body must change "title" or "completed"' };
  }
  return {
    ok: true,
    value: { ...(title === undefined ? {} : { title }), ...(completed === undefined ? {} : { completed }) },
  };
}

/**
 * `{ subject, start, end }` in Graph's own form, `start` and `end` as `{ "dateTime": "2026-12-01T09:00:00",
 * "timeZone": "UTC" }` (UTC only: the API does not hold the time zone database Graph has); Graph checks the rest.
 */
function newEvent(input: unknown): BodyCheck {
  if (!isRecord(input)) return { ok: false, message: 'the body must be a JSON object' };
  const unknown = Object.keys(input).find((name) => !['subject', 'start', 'end'].includes(name));
  if (unknown !== undefined) return { ok: false, message: `"${unknown.slice(0, 40)}" is not an event field` };
  const { subject, start, end } = input;
  if (typeof subject !== 'string' || subject.trim() === '' || subject.length > 255) {
    return { ok: false, message: '"subject" must be a text of 1 to 255 characters' };
  }
  const from = utcDateTimeOf(start);
  const to = utcDateTimeOf(end);
  if (from === undefined || to === undefined) {
    return {
      ok: false,
      message: '"start" and "end" must be { "dateTime": "2026-12-01T09:00:00", "timeZone": "UTC" }',
    };
  }
  if (to < from) return { ok: false, message: '"end" must not be before "start"' };
  return {
    ok: true,
    value: {
      subject,
      start: { dateTime: graphDateTime(from), timeZone: 'UTC' },
      end: { dateTime: graphDateTime(to), timeZone: 'UTC' },
    },
  };
}

function utcDateTimeOf(value: unknown): number | undefined {
  if (!isRecord(value) || value.timeZone !== 'UTC' || typeof value.dateTime !== 'string') return undefined;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/.test(value.dateTime)) return undefined;
  const epoch = Date.parse(`${value.dateTime}Z`);
  return Number.isNaN(epoch) ? undefined : epoch;
}

/** Graph's dateTimeTimeZone form: the time in the zone, without an offset. */
function graphDateTime(epoch: number): string {
  return new Date(epoch).toISOString().slice(0, 19);
}
