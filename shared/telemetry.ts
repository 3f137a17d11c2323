/**
 * One structured log line per request (no token material, only outcomes and costs) and process-wide
 * counters for events an operator alerts on.
 */

export type CacheOutcome = 'l1-hit' | 'l2-hit' | 'miss' | 'coalesced';

export interface RequestFields {
  cache?: CacheOutcome;
  cosmosRequestCharge?: number;
  cosmosReads?: number;
  cosmosWrites?: number;
  conflictRetries?: number;
  cacheWriteLost?: boolean;
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

export type CounterName =
  | 'cacheL1Hits'
  | 'cacheL2Hits'
  | 'cacheMisses'
  | 'cacheWriteConflicts'
  | 'cacheWritesLost'
  | 'cosmosDegraded'
  | 'cacheDocumentsUnreadable'
  | 'oboExchanges';

/** Process-wide counters (one Functions instance). */
export const counters: Record<CounterName, number> = {
  cacheL1Hits: 0,
  cacheL2Hits: 0,
  cacheMisses: 0,
  cacheWriteConflicts: 0,
  cacheWritesLost: 0,
  cosmosDegraded: 0,
  cacheDocumentsUnreadable: 0,
  oboExchanges: 0,
};

export function count(name: CounterName, by = 1): void {
  counters[name] += by;
}
