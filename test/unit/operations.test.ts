import { describe, expect, test } from '@jest/globals';

import {
  DOWNSTREAM_OPERATIONS,
  type DownstreamOperation,
  EVENTS_WINDOW_DAYS,
  requestPathFor,
  scopesFor,
} from '../../shared/downstream/operations.js';
import { bindPath, callerQueryOf } from '../../shared/downstream/pathParameters.js';
import { DOWNSTREAM_RESOURCES } from '../../shared/downstream/resources.js';
import { ApiError } from '../../shared/errors.js';

const GRAPH = 'https://graph.microsoft.com';
const NOW = new Date('2026-11-29T10:00:00.000Z');

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return error.code;
    throw error;
  }
  return undefined;
}

describe('the downstream operations table', () => {
  test('requests each operation with its own permissions under the resource URI', () => {
    expect(scopesFor(DOWNSTREAM_OPERATIONS.myProfile, GRAPH)).toEqual([
      'https://graph.microsoft.com/User.Read',
    ]);
    expect(scopesFor(DOWNSTREAM_OPERATIONS.myUpcomingEvents, GRAPH)).toEqual([
      'https://graph.microsoft.com/Calendars.Read',
    ]);
  });

  test('takes the scope prefix from configuration (a national cloud, an api:// app ID URI)', () => {
    expect(scopesFor(DOWNSTREAM_OPERATIONS.myProfile, 'https://graph.microsoft.us')).toEqual([
      'https://graph.microsoft.us/User.Read',
    ]);
    expect(scopesFor(DOWNSTREAM_OPERATIONS.createTask, 'api://9d4b7e21')).toEqual([
      'api://9d4b7e21/Tasks.ReadWrite',
    ]);
  });

  test('asks for the events of the coming days, soonest first', () => {
    const url = new URL(requestPathFor(DOWNSTREAM_OPERATIONS.myUpcomingEvents, NOW), 'https://graph.example');
    expect(url.pathname).toBe('/v1.0/me/calendarView');
    expect(url.searchParams.get('startDateTime')).toBe(NOW.toISOString());
    const end = Date.parse(url.searchParams.get('endDateTime') ?? '');
    expect(end - NOW.getTime()).toBe(EVENTS_WINDOW_DAYS * 24 * 3600 * 1000);
    expect(url.searchParams.get('$orderby')).toBe('start/dateTime');
  });

  test("leaves a path without a query as it is, and adds the caller's allowed query after the operation's", () => {
    expect(requestPathFor(DOWNSTREAM_OPERATIONS.myProfile, NOW)).toBe('/v1.0/me');
    const withQuery: DownstreamOperation = {
      ...DOWNSTREAM_OPERATIONS.myProfile,
      path: '/v1.0/me?$select=id',
      query: () => ({ a: 'b c' }),
    };
    expect(requestPathFor(withQuery, NOW)).toBe('/v1.0/me?$select=id&a=b+c');
    expect(requestPathFor(DOWNSTREAM_OPERATIONS.listTasks, NOW, { callerQuery: { $top: '5' } })).toBe(
      '/tasks?%24top=5',
    );
  });

  test('names every operation by its key, on a known resource, with at least one permission', () => {
    for (const [key, operation] of Object.entries(DOWNSTREAM_OPERATIONS)) {
      expect(operation.name).toBe(key);
      expect(Object.keys(DOWNSTREAM_RESOURCES)).toContain(operation.resource);
      expect(operation.permissions.length).toBeGreaterThan(0);
    }
  });

  test('checks a task body: title required to create, unknown fields and wrong types refused', () => {
    const create = DOWNSTREAM_OPERATIONS.createTask.body;
    expect(create({ title: 'Buy milk' })).toEqual({ ok: true, value: { title: 'Buy milk' } });
    expect(create({}).ok).toBe(false);
    expect(create({ title: 'x', id: 'tk_1' }).ok).toBe(false);
    expect(create({ title: 'x'.repeat(256) }).ok).toBe(false);
    expect(create([]).ok).toBe(false);
    const update = DOWNSTREAM_OPERATIONS.updateTask.body;
    expect(update({ completed: true })).toEqual({ ok: true, value: { completed: true } });
    expect(update({ completed: 'yes' }).ok).toBe(false);
    expect(update({}).ok).toBe(false);
  });

  test("checks an event body in Graph's form, UTC only", () => {
    const check = DOWNSTREAM_OPERATIONS.createMyEvent.body;
    const event = {
      subject: 'Review',
      start: { dateTime: '2026-12-01T09:00:00', timeZone: 'UTC' },
      end: { dateTime: '2026-12-01T09:30:00', timeZone: 'UTC' },
    };
    expect(check(event)).toEqual({ ok: true, value: event });
    expect(check({ ...event, end: { dateTime: '2026-12-01T08:00:00', timeZone: 'UTC' } }).ok).toBe(false);
    expect(
      check({ ...event, start: { dateTime: '2026-12-01T09:00:00', timeZone: 'Pacific Standard Time' } }).ok,
    ).toBe(false);
    expect(check({ ...event, attendees: [] }).ok).toBe(false);
  });
});

