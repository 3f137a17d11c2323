import { randomUUID } from 'node:crypto';

import type { CallerAccount } from '../auth/caller.js';
import type { AppConfig } from '../config.js';
import { ApiError, DEFAULT_RETRY_AFTER_SECONDS } from '../errors.js';
import { describeCause } from '../observability/causes.js';
import { requestTelemetry } from '../telemetry.js';
import { classifyCosmosFailure, type StoredDocument, type TokenCacheStore } from './cosmosStore.js';
import { entryAssociatedData, isTombstone, RENEWAL_OFFSET_SECONDS, STALE_SAVE_SECONDS } from './document.js';
import { decryptBlob, encryptBlob } from './encryption.js';
import { removeEntry, writeEntry, writeTombstone } from './entryWrite.js';
import { L1TokenCache, type L1Usage, sourceOf } from './l1.js';
import { latestAccessTokenExpiry, usableAccessToken, withoutRefreshTokens } from './msalCache.js';

/** The `tokenCache` settings plus the injected I/O and time. */
export interface TokenCacheOptions extends Readonly<AppConfig['tokenCache']> {
  store: TokenCacheStore;
  /** Epoch milliseconds. */
  now: () => number;
  random: () => number;
  sleep: (ms: number) => Promise<void>;
  /** A unique id for each erase (crypto.randomUUID unless a test names them). */
  newEraseId?: () => string;
}

/** What L2 had for one (caller, assertion), to hand to msal-node; `save` starts from it. */
export interface LoadedCache {
  outcome: 'l2-hit' | 'miss';
  /** Plaintext MSAL cache JSON to deserialize into a fresh client. */
  cacheJson: string | undefined;
  /** The L2 document as read (with its ETag); undefined when L2 was not read or could not be. */
  stored: StoredDocument | undefined;
  /** Cosmos DB failed or was skipped: the request goes on without the shared cache. */
  degraded: boolean;
  /** When the load started (epoch ms): a save from before this instance's erase of the caller is dropped. */
  startedAt: number;
  /** The scopes requested, so that the save can keep the token that answers them in L1. */
  scopes: readonly string[];
}

/** An L1 hit found by the slow path (revalidated against L2, or served while Cosmos DB is failing). */
export interface L1Hit {
  outcome: 'l1-hit';
  accessToken: string;
}

/** After an availability failure, requests skip L2 this long instead of each waiting for their own timeout. */
export const COSMOS_BREAKER_MS = 10_000;
const EMPTY: StoredDocument = { document: undefined, etag: undefined, requestCharge: 0 };

/**
 * Two cache levels: L1 in process (bounded in entries and bytes) holds the Graph token itself, L2 one
 * Cosmos DB document per caller with one encrypted MSAL cache per assertion, written with ETags. An
 * erase writes a tombstone that every later write carries, so no writer that loaded before it lands.
 */
export class TokenCache {
  private readonly l1: L1TokenCache;
  private readonly revalidateMs: number;
  private readonly newEraseId: () => string;
  private cosmosBrokenUntil = 0;

  constructor(private readonly options: TokenCacheOptions) {
    this.revalidateMs = options.l1RevalidateSeconds * 1000;
    this.newEraseId = options.newEraseId ?? randomUUID;
    this.l1 = new L1TokenCache(options);
  }

  /** The warm path: the Graph token from L1 when it is usable and L2 confirmed it recently, else undefined. */
  warmHit(caller: CallerAccount, assertionHash: string, scopes: readonly string[]): string | undefined {
    const now = this.options.now();
    const entry = this.l1.usable(caller.accountId, assertionHash, scopes, now);
    return entry !== undefined && now - entry.checkedAt < this.revalidateMs ? entry.accessToken : undefined;
  }

  /** What L1 holds now, as its bounds count it. */
  l1Usage(): L1Usage {
    return this.l1.usage();
  }

