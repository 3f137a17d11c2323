import { ApiError, DEFAULT_RETRY_AFTER_SECONDS } from '../errors.js';
import { isRecord } from '../narrow.js';
import { graphRetryDelayMs, retryAfterSeconds } from '../retry.js';
import { requestTelemetry } from '../telemetry.js';
import { claimsFromChallenge } from './claimsChallenge.js';

export interface GraphClientOptions {
  baseUrl: URL;
  timeoutMs: number;
  retryBudgetMs: number;
  fetch: typeof fetch;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

export type GraphObject = Record<string, unknown>;

/** Microsoft Graph over fetch: a timeout per attempt, 429/5xx retried within a time budget. */
export class GraphClient {
  constructor(private readonly options: GraphClientOptions) {}

  /** GET a Graph resource (`/v1.0/me`) with the caller's delegated token. */
  async get(path: string, accessToken: string): Promise<GraphObject> {
    const telemetry = requestTelemetry();
    const url = new URL(path, this.options.baseUrl);
    const started = this.options.now();
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await telemetry.calls.graph(path, attempt, () =>
          this.options.fetch(url, {
            headers: { Authorization: `Bearer ${accessToken}`, Accept: 'application/json' },
            // A redirect would carry the caller's Graph token to wherever Location points: never followed.
            redirect: 'error',
            signal: AbortSignal.timeout(this.options.timeoutMs),
          }),
        );
      } catch (error) {
        throw new ApiError('ERR_GRAPH_UNAVAILABLE', 'Microsoft Graph could not be reached.', {
          cause: error,
          retryAfterSeconds: DEFAULT_RETRY_AFTER_SECONDS,
        });
      }
      if (response.ok) return readObject(response);

      const retryAfter = response.headers.get('retry-after');
      const delay = graphRetryDelayMs(
        response.status,
        retryAfter,
        attempt,
        this.options.now() - started,
        this.options.retryBudgetMs,
        this.options.now(),
      );
      const upstreamCode = await graphErrorCode(response);
      if (delay === undefined) {
        const claims =
          response.status === 401 ? claimsFromChallenge(response.headers.get('www-authenticate')) : undefined;
        throw graphError(response.status, upstreamCode, retryAfter, this.options.now(), claims);
      }
      telemetry.graphRetry(response.status);
      await this.options.sleep(delay);
    }
  }
}

function graphError(
  status: number,
  upstreamCode: string | undefined,
  retryAfter: string | null,
  nowMs: number,
  claims: string | undefined,
): ApiError {
  const details = upstreamCode === undefined ? {} : { upstreamCode };
  if (status === 403)
    return new ApiError('ERR_GRAPH_FORBIDDEN', 'Microsoft Graph denied access to the resource.', details);
  if (status === 429 || status >= 500) {
    return new ApiError('ERR_GRAPH_UNAVAILABLE', `Microsoft Graph is unavailable (${status}).`, {
      ...details,
      retryAfterSeconds: retryAfterSeconds(retryAfter, nowMs),
    });
  }
  if (status === 401) {
    // With a claims challenge (Continuous Access Evaluation) the caller exchanges again with those claims.
    return new ApiError(
      'ERR_GRAPH_TOKEN_REJECTED',
      'Microsoft Graph rejected the delegated token; try again.',
      {
        ...details,
        ...(claims === undefined ? {} : { claims }),
      },
    );
  }
  return new ApiError('ERR_GRAPH_FAILED', `Microsoft Graph answered ${status}.`, details);
}

async function readObject(response: Response): Promise<GraphObject> {
  const body: unknown = await response.json().catch(() => undefined);
  if (!isRecord(body)) {
    throw new ApiError('ERR_GRAPH_FAILED', 'Microsoft Graph answered with an unexpected body.');
  }
  return body;
}

/** Graph's `error.code` (e.g. Authorization_RequestDenied), safe to pass on; the message is not. */
async function graphErrorCode(response: Response): Promise<string | undefined> {
  const body: unknown = await response.json().catch(() => undefined);
  const error = isRecord(body) ? body.error : undefined;
  if (!isRecord(error) || typeof error.code !== 'string') return undefined;
  return /^[A-Za-z0-9_.-]{1,100}$/.test(error.code) ? error.code : undefined;
}
