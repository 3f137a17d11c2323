import { ApiError, type ErrorCode } from '../errors.js';
import { claimsFromChallenge } from '../graph/claimsChallenge.js';
import { isRecord } from '../narrow.js';
import { graphRetryDelayMs, retryAfterSeconds } from '../retry.js';
import { requestTelemetry } from '../telemetry.js';
import { DOWNSTREAM_RESOURCES, type DownstreamResource, type ResourceEndpoint } from './resources.js';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export type JsonObject = Record<string, unknown>;

/** One call to a resource: its method, where (path and query, relative to the base URL), and a JSON body. */
export interface DownstreamRequest {
  method: HttpMethod;
  /** The path already bound (each parameter one encoded segment) with its query: `/tasks/tk_1?$top=5`. */
  target: string;
  /** The operation's path template (`/tasks/{id}`): what telemetry names, never the ids. */
  pathTemplate: string;
  body?: JsonObject;
}

/** What the resource answered: its 2xx status and JSON object (none for a 204 or an empty body). */
export interface DownstreamAnswer {
  status: number;
  body: JsonObject | undefined;
}

export interface ResourceClient {
  send(request: DownstreamRequest, accessToken: string): Promise<DownstreamAnswer>;
}

export interface ResourceClientOptions {
  endpoint: ResourceEndpoint;
  fetch: typeof fetch;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

/** Safe methods and idempotent ones may be sent again after a 5xx; a POST or PATCH might have been applied. */
const RETRY_ON_5XX: ReadonlySet<HttpMethod> = new Set(['GET', 'PUT', 'DELETE']);

/** The problem codes of a resource: Graph keeps the ERR_GRAPH_* codes it always had; every other API shares these. */
const FAILURE_CODES = {
  graph: {
    forbidden: 'ERR_GRAPH_FORBIDDEN',
    unavailable: 'ERR_GRAPH_UNAVAILABLE',
    failed: 'ERR_GRAPH_FAILED',
    tokenRejected: 'ERR_GRAPH_TOKEN_REJECTED',
  },
  api: {
    forbidden: 'ERR_DOWNSTREAM_FORBIDDEN',
    unavailable: 'ERR_DOWNSTREAM_UNAVAILABLE',
    failed: 'ERR_DOWNSTREAM_FAILED',
    tokenRejected: 'ERR_DOWNSTREAM_TOKEN_REJECTED',
  },
} as const satisfies Record<string, Record<string, ErrorCode>>;

/** The code a resource's 401 maps to: what the CAE policy (caePolicy.ts) acts on. */
export const TOKEN_REJECTED_CODES: readonly ErrorCode[] = [
  FAILURE_CODES.graph.tokenRejected,
  FAILURE_CODES.api.tokenRejected,
];

/**
 * A downstream resource over fetch: every method, a JSON body, a timeout per attempt, 429 (and 5xx for the methods
 * that may be repeated) retried within a time budget, no redirect followed, and its answer kept in meaning: 2xx as
 * it is, 404/400/409 as ours, 401 with its claims challenge for the CAE policy.
 */
export class HttpResourceClient implements ResourceClient {
  private readonly name: string;
  private readonly codes: (typeof FAILURE_CODES)[keyof typeof FAILURE_CODES];

  constructor(
    private readonly resource: DownstreamResource,
    private readonly options: ResourceClientOptions,
  ) {
    this.name = DOWNSTREAM_RESOURCES[resource].displayName;
    this.codes = resource === 'graph' ? FAILURE_CODES.graph : FAILURE_CODES.api;
  }

  async send(request: DownstreamRequest, accessToken: string): Promise<DownstreamAnswer> {
    const telemetry = requestTelemetry();
    const url = urlOf(this.options.endpoint.baseUrl, request.target);
    const headers: Record<string, string> = {
      Authorization: `Bearer ${accessToken}`,
      Accept: 'application/json',
    };
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const started = this.options.now();
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await telemetry.calls.downstream(
          { resource: this.resource, method: request.method, pathTemplate: request.pathTemplate, attempt },
          () =>
            this.options.fetch(url, {
              method: request.method,
              headers,
              ...(body === undefined ? {} : { body }),
              // A redirect would carry the caller's delegated token to wherever Location points: never followed.
              redirect: 'error',
              signal: AbortSignal.timeout(this.options.endpoint.timeoutMs),
            }),
        );
      } catch (error) {
        throw new ApiError(this.codes.unavailable, `${this.name} could not be reached.`, {
          cause: error,
          retryAfterSeconds: retryAfterSeconds(null, this.options.now()),
        });
      }
      if (response.ok) return this.readAnswer(response);

