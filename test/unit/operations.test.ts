import { describe, expect, test } from '@jest/globals';

import {
  DOWNSTREAM_OPERATIONS,
  type DownstreamOperation,
  EVENTS_WINDOW_DAYS,
  requestPathFor,
  scopesFor,
} from '../../shared/downstream/operations.js';

const GRAPH = { graph: new URL('https://graph.microsoft.com') };
const NOW = new Date('2026-11-29T10:00:00.000Z');

describe('the downstream operations table', () => {
  test('requests each operation with its own permissions under the resource URI', () => {
    expect(scopesFor(DOWNSTREAM_OPERATIONS.myProfile, GRAPH)).toEqual([
      'https://graph.microsoft.com/User.Read',
    ]);
    expect(scopesFor(DOWNSTREAM_OPERATIONS.myUpcomingEvents, GRAPH)).toEqual([
      'https://graph.microsoft.com/Calendars.Read',
    ]);
  });

  test('takes the scope prefix from configuration (a national cloud)', () => {
    expect(
      scopesFor(DOWNSTREAM_OPERATIONS.myProfile, { graph: new URL('https://graph.microsoft.us') }),
    ).toEqual(['https://graph.microsoft.us/User.Read']);
  });

  test('asks for the events of the coming days, soonest first', () => {
    const url = new URL(requestPathFor(DOWNSTREAM_OPERATIONS.myUpcomingEvents, NOW), 'https://graph.example');
    expect(url.pathname).toBe('/v1.0/me/calendarView');
    expect(url.searchParams.get('startDateTime')).toBe(NOW.toISOString());
    const end = Date.parse(url.searchParams.get('endDateTime') ?? '');
    expect(end - NOW.getTime()).toBe(EVENTS_WINDOW_DAYS * 24 * 3600 * 1000);
    expect(url.searchParams.get('$orderby')).toBe('start/dateTime');
  });

  test('leaves a path without a time-dependent query as it is', () => {
    expect(requestPathFor(DOWNSTREAM_OPERATIONS.myProfile, NOW)).toBe('/v1.0/me');
    const withQuery: DownstreamOperation = {
      ...DOWNSTREAM_OPERATIONS.myProfile,
      path: '/v1.0/me?$select=id',
      query: () => ({ a: 'b c' }),
    };
    expect(requestPathFor(withQuery, NOW)).toBe('/v1.0/me?$select=id&a=b+c');
  });

  test('names every operation by its key, with at least one permission', () => {
    for (const [key, operation] of Object.entries(DOWNSTREAM_OPERATIONS)) {
      expect(operation.name).toBe(key);
      expect(operation.permissions.length).toBeGreaterThan(0);
    }
  });
});
