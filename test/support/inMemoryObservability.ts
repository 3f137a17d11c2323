import { MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

import type { Observability } from '../../shared/observability/observability.js';
import { createObservability } from '../../shared/observability/pipeline.js';

/** A reader that exports nothing by itself: tests collect the cumulative sums when they want them. */
class CollectingMetricReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }

  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export interface InMemoryObservability {
  observability: Observability;
  /** Ended spans, in the order they ended. */
  spans(): ReadableSpan[];
  /** Cumulative value of a counter (last value of a gauge) per attribute set, e.g. `{ 'obo.cache.outcome=miss': 1 }` ('' without attributes). */
  counter(name: string): Promise<Record<string, number>>;
  reset(): void;
}

/** Spans and metrics kept in memory, for tests and benchmarks. */
export function inMemoryObservability(): InMemoryObservability {
  const spanExporter = new InMemorySpanExporter();
  const reader = new CollectingMetricReader();
  const observability = createObservability({
    spanProcessors: [new SimpleSpanProcessor(spanExporter)],
    metricReaders: [reader],
  });
  return {
    observability,
    spans: () => spanExporter.getFinishedSpans(),
    async counter(name) {
      const { resourceMetrics } = await reader.collect();
      return countersOf(resourceMetrics, name);
    },
    reset: () => spanExporter.reset(),
  };
}

function countersOf(resourceMetrics: ResourceMetrics, name: string): Record<string, number> {
  const values: Record<string, number> = {};
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== name) continue;
      for (const point of metric.dataPoints) {
        const key = Object.entries(point.attributes)
          .map(([attribute, value]) => `${attribute}=${String(value)}`)
          .sort()
          .join(',');
        if (typeof point.value === 'number') values[key] = (values[key] ?? 0) + point.value;
      }
    }
  }
  return values;
}
