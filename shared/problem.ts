import type { HttpResponseInit } from '@azure/functions';

import {
  type ApiError,
  type ConsentHint,
  DEFAULT_RETRY_AFTER_SECONDS,
  type ErrorCode,
  isApiError,
} from './errors.js';

/** What a response names: an ApiError's code, or ERR_INTERNAL for anything else thrown. */
export type ProblemCode = ErrorCode | 'ERR_INTERNAL';

/** RFC 9457 problem details, as every error response body. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  code: ProblemCode;
  detail: string;
  upstreamCode?: string;
  /** ERR_CONSENT_REQUIRED: what to ask consent for (machine-readable; the SPA acts on it). */
  consent?: ConsentHint;
  /**
   * ERR_CLAIMS_CHALLENGE: the claims to request a new token with, base64 as in WWW-Authenticate. A browser reads
   * this one: Azure's platform CORS cannot expose WWW-Authenticate to script.
   */
  claims?: string;
}

interface HttpMapping {
  status: number;
  title: string;
  /** RFC 6750 error attribute of WWW-Authenticate, when the answer challenges the caller. */
  bearerError?: 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'insufficient_claims';
  /** A 401/403 that still carries a plain Bearer challenge (RFC 6750 section 3.1: no error attribute). */
  bareChallenge?: boolean;
}

/** The one place an error becomes HTTP. */
const HTTP_BY_CODE: Record<ProblemCode, HttpMapping> = {
  ERR_TOKEN_MISSING: { status: 401, title: 'Authentication required', bareChallenge: true },
  ERR_AUTHORIZATION_MALFORMED: {
    status: 400,
    title: 'Malformed Authorization header',
    bearerError: 'invalid_request',
  },
  ERR_TOKEN_INVALID: { status: 401, title: 'Invalid access token', bearerError: 'invalid_token' },
  ERR_SCOPE_INSUFFICIENT: { status: 403, title: 'Insufficient scope', bearerError: 'insufficient_scope' },
  ERR_APP_ONLY_TOKEN: { status: 403, title: 'A user token is required', bearerError: 'insufficient_scope' },
  ERR_CLIENT_APP_NOT_ALLOWED: { status: 403, title: 'Client application not allowed' },
  ERR_ROLE_REQUIRED: { status: 403, title: 'App role required', bearerError: 'insufficient_scope' },
  ERR_SIGNING_KEYS_UNAVAILABLE: { status: 503, title: 'Token signing keys unavailable' },
  ERR_CLAIMS_CHALLENGE: {
    status: 401,
    title: 'Additional claims required',
    bearerError: 'insufficient_claims',
  },
  ERR_CONSENT_REQUIRED: { status: 403, title: 'Consent required' },
  ERR_ACCESS_BLOCKED: { status: 403, title: 'Access blocked by policy' },
  ERR_ASSERTION_REJECTED: {
    status: 401,
    title: 'Access token rejected by the identity provider',
    bearerError: 'invalid_token',
  },
  ERR_IDENTITY_PROVIDER_UNAVAILABLE: { status: 503, title: 'Identity provider unavailable' },
  ERR_IDENTITY_PROVIDER_REJECTED_APP: { status: 502, title: 'Identity provider rejected this API' },
  ERR_GRAPH_FORBIDDEN: { status: 403, title: 'Microsoft Graph denied access' },
  ERR_GRAPH_UNAVAILABLE: { status: 503, title: 'Microsoft Graph unavailable' },
  ERR_GRAPH_FAILED: { status: 502, title: 'Microsoft Graph request failed' },
  ERR_GRAPH_TOKEN_REJECTED: { status: 502, title: 'Microsoft Graph rejected the delegated token' },
  ERR_DOWNSTREAM_FORBIDDEN: { status: 403, title: 'The downstream API denied access' },
  ERR_DOWNSTREAM_UNAVAILABLE: { status: 503, title: 'Downstream API unavailable' },
  ERR_DOWNSTREAM_FAILED: { status: 502, title: 'Downstream API request failed' },
  ERR_DOWNSTREAM_TOKEN_REJECTED: { status: 502, title: 'The downstream API rejected the delegated token' },
  ERR_DOWNSTREAM_NOT_FOUND: { status: 404, title: 'Not found' },
  ERR_DOWNSTREAM_BAD_REQUEST: { status: 400, title: 'The downstream API refused the request' },
  ERR_DOWNSTREAM_CONFLICT: { status: 409, title: 'Conflict' },
  ERR_PATH_PARAMETER_INVALID: { status: 400, title: 'Invalid path parameter' },
  ERR_QUERY_PARAMETER_INVALID: { status: 400, title: 'Invalid query parameter' },
  ERR_BODY_INVALID: { status: 400, title: 'Invalid request body' },
  ERR_BODY_TOO_LARGE: { status: 413, title: 'Request body too large' },
  ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  ERR_CURSOR_INVALID: { status: 400, title: 'Invalid page cursor' },
  ERR_TOKEN_CACHE_UNAVAILABLE: { status: 503, title: 'Token cache unavailable' },
  ERR_TOO_MANY_EXCHANGES: { status: 429, title: 'Too many token exchanges' },
  ERR_CONFIG_INVALID: { status: 503, title: 'Service misconfigured' },
  ERR_INTERNAL: { status: 500, title: 'Internal error' },
};

