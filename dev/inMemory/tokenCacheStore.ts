/**
 * An in-memory TokenCacheStore with Cosmos DB's point-operation semantics, for tests of the cache's
 * own logic and of handlers, and for the revalidation benchmark: no sandbox, no network, no wall-clock time.
 *
 * Semantics (those of shared/cache/cosmosStore.ts over @azure/cosmos):
 * - read of a missing id: `{ document: undefined, etag: undefined }` (Cosmos answers 404);
 *   read of stored content that does not parse: `{ document: undefined, etag }` so it can be overwritten;
 * - write with no ETag creates, and loses (`written: false`, Cosmos 409) when the id exists;
 * - write with an ETag replaces If-Match, and loses when the ETag is stale (412: `conflict`) or the id
 *   is gone (404: `gone`);
 * - erase upserts the tombstone, whatever is there.
 * Every successful write gives the document a new ETag. Each operation charges `requestCharge` RU.
 */
import type { StoredDocument, TokenCacheStore, WriteOutcome } from '../../shared/cache/cosmosStore.js';
import { type CacheDocument, parseCacheDocument } from '../../shared/cache/document.js';

export type StoreOperation = 'read' | 'write' | 'erase';

interface Stored {
  /** What Cosmos holds: normally a CacheDocument, anything at all after `put`. */
  content: unknown;
  etag: string;
}

interface PlannedFailure {
  operations: readonly StoreOperation[];
  error: Error;
  remaining: number;
}

/** An error shaped like @azure/cosmos's ErrorResponse: `code` is the HTTP status. */
export function cosmosError(status: number, message = `injected Cosmos DB ${status}`): Error {
  return Object.assign(new Error(message), { code: status, headers: { 'x-ms-request-charge': '1' } });
}

export class MemoryTokenCacheStore implements TokenCacheStore {
  /** Operations attempted, failed ones included. */
  readonly calls: Record<StoreOperation, number> = { read: 0, write: 0, erase: 0 };
  /** Writes that landed (created or replaced). */
  writesLanded = 0;
  /** Writes that lost to another writer (409, 412, or 404 on replace). */
  writesLost = 0;
  requestCharge = 1;

  private readonly items = new Map<string, Stored>();
  private readonly failures: PlannedFailure[] = [];
  private readonly holds: { operation: StoreOperation; release: Promise<void> }[] = [];
  private conflictsPlanned = 0;
  private etagSequence = 0;

  get reads(): number {
    return this.calls.read;
  }

  get writes(): number {
    return this.calls.write;
  }

  /**
   * The next `times` operations of the given kinds (all kinds by default) throw `error` instead of
   * running: a number is thrown as a Cosmos error with that status (see `cosmosError`). Conflicts are
   * not errors at this interface (the adapter turns them into `written: false`): use `conflictNextWrites`.
   */
  failNext(
    error: Error | number,
    options: { times?: number; operations?: readonly StoreOperation[] } = {},
  ): void {
    this.failures.push({
      error: typeof error === 'number' ? cosmosError(error) : error,
      remaining: options.times ?? 1,
      operations: options.operations ?? ['read', 'write', 'erase'],
    });
  }

  /** The next `times` writes lose as if another instance wrote first (the stored ETag moves on). */
  conflictNextWrites(times = 1): void {
    this.conflictsPlanned += times;
  }

  /** Stores raw content under `id` as another writer would (e.g. an unreadable document); returns its ETag. */
  put(id: string, content: unknown): string {
    const etag = this.nextEtag();
    this.items.set(id, { content: structuredClone(content), etag });
    return etag;
  }

  /** What is stored under `id` (a copy), or undefined. */
  get(id: string): unknown {
    const stored = this.items.get(id);
    return stored === undefined ? undefined : structuredClone(stored.content);
  }

  etagOf(id: string): string | undefined {
    return this.items.get(id)?.etag;
  }

  read(accountId: string): Promise<StoredDocument> {
    return this.run('read', () => {
      const stored = this.items.get(accountId);
      return {
        document: parseCacheDocument(structuredClone(stored?.content), accountId),
        etag: stored?.etag,
        requestCharge: this.requestCharge,
      };
    });
  }

  write(document: CacheDocument, etag: string | undefined): Promise<WriteOutcome> {
    return this.run('write', (): WriteOutcome => {
      const current = this.items.get(document.id);
      if (this.conflictsPlanned > 0) {
        this.conflictsPlanned--;
        // Another writer landed first: whatever we expected is stale now.
        if (current !== undefined) current.etag = this.nextEtag();
        else
          this.items.set(document.id, {
            content: { id: document.id, v: 1, entries: {} },
            etag: this.nextEtag(),
          });
        return this.lost('conflict');
      }
      if (etag !== undefined && current === undefined) return this.lost('gone');
      const wins = etag === undefined ? current === undefined : current?.etag === etag;
      if (!wins) return this.lost('conflict');
      const next = this.nextEtag();
      this.items.set(document.id, { content: structuredClone(document), etag: next });
      this.writesLanded++;
      return { written: true, etag: next, requestCharge: this.requestCharge };
    });
  }

  erase(tombstone: CacheDocument): Promise<{ requestCharge: number }> {
    return this.run('erase', () => {
      this.items.set(tombstone.id, { content: structuredClone(tombstone), etag: this.nextEtag() });
      return { requestCharge: this.requestCharge };
    });
  }

  /** Removes `id` as Cosmos DB's TTL or an operator would. */
  delete(id: string): void {
    this.items.delete(id);
  }

  /**
   * Holds the next `operation` until the returned function is called: a read takes its snapshot at once
   * and answers on release; a write or erase lands on release. How a test orders a race deterministically.
   */
  hold(operation: StoreOperation): () => void {
    let release = (): void => undefined;
    this.holds.push({ operation, release: new Promise<void>((resolve) => (release = resolve)) });
    return () => release();
  }

  private lost(reason: 'conflict' | 'gone'): WriteOutcome {
    this.writesLost++;
    return { written: false, reason, requestCharge: this.requestCharge };
  }

  private async run<T>(operation: StoreOperation, body: () => T): Promise<T> {
    this.calls[operation]++;
    // Settle asynchronously, as a network call would, so interleavings are those of the real adapter.
    await Promise.resolve();
    const failure = this.failures.find((f) => f.remaining > 0 && f.operations.includes(operation));
    if (failure !== undefined) {
      failure.remaining--;
      throw failure.error;
    }
    const held = this.holds.findIndex((hold) => hold.operation === operation);
    if (held < 0) return body();
    const [hold] = this.holds.splice(held, 1);
    if (operation === 'read') {
      const snapshot = body();
      await hold?.release;
      return snapshot;
    }
    await hold?.release;
    return body();
  }

  private nextEtag(): string {
    return `"etag-${++this.etagSequence}"`;
  }
}
