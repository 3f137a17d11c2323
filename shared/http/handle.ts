import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { ApiError, ConfigError } from '../errors.js';
import { isRecord } from '../narrow.js';
import { problemResponse } from '../problem.js';
import type { Services, ServicesProvider } from '../runtime.js';
import { RequestTelemetry } from '../telemetry.js';

export const NO_STORE = { 'Cache-Control': 'no-store' } as const;

/** What a handler factory builds: an HttpHandler whose answer is always a plain HttpResponseInit. */
export type ApiHandler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

/**
 * The frame every handler runs in: awaits the instance's services, maps any error to problem+json,
 * and writes one structured log line for the request (outcomes and costs, never tokens).
 */
export async function handle(
  request: HttpRequest,
  context: InvocationContext,
  services: ServicesProvider,
  run: (services: Services, telemetry: RequestTelemetry) => Promise<HttpResponseInit>,
): Promise<HttpResponseInit> {
  const started = performance.now();
  const telemetry = new RequestTelemetry({
    warn: (message, fields) => context.warn(JSON.stringify({ message, ...fields })),
  });
  let response: HttpResponseInit;
  let realm = 'api';
  try {
    const built = await services();
    realm = built.config.api.appIdUri;
    response = await run(built, telemetry);
  } catch (error) {
    response = problemResponse(error, realm);
    if (!(error instanceof ApiError) || error instanceof ConfigError) {
      context.error(error instanceof ConfigError ? error.message : `unhandled ${describe(error)}`);
    } else if ((response.status ?? 0) >= 500) {
      // An upstream failed: say which and why, for the operator (causes here carry no token material).
      context.warn(
        JSON.stringify({ message: 'upstream failure', code: error.code, cause: causeOf(error.cause) }),
      );
    }
  }
  context.info(
    JSON.stringify({
      event: 'request',
      function: context.functionName,
      method: request.method,
      status: response.status ?? 200,
      code: problemCode(response),
      ms: Math.round(performance.now() - started),
      ...telemetry.fields,
    }),
  );
  return response;
}

function problemCode(response: HttpResponseInit): string | undefined {
  const body: unknown = response.jsonBody;
  return isRecord(body) && typeof body.code === 'string' ? body.code : undefined;
}

function causeOf(cause: unknown): string | undefined {
  if (cause === undefined) return undefined;
  if (!(cause instanceof Error)) return typeof cause;
  const code = 'errorCode' in cause && typeof cause.errorCode === 'string' ? ` ${cause.errorCode}` : '';
  return `${cause.name}${code}: ${cause.message.slice(0, 300)}`;
}

/** Names an unexpected error without its message, which could carry request data. */
function describe(error: unknown): string {
  return error instanceof Error
    ? `${error.name} at ${error.stack?.split('\n')[1]?.trim() ?? 'unknown'}`
    : typeof error;
}
