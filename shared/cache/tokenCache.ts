import { randomUUID } from 'node:crypto';

import { LRUCache } from 'lru-cache';

import { type CallerAccount, callerAssertionKey } from '../auth/caller.js';
import type { AppConfig } from '../config.js';
import { ApiError, DEFAULT_RETRY_AFTER_SECONDS } from '../errors.js';
import { describeCause } from '../observability/causes.js';
import { conflictBackoffMs } from '../retry.js';
import type { RequestTelemetry } from '../telemetry.js';
import { classifyCosmosFailure, type StoredDocument, type TokenCacheStore } from './cosmosStore.js';
import {
  type CacheDocument,
  erasedSince,
  mergeEntry,
  RENEWAL_OFFSET_SECONDS,
  STALE_SAVE_SECONDS,
  tombstone,
  withHygiene,
} from './document.js';
import { decryptBlob, encryptBlob } from './encryption.js';
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
/** How long an instance remembers its own erase, to drop the saves of acquisitions that were already running. */
const ERASE_MEMORY_MS = 10 * 60_000;
/**
 * Bytes of one L1 entry besides its strings' characters (V8 stores these ASCII strings one byte per
 * character): the entry object, four string headers, lru-cache's per-slot arrays and its key map entry.
 */
export const L1_ENTRY_OVERHEAD_BYTES = 256;

/** What a warm hit needs, so it neither builds an msal client nor parses JSON. */
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
}

const EMPTY: StoredDocument = { document: undefined, etag: undefined, requestCharge: 0 };

/**
 * Two cache levels: L1 in process (bounded in entries and bytes) holds the Graph token itself, L2 one
 * Cosmos DB document per caller with one encrypted MSAL cache per assertion, written with ETags. An
 * erase writes a tombstone that every later write carries, so no writer that loaded before it lands.
 */
export class TokenCache {
  private readonly l1: LRUCache<string, L1Entry> | undefined;
  private readonly erasedAt: LRUCache<string, number>;
  private readonly scopeKeys = new WeakMap<readonly string[], string>();
  private readonly revalidateMs: number;
  private readonly newEraseId: () => string;
  private cosmosBrokenUntil = 0;

