/**
 * One structured log line per request (no token material, only outcomes and costs): what an operator
 * alerts on (write conflicts, lost writes, unreadable documents, degraded Cosmos DB) is a field of it.
 */

import { type RequestCalls, untracedCalls } from './observability/calls.js';
import type { CacheLookupOutcome, DegradedReason } from './observability/metrics.js';

export type CacheOutcome = CacheLookupOutcome;

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

/**
 * Collects what one request did; the HTTP edge writes it out once. The same events feed the instance's
 * OpenTelemetry metrics, and `calls` makes the request's Entra, Cosmos DB and Graph calls child spans, so the
 * log line, the metrics and the trace always agree.
 */
export class RequestTelemetry {
  readonly fields: RequestFields = {};

  constructor(
    readonly logger: Logger,
    readonly calls: RequestCalls = untracedCalls(),
  ) {}

  set<K extends keyof RequestFields>(key: K, value: RequestFields[K]): void {
    this.fields[key] = value;
    if (key === 'cache' && value !== undefined) this.calls.metrics.cacheLookup(value as CacheOutcome);
    if (key === 'cacheWriteLost' && value === true) this.calls.metrics.lostWrite();
  }

  /** A cache operation went on without Cosmos DB: because it failed, or because the breaker skipped it. */
  degraded(operation: 'read' | 'write', reason: DegradedReason): void {
    this.set('cosmosDegraded', true);
    this.calls.metrics.degraded(operation, reason);
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
    if (key === 'conflictRetries') this.calls.metrics.conflictRetry(by);
  }

  warn(message: string, fields?: Record<string, unknown>): void {
    this.logger.warn(message, fields);
  }
}
