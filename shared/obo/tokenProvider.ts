import { randomUUID } from 'node:crypto';

import { type CallerAccount, callerEntryKey } from '../auth/caller.js';
import { type CosmosBreaker, degrade } from '../cache/breaker.js';
import { classifyCosmosFailure } from '../cache/cosmosStore.js';
import { RENEWAL_OFFSET_SECONDS } from '../cache/document.js';
import type { L1Lookup, L1TokenCache } from '../cache/l1.js';
import type { L2Read, L2TokenCache } from '../cache/l2.js';
import { MsalCacheRecords, type UsableAccessToken } from '../cache/msalCache.js';
import type { DelegatedTokenSource } from '../downstream/callDownstream.js';
import { ApiError, DEFAULT_RETRY_AFTER_SECONDS } from '../errors.js';
import { requestTelemetry } from '../telemetry.js';
import { cacheEntryKeyOf } from './cacheEntryKey.js';
import type { ExchangeLimit } from './exchangeLimit.js';
import type { OboClient } from './oboClient.js';

export interface TokenProviderParts {
  l1: L1TokenCache;
  l2: L2TokenCache;
  breaker: CosmosBreaker;
  obo: OboClient;
  /** Epoch milliseconds. */
  now: () => number;
  /** TOKEN_CLOCK_TOLERANCE_SECONDS: a caller's token is accepted this long past its `exp`, and no longer. */
  callerClockToleranceSeconds: number;
  /** The per-caller bound on exchanges that reach Entra ID (OBO_EXCHANGES_PER_CALLER_PER_MINUTE). */
  exchangeLimit: ExchangeLimit;
  /** A unique id for each erase (crypto.randomUUID unless a test names them). */
  newEraseId?: () => string;
}

/** One acquisition's view of the caller's entry, from L2 (or without it when Cosmos DB is out). */
type Loaded =
  | { from: 'l1'; accessToken: string }
  | { from: 'l2'; read: L2Read; usable: UsableAccessToken | undefined }
  | { from: 'none' };

/**
 * Delegated tokens on the caller's behalf, in this order, once per request: L1 (the token itself, no msal
 * client), then one acquisition per (caller, entry key) in this instance (single flight), which reads L2,
 * hands its entry to msal-node (a cache hit, or one OBO exchange), and writes back only what msal-node
 * changed. The entry key is of the assertion and the scope set (cacheEntryKeyOf).
 */
export class DelegatedTokenProvider implements DelegatedTokenSource {
  private readonly inFlight = new Map<string, Promise<string>>();
  private readonly newEraseId: () => string;

  constructor(private readonly parts: TokenProviderParts) {
    this.newEraseId = parts.newEraseId ?? randomUUID;
  }

  acquire(caller: CallerAccount, scopes: readonly string[]): Promise<string> {
    const entryKey = cacheEntryKeyOf(caller.assertion, scopes);
    const inL1 = this.parts.l1.lookup(caller.accountId, entryKey, scopes);
    if (inL1.kind === 'fresh') {
      requestTelemetry().cacheLookup('l1-hit');
      return Promise.resolve(inL1.accessToken);
    }
    const key = callerEntryKey(caller.accountId, entryKey);
    const pending = this.inFlight.get(key);
    if (pending !== undefined) {
      requestTelemetry().cacheLookup('coalesced');
      return pending;
    }
    const started: Promise<string> = this.acquireOnce(caller, entryKey, scopes, inL1).finally(() => {
      // An erase may have replaced this entry with a newer acquisition: only remove our own.
      if (this.inFlight.get(key) === started) this.inFlight.delete(key);
    });
    this.inFlight.set(key, started);
    return started;
  }

  /**
   * An exchange with a resource's claims challenge: never from a cache (msal-node skips its own for
   * claims) and never joined with a cached acquisition; the new token replaces the entry.
   */
  async acquireWithClaims(caller: CallerAccount, scopes: readonly string[], claims: string): Promise<string> {
    const entryKey = cacheEntryKeyOf(caller.assertion, scopes);
    const startedAt = this.parts.now();
    // Read for the document's version (the write-back needs it); the entry itself was evicted and is not used.
    const inL1 = this.parts.l1.lookup(caller.accountId, entryKey, scopes);
    const loaded = await this.load(caller, entryKey, scopes, inL1, startedAt);
    this.parts.exchangeLimit.take(caller.accountId);
    const result = await this.parts.obo.acquire(caller, scopes, undefined, claims);
    requestTelemetry().set('oboExchange', true);
    // L1 answering here means a concurrent request already stored a newer token: keep that one, store nothing.
    if (loaded.from !== 'l1' && result.changedCacheJson !== undefined) {
      await this.writeBack(caller, entryKey, scopes, result.changedCacheJson, loaded, startedAt);
    }
    return result.accessToken;
  }