  constructor(private readonly options: TokenCacheOptions) {
    this.revalidateMs = options.l1RevalidateSeconds * 1000;
    this.newEraseId = options.newEraseId ?? randomUUID;
    // Both caches age entries on the injected clock, as the revalidation does (no cached "now" between timers).
    const perf = { now: options.now };
    const ttlResolution = 0;
    this.erasedAt = new LRUCache<string, number>({ max: 10_000, ttl: ERASE_MEMORY_MS, perf, ttlResolution });
    this.l1 =
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

  /** The warm path: the Graph token from L1 when it is usable and L2 confirmed it recently, else undefined. */
  warmHit(caller: CallerAccount, assertionHash: string, scopes: readonly string[]): string | undefined {
    const entry = this.l1?.get(l1Key(caller.accountId, assertionHash));
    if (entry === undefined) return undefined;
    const now = this.options.now();
    return now - entry.checkedAt < this.revalidateMs && this.usable(entry, scopes, now)
      ? entry.accessToken
      : undefined;
  }

  /**
   * The slow path: an L1 entry due for revalidation is checked against L2 (one point read); otherwise
   * the L2 entry is decrypted for msal-node, and a usable token in it goes into L1.
   */
  async load(
    caller: CallerAccount,
    assertionHash: string,
    scopes: readonly string[],
    telemetry: RequestTelemetry,
  ): Promise<L1Hit | LoadedCache> {
    const startedAt = this.options.now();
    const key = l1Key(caller.accountId, assertionHash);
    const inL1 = this.l1?.get(key);
    const l1Token = inL1 !== undefined && this.usable(inL1, scopes, startedAt) ? inL1 : undefined;
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
      this.degrade(telemetry, 'read', error);
      return l1Token !== undefined ? { outcome: 'l1-hit', accessToken: l1Token.accessToken } : withoutL2;
    }
    telemetry.add('cosmosReads', 1);
    telemetry.add('cosmosRequestCharge', stored.requestCharge);
    if (stored.etag !== undefined && stored.document === undefined) {
      telemetry.set('cacheDocumentUnreadable', true);
      // No caller id in the line (oid and tid are claim values): the request id ties it to its request.
      telemetry.warn('token cache document unreadable; treating as a miss and overwriting it');
    }

    const entry = stored.document?.entries[assertionHash];
    if (l1Token !== undefined) {
      telemetry.set('cacheRevalidated', true);
      if (entry !== undefined && sourceOf(entry.blob) === l1Token.source) {
        if (!this.erasedHereSince(caller.accountId, startedAt)) l1Token.checkedAt = startedAt;
        return { outcome: 'l1-hit', accessToken: l1Token.accessToken };
      }
      // L2 no longer holds what L1 has (erased, evicted or replaced elsewhere): L1 must not serve it.
      this.l1?.delete(key);
    }
    if (isTombstone(stored.document)) this.forgetInL1(caller.accountId);

    const cacheJson =
      entry === undefined
        ? undefined
        : decryptBlob(entry.blob, this.options.keys, associatedData(caller, assertionHash));
    if (entry !== undefined && cacheJson === undefined) telemetry.set('cacheDocumentUnreadable', true);
    const token =
      cacheJson === undefined
        ? undefined
        : usableAccessToken(cacheJson, scopes, startedAt / 1000, RENEWAL_OFFSET_SECONDS);
    if (entry !== undefined && token !== undefined) {
      this.remember(caller, assertionHash, scopes, token, sourceOf(entry.blob), startedAt, startedAt);
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
    telemetry: RequestTelemetry,
  ): Promise<void> {
    // The caller erased their cache on this instance while this acquisition ran: storing it would undo the erase.
    if (this.erasedHereSince(caller.accountId, loaded.startedAt)) {
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
        this.remember(
          caller,
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

    const blob = encryptBlob(cacheJson, this.options.keys, associatedData(caller, assertionHash));
    const entry = { blob, exp };
    const loadedDocument = loaded.stored?.document;
    let base = loaded.stored ?? EMPTY;
    let pruned = false;
    try {
      for (let attempt = 0; ; attempt++) {
        if (erasedSince(loadedDocument, base.document)) {
          // Erased on another instance after our load: drop the write, and what L1 holds from before.
          this.forgetInL1(caller.accountId);
          telemetry.set('cacheWriteSkipped', 'erased');
          return;
        }
        const document = pruned
          ? withHygiene(
              caller.accountId,
              { [assertionHash]: entry },
              nowSeconds,
              this.options.maxEntriesPerDocument,
              base.document?.erasure,
            )
          : mergeEntry(
              base.document,
              caller.accountId,
              assertionHash,
              entry,
              this.options.now() / 1000,
              this.options.maxEntriesPerDocument,
            );
        telemetry.add('cosmosWrites', 1);
        let outcome;
        try {
          outcome = await telemetry.calls.cosmos('write', () =>
            this.options.store.write(document, base.etag),
          );
        } catch (error) {
          // Too large for Cosmos DB: keep only this entry (the others' clients exchange again), once.
          if (!pruned && classifyCosmosFailure(error) === 'too-large') {
            pruned = true;
            continue;
          }
          throw error;
        }
        telemetry.add('cosmosRequestCharge', outcome.requestCharge);
        if (outcome.written) {
          remember(sourceOf(blob));
          return;
        }
        if (outcome.reason === 'gone') {
          if (!isTombstone(base.document) || attempt >= this.options.writeRetries) {
            // The document we loaded was deleted under us: recreating it could resurrect an erased caller.
            telemetry.set('cacheWriteSkipped', 'gone');
            return;
          }
          // The tombstone we loaded (after the erase) expired: create, still carrying its marker.
          base = { document: base.document, etag: undefined, requestCharge: 0 };
          continue;
        }

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
      remember(undefined);
    } catch (error) {
      const failure = this.degrade(telemetry, 'write', error);
      if (failure === 'too-large') telemetry.set('cacheWriteSkipped', 'too-large');
      remember(undefined);
    }
  }

  /**
   * Forgets one entry whose token a resource rejected (revoked, or a policy changed), so the next
   * request exchanges again instead of reusing it until it expires. Best effort: one conditional write.
   */
  async evict(caller: CallerAccount, assertionHash: string, telemetry: RequestTelemetry): Promise<void> {
    this.l1?.delete(l1Key(caller.accountId, assertionHash));
    if (this.options.now() < this.cosmosBrokenUntil) {
      telemetry.set('cosmosFailure', 'breaker-open');
      return;
    }
    try {
      const stored = await telemetry.calls.cosmos('read', () => this.options.store.read(caller.accountId));
      telemetry.add('cosmosReads', 1);
      telemetry.add('cosmosRequestCharge', stored.requestCharge);
      const entries = { ...stored.document?.entries };
      if (stored.etag === undefined || entries[assertionHash] === undefined) return;
      delete entries[assertionHash];
      const document = withHygiene(
        caller.accountId,
        entries,
        this.options.now() / 1000,
        this.options.maxEntriesPerDocument,
        stored.document?.erasure,
      );
      // A conflict means another writer changed the document; its entry for this token is as stale as ours.
      const outcome = await telemetry.calls.cosmos('write', () =>
        this.options.store.write(document, stored.etag),
      );
      telemetry.add('cosmosWrites', 1);
      telemetry.add('cosmosRequestCharge', outcome.requestCharge);
    } catch (error) {
      this.degrade(telemetry, 'write', error);
    }
  }

  /**
   * Replaces the caller's document with a tombstone (no entries, a new erase marker, a short TTL) and
   * drops this instance's L1 entries for the caller (nobody else's). One request, whatever is there.
   */
  async erase(caller: CallerAccount, telemetry: RequestTelemetry): Promise<void> {
    this.markErasedHere(caller.accountId);
    const erasure = { id: this.newEraseId(), at: this.options.now() };
    try {
      const { requestCharge } = await telemetry.calls.cosmos('delete', () =>
        this.options.store.erase(tombstone(caller.accountId, erasure)),
      );
      telemetry.add('cosmosWrites', 1);
      telemetry.add('cosmosRequestCharge', requestCharge);
    } catch (error) {
      const failure = classifyCosmosFailure(error);
      telemetry.set('cosmosFailure', failure);
      // Erasure is what the caller asked for: unlike a cache read, it cannot quietly degrade.
      throw new ApiError('ERR_TOKEN_CACHE_UNAVAILABLE', 'The token cache could not be erased; try again.', {
        cause: error,
        retryAfterSeconds: DEFAULT_RETRY_AFTER_SECONDS,
      });
    } finally {
      // Again at the end: a load that overlapped any part of the erase must not refill L1.
      this.markErasedHere(caller.accountId);
    }
  }

  private usable(entry: L1Entry, scopes: readonly string[], nowMs: number): boolean {
    return (
      entry.scopeKey === this.scopeKey(scopes) && entry.expiresOn - RENEWAL_OFFSET_SECONDS > nowMs / 1000
    );
  }

  private scopeKey(scopes: readonly string[]): string {
    let key = this.scopeKeys.get(scopes);
    if (key === undefined) {
      key = scopes.join(' ');
      this.scopeKeys.set(scopes, key);
    }
    return key;
  }

  /** Puts a token into L1 unless this instance erased the caller since the request started. */
  private remember(
    caller: CallerAccount,
    assertionHash: string,
    scopes: readonly string[],
    token: { secret: string | undefined; expiresOn: number },
    source: string | undefined,
    startedAt: number,
    checkedAt: number,
  ): void {
    if (token.secret === undefined || this.erasedHereSince(caller.accountId, startedAt)) return;
    this.l1?.set(l1Key(caller.accountId, assertionHash), {
      accessToken: token.secret,
      expiresOn: token.expiresOn,
      scopeKey: this.scopeKey(scopes),
      source,
      checkedAt,
    });
  }

  private markErasedHere(accountId: string): void {
    this.erasedAt.set(accountId, this.options.now());
    this.forgetInL1(accountId);
  }

  private erasedHereSince(accountId: string, startedAt: number): boolean {
    const erased = this.erasedAt.get(accountId);
    return erased !== undefined && erased >= startedAt;
  }

  private forgetInL1(accountId: string): void {
    if (this.l1 === undefined) return;
    const prefix = l1Key(accountId, '');
    for (const key of [...this.l1.keys()]) {
      if (key.startsWith(prefix)) this.l1.delete(key);
    }
  }

  /** Records a Cosmos DB failure; only an availability failure opens the instance-wide breaker. */
  private degrade(telemetry: RequestTelemetry, operation: 'read' | 'write', error: unknown) {
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

function isTombstone(document: CacheDocument | undefined): boolean {
  return document?.erasure !== undefined && Object.keys(document.entries).length === 0;
}

/**
 * Names one encryption of an entry (`<key id>.<iv>`, the IV is random): L1 keeps it to ask L2 later
 * whether it still holds the same token. A fresh copy: a slice would keep the whole blob alive in L1.
 */
function sourceOf(blob: string): string {
  const end = blob.indexOf('.', blob.indexOf('.') + 1);
  return Buffer.from(end < 0 ? blob : blob.slice(0, end), 'latin1').toString('latin1');
}

function l1Key(accountId: string, assertionHash: string): string {
  return callerAssertionKey(accountId, assertionHash);
}

/** Binds an encrypted entry to its caller and assertion: a blob copied to another key fails to decrypt. */
function associatedData(caller: CallerAccount, assertionHash: string): string {
  return callerAssertionKey(caller.accountId, assertionHash);
}
