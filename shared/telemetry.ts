/**
 * One structured log line per request (no token material, only outcomes and costs): what an operator
 * alerts on (write conflicts, lost writes, unreadable documents, degraded Cosmos DB) is a field of it.
 * The request's telemetry travels with the request (AsyncLocalStorage), entered once at the HTTP edge, so the
 * code that makes a call or meets an event records it where it happens, without a parameter to pass on.
 */

import { AsyncLocalStorage } from 'node:async_hooks';

import { type CallFields, RequestCalls } from './observability/calls.js';
import type { AppMetrics, CacheLookupOutcome, DegradedReason } from './observability/metrics.js';
import { noObservability, RequestTrace } from './observability/observability.js';

export type CacheOutcome = CacheLookupOutcome;

export interface RequestFields extends CallFields {
  cache?: CacheOutcome;
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
}

/** Facts that only the log line carries (no metric counts them): `set` records them. */
type LogOnlyField =
  'cacheDocumentUnreadable' | 'oboExchange' | 'cosmosFailure' | 'cacheRevalidated' | 'cacheWriteSkipped';

export interface Logger {
  warn(message: string, fields?: Record<string, unknown>): void;
}

/** The instance's tracer and metrics as one request sees them: its span, and the counters it adds to. */
export interface RequestObservation {
  trace: RequestTrace;
  metrics: AppMetrics;
}

const current = new AsyncLocalStorage<RequestTelemetry>();

/**
 * What one request did; the HTTP edge writes its fields out once. `calls` records each Entra, Cosmos DB and
 * Graph call (span, metric and fields together); each domain event is one method that records its field and
 * its metric together, so the log line, the metrics and the trace always agree.
 */
export class RequestTelemetry {
  readonly fields: RequestFields = {};
  readonly calls: RequestCalls;
  private readonly metrics: AppMetrics;

  /** Without `observed`, calls make no spans and events add to no metric (a test reads the fields). */
  constructor(
    private readonly logger: Logger,
    observed?: RequestObservation,
  ) {
    const { trace, metrics } = observed ?? untraced();
    this.metrics = metrics;
    this.calls = new RequestCalls(trace, metrics, (field, by) => this.count(field, by));
  }

  /** Runs `request` with this as the current request's telemetry (the HTTP edge; a test of one piece). */
  run<T>(request: () => T): T {
    return current.run(this, request);
  }

  /** How the Graph token was found: a field of the line and a lookup counted by outcome. */
  cacheLookup(outcome: CacheOutcome): void {
    this.mark('cache', outcome);
    this.metrics.cacheLookup(outcome);
  }

  /** A cache operation went on without Cosmos DB: because it failed, or because the breaker skipped it. */
  degraded(operation: 'read' | 'write', reason: DegradedReason): void {
    this.mark('cosmosDegraded', true);
    this.metrics.degraded(operation, reason);
  }

  /** A write lost to another writer's ETag. */
  writeConflict(): void {
    this.count('cacheWriteConflicts', 1);
  }

  /** A conflicting write is read again, merged and retried. */
  conflictRetry(): void {
    this.count('conflictRetries', 1);
    this.metrics.conflictRetry(1);
  }

  /** A write gave up after its conflict retries: the token stays in this instance only. */
  writeLost(): void {
    this.mark('cacheWriteLost', true);
    this.metrics.lostWrite();
  }

  /** A downstream resource answered a status worth retrying, and the call retries. */
  downstreamRetry(resource: string, status: number): void {
    this.metrics.downstreamRetry(resource, status);
  }

  set<K extends LogOnlyField>(key: K, value: RequestFields[K]): void {
    this.mark(key, value);
  }

  warn(message: string, fields?: Record<string, unknown>): void {
    this.logger.warn(message, fields);
  }

  protected mark<K extends keyof RequestFields>(key: K, value: RequestFields[K]): void {
    this.fields[key] = value;
  }

  protected count(key: keyof CallFields | 'conflictRetries' | 'cacheWriteConflicts', by: number): void {
    this.fields[key] = (this.fields[key] ?? 0) + by;
  }
}

/** Outside a request (a benchmark, a test of one piece that opened no scope): what is recorded is dropped. */
class UnrecordedTelemetry extends RequestTelemetry {
  constructor() {
    super({ warn: () => undefined });
  }

  protected override mark(): void {}

  protected override count(): void {}
}

const unrecorded = new UnrecordedTelemetry();

/** The current request's telemetry; outside a request, one that records nothing. */
export function requestTelemetry(): RequestTelemetry {
  return current.getStore() ?? unrecorded;
}

function untraced(): RequestObservation {
  const none = noObservability();
  return { trace: new RequestTrace(none.tracer, {}, undefined), metrics: none.metrics };
}