  /**
   * The slow path: an L1 entry due for revalidation is checked against L2 (one point read); otherwise
   * the L2 entry is decrypted for msal-node, and a usable token in it goes into L1.
   */
  async load(
    caller: CallerAccount,
    assertionHash: string,
    scopes: readonly string[],
  ): Promise<L1Hit | LoadedCache> {
    const telemetry = requestTelemetry();
    const startedAt = this.options.now();
    const l1Token = this.l1.usable(caller.accountId, assertionHash, scopes, startedAt);
    if (l1Token !== undefined && startedAt - l1Token.checkedAt < this.revalidateMs) {
      return { outcome: 'l1-hit', accessToken: l1Token.accessToken };
    }
    const withoutL2: LoadedCache = {
      outcome: 'miss',
      cacheJson: undefined,
      stored: undefined,
      degraded: true,
      startedAt,
      scopes,
    };
    if (startedAt < this.cosmosBrokenUntil) {
      telemetry.degraded('read', 'breaker-open');
      telemetry.set('cosmosFailure', 'breaker-open');
      // Nobody can erase while Cosmos DB is down (an erase fails with 503), so L1 is still right.
      return l1Token !== undefined ? { outcome: 'l1-hit', accessToken: l1Token.accessToken } : withoutL2;
    }

    let stored: StoredDocument;
    try {
      stored = await telemetry.calls.cosmos('read', () => this.options.store.read(caller.accountId));
    } catch (error) {
      this.degrade('read', error);
      return l1Token !== undefined ? { outcome: 'l1-hit', accessToken: l1Token.accessToken } : withoutL2;
    }
    if (stored.etag !== undefined && stored.document === undefined) {
      telemetry.set('cacheDocumentUnreadable', true);
      // No caller id in the line (oid and tid are claim values): the request id ties it to its request.
      telemetry.warn('token cache document unreadable; treating as a miss and overwriting it');
    }

    const entry = stored.document?.entries[assertionHash];
    if (l1Token !== undefined) {
      telemetry.set('cacheRevalidated', true);
      if (entry !== undefined && sourceOf(entry.blob) === l1Token.source) {
        if (!this.l1.erasedSince(caller.accountId, startedAt)) l1Token.checkedAt = startedAt;
        return { outcome: 'l1-hit', accessToken: l1Token.accessToken };
      }
      // L2 no longer holds what L1 has (erased, evicted or replaced elsewhere): L1 must not serve it.
      this.l1.delete(caller.accountId, assertionHash);
    }
    if (isTombstone(stored.document)) this.l1.forget(caller.accountId);

    const cacheJson =
      entry === undefined
        ? undefined
        : decryptBlob(entry.blob, this.options.keys, entryAssociatedData(caller.accountId, assertionHash));
    if (entry !== undefined && cacheJson === undefined) telemetry.set('cacheDocumentUnreadable', true);
    const token =
      cacheJson === undefined
        ? undefined
        : usableAccessToken(cacheJson, scopes, startedAt / 1000, RENEWAL_OFFSET_SECONDS);
    if (entry !== undefined && token !== undefined) {
      this.l1.remember(
        caller.accountId,
        assertionHash,
        scopes,
        token,
        sourceOf(entry.blob),
        startedAt,
        startedAt,
      );
      return { outcome: 'l2-hit', cacheJson, stored, degraded: false, startedAt, scopes };
    }
    return { outcome: 'miss', cacheJson, stored, degraded: false, startedAt, scopes };
  }

