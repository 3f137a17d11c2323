/**
 * The Cosmos DB document that holds one caller's MSAL caches, and the pure rules that change it.
 * One MSAL cache blob per entry key (incoming assertion and scope set, shared/obo/cacheEntryKey.ts):
 * msal-node keeps one access token per (account, client, tenant, scopes), so a single blob per account
 * would thrash between two clients.
 */

import { callerEntryKey } from '../auth/caller.js';
import { isRecord } from '../narrow.js';

export const SCHEMA_VERSION = 1;

/**
 * Seconds a document outlives its newest entry before Cosmos DB's TTL deletes it. An entry itself lasts no
 * longer than the caller's token that keys it (its `exp` plus the clock tolerance): nobody can reach it
 * after that. The grace covers the clocks of instances and Cosmos DB differing a little.
 */
export const TTL_GRACE_SECONDS = 60;

/** msal-node renews an access token this many seconds before it expires (tokenRenewalOffsetSeconds). */
export const RENEWAL_OFFSET_SECONDS = 300;

export interface CacheEntry {
  /** The encrypted MSAL cache JSON for one entry key. */
  blob: string;
  /**
   * Epoch seconds: the entry's newest access token's expiry, or the caller's token's expiry plus the clock
   * tolerance when that comes first (a cp1 Graph token lives ~28 h, the caller's token ~1 h).
   */
  exp: number;
}

/** The caller's last erase: written by the erase, carried by every later write of the document. */
export interface Erasure {
  /** Unique per erase: writers compare it with the one they loaded (clock-free, unlike `at`). */
  id: string;
  /** Epoch milliseconds of the erase (for operators; never compared across instances). */
  at: number;
}

export interface CacheDocument {
  id: string;
  v: typeof SCHEMA_VERSION;
  entries: Record<string, CacheEntry>;
  /** Per-item TTL in seconds (the container has TTL on with no default). */
  ttl: number;
  /** Set once the caller has erased their cache; a document with no entries and this set is a tombstone. */
  erasure?: Erasure;
}

/**
 * How long an erase's tombstone stays in Cosmos DB. It must outlive every acquisition that loaded before
 * the erase (a save older than half of this is never written to Cosmos DB, see STALE_SAVE_SECONDS).
 */
export const TOMBSTONE_TTL_SECONDS = 600;

/** A save whose load is older than this is not written: the tombstone it would have to meet may be gone. */
export const STALE_SAVE_SECONDS = TOMBSTONE_TTL_SECONDS / 2;

/** The caller's document after an erase: no entries, the erase recorded, deleted by Cosmos DB's TTL. */
export function tombstone(id: string, erasure: Erasure): CacheDocument {
  return { id, v: SCHEMA_VERSION, entries: {}, ttl: TOMBSTONE_TTL_SECONDS, erasure };
}

/** Binds an encrypted entry to its caller and entry key: a blob copied to another key fails to decrypt. */
export function entryAssociatedData(accountId: string, entryKey: string): string {
  return callerEntryKey(accountId, entryKey);
}

/** An erase's document: an erase marker and no entries. */
export function isTombstone(document: CacheDocument | undefined): boolean {
  return document?.erasure !== undefined && Object.keys(document.entries).length === 0;
}

/** True when `stored` records an erase that `loaded` (what the writer started from) did not know of. */
export function hasNewErasure(loaded: CacheDocument | undefined, stored: CacheDocument | undefined): boolean {
  const erasure = stored?.erasure;
  return erasure !== undefined && erasure.id !== loaded?.erasure?.id;
}

/** Narrows whatever Cosmos returned; anything unexpected is a miss (undefined), never an error. */
export function parseCacheDocument(value: unknown, expectedId: string): CacheDocument | undefined {
  if (!isRecord(value) || value.id !== expectedId || value.v !== SCHEMA_VERSION || !isRecord(value.entries)) {
    return undefined;
  }
  const entries: Record<string, CacheEntry> = {};
  for (const [key, entry] of Object.entries(value.entries)) {
    if (
      isRecord(entry) &&
      typeof entry.blob === 'string' &&
      typeof entry.exp === 'number' &&
      Number.isFinite(entry.exp)
    ) {
      entries[key] = { blob: entry.blob, exp: entry.exp };
    }
  }
  const ttl = typeof value.ttl === 'number' ? value.ttl : TTL_GRACE_SECONDS;
  const { erasure } = value;
  // An erase marker that does not parse still means "erased": keep a marker that no writer loaded.
  const parsedErasure: Erasure | undefined =
    erasure === undefined
      ? undefined
      : isRecord(erasure) && typeof erasure.id === 'string' && typeof erasure.at === 'number'
        ? { id: erasure.id, at: erasure.at }
        : { id: 'unreadable', at: 0 };
  return parsedErasure === undefined
    ? { id: expectedId, v: SCHEMA_VERSION, entries, ttl }
    : { id: expectedId, v: SCHEMA_VERSION, entries, ttl, erasure: parsedErasure };
}

/**
 * Puts our entry over theirs: entries for other keys are kept (they are independent), the
 * later expiry wins for the same entry key, expired entries are dropped and the oldest evicted
 * beyond `maxEntries`.
 */
export function mergeEntry(
  current: CacheDocument | undefined,
  id: string,
  entryKey: string,
  entry: CacheEntry,
  nowSeconds: number,
  maxEntries: number,
): CacheDocument {
  const entries: Record<string, CacheEntry> = { ...current?.entries };
  const theirs = entries[entryKey];
  if (theirs === undefined || theirs.exp <= entry.exp) entries[entryKey] = entry;
  return withHygiene(id, entries, nowSeconds, maxEntries, current?.erasure);
}

/**
 * Drops expired entries, evicts the entries that expire first beyond the cap, and sets the TTL. The
 * erase marker is carried over, so a writer that loaded before the erase still sees it changed.
 */
export function withHygiene(
  id: string,
  entries: Record<string, CacheEntry>,
  nowSeconds: number,
  maxEntries: number,
  erasure?: Erasure,
): CacheDocument {
  const live = Object.entries(entries)
    .filter(([, e]) => e.exp > nowSeconds)
    .sort(([, a], [, b]) => b.exp - a.exp)
    .slice(0, maxEntries);
  const newest = live[0]?.[1].exp ?? nowSeconds;
  const document: CacheDocument = {
    id,
    v: SCHEMA_VERSION,
    entries: Object.fromEntries(live),
    ttl: Math.max(1, Math.ceil(newest - nowSeconds) + TTL_GRACE_SECONDS),
  };
  return erasure === undefined ? document : { ...document, erasure };
}
