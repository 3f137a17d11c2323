/**
 * L2: one caller's token cache entries in their Cosmos DB document, read and written with the document's
 * version. Behind `read` and `write` are the encryption, the ETag merge and its conflict retries, the
 * erase's tombstone that every later write carries, and the rewrite of a document too large to store.
 */
import { deflateSync, inflateSync } from 'node:zlib';

import type { CacheKey } from '../config/keyRing.js';
import { conflictBackoffMs } from '../retry.js';
import { requestTelemetry } from '../telemetry.js';
import {
  classifyCosmosFailure,
  isConnectionReset,
  type StoredDocument,
  type TokenCacheStore,
} from './cosmosStore.js';
import {
  type CacheEntry,
  entryAssociatedData,
  type Erasure,
  hasNewErasure,
  isTombstone,
  mergeEntry,
  STALE_SAVE_SECONDS,
  tombstone,
  withHygiene,
} from './document.js';
import { decryptBlobBytes, encryptBlob } from './encryption.js';
import { sourceOf } from './l1.js';
import { MsalCacheRecords } from './msalCache.js';

/** The caller's document as one read saw it: a write starts from it. Opaque outside L2. */
export interface L2Version {
  readonly stored: StoredDocument;
  /** Epoch ms of the read. */
  readonly readAt: number;
}

/** One entry as read from L2. */
export interface L2Read {
  /** The plaintext MSAL cache JSON of the entry; undefined when there is none or it does not decrypt. */
  cacheJson: string | undefined;
  /** Names this encryption of the entry (see sourceOf); undefined when there is no entry. */
  source: string | undefined;
  /** The document is an erase's tombstone. */
  erased: boolean;
  version: L2Version;
}

/** How a write of one entry ended; a Cosmos DB failure other than a conflict is thrown. */
export type L2WriteResult =
  | { outcome: 'written'; source: string }
  /** Erased on another instance after the read: the write was dropped. */
  | { outcome: 'erased' }
  /** The document read was deleted under us: recreating it could resurrect an erased caller. */
  | { outcome: 'gone' }
  /** The read is older than half the tombstone TTL: a tombstone it would have to meet may be gone. */
  | { outcome: 'stale' }
  /** Conflicting writers each time, past the retries. */
  | { outcome: 'lost'; retries: number };

export interface L2Options {
  store: TokenCacheStore;
  keys: readonly CacheKey[];
  maxEntriesPerDocument: number;
  writeRetries: number;
  /** Epoch milliseconds. */
  now: () => number;
  random: () => number;
  sleep: (ms: number) => Promise<void>;
}

export class L2TokenCache {
  constructor(private readonly options: L2Options) {}

  /** One point read of the caller's document; a document or entry that cannot be read is no entry. */
  async read(accountId: string, entryKey: string): Promise<L2Read> {
    const telemetry = requestTelemetry();
    const readAt = this.options.now();
    const stored = await telemetry.calls.cosmos('read', () => this.options.store.read(accountId));
    if (stored.etag !== undefined && stored.document === undefined) {
      telemetry.set('cacheDocumentUnreadable', true);
      // No caller id in the line (oid and tid are claim values): the request id ties it to its request.
      telemetry.warn('token cache document unreadable; treating as a miss and overwriting it');
    }
    const entry = stored.document?.entries[entryKey];
    const cacheJson =
      entry === undefined ? undefined : openEntry(entry.blob, this.options.keys, accountId, entryKey);
    if (entry !== undefined && cacheJson === undefined) telemetry.set('cacheDocumentUnreadable', true);
    return {
      cacheJson,
      source: entry === undefined ? undefined : sourceOf(entry.blob),
      erased: isTombstone(stored.document),
      version: { stored, readAt },
    };
  }

