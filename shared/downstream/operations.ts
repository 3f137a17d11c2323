/**
 * Every downstream call the API makes on a caller's behalf, as data: which resource, which path, which
 * delegated permissions. A route names its operation; the scopes requested from Entra come from here,
 * so two routes with different permissions never share (or evict) each other's tokens.
 */

/** The resources the API calls. Their scope prefix (`https://graph.microsoft.com`) comes from config. */
export type DownstreamResource = 'graph';

export interface DownstreamOperation {
  /** Stable name, used in logs. */
  readonly name: string;
  readonly resource: DownstreamResource;
  readonly method: 'GET';
  /** The path (and fixed query) on the resource, relative to its base URL. */
  readonly path: string;
  /** Query parameters that depend on the time of the call (a calendar window). */
  readonly query?: (now: Date) => Readonly<Record<string, string>>;
  /** Delegated permissions on the resource, without its prefix (`User.Read`). */
  readonly permissions: readonly string[];
}

/** How far ahead `GET /api/me/events` looks. */
export const EVENTS_WINDOW_DAYS = 7;
const DAY_MS = 24 * 60 * 60 * 1000;

export const DOWNSTREAM_OPERATIONS = {
  /** GET /api/me: the caller's profile. */
  myProfile: {
    name: 'myProfile',
    resource: 'graph',
    method: 'GET',
    path: '/v1.0/me',
    permissions: ['User.Read'],
  },
  /** GET /api/me/events: the caller's next calendar events, soonest first. */
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
    permissions: ['Calendars.Read'],
  },
} as const satisfies Record<string, DownstreamOperation>;

export type OperationName = keyof typeof DOWNSTREAM_OPERATIONS;

/** The scopes to request from Entra for an operation: `<resource URI>/<permission>` for each permission. */
export function scopesFor(
  operation: DownstreamOperation,
  resourceUris: Readonly<Record<DownstreamResource, URL>>,
): string[] {
  const prefix = resourceUris[operation.resource].origin;
  return operation.permissions.map((permission) => `${prefix}/${permission}`);
}

/** The path and query to call, for an operation at a given time. */
export function requestPathFor(operation: DownstreamOperation, now: Date): string {
  const query = operation.query?.(now);
  if (query === undefined) return operation.path;
  const search = new URLSearchParams(query).toString();
  return `${operation.path}${operation.path.includes('?') ? '&' : '?'}${search}`;
}
