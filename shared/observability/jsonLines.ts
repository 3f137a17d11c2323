import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import {
  type ExportResult,
  ExportResultCode,
  hrTimeToMilliseconds,
  hrTimeToTimeStamp,
} from '@opentelemetry/core';
import {
  AggregationTemporality,
  DataPointType,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { type ReadableSpan, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';

import type { Observability } from './observability.js';
import { createObservability } from './pipeline.js';
import type { TelemetrySettings } from './settings.js';

/** Local telemetry without Azure: spans and metrics as JSON lines on the console or in a file. */
export function startJsonLines(settings: TelemetrySettings): Observability {
  const sink = settings.export === 'file' ? fileSink(settings.file) : consoleSink();
  return createObservability({
    // Local volumes are tiny: each span is written as it ends, so its line appears with its request.
    spanProcessors: [new SimpleSpanProcessor(new JsonLinesSpanExporter(sink))],
    metricReaders: [
      new PeriodicExportingMetricReader({
        exporter: new JsonLinesMetricExporter(sink),
        exportIntervalMillis: settings.metricIntervalMs,
      }),
    ],
  });
}

/** Where the local exporters write: one JSON object per line. */
export type LineSink = (line: string) => void;

export function consoleSink(): LineSink {
  return (line) => {
    process.stdout.write(`${line}\n`);
  };
}

/** Appends to a file (created with its folder): `npm run dev`'s sandbox folder by default. */
export function fileSink(path: string): LineSink {
  mkdirSync(dirname(path), { recursive: true });
  return (line) => {
    appendFileSync(path, `${line}\n`);
  };
}

/** A span as one line: enough to follow a request's calls without Azure (ids, parent, status, duration). */
export function spanLine(span: ReadableSpan): Record<string, unknown> {
  const context = span.spanContext();
  return {
    telemetry: 'span',
    time: hrTimeToTimeStamp(span.startTime),
    name: span.name,
    kind: SpanKind[span.kind],
    traceId: context.traceId,
    spanId: context.spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    status: SpanStatusCode[span.status.code],
    ms: Math.round(hrTimeToMilliseconds(span.duration) * 10) / 10,
    attributes: span.attributes,
  };
}

/** The spans of the local host and the sandbox, as JSON lines. */
export class JsonLinesSpanExporter implements SpanExporter {
  constructor(private readonly sink: LineSink) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    try {
      for (const span of spans) this.sink(JSON.stringify(spanLine(span)));
      resultCallback({ code: ExportResultCode.SUCCESS });
    } catch (error) {
      resultCallback({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : undefined });
    }
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** Each metric's running totals, one line per data point (cumulative: a line says "so far"). */
export class JsonLinesMetricExporter implements PushMetricExporter {
  constructor(private readonly sink: LineSink) {}

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    try {
      for (const scope of metrics.scopeMetrics) {
        for (const metric of scope.metrics) {
          if (metric.dataPointType !== DataPointType.SUM && metric.dataPointType !== DataPointType.GAUGE)
            continue;
          for (const point of metric.dataPoints) {
            this.sink(
              JSON.stringify({
                telemetry: 'metric',
                time: hrTimeToTimeStamp(point.endTime),
                name: metric.descriptor.name,
                attributes: point.attributes,
                value: point.value,
              }),
            );
          }
        }
      }
      resultCallback({ code: ExportResultCode.SUCCESS });
    } catch (error) {
      resultCallback({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : undefined });
    }
  }

  selectAggregationTemporality(): AggregationTemporality {
    return AggregationTemporality.CUMULATIVE;
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
