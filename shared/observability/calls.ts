import { SpanKind } from '@opentelemetry/api';

import { describeCause } from './causes.js';
import type { AppMetrics, CosmosOperation } from './metrics.js';
import { ATTRIBUTE, SPAN } from './names.js';
import type { RequestTrace } from './observability.js';

/** The request log line's fields that outgoing calls fill in (shared/telemetry.ts has the others). */
export interface CallFields {
  cosmosRequestCharge?: number;
  /** Cosmos DB point reads that answered (a 404 included). */
  cosmosReads?: number;
  /** Cosmos DB writes and deletes that answered (a 412 or 409 included). */
  cosmosWrites?: number;
  entraMs?: number;
  /** Requests to Entra's token endpoint, answered or not (each is an exchange Entra counts). */
  entraTokenRequests?: number;
  /** Microsoft Graph's calls keep their own fields; every other downstream API's go to `downstream*`. */
  graphMs?: number;
  graphAttempts?: number;
  downstreamMs?: number;
  downstreamAttempts?: number;
}

/** Adds to one of the request's call fields. */
export type CountCallField = (field: keyof CallFields, by: number) => void;

/**
 * One request's outgoing calls, each recorded once, here: its span, its metric and its fields of the request
 * log line, so every call site records the same things the same way and the three always agree. Attributes
 * come only from the names table: statuses, codes, operations, charges.
 */
export class RequestCalls {
  constructor(
    private readonly trace: RequestTrace,
    private readonly metrics: AppMetrics,
    private readonly count: CountCallField,
  ) {}

  /**
   * One Cosmos DB point operation: a span, its request units counted by operation, and a read or a write
   * (a delete is a write) with its charge on the log line.
   */
  cosmos<T extends { requestCharge: number }>(operation: CosmosOperation, run: () => Promise<T>): Promise<T> {
    const name =
      operation === 'read' ? SPAN.cosmosRead : operation === 'write' ? SPAN.cosmosWrite : SPAN.cosmosDelete;
    return this.trace.call(name, SpanKind.CLIENT, { [ATTRIBUTE.dbOperation]: operation }, async (span) => {
      try {
        const result = await run();
        span.set({ [ATTRIBUTE.requestCharge]: result.requestCharge });
        this.metrics.cosmosCharge(operation, result.requestCharge);
        this.count(operation === 'read' ? 'cosmosReads' : 'cosmosWrites', 1);
        this.count('cosmosRequestCharge', result.requestCharge);
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
   * One HTTP call msal-node makes to Entra ID, its time added to `entraMs`. A call to the token endpoint is
   * an exchange, counted by result; the URL itself never becomes an attribute (its path names the caller's
   * tenant).
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
      const started = performance.now();
      if (operation === 'token') this.count('entraTokenRequests', 1);
      try {
        result = await run();
      } catch (error) {
        if (operation === 'token') this.metrics.exchange('failure');
        throw error;
      } finally {
        this.count('entraMs', Math.round(performance.now() - started));
      }
      span.set({ [ATTRIBUTE.httpStatus]: result.status });
      if (result.status >= 400) span.fail(String(result.status));
      if (operation === 'token') this.metrics.exchange(result.status < 400 ? 'success' : 'failure');
      return result;
    });
  }

  /**
   * One attempt of a downstream call: for Microsoft Graph a `graph.request` span counted in `graphAttempts` with its
   * time in `graphMs`; for another API a `downstream.request` span with `downstreamAttempts` and `downstreamMs`.
   * `pathTemplate` is the operation's own path (/tasks/{id}), never the ids a caller sent.
   */
  async downstream<T extends { status: number }>(
    call: { resource: string; method: string; pathTemplate: string; attempt: number },
    run: () => Promise<T>,
  ): Promise<T> {
    const graph = call.resource === 'graph';
    const attributes = {
      [ATTRIBUTE.httpMethod]: call.method,
      [ATTRIBUTE.urlPath]: call.pathTemplate,
      [ATTRIBUTE.attempt]: call.attempt,
      [ATTRIBUTE.downstreamResource]: call.resource,
    };
    this.count(graph ? 'graphAttempts' : 'downstreamAttempts', 1);
    const started = performance.now();
    try {
      return await this.trace.call(
        graph ? SPAN.graph : SPAN.downstream,
        SpanKind.CLIENT,
        attributes,
        async (span) => {
          const result = await run();
          span.set({ [ATTRIBUTE.httpStatus]: result.status });
          if (result.status >= 400) span.fail(String(result.status));
          return result;
        },
      );
    } finally {
      this.count(graph ? 'graphMs' : 'downstreamMs', Math.round(performance.now() - started));
    }
  }
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
