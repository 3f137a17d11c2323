import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { ApiError, ConfigError } from '../errors.js';
import { isRecord } from '../narrow.js';
import { describeCause } from '../observability/causes.js';
import { ATTRIBUTE } from '../observability/names.js';
import { RequestTrace } from '../observability/observability.js';
import { problemResponse } from '../problem.js';
import type { Services, ServicesProvider } from '../runtime.js';
import { RequestTelemetry } from '../telemetry.js';

export const NO_STORE = { 'Cache-Control': 'no-store' } as const;

/** What a handler factory builds: an HttpHandler whose answer is always a plain HttpResponseInit. */
export type ApiHandler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

/**
 * The frame every handler runs in: awaits the instance's services, runs the handler inside the request's
 * telemetry (what it calls records there), maps any error to problem+json, and writes one structured log
 * line for the request (outcomes and costs, never tokens).
 */
export async function handle(
  request: HttpRequest,
  context: InvocationContext,
  services: ServicesProvider,
  run: (services: Services) => Promise<HttpResponseInit>,
): Promise<HttpResponseInit> {
  const started = performance.now();
  // The invocation id is the request's id: on every line it writes, and in Application Insights' InvocationId.
  const requestId = context.invocationId;
  let trace: RequestTrace | undefined;
  const logger = {
    warn: (message: string, fields?: Record<string, unknown>) =>
      context.warn(JSON.stringify({ message, requestId, traceId: trace?.traceId, ...fields })),
  };
  // Built once the services are: a request that fails before that has no fields to log.
  let telemetry: RequestTelemetry | undefined;
  let response: HttpResponseInit;
  // Constant: the App ID URI would name the tenant's API and environment to anonymous callers.
  const realm = 'api';
  try {
    const built = await services();
    const requestTrace = new RequestTrace(
      built.observability.tracer,
      { [ATTRIBUTE.functionName]: context.functionName, [ATTRIBUTE.httpMethod]: request.method },
      context.traceContext,
    );
    trace = requestTrace;
    const requestTelemetry = new RequestTelemetry(logger, {
      trace: requestTrace,
      metrics: built.observability.metrics,
    });
    telemetry = requestTelemetry;
    response = await requestTelemetry.run(() => requestTrace.withActiveSpan(() => run(built)));
  } catch (error) {
    response = problemResponse(error, realm);
    if (!(error instanceof ApiError) || error instanceof ConfigError) {
      const message = error instanceof ConfigError ? error.message : `unhandled ${describe(error)}`;
      context.error(JSON.stringify({ message, requestId, traceId: trace?.traceId }));
    } else if ((response.status ?? 0) >= 500) {
      // An upstream failed: say which and why, from the error's fields (its message could carry request data).
      logger.warn('upstream failure', {
        code: error.code,
        detail: error.message,
        upstreamCode: error.details.upstreamCode,
        cause: error.cause === undefined ? undefined : describeCause(error.cause),
      });
    }
  }
  const status = response.status ?? 200;
  const code = problemCode(response);
  trace?.end(status, code);
  context.info(
    JSON.stringify({
      event: 'request',
      requestId,
      traceId: trace?.traceId,
      function: context.functionName,
      method: request.method,
      status,
      code,
      ms: Math.round(performance.now() - started),
      ...telemetry?.fields,
    }),
  );
  return response;
}

function problemCode(response: HttpResponseInit): string | undefined {
  const body: unknown = response.jsonBody;
  return isRecord(body) && typeof body.code === 'string' ? body.code : undefined;
}

/** Names an unexpected error without its message, which could carry request data. */
function describe(error: unknown): string {
  return error instanceof Error
    ? `${error.name} at ${error.stack?.split('\n')[1]?.trim() ?? 'unknown'}`
    : typeof error;
}
