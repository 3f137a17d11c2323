import { LRUCache } from 'lru-cache';

import { callerEntryKey } from '../auth/caller.js';
import { RENEWAL_OFFSET_SECONDS } from './document.js';

/** How long an instance remembers its own erase, to drop the saves of acquisitions that were already running. */
const ERASE_MEMORY_MS = 10 * 60_000;
/**
 * Bytes of one L1 entry besides its strings' characters (V8 stores these ASCII strings one byte per
 * character): the entry object, four string headers, lru-cache's per-slot arrays and its key map entry.
 */
export const L1_ENTRY_OVERHEAD_BYTES = 256;

/** What a warm hit needs, so it neither builds an msal client nor parses JSON. Only L1 changes it. */
interface L1Entry {
  accessToken: string;
  /** Epoch seconds. */
  expiresOn: number;
  /** The requested scopes it answers, joined by spaces. */
  scopeKey: string;
  /** The L2 entry it came from (`<key id>.<iv>`); undefined when it was never stored in L2. */
  source: string | undefined;
  /** Epoch ms of the last time L2 confirmed it. */
  checkedAt: number;
  /** Epoch seconds: from then on the caller's token that keys it is refused, so it is never served. */
  notAfter: number;
}

/**
 * What L1 says about one (caller, entry key, scopes):
 * - `fresh`: serve the token; L2 confirmed it within the revalidation interval;
 * - `due`: the token is usable but L2 must confirm it still holds `source` before it is served again;
 * - `none`: nothing usable.
 */
export type L1Lookup =
  | { kind: 'fresh'; accessToken: string }
  | { kind: 'due'; accessToken: string; source: string | undefined }
  | { kind: 'none' };

/** What L1 holds now, as its bounds count it (the `obo.cache.l1.*` gauges). */
export interface L1Usage {
  entries: number;
  /** Bytes as `sizeCalculation` charges them, against TOKEN_CACHE_L1_MAX_BYTES. */
  bytes: number;
}

export interface L1Options {
  l1MaxEntries: number;
  l1MaxBytes: number;
  l1TtlSeconds: number;
  l1RevalidateSeconds: number;
  /** Epoch milliseconds. */
  now: () => number;
}

/** A token to keep in L1, and what L1 needs to know about where it came from. */
export interface L1Fill {
  token: { secret: string | undefined; expiresOn: number };
  /** The L2 entry holding it (see sourceOf), or undefined when it is in this instance only. */
  source: string | undefined;
  /** When the request started (epoch ms): an erase on this instance since then keeps it out. */
  startedAt: number;
  /** When L2 last agreed with it (epoch ms). */
  confirmedAt: number;
  /** Epoch seconds past which it is not kept: the caller's token that keys it is refused from then on. */
  notAfter: number;
}

/**
 * L1: this instance's tokens by (caller, entry key), bounded in entries and bytes, each confirmed against
 * L2 at most every revalidation interval; and the callers this instance erased recently (so that an
 * acquisition that started before the erase cannot refill it).
 */
export class L1TokenCache {
  private readonly entries: LRUCache<string, L1Entry> | undefined;
  private readonly erasedAt: LRUCache<string, number>;
  private readonly scopeKeys = new WeakMap<readonly string[], string>();
  private readonly revalidateMs: number;

  constructor(private readonly options: L1Options) {
    this.revalidateMs = options.l1RevalidateSeconds * 1000;
    // Both caches age entries on the injected clock, as the revalidation does (no cached "now" between timers).
    const perf = { now: options.now };
    const ttlResolution = 0;
    this.erasedAt = new LRUCache<string, number>({ max: 10_000, ttl: ERASE_MEMORY_MS, perf, ttlResolution });
    this.entries =
      options.l1MaxEntries > 0 && options.l1MaxBytes > 0
        ? new LRUCache<string, L1Entry>({
            max: options.l1MaxEntries,
            maxSize: options.l1MaxBytes,
            sizeCalculation: (entry, key) =>
              key.length +
              entry.accessToken.length +
              entry.scopeKey.length +
              (entry.source?.length ?? 0) +
              L1_ENTRY_OVERHEAD_BYTES,
            ttl: options.l1TtlSeconds * 1000,
            perf,
            ttlResolution,
          })
        : undefined;
  }

