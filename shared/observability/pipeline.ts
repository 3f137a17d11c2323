import type { Attributes } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { type IMetricReader, MeterProvider } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace-base';

import { AppMetrics } from './metrics.js';
import { INSTRUMENTATION_SCOPE } from './names.js';
import type { Observability } from './observability.js';

export interface ObservabilityPipeline {
  spanProcessors: SpanProcessor[];
  metricReaders: IMetricReader[];
  /** Resource attributes beyond service.name (Azure's instance ids). */
  resource?: Attributes;
}

export const SERVICE_NAME = 'obo-graph-api';

/** A tracer provider and a meter provider over the given exporters, never registered globally. */
export function createObservability(pipeline: ObservabilityPipeline): Observability {
  const resource = resourceFromAttributes({ 'service.name': SERVICE_NAME, ...pipeline.resource });
  const tracerProvider = new BasicTracerProvider({ resource, spanProcessors: pipeline.spanProcessors });
  const meterProvider = new MeterProvider({ resource, readers: pipeline.metricReaders });
  return {
    tracer: tracerProvider.getTracer(INSTRUMENTATION_SCOPE),
    metrics: new AppMetrics(meterProvider.getMeter(INSTRUMENTATION_SCOPE)),
    async flush() {
      await Promise.all([tracerProvider.forceFlush(), meterProvider.forceFlush()]);
    },
    async shutdown() {
      await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
    },
  };
}