describe('path parameters', () => {
  test('bind as one encoded segment', () => {
    expect(bindPath('/tasks/{id}', { id: 'tk_AbC-12_x=' })).toBe('/tasks/tk_AbC-12_x%3D');
    expect(bindPath('/tasks/{id}', { id: 'a b+c' })).toBe('/tasks/a%20b%2Bc');
    // A host that did not decode: decoded once, then encoded again.
    expect(bindPath('/tasks/{id}', { id: 'a%20b' })).toBe('/tasks/a%20b');
  });

  test.each([
    ['..%2F..%2Fv1.0%2Fme'],
    ['../../v1.0/me'],
    ['a/b'],
    ['a%2Fb'],
    ['%2e%2e'],
    ['%2E'],
    ['..'],
    ['.'],
    [''],
    ['a\\b'],
    ['a%5Cb'],
    ['%252e%252e'],
    ['%'],
    ['a\nb'],
    ['%ZZ'],
    ['\uD800'],
    ['x'.repeat(513)],
  ])('refuse %j with 400 ERR_PATH_PARAMETER_INVALID', (id) => {
    expect(codeOf(() => bindPath('/tasks/{id}', { id }))).toBe('ERR_PATH_PARAMETER_INVALID');
  });

  test('refuse a missing parameter', () => {
    expect(codeOf(() => bindPath('/tasks/{id}', {}))).toBe('ERR_PATH_PARAMETER_INVALID');
  });
});

describe('query allow-list', () => {
  test("passes the operation's allowed parameters when they match, and the cursor of a paged list apart", () => {
    expect(callerQueryOf(DOWNSTREAM_OPERATIONS.listTasks, new URLSearchParams('$top=5&cursor=abc'))).toEqual({
      $top: '5',
    });
  });

  test.each([
    ['$top=0'],
    ['$top=101'],
    ['$top=5&$top=6'],
    ['$filter=x'],
    ['$skiptoken=1'],
    ['url=https://evil'],
  ])('refuses %s with 400 ERR_QUERY_PARAMETER_INVALID', (query) => {
    expect(codeOf(() => callerQueryOf(DOWNSTREAM_OPERATIONS.listTasks, new URLSearchParams(query)))).toBe(
      'ERR_QUERY_PARAMETER_INVALID',
    );
  });

  test('an operation with no allow-list takes no query, not even a cursor', () => {
    expect(codeOf(() => callerQueryOf(DOWNSTREAM_OPERATIONS.getTask, new URLSearchParams('cursor=x')))).toBe(
      'ERR_QUERY_PARAMETER_INVALID',
    );
  });
});
