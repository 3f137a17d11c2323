import { LRUCache } from 'lru-cache';

import { type CallerAccount, callerAssertionKey } from '../auth/caller.js';
import type { AppConfig } from '../config.js';
import { ApiError, DEFAULT_RETRY_AFTER_SECONDS } from '../errors.js';
import { describeCause } from '../observability/causes.js';
import { conflictBackoffMs } from '../retry.js';
import type { CacheOutcome, RequestTelemetry } from '../telemetry.js';
import type { StoredDocument, TokenCacheStore } from './cosmosStore.js';
import { mergeEntry, RENEWAL_OFFSET_SECONDS, withHygiene } from './document.js';
import { decryptBlob, encryptBlob } from './encryption.js';
import { latestAccessTokenExpiry, usableAccessTokenExpiry, withoutRefreshTokens } from './msalCache.js';

/** The `tokenCache` settings plus the injected I/O and time. */
export interface TokenCacheOptions extends Readonly<AppConfig['tokenCache']> {
  store: TokenCacheStore;
  /** Epoch milliseconds. */
  now: () => number;
  random: () => number;
  sleep: (ms: number) => Promise<void>;
}

/** What the cache had for one (caller, assertion); `save` starts from it. */
export interface LoadedCache {
  /** Plaintext MSAL cache JSON to deserialize into a fresh client. */
  cacheJson: string | undefined;
  /** True when it holds a token msal-node will serve for the scopes without calling Entra. */
  usable: boolean;
  outcome: Exclude<CacheOutcome, 'coalesced'>;
  /** The L2 document as read (with its ETag); undefined when L2 was not read or could not be. */
  stored: StoredDocument | undefined;
  /** Cosmos DB failed: the request goes on without the shared cache. */
  degraded: boolean;
  /** When the load started (epoch ms): a save from before the caller's erase is dropped. */
  startedAt: number;
}

/** After a Cosmos DB failure, requests skip L2 this long instead of each waiting for their own timeout. */
export const COSMOS_BREAKER_MS = 10_000;
/** How long an instance remembers an erase, to drop the saves of acquisitions that were already running. */
const ERASE_MEMORY_MS = 10 * 60_000;

interface L1Entry {
  cacheJson: string;
}

/**
 * Two cache levels for MSAL cache blobs: L1 in process (bounded in entries and bytes), L2 one
 * Cosmos DB document per caller with one encrypted entry per assertion, written with ETags.
 */
export class TokenCache {
  private readonly l1: LRUCache<string, L1Entry> | undefined;
  private readonly erasedAt = new LRUCache<string, number>({ max: 10_000, ttl: ERASE_MEMORY_MS });
  private cosmosBrokenUntil = 0;

  constructor(private readonly options: TokenCacheOptions) {
    this.l1 =
      options.l1MaxEntries > 0 && options.l1MaxBytes > 0
        ? new LRUCache<string, L1Entry>({
            max: options.l1MaxEntries,
            maxSize: options.l1MaxBytes,
            sizeCalculation: (entry, key) => 2 * (entry.cacheJson.length + key.length) + 64,
            ttl: options.l1TtlSeconds * 1000,
          })
        : undefined;
  }

  async load(
    caller: CallerAccount,
    assertionHash: string,
    scopes: readonly string[],
    telemetry: RequestTelemetry,
  ): Promise<LoadedCache> {
    const startedAt = this.options.now();
    const nowSeconds = startedAt / 1000;
    const inL1 = this.l1?.get(l1Key(caller.accountId, assertionHash));
    if (
      inL1 !== undefined &&
      usableAccessTokenExpiry(inL1.cacheJson, scopes, nowSeconds, RENEWAL_OFFSET_SECONDS) !== undefined
    ) {
      return {
        cacheJson: inL1.cacheJson,
        usable: true,
        outcome: 'l1-hit',
        stored: undefined,
        degraded: false,
        startedAt,
      };
    }
    const withoutL2: LoadedCache = {
      cacheJson: inL1?.cacheJson,
      usable: false,
      outcome: 'miss',
      stored: undefined,
      degraded: true,
      startedAt,
    };
    if (startedAt < this.cosmosBrokenUntil) {
      telemetry.degraded('read', 'breaker-open');
      return withoutL2;
    }

    let stored: StoredDocument;
    try {
      stored = await telemetry.calls.cosmos('read', () => this.options.store.read(caller.accountId));
    } catch (error) {
      this.degrade(telemetry, 'read', error);
      return withoutL2;
    }
    telemetry.add('cosmosReads', 1);
    telemetry.add('cosmosRequestCharge', stored.requestCharge);
    if (stored.etag !== undefined && stored.document === undefined) {
      telemetry.set('cacheDocumentUnreadable', true);
      // The request id on the warning finds the caller's request; the document id (oid.tid) stays out of logs.
      telemetry.warn('token cache document unreadable; treating as a miss and overwriting it');
    }

    const entry = stored.document?.entries[assertionHash];
    const cacheJson =
      entry === undefined
        ? undefined
        : decryptBlob(entry.blob, this.options.keys, associatedData(caller, assertionHash));
    if (entry !== undefined && cacheJson === undefined) telemetry.set('cacheDocumentUnreadable', true);
    if (
      cacheJson !== undefined &&
      usableAccessTokenExpiry(cacheJson, scopes, nowSeconds, RENEWAL_OFFSET_SECONDS) !== undefined
    ) {
      this.l1?.set(l1Key(caller.accountId, assertionHash), { cacheJson });
      return { cacheJson, usable: true, outcome: 'l2-hit', stored, degraded: false, startedAt };
    }
    return { cacheJson, usable: false, outcome: 'miss', stored, degraded: false, startedAt };
  }