  /** The token for these scopes when it is not within the renewal offset of its expiry, and whether it is due. */
  lookup(accountId: string, entryKey: string, scopes: readonly string[]): L1Lookup {
    const now = this.options.now();
    const entry = this.entries?.get(callerEntryKey(accountId, entryKey));
    if (
      entry === undefined ||
      entry.scopeKey !== this.scopeKey(scopes) ||
      entry.expiresOn - RENEWAL_OFFSET_SECONDS <= now / 1000 ||
      entry.notAfter <= now / 1000
    ) {
      return { kind: 'none' };
    }
    return now - entry.checkedAt < this.revalidateMs
      ? { kind: 'fresh', accessToken: entry.accessToken }
      : { kind: 'due', accessToken: entry.accessToken, source: entry.source };
  }

  /**
   * L2 still holds the entry the token came from: serve it for another interval. Not when this instance
   * erased the caller since `startedAt`, nor when the entry changed since the lookup.
   */
  confirm(accountId: string, entryKey: string, source: string, startedAt: number): void {
    const entry = this.entries?.peek(callerEntryKey(accountId, entryKey));
    if (entry?.source === source && !this.erasedSince(accountId, startedAt)) entry.checkedAt = startedAt;
  }

  /** Puts a token into L1 unless this instance erased the caller since the request started. */
  remember(accountId: string, entryKey: string, scopes: readonly string[], fill: L1Fill): void {
    const { token, source, startedAt, confirmedAt, notAfter } = fill;
    const ttl = Math.min(this.options.l1TtlSeconds * 1000, notAfter * 1000 - this.options.now());
    if (token.secret === undefined || ttl <= 0 || this.erasedSince(accountId, startedAt)) return;
    this.entries?.set(
      callerEntryKey(accountId, entryKey),
      {
        accessToken: token.secret,
        expiresOn: token.expiresOn,
        scopeKey: this.scopeKey(scopes),
        source,
        checkedAt: confirmedAt,
        notAfter,
      },
      // Past the caller's token, the entry is not only never served: it leaves memory.
      { ttl },
    );
  }

  delete(accountId: string, entryKey: string): void {
    this.entries?.delete(callerEntryKey(accountId, entryKey));
  }

  /** Drops the entry only when it holds this token: a fresher one stored since stays. */
  deleteToken(accountId: string, entryKey: string, accessToken: string): void {
    const key = callerEntryKey(accountId, entryKey);
    if (this.entries?.peek(key)?.accessToken === accessToken) this.entries.delete(key);
  }

  /** Drops every entry of the caller. */
  forget(accountId: string): void {
    if (this.entries === undefined) return;
    const prefix = callerEntryKey(accountId, '');
    for (const key of [...this.entries.keys()]) {
      if (key.startsWith(prefix)) this.entries.delete(key);
    }
  }

  /** This instance erases the caller now: drops their entries, and refuses refills from earlier loads. */
  markErased(accountId: string): void {
    this.erasedAt.set(accountId, this.options.now());
    this.forget(accountId);
  }

  /** Whether this instance erased the caller at or after `startedAt` (epoch ms). */
  erasedSince(accountId: string, startedAt: number): boolean {
    const erased = this.erasedAt.get(accountId);
    return erased !== undefined && erased >= startedAt;
  }

  usage(): L1Usage {
    return { entries: this.entries?.size ?? 0, bytes: this.entries?.calculatedSize ?? 0 };
  }

  private scopeKey(scopes: readonly string[]): string {
    let key = this.scopeKeys.get(scopes);
    if (key === undefined) {
      key = scopes.join(' ');
      this.scopeKeys.set(scopes, key);
    }
    return key;
  }
}

/**
 * Names one encryption of an entry (`<key id>.<iv>`, the IV is random): L1 keeps it to ask L2 later
 * whether it still holds the same token. A fresh copy: a slice would keep the whole blob alive in L1.
 */
export function sourceOf(blob: string): string {
  const end = blob.indexOf('.', blob.indexOf('.') + 1);
  return Buffer.from(end < 0 ? blob : blob.slice(0, end), 'latin1').toString('latin1');
}
