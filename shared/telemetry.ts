/**
 * One structured log line per request (no token material, only outcomes and costs): what an operator
 * alerts on (write conflicts, lost writes, unreadable documents, degraded Cosmos DB) is a field of it.
 */

export type CacheOutcome = 'l1-hit' | 'l2-hit' | 'miss' | 'coalesced';

export interface RequestFields {
  cache?: CacheOutcome;
  cosmosRequestCharge?: number;
  cosmosReads?: number;
  cosmosWrites?: number;
  conflictRetries?: number;
  /** Writes that lost to another writer's ETag (each is re-read, merged and retried). */
  cacheWriteConflicts?: number;
  cacheWriteLost?: boolean;
  /** A stored document or entry did not parse or decrypt: treated as a miss and overwritten. */
  cacheDocumentUnreadable?: boolean;
  /** An OBO exchange reached Entra ID (not served from msal-node's cache). */
  oboExchange?: boolean;
  cosmosDegraded?: boolean;
  /** Why this request went without Cosmos DB: only `unavailable` opens the instance-wide breaker. */
  cosmosFailure?: 'unavailable' | 'breaker-open' | 'throttled' | 'too-large' | 'rejected';
  /** An L1 hit past the revalidation interval that re-read the caller's document. */
  cacheRevalidated?: boolean;
  /** Why a new token was not written to Cosmos DB (kept in this instance's L1 or not at all). */
  cacheWriteSkipped?: 'erased' | 'gone' | 'stale' | 'too-large';
  entraMs?: number;
  graphMs?: number;
  graphAttempts?: number;
}

export interface Logger {
  warn(message: string, fields?: Record<string, unknown>): void;
}

/** Collects what one request did; the HTTP edge writes it out once. */
export class RequestTelemetry {
  readonly fields: RequestFields = {};

  constructor(readonly logger: Logger) {}

  set<K extends keyof RequestFields>(key: K, value: RequestFields[K]): void {
    this.fields[key] = value;
  }

  add(
    key:
      | 'cosmosRequestCharge'
      | 'cosmosReads'
      | 'cosmosWrites'
      | 'conflictRetries'
      | 'cacheWriteConflicts'
      | 'entraMs'
      | 'graphMs'
      | 'graphAttempts',
    by: number,
  ): void {
    this.fields[key] = (this.fields[key] ?? 0) + by;
  }

  warn(message: string, fields?: Record<string, unknown>): void {
    this.logger.warn(message, fields);
  }
}