  /**
   * Stores the MSAL cache msal-node changed. Never throws and never fails the request: a conflict
   * re-reads, merges and retries; a write that cannot land is logged (`cacheWriteLost`).
   */
  async save(
    caller: CallerAccount,
    assertionHash: string,
    changedCacheJson: string,
    loaded: LoadedCache,
    telemetry: RequestTelemetry,
  ): Promise<void> {
    const erased = this.erasedAt.get(caller.accountId);
    // The caller erased their cache while this acquisition ran: storing it would undo the erase.
    if (erased !== undefined && erased >= loaded.startedAt) return;
    const cacheJson = withoutRefreshTokens(changedCacheJson);
    const exp = latestAccessTokenExpiry(cacheJson);
    if (exp === undefined) return;
    this.l1?.set(l1Key(caller.accountId, assertionHash), { cacheJson });
    if (loaded.degraded) return;

    const entry = {
      blob: encryptBlob(cacheJson, this.options.keys, associatedData(caller, assertionHash)),
      exp,
    };
    let base = loaded.stored ?? { document: undefined, etag: undefined, requestCharge: 0 };
    try {
      for (let attempt = 0; ; attempt++) {
        const next = mergeEntry(
          base.document,
          caller.accountId,
          assertionHash,
          entry,
          this.options.now() / 1000,
          this.options.maxEntriesPerDocument,
        );
        const outcome = await telemetry.calls.cosmos('write', () =>
          this.options.store.write(next, base.etag),
        );
        telemetry.add('cosmosWrites', 1);
        telemetry.add('cosmosRequestCharge', outcome.requestCharge);
        if (outcome.written) return;

        telemetry.add('cacheWriteConflicts', 1);
        if (attempt >= this.options.writeRetries) break;
        telemetry.add('conflictRetries', 1);
        await this.options.sleep(conflictBackoffMs(attempt, this.options.random));
        base = await telemetry.calls.cosmos('read', () => this.options.store.read(caller.accountId));
        telemetry.add('cosmosReads', 1);
        telemetry.add('cosmosRequestCharge', base.requestCharge);
      }
      telemetry.set('cacheWriteLost', true);
      telemetry.warn(
        'token cache write gave up after conflicting writers; the token stays cached in this instance only',
        { retries: this.options.writeRetries },
      );
    } catch (error) {
      this.degrade(telemetry, 'write', error);
    }
  }

  /**
   * Forgets one entry whose token a resource rejected (revoked, or a policy changed), so the next
   * request exchanges again instead of reusing it until it expires. Best effort: one conditional write.
   */
  async evict(caller: CallerAccount, assertionHash: string, telemetry: RequestTelemetry): Promise<void> {
    this.l1?.delete(l1Key(caller.accountId, assertionHash));
    if (this.options.now() < this.cosmosBrokenUntil) return;
    try {
      const stored = await telemetry.calls.cosmos('read', () => this.options.store.read(caller.accountId));
      telemetry.add('cosmosReads', 1);
      const entries = { ...stored.document?.entries };
      if (stored.etag === undefined || entries[assertionHash] === undefined) return;
      delete entries[assertionHash];
      const document = withHygiene(
        caller.accountId,
        entries,
        this.options.now() / 1000,
        this.options.maxEntriesPerDocument,
      );
      const outcome = await telemetry.calls.cosmos('write', () =>
        this.options.store.write(document, stored.etag),
      );
      telemetry.add('cosmosWrites', 1);
      telemetry.add('cosmosRequestCharge', stored.requestCharge + outcome.requestCharge);
    } catch (error) {
      this.degrade(telemetry, 'write', error);
    }
  }

  /** Removes the caller's document and this instance's L1 entries for the caller (nobody else's). */
  async erase(caller: CallerAccount, telemetry: RequestTelemetry): Promise<void> {
    this.erasedAt.set(caller.accountId, this.options.now());
    if (this.l1 !== undefined) {
      const prefix = l1Key(caller.accountId, '');
      for (const key of [...this.l1.keys()]) {
        if (key.startsWith(prefix)) this.l1.delete(key);
      }
    }
    try {
      const { requestCharge } = await telemetry.calls.cosmos('delete', () =>
        this.options.store.remove(caller.accountId),
      );
      telemetry.add('cosmosRequestCharge', requestCharge);
    } catch (error) {
      // Erasure is what the caller asked for: unlike a cache read, it cannot quietly degrade.
      throw new ApiError('ERR_TOKEN_CACHE_UNAVAILABLE', 'The token cache could not be erased; try again.', {
        cause: error,
        retryAfterSeconds: DEFAULT_RETRY_AFTER_SECONDS,
      });
    }
  }

  private degrade(telemetry: RequestTelemetry, operation: 'read' | 'write', error: unknown): void {
    this.cosmosBrokenUntil = this.options.now() + COSMOS_BREAKER_MS;
    telemetry.degraded(operation, 'failure');
    // Cosmos DB's ErrorResponse is a plain Error: its status, substatus and code say what failed.
    telemetry.warn(`token cache ${operation} failed; continuing without the shared cache`, {
      cause: describeCause(error),
    });
  }
}

function l1Key(accountId: string, assertionHash: string): string {
  return callerAssertionKey(accountId, assertionHash);
}

/** Binds an encrypted entry to its caller and assertion: a blob copied to another key fails to decrypt. */
function associatedData(caller: CallerAccount, assertionHash: string): string {
  return callerAssertionKey(caller.accountId, assertionHash);
}