  /**
   * Merges the entry into the caller's document with optimistic concurrency from `version`: a conflict
   * re-reads, merges and retries with backoff; a document too large for Cosmos DB is rewritten once with
   * this entry alone.
   */
  async write(
    accountId: string,
    entryKey: string,
    entry: { cacheJson: string; exp: number },
    version: L2Version,
  ): Promise<L2WriteResult> {
    const { store, now } = this.options;
    const telemetry = requestTelemetry();
    if (now() - version.readAt > STALE_SAVE_SECONDS * 1000) return { outcome: 'stale' };
    const blob = sealEntry(entry.cacheJson, this.options.keys, accountId, entryKey);
    const sealed: CacheEntry = { blob, exp: entry.exp };
    const loadedDocument = version.stored.document;
    let base = version.stored;
    let pruned = false;
    let resent = false;
    for (let attempt = 0; ; attempt++) {
      if (hasNewErasure(loadedDocument, base.document)) return { outcome: 'erased' };
      const nowSeconds = now() / 1000;
      const document = pruned
        ? withHygiene(
            accountId,
            { [entryKey]: sealed },
            nowSeconds,
            this.options.maxEntriesPerDocument,
            base.document?.erasure,
          )
        : mergeEntry(
            base.document,
            accountId,
            entryKey,
            sealed,
            nowSeconds,
            this.options.maxEntriesPerDocument,
          );
      let outcome;
      try {
        outcome = await telemetry.calls.cosmos('write', () => store.write(document, base.etag));
      } catch (error) {
        // Too large for Cosmos DB: keep only this entry (the others' clients exchange again), once.
        if (!pruned && classifyCosmosFailure(error) === 'too-large') {
          pruned = true;
          continue;
        }
        // A reset connection is not an outage, and the write is conditional (If-Match, or a create that
        // answers 409), so sending it once more is safe: whether or not the first one landed, it merges.
        if (!resent && isConnectionReset(error)) {
          resent = true;
          continue;
        }
        throw error;
      }
      if (outcome.written) return { outcome: 'written', source: sourceOf(blob) };
      if (outcome.reason === 'gone') {
        if (!isTombstone(base.document) || attempt >= this.options.writeRetries) return { outcome: 'gone' };
        // The tombstone we loaded (after the erase) expired: create, still carrying its marker.
        base = { document: base.document, etag: undefined, requestCharge: 0 };
        continue;
      }

      telemetry.writeConflict();
      if (attempt >= this.options.writeRetries) return { outcome: 'lost', retries: attempt };
      telemetry.conflictRetry();
      await this.options.sleep(conflictBackoffMs(attempt, this.options.random));
      base = await telemetry.calls.cosmos('read', () => store.read(accountId));
    }
  }

  /**
   * Removes the entry when it still holds the token a resource rejected (or no longer decrypts), with one
   * conditional write, best effort: an entry refilled with a new token stays, and a conflict means another
   * writer changed the document since, which leaves it as they wrote it. A Cosmos DB failure is thrown.
   */
  async remove(accountId: string, entryKey: string, rejectedToken: string): Promise<void> {
    const { store } = this.options;
    const { calls } = requestTelemetry();
    const stored = await calls.cosmos('read', () => store.read(accountId));
    const entries = { ...stored.document?.entries };
    const entry = entries[entryKey];
    if (stored.etag === undefined || entry === undefined) return;
    const cacheJson = openEntry(entry.blob, this.options.keys, accountId, entryKey);
    if (cacheJson !== undefined && !MsalCacheRecords.parse(cacheJson).holdsAccessToken(rejectedToken)) return;
    delete entries[entryKey];
    const document = withHygiene(
      accountId,
      entries,
      this.options.now() / 1000,
      this.options.maxEntriesPerDocument,
      stored.document?.erasure,
    );
    await calls.cosmos('write', () => store.write(document, stored.etag));
  }

  /** Replaces the caller's document with a tombstone: one request, whatever is there. A failure is thrown. */
  async erase(accountId: string, erasure: Erasure): Promise<void> {
    await requestTelemetry().calls.cosmos('delete', () =>
      this.options.store.erase(tombstone(accountId, erasure)),
    );
  }
}

/**
 * An entry's blob: the MSAL cache JSON compressed, then encrypted and bound to the caller and entry key.
 * Compression before encryption leaks nothing here: an entry holds one caller's own token and what Entra
 * issued with it, nothing another party chose.
 */
export function sealEntry(
  cacheJson: string,
  keys: readonly CacheKey[],
  accountId: string,
  entryKey: string,
): string {
  return encryptBlob(deflateSync(cacheJson), keys, entryAssociatedData(accountId, entryKey));
}

/** The entry's MSAL cache JSON; undefined when it does not decrypt or inflate. */
export function openEntry(
  blob: string,
  keys: readonly CacheKey[],
  accountId: string,
  entryKey: string,
): string | undefined {
  const plaintext = decryptBlobBytes(blob, keys, entryAssociatedData(accountId, entryKey));
  // An entry written before compression is the JSON itself (`{`); a zlib stream starts with 0x78.
  if (plaintext === undefined || plaintext[0] === 0x7b) return plaintext?.toString('utf8');
  try {
    return inflateSync(plaintext).toString('utf8');
  } catch {
    return undefined;
  }
}
