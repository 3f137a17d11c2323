import type { Counter, Meter } from '@opentelemetry/api';

import { ATTRIBUTE, METRIC } from './names.js';

export type CacheLookupOutcome = 'l1-hit' | 'l2-hit' | 'miss' | 'coalesced';
export type CosmosOperation = 'read' | 'write' | 'delete';
export type DegradedReason = 'failure' | 'breaker-open';

/** The app's metrics, one method per event an operator counts; names come from names.ts. */
export class AppMetrics {
  private readonly cacheLookups: Counter;
  private readonly exchanges: Counter;
  private readonly cosmosRequestUnits: Counter;
  private readonly conflictRetries: Counter;
  private readonly lostWrites: Counter;
  private readonly degradedOperations: Counter;
  private readonly graphRetries: Counter;

  constructor(meter: Meter) {
    const counter = (metric: { name: string; unit: string; description: string }): Counter =>
      meter.createCounter(metric.name, { unit: metric.unit, description: metric.description });
    this.cacheLookups = counter(METRIC.cacheLookups);
    this.exchanges = counter(METRIC.exchanges);
    this.cosmosRequestUnits = counter(METRIC.cosmosRequestUnits);
    this.conflictRetries = counter(METRIC.conflictRetries);
    this.lostWrites = counter(METRIC.lostWrites);
    this.degradedOperations = counter(METRIC.degradedOperations);
    this.graphRetries = counter(METRIC.graphRetries);
  }

  cacheLookup(outcome: CacheLookupOutcome): void {
    this.cacheLookups.add(1, { [ATTRIBUTE.cacheOutcome]: outcome });
  }

  exchange(result: 'success' | 'failure'): void {
    this.exchanges.add(1, { [ATTRIBUTE.result]: result });
  }

  cosmosCharge(operation: CosmosOperation, requestUnits: number): void {
    // The emulator and some error paths report no charge: a zero adds nothing worth a data point.
    if (requestUnits > 0) this.cosmosRequestUnits.add(requestUnits, { [ATTRIBUTE.dbOperation]: operation });
  }

  conflictRetry(retries = 1): void {
    this.conflictRetries.add(retries);
  }

  lostWrite(): void {
    this.lostWrites.add(1);
  }

  degraded(operation: 'read' | 'write' | 'delete', reason: DegradedReason): void {
    this.degradedOperations.add(1, {
      [ATTRIBUTE.dbOperation]: operation,
      [ATTRIBUTE.degradedReason]: reason,
    });
  }

  graphRetry(status: number): void {
    this.graphRetries.add(1, { [ATTRIBUTE.httpStatus]: status });
  }
}
