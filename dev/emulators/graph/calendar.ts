// The Graph emulator's calendar: a few events for every user, at fixed hours of the coming days, so that
// `/v1.0/me/calendarView` has something to answer for any window, and the events users created.
import { createHash, randomBytes } from 'node:crypto';

import { isRecord } from '../../../shared/narrow.js';

export interface CalendarEvent {
  id: string;
  subject: string;
  start: { dateTime: string; timeZone: string };
  end: { dateTime: string; timeZone: string };
  location: { displayName: string };
  organizer: { emailAddress: { name: string; address: string } };
  webLink: string;
  body?: EventBody;
}

export interface EventBody {
  contentType: string;
  content: string;
}

/** What `POST /v1.0/me/events` gives; Graph adds the id, the organizer and the link. */
export type NewEvent = Pick<CalendarEvent, 'subject' | 'start' | 'end' | 'location' | 'body'>;

const HOUR_MS = 3600 * 1000;
const DAY_MS = 24 * HOUR_MS;
/** UTC hours of the day's events, and their subjects. */
const DAILY = [
  { hour: 9, minutes: 30, subject: 'Stand-up', location: 'Teams' },
  { hour: 14, minutes: 60, subject: 'Design review', location: 'Room 2' },
] as const;

/** The user's events that overlap [start, end), soonest first. */
export function eventsBetween(
  oid: string,
  organizer: { name: string; address: string },
  start: Date,
  end: Date,
): CalendarEvent[] {
  const events: CalendarEvent[] = [];
  const firstDay = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate());
  for (let day = firstDay; day < end.getTime(); day += DAY_MS) {
    for (const slot of DAILY) {
      const from = day + slot.hour * HOUR_MS;
      const to = from + slot.minutes * 60_000;
      if (to <= start.getTime() || from >= end.getTime()) continue;
      const id = createHash('sha256').update(`${oid}:${from}`).digest('base64url').slice(0, 32);
      events.push({
        id: `AAMk${id}`,
        subject: slot.subject,
        start: { dateTime: graphDateTime(from), timeZone: 'UTC' },
        end: { dateTime: graphDateTime(to), timeZone: 'UTC' },
        location: { displayName: slot.location },
        organizer: { emailAddress: organizer },
        webLink: `https://outlook.office365.com/owa/?itemid=AAMk${id}&exvsurl=1&path=/calendar/item`,
      });
    }
  }
  return events;
}

/** Graph's dateTime: no offset, seven decimals. */
function graphDateTime(epochMs: number): string {
  return new Date(epochMs).toISOString().replace('Z', '0000');
}

/** Events a user created (`POST /v1.0/me/events`), kept per user until the sandbox's reset. */
export class CreatedEvents {
  readonly #byUser = new Map<string, CalendarEvent[]>();

  /** Each user may create this many events; the next gets Exchange's quota error. */
  static readonly MAX_PER_USER = 10_000;

  /** The new event, or undefined when the user's quota is used up. */
  add(
    user: { tid: string; oid: string },
    event: Omit<CalendarEvent, 'id' | 'webLink'>,
  ): CalendarEvent | undefined {
    const key = userKey(user);
    const events = this.#byUser.get(key) ?? [];
    if (events.length >= CreatedEvents.MAX_PER_USER) return undefined;
    // Graph's event ids are base64 (with `-`, `_` and `=`): the API must bind them as one encoded segment.
    const id = `AAMk${randomBytes(33).toString('base64url')}=`;
    const created = {
      ...event,
      id,
      webLink: `https://outlook.office365.com/owa/?itemid=${encodeURIComponent(id)}&exvsurl=1&path=/calendar/item`,
    };
    events.push(created);
    this.#byUser.set(key, events);
    return created;
  }

