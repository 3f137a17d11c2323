import { describe, expect, test } from '@jest/globals';

import {
  CURSOR_LIFETIME_SECONDS,
  nextLinkTarget,
  PageCursors,
  pageOf,
} from '../../shared/downstream/pages.js';
import { ApiError } from '../../shared/errors.js';

const K1 = { id: 'k1', key: Buffer.alloc(32, 1) };
const K2 = { id: 'k2', key: Buffer.alloc(32, 2) };
const ALICE = { accountId: 'alice.tenant', operation: 'listTasks' };
const LINK = 'https://tasks.example/tasks?$skiptoken=Mg';
const NOW = Date.parse('2026-11-29T10:00:00Z');

function openCode(cursors: PageCursors, cursor: string, binding = ALICE, now = NOW): string | undefined {
  try {
    cursors.open(binding, cursor, now);
  } catch (error) {
    if (error instanceof ApiError) return error.code;
    throw error;
  }
  return undefined;
}

describe('page cursors', () => {
  test('open to the sealed link for the same caller and operation, and say nothing of it in clear', () => {
    const cursors = new PageCursors([K1]);
    const cursor = cursors.seal(ALICE, LINK, NOW);
    expect(cursors.open(ALICE, cursor, NOW + 1000)).toBe(LINK);
    expect(cursor).not.toContain('tasks.example');
    expect(Buffer.from(cursor.split('.')[2] ?? '', 'base64url').toString('latin1')).not.toContain(
      'skiptoken',
    );
  });

  test('refuse another caller, another operation, a tampered or truncated cursor, with 400 ERR_CURSOR_INVALID', () => {
    const cursors = new PageCursors([K1]);
    const cursor = cursors.seal(ALICE, LINK, NOW);
    expect(openCode(cursors, cursor, { ...ALICE, accountId: 'bob.tenant' })).toBe('ERR_CURSOR_INVALID');
    expect(openCode(cursors, cursor, { ...ALICE, operation: 'myUpcomingEvents' })).toBe('ERR_CURSOR_INVALID');
    const data = cursor.split('.')[2] ?? '';
    const flipped = `${data.slice(0, 20)}${data[20] === 'A' ? 'B' : 'A'}${data.slice(21)}`;
    expect(openCode(cursors, `c1.k1.${flipped}`)).toBe('ERR_CURSOR_INVALID');
    expect(openCode(cursors, cursor.slice(0, -4))).toBe('ERR_CURSOR_INVALID');
    expect(openCode(cursors, 'c1.k9.AAAA')).toBe('ERR_CURSOR_INVALID');
    expect(openCode(cursors, LINK)).toBe('ERR_CURSOR_INVALID');
    expect(openCode(cursors, '')).toBe('ERR_CURSOR_INVALID');
  });

  test('expire after their lifetime', () => {
    const cursors = new PageCursors([K1]);
    const cursor = cursors.seal(ALICE, LINK, NOW);
    expect(openCode(cursors, cursor, ALICE, NOW + (CURSOR_LIFETIME_SECONDS - 1) * 1000)).toBeUndefined();
    expect(openCode(cursors, cursor, ALICE, NOW + CURSOR_LIFETIME_SECONDS * 1000)).toBe('ERR_CURSOR_INVALID');
  });

  test('keep opening under a rotated key ring while the old key stays in it', () => {
    const before = new PageCursors([K1]).seal(ALICE, LINK, NOW);
    expect(new PageCursors([K2, K1]).open(ALICE, before, NOW)).toBe(LINK);
    expect(openCode(new PageCursors([K2]), before)).toBe('ERR_CURSOR_INVALID');
  });
});

describe('next links', () => {
  const base = new URL('https://tasks.example');
  test("are followed only on the resource's origin and the list's own path", () => {
    expect(nextLinkTarget(base, '/tasks', LINK)).toBe('/tasks?$skiptoken=Mg');
    expect(
      nextLinkTarget(new URL('https://tasks.example/api/'), '/tasks', 'https://tasks.example/api/tasks?a=1'),
    ).toBe('/tasks?a=1');
    expect(nextLinkTarget(base, '/tasks', 'https://evil.example/tasks?$skiptoken=Mg')).toBeUndefined();
    expect(nextLinkTarget(base, '/tasks', 'http://tasks.example/tasks')).toBeUndefined();
    expect(nextLinkTarget(base, '/tasks', 'https://tasks.example:444/tasks')).toBeUndefined();
    expect(nextLinkTarget(base, '/tasks', 'https://tasks.example/tasks/tk_1')).toBeUndefined();
    expect(nextLinkTarget(base, '/tasks', 'https://tasks.example/other?x')).toBeUndefined();
    expect(nextLinkTarget(base, '/tasks', 'https://user@tasks.example/tasks')).toBeUndefined();
    expect(nextLinkTarget(base, '/tasks', '/tasks?x')).toBeUndefined();
  });

  test("a page is the list's value and its @odata.nextLink", () => {
    expect(pageOf({ value: [1], '@odata.nextLink': LINK })).toEqual({ value: [1], nextLink: LINK });
    expect(pageOf({ value: [] })).toEqual({ value: [], nextLink: undefined });
    expect(pageOf({ items: [] })).toBeUndefined();
    expect(pageOf({ value: [], '@odata.nextLink': 5 })).toBeUndefined();
  });
});
