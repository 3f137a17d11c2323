import { createHash } from 'node:crypto';

import { type CallerAccount, callerAssertionKey } from '../auth/caller.js';
import type { TokenCache } from '../cache/tokenCache.js';
import type { RequestTelemetry } from '../telemetry.js';
import type { OboClient } from './oboClient.js';

/** msal-node's `userAssertionHash`: SHA-256 of the assertion, base64url without padding. */
export function assertionHashOf(assertion: string): string {
  return createHash('sha256').update(assertion, 'utf8').digest('base64url');
}

/**
 * Graph access tokens on the caller's behalf: L1, then L2, then one OBO exchange, with concurrent
 * requests for the same (caller, assertion, scopes) in this instance sharing one acquisition.
 */
export class GraphTokenService {
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(
    private readonly cache: TokenCache,
    private readonly obo: OboClient,
    private readonly scopes: readonly string[],
  ) {}

  acquire(caller: CallerAccount, telemetry: RequestTelemetry): Promise<string> {
    const assertionHash = assertionHashOf(caller.assertion);
    const key = `${callerAssertionKey(caller.accountId, assertionHash)}\n${this.scopes.join(' ')}`;
    const pending = this.inFlight.get(key);
    if (pending !== undefined) {
      telemetry.set('cache', 'coalesced');
      return pending;
    }
    const started: Promise<string> = this.acquireOnce(caller, assertionHash, telemetry).finally(() => {
      // An erase may have replaced this entry with a newer acquisition: only remove our own.
      if (this.inFlight.get(key) === started) this.inFlight.delete(key);
    });
    this.inFlight.set(key, started);
    return started;
  }

  /** Forgets the caller's cached token for this assertion after a resource rejected it. */
  evict(caller: CallerAccount, telemetry: RequestTelemetry): Promise<void> {
    return this.cache.evict(caller, assertionHashOf(caller.assertion), telemetry);
  }

  /** Erases the caller's cache; requests after this never join an acquisition that started before. */
  async erase(caller: CallerAccount, telemetry: RequestTelemetry): Promise<void> {
    const prefix = callerAssertionKey(caller.accountId, '');
    for (const key of [...this.inFlight.keys()]) {
      if (key.startsWith(prefix)) this.inFlight.delete(key);
    }
    await this.cache.erase(caller, telemetry);
  }

  private async acquireOnce(
    caller: CallerAccount,
    assertionHash: string,
    telemetry: RequestTelemetry,
  ): Promise<string> {
    const loaded = await this.cache.load(caller, assertionHash, this.scopes, telemetry);
    telemetry.set('cache', loaded.outcome);

    const result = await this.obo.acquire(caller, this.scopes, loaded.cacheJson, telemetry);
    if (!result.fromCache) telemetry.set('oboExchange', true);
    if (result.changedCacheJson !== undefined) {
      await this.cache.save(caller, assertionHash, result.changedCacheJson, loaded, telemetry);
    }
    return result.accessToken;
  }
}