  /**
   * Stores the MSAL cache msal-node changed. Never throws and never fails the request: a conflict
   * re-reads, merges and retries; an erase since the load drops the write; a write that cannot land is
   * logged (`cacheWriteLost`, `cacheWriteSkipped`).
   */
  async save(
    caller: CallerAccount,
    assertionHash: string,
    changedCacheJson: string,
    loaded: LoadedCache,
  ): Promise<void> {
    const telemetry = requestTelemetry();
    // The caller erased their cache on this instance while this acquisition ran: storing it would undo the erase.
    if (this.l1.erasedSince(caller.accountId, loaded.startedAt)) {
      telemetry.set('cacheWriteSkipped', 'erased');
      return;
    }
    const cacheJson = withoutRefreshTokens(changedCacheJson);
    const exp = latestAccessTokenExpiry(cacheJson);
    if (exp === undefined) return;
    const nowSeconds = this.options.now() / 1000;
    const token = usableAccessToken(cacheJson, loaded.scopes, nowSeconds, RENEWAL_OFFSET_SECONDS);
    const remember = (source: string | undefined) => {
      if (token !== undefined) {
        this.l1.remember(
          caller.accountId,
          assertionHash,
          loaded.scopes,
          token,
          source,
          loaded.startedAt,
          this.options.now(),
        );
      }
    };
    if (loaded.degraded) {
      remember(undefined);
      return;
    }
    if (nowSeconds - loaded.startedAt / 1000 > STALE_SAVE_SECONDS) {
      // An erase's tombstone may have come and gone since the load: writing could resurrect the caller.
      telemetry.set('cacheWriteSkipped', 'stale');
      remember(undefined);
      return;
    }

    const blob = encryptBlob(
      cacheJson,
      this.options.keys,
      entryAssociatedData(caller.accountId, assertionHash),
    );
    try {
      const result = await writeEntry({
        ...this.options,
        accountId: caller.accountId,
        assertionHash,
        entry: { blob, exp },
        loaded: loaded.stored ?? EMPTY,
      });
      if (result === 'written') {
        remember(sourceOf(blob));
      } else if (result === 'erased') {
        // Erased on another instance after our load: drop the write, and what L1 holds from before.
        this.l1.forget(caller.accountId);
        telemetry.set('cacheWriteSkipped', 'erased');
      } else if (result === 'gone') {
        telemetry.set('cacheWriteSkipped', 'gone');
      } else {
        telemetry.writeLost();
        telemetry.warn(
          'token cache write gave up after conflicting writers; the token stays cached in this instance only',
          { retries: this.options.writeRetries },
        );
        remember(undefined);
      }
    } catch (error) {
      const failure = this.degrade('write', error);
      if (failure === 'too-large') telemetry.set('cacheWriteSkipped', 'too-large');
      remember(undefined);
    }
  }

  /**
   * Forgets the entry that holds a token a resource rejected (revoked, or a policy changed), so the next
   * request exchanges again instead of reusing it until it expires. An entry another instance has since
   * refilled with a new token stays. Best effort: one conditional write.
   */
  async evict(caller: CallerAccount, assertionHash: string, rejectedToken: string): Promise<void> {
    this.l1.deleteToken(caller.accountId, assertionHash, rejectedToken);
    if (this.options.now() < this.cosmosBrokenUntil) {
      requestTelemetry().set('cosmosFailure', 'breaker-open');
      return;
    }
    try {
      await removeEntry({
        ...this.options,
        accountId: caller.accountId,
        assertionHash,
        rejectedToken,
      });
    } catch (error) {
      this.degrade('write', error);
    }
  }

  /**
   * Replaces the caller's document with a tombstone (no entries, a new erase marker, a short TTL) and
   * drops this instance's L1 entries for the caller (nobody else's). One request, whatever is there.
   */
  async erase(caller: CallerAccount): Promise<void> {
    this.l1.markErased(caller.accountId);
    const erasure = { id: this.newEraseId(), at: this.options.now() };
    try {
      await writeTombstone(this.options.store, caller.accountId, erasure);
    } catch (error) {
      const failure = classifyCosmosFailure(error);
      requestTelemetry().set('cosmosFailure', failure);
      // Erasure is what the caller asked for: unlike a cache read, it cannot quietly degrade.
      throw new ApiError('ERR_TOKEN_CACHE_UNAVAILABLE', 'The token cache could not be erased; try again.', {
        cause: error,
        retryAfterSeconds: DEFAULT_RETRY_AFTER_SECONDS,
      });
    } finally {
      // Again at the end: a load that overlapped any part of the erase must not refill L1.
      this.l1.markErased(caller.accountId);
    }
  }

  /** Records a Cosmos DB failure; only an availability failure opens the instance-wide breaker. */
  private degrade(operation: 'read' | 'write', error: unknown) {
    const telemetry = requestTelemetry();
    const failure = classifyCosmosFailure(error);
    if (failure === 'unavailable') this.cosmosBrokenUntil = this.options.now() + COSMOS_BREAKER_MS;
    telemetry.degraded(operation, 'failure');
    telemetry.set('cosmosFailure', failure);
    // Cosmos DB's ErrorResponse is a plain Error: its status, substatus and code say what failed.
    telemetry.warn(`token cache ${operation} failed; continuing without the shared cache`, {
      failure,
      cause: describeCause(error),
    });
    return failure;
  }
}
