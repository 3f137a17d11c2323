/**
 * The token cache's writes to the caller's document: adding an entry (with conflict retries), removing one,
 * and replacing the whole document with an erase's tombstone.
 */
import type { CacheKey } from '../config.js';
import { conflictBackoffMs } from '../retry.js';
import { requestTelemetry } from '../telemetry.js';
import { classifyCosmosFailure, type StoredDocument, type TokenCacheStore } from './cosmosStore.js';
import {
  type CacheEntry,
  entryAssociatedData,
  erasedSince,
  type Erasure,
  isTombstone,
  mergeEntry,
  tombstone,
  withHygiene,
} from './document.js';
import { decryptBlob } from './encryption.js';
import { holdsAccessToken } from './msalCache.js';

/** How a write of one entry ended; a Cosmos DB failure other than a conflict is thrown. */
export type EntryWriteResult =
  | 'written'
  /** Erased on another instance after the load: the write was dropped. */
  | 'erased'
  /** The loaded document was deleted under us: recreating it could resurrect an erased caller. */
  | 'gone'
  /** Conflicting writers each time, past the retries. */
  | 'lost';

export interface EntryWrite {
  store: TokenCacheStore;
  accountId: string;
  assertionHash: string;
  entry: CacheEntry;
  /** The document as the load read it; the first write is conditional on its ETag. */
  loaded: StoredDocument;
  maxEntriesPerDocument: number;
  writeRetries: number;
  /** Epoch milliseconds. */
  now: () => number;
  random: () => number;
  sleep: (ms: number) => Promise<void>;
}

/**
 * Merges the entry into the caller's document with optimistic concurrency: a conflict re-reads, merges and
 * retries with backoff; a document too large for Cosmos DB is rewritten once with this entry alone.
 */
export async function writeEntry(write: EntryWrite): Promise<EntryWriteResult> {
  const { store, accountId, assertionHash, entry } = write;
  const telemetry = requestTelemetry();
  const loadedDocument = write.loaded.document;
  let base = write.loaded;
  let pruned = false;
  for (let attempt = 0; ; attempt++) {
    if (erasedSince(loadedDocument, base.document)) return 'erased';
    const nowSeconds = write.now() / 1000;
    const document = pruned
      ? withHygiene(
          accountId,
          { [assertionHash]: entry },
          nowSeconds,
          write.maxEntriesPerDocument,
          base.document?.erasure,
        )
      : mergeEntry(base.document, accountId, assertionHash, entry, nowSeconds, write.maxEntriesPerDocument);
    let outcome;
    try {
      outcome = await telemetry.calls.cosmos('write', () => store.write(document, base.etag));
    } catch (error) {
      // Too large for Cosmos DB: keep only this entry (the others' clients exchange again), once.
      if (!pruned && classifyCosmosFailure(error) === 'too-large') {
        pruned = true;
        continue;
      }
      throw error;
    }
    if (outcome.written) return 'written';
    if (outcome.reason === 'gone') {
      if (!isTombstone(base.document) || attempt >= write.writeRetries) return 'gone';
      // The tombstone we loaded (after the erase) expired: create, still carrying its marker.
      base = { document: base.document, etag: undefined, requestCharge: 0 };
      continue;
    }

    telemetry.writeConflict();
    if (attempt >= write.writeRetries) return 'lost';
    telemetry.conflictRetry();
    await write.sleep(conflictBackoffMs(attempt, write.random));
    base = await telemetry.calls.cosmos('read', () => store.read(accountId));
  }
}

/**
 * Removes the entry when it still holds the token a resource rejected (or no longer decrypts), with one
 * conditional write, best effort: an entry refilled with a new token stays, and a conflict means another
 * writer changed the document since, which leaves it as they wrote it. A Cosmos DB failure is thrown.
 */
export async function removeEntry(
  write: Pick<EntryWrite, 'store' | 'accountId' | 'assertionHash' | 'maxEntriesPerDocument' | 'now'> & {
    keys: readonly CacheKey[];
    rejectedToken: string;
  },
): Promise<void> {
  const { store, accountId, assertionHash } = write;
  const { calls } = requestTelemetry();
  const stored = await calls.cosmos('read', () => store.read(accountId));
  const entries = { ...stored.document?.entries };
  const entry = entries[assertionHash];
  if (stored.etag === undefined || entry === undefined) return;
  const cacheJson = decryptBlob(entry.blob, write.keys, entryAssociatedData(accountId, assertionHash));
  if (cacheJson !== undefined && !holdsAccessToken(cacheJson, write.rejectedToken)) return;
  delete entries[assertionHash];
  const document = withHygiene(
    accountId,
    entries,
    write.now() / 1000,
    write.maxEntriesPerDocument,
    stored.document?.erasure,
  );
  await calls.cosmos('write', () => store.write(document, stored.etag));
}

/** Replaces the caller's document with a tombstone: one request, whatever is there. A failure is thrown. */
export async function writeTombstone(
  store: TokenCacheStore,
  accountId: string,
  erasure: Erasure,
): Promise<void> {
  await requestTelemetry().calls.cosmos('delete', () => store.erase(tombstone(accountId, erasure)));
}
