/**
 * Stable error codes: clients may branch on them, so a code is never renamed once shipped. An error
 * that is not an ApiError answers ERR_INTERNAL (shared/problem.ts), which no code raises on purpose.
 */
export type ErrorCode =
  | 'ERR_TOKEN_MISSING'
  | 'ERR_TOKEN_INVALID'
  | 'ERR_AUTHORIZATION_MALFORMED'
  | 'ERR_SCOPE_INSUFFICIENT'
  | 'ERR_APP_ONLY_TOKEN'
  | 'ERR_CLIENT_APP_NOT_ALLOWED'
  | 'ERR_ROLE_REQUIRED'
  | 'ERR_SIGNING_KEYS_UNAVAILABLE'
  | 'ERR_CLAIMS_CHALLENGE'
  | 'ERR_CONSENT_REQUIRED'
  | 'ERR_ACCESS_BLOCKED'
  | 'ERR_ASSERTION_REJECTED'
  | 'ERR_IDENTITY_PROVIDER_UNAVAILABLE'
  | 'ERR_IDENTITY_PROVIDER_REJECTED_APP'
  | 'ERR_GRAPH_FORBIDDEN'
  | 'ERR_GRAPH_UNAVAILABLE'
  | 'ERR_GRAPH_FAILED'
  | 'ERR_GRAPH_TOKEN_REJECTED'
  | 'ERR_DOWNSTREAM_FORBIDDEN'
  | 'ERR_DOWNSTREAM_UNAVAILABLE'
  | 'ERR_DOWNSTREAM_FAILED'
  | 'ERR_DOWNSTREAM_TOKEN_REJECTED'
  | 'ERR_DOWNSTREAM_NOT_FOUND'
  | 'ERR_DOWNSTREAM_BAD_REQUEST'
  | 'ERR_DOWNSTREAM_CONFLICT'
  | 'ERR_PATH_PARAMETER_INVALID'
  | 'ERR_QUERY_PARAMETER_INVALID'
  | 'ERR_BODY_INVALID'
  | 'ERR_BODY_TOO_LARGE'
  | 'ERR_UNSUPPORTED_MEDIA_TYPE'
  | 'ERR_CURSOR_INVALID'
  | 'ERR_TOKEN_CACHE_UNAVAILABLE'
  | 'ERR_TOO_MANY_EXCHANGES'
  | 'ERR_CONFIG_INVALID';

/** Retry-After of a 503 when the upstream gave no hint: long enough for a blip, short for a user. */
export const DEFAULT_RETRY_AFTER_SECONDS = 5;

export interface ApiErrorDetails {
  cause?: unknown;
  /** RFC 6750 `error_description`: names the failed check, never echoes token material. */
  description?: string;
  /** For ERR_SCOPE_INSUFFICIENT: the scope (or space-separated scopes) the caller lacks. */
  requiredScope?: string;
  /** For ERR_CLAIMS_CHALLENGE: the claims JSON Entra asked for (sent back base64-encoded). */
  claims?: string;
  /** For 503s: when the client may try again. */
  retryAfterSeconds?: number;
  /** The upstream error identifier (AADSTS code, Graph error code), safe to show. */
  upstreamCode?: string;
  /** For ERR_CONSENT_REQUIRED: the application to consent for and the scopes it asks (the SPA's hint). */
  consent?: ConsentHint;
}

export interface ConsentHint {
  /** The application that needs consent: this API (it calls the resource on the user's behalf). */
  clientId: string;
  /** Full scopes (`https://graph.microsoft.com/Calendars.Read`). */
  scopes: readonly string[];
}

/** The one error type the API raises on purpose; shared/problem.ts maps it to HTTP. */
export class ApiError extends Error {
  override readonly name: string = this.constructor.name;
  readonly code: ErrorCode;
  readonly details: ApiErrorDetails;

  constructor(code: ErrorCode, message: string, details: ApiErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.details = details;
  }
}

/** Raised at start when a setting is missing or malformed; names the setting. */
export class ConfigError extends ApiError {
  readonly setting: string;

  constructor(setting: string, message: string) {
    super('ERR_CONFIG_INVALID', `${setting}: ${message}`);
    this.setting = setting;
  }
}

export function isApiError(value: unknown): value is ApiError {
  return value instanceof ApiError;
}
