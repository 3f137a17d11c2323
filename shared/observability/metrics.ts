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
  private readonly downstreamRetries: Counter;

  constructor(private readonly meter: Meter) {
    const counter = (metric: { name: string; unit: string; description: string }): Counter =>
      meter.createCounter(metric.name, { unit: metric.unit, description: metric.description });
    this.cacheLookups = counter(METRIC.cacheLookups);
    this.exchanges = counter(METRIC.exchanges);
    this.cosmosRequestUnits = counter(METRIC.cosmosRequestUnits);
    this.conflictRetries = counter(METRIC.conflictRetries);
    this.lostWrites = counter(METRIC.lostWrites);
    this.degradedOperations = counter(METRIC.degradedOperations);
    this.graphRetries = counter(METRIC.graphRetries);
    this.downstreamRetries = counter(METRIC.downstreamRetries);
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

  /** A downstream call retried: Graph's keep their own metric (obo.graph.retries), other APIs share one. */
  downstreamRetry(resource: string, status: number): void {
    if (resource === 'graph') this.graphRetries.add(1, { [ATTRIBUTE.httpStatus]: status });
    else
      this.downstreamRetries.add(1, {
        [ATTRIBUTE.downstreamResource]: resource,
        [ATTRIBUTE.httpStatus]: status,
      });
  }

  /** Reports what L1 holds at each export, read from the instance's token cache. */
  observeL1(read: () => { entries: number; bytes: number }): void {
    const entries = this.meter.createObservableGauge(METRIC.l1Entries.name, {
      unit: METRIC.l1Entries.unit,
      description: METRIC.l1Entries.description,
    });
    const bytes = this.meter.createObservableGauge(METRIC.l1Bytes.name, {
      unit: METRIC.l1Bytes.unit,
      description: METRIC.l1Bytes.description,
    });
    this.meter.addBatchObservableCallback(
      (observer) => {
        const usage = read();
        observer.observe(entries, usage.entries);
        observer.observe(bytes, usage.bytes);
      },
      [entries, bytes],
    );
  }
}
