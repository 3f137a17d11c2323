import { type CallerAccount, callerAssertionKey } from '../auth/caller.js';
import type { TokenCache } from '../cache/tokenCache.js';
import type { DelegatedTokenSource } from '../downstream/callDownstream.js';
import { requestTelemetry } from '../telemetry.js';
import { cacheEntryKeyOf } from './cacheEntryKey.js';
import type { OboClient } from './oboClient.js';

export { assertionHashOf } from './cacheEntryKey.js';

/**
 * Graph access tokens on the caller's behalf: L1 (the token itself, no msal client), then L2 through
 * msal-node, then one OBO exchange, with concurrent requests for the same (caller, assertion, scopes)
 * in this instance sharing one acquisition.
 * The cache is keyed per (assertion, scope set) (cacheEntryKeyOf): what TokenCache calls the
 * assertion hash is that entry key.
 */
export class GraphTokenService implements DelegatedTokenSource {
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(
    private readonly cache: TokenCache,
    private readonly obo: OboClient,
  ) {}

  acquire(caller: CallerAccount, scopes: readonly string[]): Promise<string> {
    const entryKey = cacheEntryKeyOf(caller.assertion, scopes);
    const warm = this.cache.warmHit(caller, entryKey, scopes);
    if (warm !== undefined) {
      requestTelemetry().cacheLookup('l1-hit');
      return Promise.resolve(warm);
    }
    const key = callerAssertionKey(caller.accountId, entryKey);
    const pending = this.inFlight.get(key);
    if (pending !== undefined) {
      requestTelemetry().cacheLookup('coalesced');
      return pending;
    }
    const started: Promise<string> = this.acquireOnce(caller, entryKey, scopes).finally(() => {
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
    // Read for the document's ETag (the save needs it); the entry itself was evicted and is not used.
    const loaded = await this.cache.load(caller, entryKey, scopes);
    const result = await this.obo.acquire(caller, scopes, undefined, claims);
    requestTelemetry().set('oboExchange', true);
    // An L1 hit here means a concurrent request already stored a newer token: keep that one, store nothing.
    if (loaded.outcome !== 'l1-hit' && result.changedCacheJson !== undefined) {
      await this.cache.save(caller, entryKey, result.changedCacheJson, loaded);
    }
    return result.accessToken;
  }

  /** Forgets the caller's cached token for this assertion and scopes (L1 and L2) after a resource rejected it. */
  evict(caller: CallerAccount, scopes: readonly string[], rejectedToken: string): Promise<void> {
    const entryKey = cacheEntryKeyOf(caller.assertion, scopes);
    this.inFlight.delete(callerAssertionKey(caller.accountId, entryKey));
    return this.cache.evict(caller, entryKey, rejectedToken);
  }

  /** Erases the caller's cache; requests after this never join an acquisition that started before. */
  async erase(caller: CallerAccount): Promise<void> {
    const prefix = callerAssertionKey(caller.accountId, '');
    for (const key of [...this.inFlight.keys()]) {
      if (key.startsWith(prefix)) this.inFlight.delete(key);
    }
    await this.cache.erase(caller);
  }

  private async acquireOnce(
    caller: CallerAccount,
    entryKey: string,
    scopes: readonly string[],
  ): Promise<string> {
    const loaded = await this.cache.load(caller, entryKey, scopes);
    requestTelemetry().cacheLookup(loaded.outcome);
    if (loaded.outcome === 'l1-hit') return loaded.accessToken;

    const result = await this.obo.acquire(caller, scopes, loaded.cacheJson);
    if (!result.fromCache) requestTelemetry().set('oboExchange', true);
    if (result.changedCacheJson !== undefined) {
      await this.cache.save(caller, entryKey, result.changedCacheJson, loaded);
    }
    return result.accessToken;
  }
}
