import { describe, expect, test } from '@jest/globals';

import {
  type CacheDocument,
  mergeEntry,
  parseCacheDocument,
  TTL_GRACE_SECONDS,
} from '../../shared/cache/document.js';

const NOW = 1_800_000_000;
const ID = 'oid.tid';

function doc(entries: CacheDocument['entries']): CacheDocument {
  return { id: ID, v: 1, entries, ttl: 100 };
}

describe('mergeEntry', () => {
  test('keeps the entries of other assertions written by another instance', () => {
    const merged = mergeEntry(
      doc({ theirs: { blob: 'b', exp: NOW + 100 } }),
      ID,
      'ours',
      { blob: 'a', exp: NOW + 200 },
      NOW,
      16,
    );
    expect(Object.keys(merged.entries).sort()).toEqual(['ours', 'theirs']);
  });

  test('lets the later expiry win for the same assertion', () => {
    const later = { blob: 'later', exp: NOW + 300 };
    const earlier = { blob: 'earlier', exp: NOW + 100 };
    expect(mergeEntry(doc({ h: later }), ID, 'h', earlier, NOW, 16).entries.h).toEqual(later);
    expect(mergeEntry(doc({ h: earlier }), ID, 'h', later, NOW, 16).entries.h).toEqual(later);
  });

  test('drops expired entries', () => {
    const merged = mergeEntry(
      doc({ old: { blob: 'x', exp: NOW - 1 } }),
      ID,
      'new',
      { blob: 'y', exp: NOW + 10 },
      NOW,
      16,
    );
    expect(Object.keys(merged.entries)).toEqual(['new']);
  });

  test('evicts the entries that expire first beyond the cap', () => {
    const entries = Object.fromEntries([1, 2, 3, 4].map((i) => [`h${i}`, { blob: 'x', exp: NOW + i * 100 }]));
    const merged = mergeEntry(doc(entries), ID, 'h5', { blob: 'y', exp: NOW + 500 }, NOW, 3);
    expect(Object.keys(merged.entries).sort()).toEqual(['h3', 'h4', 'h5']);
  });

  test('sets a TTL that outlives the newest entry by the grace period', () => {
    const merged = mergeEntry(undefined, ID, 'h', { blob: 'x', exp: NOW + 3600 }, NOW, 16);
    expect(merged.ttl).toBe(3600 + TTL_GRACE_SECONDS);
    expect(merged).toMatchObject({ id: ID, v: 1 });
  });
});

describe('parseCacheDocument', () => {
  test.each([
    null,
    'text',
    [],
    { id: ID, v: 2, entries: {} },
    { id: 'other', v: 1, entries: {} },
    { id: ID, v: 1 },
  ])('treats %j as no document', (value) => {
    expect(parseCacheDocument(value, ID)).toBeUndefined();
  });

  test('skips malformed entries and keeps the rest', () => {
    const parsed = parseCacheDocument(
      { id: ID, v: 1, ttl: 5, entries: { good: { blob: 'b', exp: NOW }, bad: { blob: 1 }, worse: null } },
      ID,
    );
    expect(parsed?.entries).toEqual({ good: { blob: 'b', exp: NOW } });
  });
});