  /** Forgets the caller's cached token for this assertion and scopes (L1 and L2) after a resource rejected it. */
  async evict(caller: CallerAccount, scopes: readonly string[], rejectedToken: string): Promise<void> {
    const entryKey = cacheEntryKeyOf(caller.assertion, scopes);
    this.inFlight.delete(callerEntryKey(caller.accountId, entryKey));
    this.parts.l1.deleteToken(caller.accountId, entryKey, rejectedToken);
    if (this.parts.breaker.isOpen()) {
      requestTelemetry().set('cosmosFailure', 'breaker-open');
      return;
    }
    try {
      await this.parts.l2.remove(caller.accountId, entryKey, rejectedToken);
    } catch (error) {
      degrade(this.parts.breaker, 'write', error);
    }
  }

  /**
   * Replaces the caller's document with a tombstone (no entries, a new erase marker, a short TTL) and drops
   * this instance's L1 entries for the caller (nobody else's); requests after this never join an
   * acquisition that started before.
   */
  async erase(caller: CallerAccount): Promise<void> {
    const { l1, l2 } = this.parts;
    const prefix = callerEntryKey(caller.accountId, '');
    for (const key of [...this.inFlight.keys()]) {
      if (key.startsWith(prefix)) this.inFlight.delete(key);
    }
    l1.markErased(caller.accountId);
    try {
      await l2.erase(caller.accountId, { id: this.newEraseId(), at: this.parts.now() });
    } catch (error) {
      requestTelemetry().set('cosmosFailure', classifyCosmosFailure(error));
      // Erasure is what the caller asked for: unlike a cache read, it cannot quietly degrade.
      throw new ApiError('ERR_TOKEN_CACHE_UNAVAILABLE', 'The token cache could not be erased; try again.', {
        cause: error,
        retryAfterSeconds: DEFAULT_RETRY_AFTER_SECONDS,
      });
    } finally {
      // Again at the end: a load that overlapped any part of the erase must not refill L1.
      l1.markErased(caller.accountId);
    }
  }

  private async acquireOnce(
    caller: CallerAccount,
    entryKey: string,
    scopes: readonly string[],
    inL1: L1Lookup,
  ): Promise<string> {
    const startedAt = this.parts.now();
    const loaded = await this.load(caller, entryKey, scopes, inL1, startedAt);
    const telemetry = requestTelemetry();
    if (loaded.from === 'l1') {
      telemetry.cacheLookup('l1-hit');
      return loaded.accessToken;
    }
    const cacheJson = loaded.from === 'l2' ? loaded.read.cacheJson : undefined;
    const servedByL2 = loaded.from === 'l2' && loaded.usable !== undefined;
    telemetry.cacheLookup(servedByL2 ? 'l2-hit' : 'miss');
    // msal-node will go to Entra ID: that is what the caller's bound counts, never what a cache serves.
    if (!servedByL2) this.parts.exchangeLimit.take(caller.accountId);
    const result = await this.parts.obo.acquire(caller, scopes, cacheJson);
    if (!result.fromCache) telemetry.set('oboExchange', true);
    if (result.changedCacheJson !== undefined) {
      await this.writeBack(caller, entryKey, scopes, result.changedCacheJson, loaded, startedAt);
    }
    return result.accessToken;
  }

