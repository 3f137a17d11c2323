import { LRUCache } from 'lru-cache';

import { callerAssertionKey } from '../auth/caller.js';
import { RENEWAL_OFFSET_SECONDS } from './document.js';

/** How long an instance remembers its own erase, to drop the saves of acquisitions that were already running. */
const ERASE_MEMORY_MS = 10 * 60_000;
/**
 * Bytes of one L1 entry besides its strings' characters (V8 stores these ASCII strings one byte per
 * character): the entry object, four string headers, lru-cache's per-slot arrays and its key map entry.
 */
export const L1_ENTRY_OVERHEAD_BYTES = 256;

/** What a warm hit needs, so it neither builds an msal client nor parses JSON. */
export interface L1Entry {
  accessToken: string;
  /** Epoch seconds. */
  expiresOn: number;
  /** The requested scopes it answers, joined by spaces. */
  scopeKey: string;
  /** The L2 entry it came from (`<key id>.<iv>`); undefined when it was never stored in L2. */
  source: string | undefined;
  /** Epoch ms of the last time L2 confirmed it. */
  checkedAt: number;
}

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
  /** Epoch milliseconds. */
  now: () => number;
}

/**
 * L1: this instance's Graph tokens by (caller, assertion), bounded in entries and bytes, and the callers
 * this instance erased recently (so that an acquisition that started before the erase cannot refill it).
 */
export class L1TokenCache {
  private readonly entries: LRUCache<string, L1Entry> | undefined;
  private readonly erasedAt: LRUCache<string, number>;
  private readonly scopeKeys = new WeakMap<readonly string[], string>();

  constructor(private readonly options: L1Options) {
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

  /** The entry when it answers these scopes and is not within the renewal offset of its expiry. */
  usable(
    accountId: string,
    assertionHash: string,
    scopes: readonly string[],
    nowMs: number,
  ): L1Entry | undefined {
    const entry = this.entries?.get(callerAssertionKey(accountId, assertionHash));
    return entry !== undefined &&
      entry.scopeKey === this.scopeKey(scopes) &&
      entry.expiresOn - RENEWAL_OFFSET_SECONDS > nowMs / 1000
      ? entry
      : undefined;
  }

  /** Puts a token into L1 unless this instance erased the caller since the request started. */
  remember(
    accountId: string,
    assertionHash: string,
    scopes: readonly string[],
    token: { secret: string | undefined; expiresOn: number },
    source: string | undefined,
    startedAt: number,
    checkedAt: number,
  ): void {
    if (token.secret === undefined || this.erasedSince(accountId, startedAt)) return;
    this.entries?.set(callerAssertionKey(accountId, assertionHash), {
      accessToken: token.secret,
      expiresOn: token.expiresOn,
      scopeKey: this.scopeKey(scopes),
      source,
      checkedAt,
    });
  }

  delete(accountId: string, assertionHash: string): void {
    this.entries?.delete(callerAssertionKey(accountId, assertionHash));
  }

  /** Drops the entry only when it holds this token: a fresher one stored since stays. */
  deleteToken(accountId: string, assertionHash: string, accessToken: string): void {
    const key = callerAssertionKey(accountId, assertionHash);
    if (this.entries?.peek(key)?.accessToken === accessToken) this.entries.delete(key);
  }

  /** Drops every entry of the caller. */
  forget(accountId: string): void {
    if (this.entries === undefined) return;
    const prefix = callerAssertionKey(accountId, '');
    for (const key of [...this.entries.keys()]) {
      if (key.startsWith(prefix)) this.entries.delete(key);
    }
  }

  /** This instance erases the caller now: drops their entries, and refuses refills from earlier loads. */
  markErased(accountId: string): void {
    this.erasedAt.set(accountId, this.options.now());
    this.forget(accountId);
  }

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
