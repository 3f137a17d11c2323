// The Graph emulator's calendar: a few events for every user, at fixed hours of the coming days, so that
// `/v1.0/me/calendarView` has something to answer for any window.
import { createHash } from 'node:crypto';

export interface CalendarEvent {
  id: string;
  subject: string;
  start: { dateTime: string; timeZone: string };
  end: { dateTime: string; timeZone: string };
  location: { displayName: string };
  organizer: { emailAddress: { name: string; address: string } };
  webLink: string;
}

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
