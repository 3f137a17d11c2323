/** The writes of one entry into the caller's document: adding it (with conflict retries) and removing it. */
import { conflictBackoffMs } from '../retry.js';
import type { RequestTelemetry } from '../telemetry.js';
import { classifyCosmosFailure, type StoredDocument, type TokenCacheStore } from './cosmosStore.js';
import { type CacheEntry, erasedSince, isTombstone, mergeEntry, withHygiene } from './document.js';

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
  telemetry: RequestTelemetry;
}

/**
 * Merges the entry into the caller's document with optimistic concurrency: a conflict re-reads, merges and
 * retries with backoff; a document too large for Cosmos DB is rewritten once with this entry alone.
 */
export async function writeEntry(write: EntryWrite): Promise<EntryWriteResult> {
  const { store, accountId, assertionHash, entry, telemetry } = write;
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
    telemetry.add('cosmosWrites', 1);
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
    telemetry.add('cosmosRequestCharge', outcome.requestCharge);
    if (outcome.written) return 'written';
    if (outcome.reason === 'gone') {
      if (!isTombstone(base.document) || attempt >= write.writeRetries) return 'gone';
      // The tombstone we loaded (after the erase) expired: create, still carrying its marker.
      base = { document: base.document, etag: undefined, requestCharge: 0 };
      continue;
    }

    telemetry.add('cacheWriteConflicts', 1);
    if (attempt >= write.writeRetries) return 'lost';
    telemetry.add('conflictRetries', 1);
    await write.sleep(conflictBackoffMs(attempt, write.random));
    base = await telemetry.calls.cosmos('read', () => store.read(accountId));
    telemetry.add('cosmosReads', 1);
    telemetry.add('cosmosRequestCharge', base.requestCharge);
  }
}

/**
 * Removes one entry with one conditional write, best effort: a conflict means another writer changed the
 * document, and its entry for this assertion is as stale as ours. A Cosmos DB failure is thrown.
 */
export async function removeEntry(
  write: Pick<
    EntryWrite,
    'store' | 'accountId' | 'assertionHash' | 'maxEntriesPerDocument' | 'now' | 'telemetry'
  >,
): Promise<void> {
  const { store, accountId, assertionHash, telemetry } = write;
  const stored = await telemetry.calls.cosmos('read', () => store.read(accountId));
  telemetry.add('cosmosReads', 1);
  telemetry.add('cosmosRequestCharge', stored.requestCharge);
  const entries = { ...stored.document?.entries };
  if (stored.etag === undefined || entries[assertionHash] === undefined) return;
  delete entries[assertionHash];
  const document = withHygiene(
    accountId,
    entries,
    write.now() / 1000,
    write.maxEntriesPerDocument,
    stored.document?.erasure,
  );
  const outcome = await telemetry.calls.cosmos('write', () => store.write(document, stored.etag));
  telemetry.add('cosmosWrites', 1);
  telemetry.add('cosmosRequestCharge', outcome.requestCharge);
}
