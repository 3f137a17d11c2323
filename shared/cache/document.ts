/**
 * The Cosmos DB document that holds one caller's MSAL caches, and the pure rules that change it.
 * One MSAL cache blob per incoming-assertion hash: msal-node keeps one access token per
 * (account, client, tenant, scopes), so a single blob per account would thrash between two clients.
 */

import { isRecord } from '../narrow.js';

export const SCHEMA_VERSION = 1;

/** Seconds an idle document outlives its newest entry before Cosmos DB's TTL deletes it. */
export const TTL_GRACE_SECONDS = 3600;

/** msal-node renews an access token this many seconds before it expires (tokenRenewalOffsetSeconds). */
export const RENEWAL_OFFSET_SECONDS = 300;

export interface CacheEntry {
  /** The encrypted MSAL cache JSON for one assertion. */
  blob: string;
  /** Expiry of the entry's newest access token, epoch seconds. */
  exp: number;
}

export interface CacheDocument {
  id: string;
  v: typeof SCHEMA_VERSION;
  entries: Record<string, CacheEntry>;
  /** Per-item TTL in seconds (the container has TTL on with no default). */
  ttl: number;
}

/** Narrows whatever Cosmos returned; anything unexpected is a miss (undefined), never an error. */
export function parseCacheDocument(value: unknown, expectedId: string): CacheDocument | undefined {
  if (!isRecord(value) || value.id !== expectedId || value.v !== SCHEMA_VERSION || !isRecord(value.entries)) {
    return undefined;
  }
  const entries: Record<string, CacheEntry> = {};
  for (const [hash, entry] of Object.entries(value.entries)) {
    if (
      isRecord(entry) &&
      typeof entry.blob === 'string' &&
      typeof entry.exp === 'number' &&
      Number.isFinite(entry.exp)
    ) {
      entries[hash] = { blob: entry.blob, exp: entry.exp };
    }
  }
  const ttl = typeof value.ttl === 'number' ? value.ttl : TTL_GRACE_SECONDS;
  return { id: expectedId, v: SCHEMA_VERSION, entries, ttl };
}

/**
 * Puts our entry over theirs: entries for other assertions are kept (they are independent), the
 * later expiry wins for the same assertion, expired entries are dropped and the oldest evicted
 * beyond `maxEntries`.
 */
export function mergeEntry(
  current: CacheDocument | undefined,
  id: string,
  assertionHash: string,
  entry: CacheEntry,
  nowSeconds: number,
  maxEntries: number,
): CacheDocument {
  const entries: Record<string, CacheEntry> = { ...current?.entries };
  const theirs = entries[assertionHash];
  if (theirs === undefined || theirs.exp <= entry.exp) entries[assertionHash] = entry;
  return withHygiene(id, entries, nowSeconds, maxEntries);
}

/** Drops expired entries, evicts the entries that expire first beyond the cap, and sets the TTL. */
export function withHygiene(
  id: string,
  entries: Record<string, CacheEntry>,
  nowSeconds: number,
  maxEntries: number,
): CacheDocument {
  const live = Object.entries(entries)
    .filter(([, e]) => e.exp > nowSeconds)
    .sort(([, a], [, b]) => b.exp - a.exp)
    .slice(0, maxEntries);
  const newest = live[0]?.[1].exp ?? nowSeconds;
  return {
    id,
    v: SCHEMA_VERSION,
    entries: Object.fromEntries(live),
    ttl: Math.max(1, Math.ceil(newest - nowSeconds) + TTL_GRACE_SECONDS),
  };
}