/** Builds the HTTP answer for any thrown value; unknown errors become a bare 500 with no internals. */
export function problemResponse(error: unknown, realm: string): HttpResponseInit {
  const apiError: ApiError | undefined = isApiError(error) ? error : undefined;
  const code: ProblemCode = apiError?.code ?? 'ERR_INTERNAL';
  const mapping = HTTP_BY_CODE[code];
  const body: ProblemDetails = {
    type: `https://errors.obo-graph-api.dev/${code.toLowerCase().replaceAll('_', '-')}`,
    title: mapping.title,
    status: mapping.status,
    code,
    detail: publicDetail(code, apiError),
  };
  if (apiError?.details.upstreamCode !== undefined) body.upstreamCode = apiError.details.upstreamCode;
  if (code === 'ERR_CONSENT_REQUIRED' && apiError?.details.consent !== undefined) {
    body.consent = {
      clientId: apiError.details.consent.clientId,
      scopes: [...apiError.details.consent.scopes],
    };
  }
  if (code === 'ERR_CLAIMS_CHALLENGE' && apiError?.details.claims !== undefined) {
    body.claims = base64Claims(apiError.details.claims);
  }

  const headers: Record<string, string> = {
    'Content-Type': 'application/problem+json',
    'Cache-Control': 'no-store',
  };
  const challenge = bearerChallenge(mapping, apiError, realm);
  if (challenge !== undefined) headers['WWW-Authenticate'] = challenge;
  if (mapping.status === 503 || mapping.status === 429) {
    headers['Retry-After'] = String(apiError?.details.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS);
  }
  return { status: mapping.status, headers, jsonBody: body };
}

/** Anonymous callers learn what failed, not how the service is configured (the log names the settings). */
function publicDetail(code: ProblemCode, error: ApiError | undefined): string {
  if (error === undefined) return 'An unexpected error occurred.';
  return code === 'ERR_CONFIG_INVALID'
    ? 'The service is misconfigured; its log names the settings to fix.'
    : error.message;
}

function bearerChallenge(
  mapping: HttpMapping,
  error: ApiError | undefined,
  realm: string,
): string | undefined {
  if (mapping.bareChallenge === true) return `Bearer realm="${quote(realm)}"`;
  if (mapping.bearerError === undefined) return undefined;
  const params = [`realm="${quote(realm)}"`, `error="${mapping.bearerError}"`];
  const description = error?.details.description ?? error?.message;
  if (description !== undefined) params.push(`error_description="${quote(description)}"`);
  if (error?.details.requiredScope !== undefined)
    params.push(`scope="${quote(error.details.requiredScope)}"`);
  if (error?.details.claims !== undefined) {
    params.push(`claims="${base64Claims(error.details.claims)}"`);
  }
  return `Bearer ${params.join(', ')}`;
}

/** RFC 7230 quoted-string: drop what cannot appear, escape quote and backslash. */
function quote(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, '').replace(/["\\]/g, '\\$&');
}

function base64Claims(claims: string): string {
  return Buffer.from(claims, 'utf8').toString('base64');
}
