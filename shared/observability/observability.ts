import {
  type Context,
  context as otelContext,
  createNoopMeter,
  createTraceState,
  isSpanContextValid,
  type Meter,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Tracer,
} from '@opentelemetry/api';

import { AppMetrics } from './metrics.js';
import { ATTRIBUTE, INSTRUMENTATION_SCOPE, type SafeAttributes, SPAN, type SpanName } from './names.js';

/** The instance's tracer and metrics (part of its Services), and how to flush them. */
export interface Observability {
  readonly tracer: Tracer;
  readonly metrics: AppMetrics;
  /** Exports what is buffered (tests; the local host before it stops). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** No exporter: spans are not recorded and counters add nothing (the default without a setting). */
export function noObservability(meter: Meter = createNoopMeter()): Observability {
  return {
    tracer: new ProxyTracerProvider().getTracer(INSTRUMENTATION_SCOPE),
    metrics: new AppMetrics(meter),
    flush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}

/** The Functions host's trace context of an invocation (InvocationContext.traceContext). */
export interface HostTraceContext {
  traceParent?: string | null | undefined;
  traceState?: string | null | undefined;
}

/** W3C traceparent `00-<trace id>-<parent id>-<flags>`; anything else starts a new trace. */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The host's span as a remote parent (parsed here: the SDK's propagator would load @opentelemetry/core at start). */
export function hostParentContext(host: HostTraceContext | undefined): Context {
  const match = TRACEPARENT.exec(host?.traceParent?.trim() ?? '');
  if (match === null) return ROOT_CONTEXT;
  const [, traceId = '', spanId = '', flags = '00'] = match;
  const parent: SpanContext = {
    traceId,
    spanId,
    traceFlags: parseInt(flags, 16) & TraceFlags.SAMPLED,
    isRemote: true,
    ...(host?.traceState === undefined || host.traceState === null || host.traceState === ''
      ? {}
      : { traceState: createTraceState(host.traceState) }),
  };
  return isSpanContextValid(parent) ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
}

/** A child span of an outgoing call; the call sets what it learned, and marks a failure. */
export interface CallSpan {
  set(attributes: SafeAttributes): void;
  /** The call failed: status ERROR, with `error.type` a code or class name (never a message). */
  fail(errorType: string): void;
}

/**
 * The spans of one request: the request span (a child of the Functions host's span when the invocation
 * carries one) and a child span per Entra, Cosmos DB and Graph call. Parents are passed explicitly, so
 * nothing depends on a global context manager.
 */
export class RequestTrace {
  readonly span: Span;

  constructor(
    private readonly tracer: Tracer,
    attributes: SafeAttributes,
    host: HostTraceContext | undefined,
  ) {
    const parent = hostParentContext(host);
    // Under the Functions host its own span is the request (SERVER); ours is a step inside it.
    const kind = parent === ROOT_CONTEXT ? SpanKind.SERVER : SpanKind.INTERNAL;
    this.span = tracer.startSpan(SPAN.request, { kind, attributes }, parent);
  }

  /** W3C trace id of the request, for its log lines (correlates them with the spans). */
  get traceId(): string {
    return this.span.spanContext().traceId;
  }

  /** Runs `call` inside a child span; an exception marks the span failed and is rethrown. */
  async call<T>(
    name: SpanName,
    kind: SpanKind,
    attributes: SafeAttributes,
    call: (span: CallSpan) => Promise<T>,
  ): Promise<T> {
    const span = this.tracer.startSpan(name, { kind, attributes }, trace.setSpan(ROOT_CONTEXT, this.span));
    const handle: CallSpan = {
      set: (more) => span.setAttributes(more),
      fail: (errorType) => markFailed(span, errorType),
    };
    try {
      return await call(handle);
    } catch (error) {
      markFailed(span, errorTypeOf(error));
      throw error;
    } finally {
      span.end();
    }
  }

  /** Ends the request span with the response's status and, for a failure, its problem code. */
  end(status: number, code: string | undefined): void {
    this.span.setAttribute(ATTRIBUTE.httpStatus, status);
    if (code !== undefined) this.span.setAttribute(ATTRIBUTE.errorType, code);
    // A 4xx is the caller's problem, not the service's (OpenTelemetry's rule for server spans).
    if (status >= 500) this.span.setStatus({ code: SpanStatusCode.ERROR });
    this.span.end();
  }

  /** Runs `run` with the request span active, so log records emitted meanwhile carry its ids (in Azure). */
  withActiveSpan<T>(run: () => T): T {
    return otelContext.with(trace.setSpan(otelContext.active(), this.span), run);
  }
}

function markFailed(span: Span, errorType: string): void {
  span.setAttribute(ATTRIBUTE.errorType, errorType);
  span.setStatus({ code: SpanStatusCode.ERROR });
}

/** An error's stable code (ApiError), else its class name: never its message, which may carry data. */
export function errorTypeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return /^[A-Za-z0-9_.-]{1,64}$/.test(error.code) ? error.code : 'Error';
  }
  return error instanceof Error ? error.name : typeof error;
}