      const retryAfter = response.headers.get('retry-after');
      const delay =
        response.status === 429 || RETRY_ON_5XX.has(request.method)
          ? graphRetryDelayMs(
              response.status,
              retryAfter,
              attempt,
              this.options.now() - started,
              this.options.endpoint.retryBudgetMs,
              this.options.now(),
            )
          : undefined;
      const upstreamCode = await errorCodeOf(response);
      if (delay === undefined) {
        const claims =
          response.status === 401 ? claimsFromChallenge(response.headers.get('www-authenticate')) : undefined;
        throw this.failure(response.status, upstreamCode, retryAfter, claims);
      }
      telemetry.downstreamRetry(this.resource, response.status);
      await this.options.sleep(delay);
    }
  }

  private failure(
    status: number,
    upstreamCode: string | undefined,
    retryAfter: string | null,
    claims: string | undefined,
  ): ApiError {
    const details = upstreamCode === undefined ? {} : { upstreamCode };
    if (status === 404)
      return new ApiError('ERR_DOWNSTREAM_NOT_FOUND', `${this.name} has no such resource.`, details);
    if (status === 400)
      return new ApiError(
        'ERR_DOWNSTREAM_BAD_REQUEST',
        `${this.name} refused the request as invalid.`,
        details,
      );
    if (status === 409)
      return new ApiError('ERR_DOWNSTREAM_CONFLICT', `${this.name} refused the change (conflict).`, details);
    if (status === 403)
      return new ApiError(this.codes.forbidden, `${this.name} denied access to the resource.`, details);
    if (status === 429 || status >= 500) {
      return new ApiError(this.codes.unavailable, `${this.name} is unavailable (${status}).`, {
        ...details,
        retryAfterSeconds: retryAfterSeconds(retryAfter, this.options.now()),
      });
    }
    if (status === 401) {
      // With a claims challenge (Continuous Access Evaluation) the caller exchanges again with those claims.
      return new ApiError(this.codes.tokenRejected, `${this.name} rejected the delegated token; try again.`, {
        ...details,
        ...(claims === undefined ? {} : { claims }),
      });
    }
    return new ApiError(this.codes.failed, `${this.name} answered ${status}.`, details);
  }

  private async readAnswer(response: Response): Promise<DownstreamAnswer> {
    const text = await response.text().catch(() => undefined);
    if (text === undefined) throw new ApiError(this.codes.failed, `${this.name}'s answer could not be read.`);
    if (text === '' || response.status === 204) return { status: response.status, body: undefined };
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!isRecord(body)) {
      throw new ApiError(this.codes.failed, `${this.name} answered with an unexpected body.`);
    }
    return { status: response.status, body };
  }
}

/** The base URL's path, then the target's (`https://host/api` + `/tasks`): never `new URL(target, base)`, which drops it. */
export function urlOf(baseUrl: URL, target: string): URL {
  const url = new URL(baseUrl.href);
  const [path = '', search] = splitTarget(target);
  url.pathname = `${baseUrl.pathname.replace(/\/$/, '')}${path}`;
  url.search = search === undefined ? '' : `?${search}`;
  return url;
}

function splitTarget(target: string): [string, string | undefined] {
  const at = target.indexOf('?');
  return at < 0 ? [target, undefined] : [target.slice(0, at), target.slice(at + 1)];
}

/** The resource's `error.code` (Graph's Authorization_RequestDenied), safe to pass on; its message is not. */
async function errorCodeOf(response: Response): Promise<string | undefined> {
  const body: unknown = await response.json().catch(() => undefined);
  const error = isRecord(body) ? body.error : undefined;
  if (!isRecord(error) || typeof error.code !== 'string') return undefined;
  return /^[A-Za-z0-9_.-]{1,100}$/.test(error.code) ? error.code : undefined;
}