  /** The user's created events that overlap [start, end). */
  between(user: { tid: string; oid: string }, start: Date, end: Date): CalendarEvent[] {
    return (this.#byUser.get(userKey(user)) ?? []).filter(
      (event) => epochOf(event.end) > start.getTime() && epochOf(event.start) < end.getTime(),
    );
  }

  clear(): void {
    this.#byUser.clear();
  }
}

/** The body of `POST /v1.0/me/events`, checked as Graph does for the properties the emulator knows. */
export function parseNewEvent(
  input: unknown,
): { ok: true; value: NewEvent } | { ok: false; code: string; message: string } {
  if (!isRecord(input)) return invalid('BadRequest', 'The request body must be a JSON object.');
  const known = new Set(['subject', 'start', 'end', 'location', 'body']);
  const unknown = Object.keys(input).find((name) => !known.has(name) && !name.startsWith('@odata.'));
  if (unknown !== undefined) {
    return invalid(
      'RequestBodyRead',
      `The property '${unknown}' does not exist on type 'microsoft.graph.event'. Make sure to only use property names that are defined by the type or mark the type as open type.`,
    );
  }
  const { subject = '', start, end, location, body } = input;
  if (typeof subject !== 'string' || subject.length > 255) {
    return invalid(
      'ErrorInvalidRequest',
      "The property 'subject' must be a string of at most 255 characters.",
    );
  }
  const from = dateTimeTimeZone(start);
  const to = dateTimeTimeZone(end);
  if (from === undefined || to === undefined) {
    return invalid(
      'ErrorInvalidRequest',
      "The properties 'start' and 'end' are required: { dateTime: 'yyyy-mm-ddThh:mm:ss', timeZone: 'UTC' }.",
    );
  }
  if (to < from) return invalid('ErrorInvalidRequest', 'The end time of the event is before its start time.');
  if (location !== undefined && !(isRecord(location) && typeof location.displayName === 'string')) {
    return invalid('ErrorInvalidRequest', "The property 'location' must be { displayName: string }.");
  }
  if (
    body !== undefined &&
    !(
      isRecord(body) &&
      typeof body.content === 'string' &&
      (body.contentType === 'text' || body.contentType === 'html')
    )
  ) {
    return invalid(
      'ErrorInvalidRequest',
      "The property 'body' must be { contentType: 'text' | 'html', content: string }.",
    );
  }
  return {
    ok: true,
    value: {
      subject,
      start: { dateTime: graphDateTime(from), timeZone: 'UTC' },
      end: { dateTime: graphDateTime(to), timeZone: 'UTC' },
      location: { displayName: isRecord(location) ? String(location.displayName) : '' },
      ...(isRecord(body)
        ? { body: { contentType: String(body.contentType), content: String(body.content) } }
        : {}),
    },
  };
}

/** Epoch ms of a `{ dateTime, timeZone: 'UTC' }` (the only time zone the emulator knows), else undefined. */
function dateTimeTimeZone(value: unknown): number | undefined {
  if (!isRecord(value) || typeof value.dateTime !== 'string' || typeof value.timeZone !== 'string')
    return undefined;
  if (value.timeZone.toUpperCase() !== 'UTC') return undefined;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?Z?$/.test(value.dateTime)) return undefined;
  const epoch = Date.parse(value.dateTime.endsWith('Z') ? value.dateTime : `${value.dateTime.slice(0, 23)}Z`);
  return Number.isFinite(epoch) ? epoch : undefined;
}

function epochOf(time: { dateTime: string }): number {
  return Date.parse(`${time.dateTime.slice(0, 23)}Z`);
}

function userKey(user: { tid: string; oid: string }): string {
  return `${user.tid.toLowerCase()}|${user.oid.toLowerCase()}`;
}

function invalid(code: string, message: string): { ok: false; code: string; message: string } {
  return { ok: false, code, message };
}

/** Soonest first; the id orders events that start together, so pages are stable. */
export function byStart(a: CalendarEvent, b: CalendarEvent): number {
  return epochOf(a.start) - epochOf(b.start) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
