import { SpanKind } from '@opentelemetry/api';

import { describeCause } from './causes.js';
import type { AppMetrics, CosmosOperation } from './metrics.js';
import { ATTRIBUTE, SPAN } from './names.js';
import { noObservability, RequestTrace } from './observability.js';

/**
 * The spans and metrics of one request's outgoing calls, in one place so every call site records the same
 * things the same way. Attributes come only from the names table: statuses, codes, operations, charges.
 */
export class RequestCalls {
  constructor(
    readonly trace: RequestTrace,
    readonly metrics: AppMetrics,
  ) {}

  /** One Cosmos DB point operation: a span, and its request units counted by operation. */
  cosmos<T extends { requestCharge: number }>(operation: CosmosOperation, run: () => Promise<T>): Promise<T> {
    const name =
      operation === 'read' ? SPAN.cosmosRead : operation === 'write' ? SPAN.cosmosWrite : SPAN.cosmosDelete;
    return this.trace.call(name, SpanKind.CLIENT, { [ATTRIBUTE.dbOperation]: operation }, async (span) => {
      try {
        const result = await run();
        span.set({ [ATTRIBUTE.requestCharge]: result.requestCharge });
        this.metrics.cosmosCharge(operation, result.requestCharge);
        return result;
      } catch (error) {
        const cause = describeCause(error);
        span.set({
          ...(cause.status === undefined ? {} : { [ATTRIBUTE.dbStatus]: cause.status }),
          ...(cause.subStatus === undefined ? {} : { [ATTRIBUTE.dbSubStatus]: cause.subStatus }),
        });
        span.fail(cause.code ?? cause.error);
        throw error;
      }
    });
  }

  /**
   * One HTTP call msal-node makes to Entra ID. A call to the token endpoint is an exchange, counted by
   * result; the URL itself never becomes an attribute (its path names the caller's tenant).
   */
  entra<T extends { status: number }>(
    url: string,
    method: 'GET' | 'POST',
    run: () => Promise<T>,
  ): Promise<T> {
    const operation = entraOperationOf(url);
    const attributes = {
      [ATTRIBUTE.entraOperation]: operation,
      [ATTRIBUTE.httpMethod]: method,
      [ATTRIBUTE.serverAddress]: hostOf(url),
    };
    return this.trace.call(SPAN.entra, SpanKind.CLIENT, attributes, async (span) => {
      let result: T;
      try {
        result = await run();
      } catch (error) {
        if (operation === 'token') this.metrics.exchange('failure');
        throw error;
      }
      span.set({ [ATTRIBUTE.httpStatus]: result.status });
      if (result.status >= 400) span.fail(String(result.status));
      if (operation === 'token') this.metrics.exchange(result.status < 400 ? 'success' : 'failure');
      return result;
    });
  }

  /** One attempt of a Microsoft Graph call; `path` is the app's own constant (/v1.0/me). */
  graph<T extends { status: number }>(path: string, attempt: number, run: () => Promise<T>): Promise<T> {
    const attributes = {
      [ATTRIBUTE.httpMethod]: 'GET',
      [ATTRIBUTE.urlPath]: path,
      [ATTRIBUTE.attempt]: attempt,
    };
    return this.trace.call(SPAN.graph, SpanKind.CLIENT, attributes, async (span) => {
      const result = await run();
      span.set({ [ATTRIBUTE.httpStatus]: result.status });
      if (result.status >= 400) span.fail(String(result.status));
      return result;
    });
  }
}

/** Calls that record nothing: for a request outside a handler (benchmarks, tests of one piece). */
export function untracedCalls(): RequestCalls {
  const none = noObservability();
  return new RequestCalls(new RequestTrace(none.tracer, {}, undefined), none.metrics);
}

export function entraOperationOf(url: string): 'token' | 'metadata' | 'other' {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return 'other';
  }
  if (path.endsWith('/oauth2/v2.0/token') || path.endsWith('/oauth2/token')) return 'token';
  if (path.includes('/.well-known/') || path.includes('/discovery/')) return 'metadata';
  return 'other';
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'invalid';
  }
}