  /**
   * L2 for a request L1 could not answer alone: an L1 token due for revalidation is served when L2 still
   * holds the entry it came from (or when Cosmos DB cannot say otherwise); a usable token in L2 goes into L1.
   */
  private async load(
    caller: CallerAccount,
    entryKey: string,
    scopes: readonly string[],
    inL1: L1Lookup,
    startedAt: number,
  ): Promise<Loaded> {
    const { l1, l2, breaker } = this.parts;
    const telemetry = requestTelemetry();
    if (inL1.kind === 'fresh') return { from: 'l1', accessToken: inL1.accessToken };
    // Nobody can erase while Cosmos DB is down (an erase fails with 503), so L1 is still right.
    const withoutL2: Loaded =
      inL1.kind === 'due' ? { from: 'l1', accessToken: inL1.accessToken } : { from: 'none' };
    if (breaker.isOpen()) {
      telemetry.degraded('read', 'breaker-open');
      telemetry.set('cosmosFailure', 'breaker-open');
      return withoutL2;
    }
    let read: L2Read;
    try {
      read = await l2.read(caller.accountId, entryKey);
    } catch (error) {
      degrade(this.parts.breaker, 'read', error);
      return withoutL2;
    }

    if (inL1.kind === 'due') {
      telemetry.set('cacheRevalidated', true);
      if (read.source !== undefined && read.source === inL1.source) {
        l1.confirm(caller.accountId, entryKey, read.source, startedAt);
        return { from: 'l1', accessToken: inL1.accessToken };
      }
      // L2 no longer holds what L1 has (erased, evicted or replaced elsewhere): L1 must not serve it.
      l1.delete(caller.accountId, entryKey);
    }
    if (read.erased) l1.forget(caller.accountId);
    const usable =
      read.cacheJson === undefined
        ? undefined
        : MsalCacheRecords.parse(read.cacheJson).usableAccessToken(
            scopes,
            startedAt / 1000,
            RENEWAL_OFFSET_SECONDS,
          );
    if (usable !== undefined) {
      l1.remember(caller.accountId, entryKey, scopes, {
        token: usable,
        source: read.source,
        startedAt,
        confirmedAt: startedAt,
        notAfter: this.reachableUntil(caller),
      });
    }
    return { from: 'l2', read, usable };
  }

  /**
   * Stores the MSAL cache msal-node changed. Never throws and never fails the request: a conflict re-reads,
   * merges and retries in L2; an erase since the load drops the write; a write that cannot land is logged
   * (`cacheWriteLost`, `cacheWriteSkipped`) and the token kept in this instance's L1.
   */
  private async writeBack(
    caller: CallerAccount,
    entryKey: string,
    scopes: readonly string[],
    changedCacheJson: string,
    loaded: Exclude<Loaded, { from: 'l1' }>,
    startedAt: number,
  ): Promise<void> {
    const { l1, l2, now } = this.parts;
    const telemetry = requestTelemetry();
    // The caller erased their cache on this instance while this acquisition ran: storing it would undo the erase.
    if (l1.erasedSince(caller.accountId, startedAt)) {
      telemetry.set('cacheWriteSkipped', 'erased');
      return;
    }
    const records = MsalCacheRecords.parse(changedCacheJson);
    const tokenExpiry = records.latestAccessTokenExpiry();
    const cacheJson = records.persistable();
    if (tokenExpiry === undefined || cacheJson === undefined) return;
    // Nobody can reach the entry once the caller's token that keys it is refused: it is not kept past that.
    const notAfter = this.reachableUntil(caller);
    const exp = Math.min(tokenExpiry, notAfter);
    const token = records.usableAccessToken(scopes, now() / 1000, RENEWAL_OFFSET_SECONDS);
    const remember = (source: string | undefined) => {
      if (token !== undefined) {
        l1.remember(caller.accountId, entryKey, scopes, {
          token,
          source,
          startedAt,
          confirmedAt: now(),
          notAfter,
        });
      }
    };
    if (loaded.from === 'none') {
      remember(undefined);
      return;
    }
    let written;
    try {
      written = await l2.write(caller.accountId, entryKey, { cacheJson, exp }, loaded.read.version);
    } catch (error) {
      if (degrade(this.parts.breaker, 'write', error) === 'too-large')
        telemetry.set('cacheWriteSkipped', 'too-large');
      remember(undefined);
      return;
    }
    switch (written.outcome) {
      case 'written':
        remember(written.source);
        return;
      case 'erased':
        // Erased on another instance after our load: drop the write, and what L1 holds from before.
        l1.forget(caller.accountId);
        telemetry.set('cacheWriteSkipped', 'erased');
        return;
      case 'gone':
        telemetry.set('cacheWriteSkipped', 'gone');
        return;
      case 'stale':
        // An erase's tombstone may have come and gone since the load: writing could resurrect the caller.
        telemetry.set('cacheWriteSkipped', 'stale');
        remember(undefined);
        return;
      case 'lost':
        telemetry.writeLost();
        telemetry.warn(
          'token cache write gave up after conflicting writers; the token stays cached in this instance only',
          { retries: written.retries },
        );
        remember(undefined);
    }
  }

  /** Epoch seconds until which the caller's token, and so its cache entry, can be used. */
  private reachableUntil(caller: CallerAccount): number {
    return caller.expiresAt + this.parts.callerClockToleranceSeconds;
  }
}
