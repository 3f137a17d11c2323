// Entra's errors: the AADSTS catalogue the emulator answers with, its error body, the one mapping of jose's
// verification errors, and the fault presets.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { errors } from 'jose';

import type { FaultContext, FaultPreset } from '../kit/faults.js';
import { headerValue, sendJson } from '../kit/http.js';
import { API_CLIENT_ID, API_DISPLAY_NAME, GRAPH_APP_ID } from './fixtures.js';

export interface EntraError {
  status: number;
  error: string;
  code: number;
  description: string;
  suberror?: string;
  claims?: string;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; failure: EntraError };
export type Failed = { ok: false; failure: EntraError };

export function fail(status: number, error: string, code: number, description: string): Failed {
  return failed({ status, error, code, description });
}

export function failed(failure: EntraError): Failed {
  return { ok: false, failure };
}

export function missingParameter(name: string): Failed {
  return fail(
    400,
    'invalid_request',
    900144,
    `The request body must contain the following parameter: '${name}'.`,
  );
}

export function malformedJwt(): Failed {
  return fail(400, 'invalid_request', 50027, 'JWT token is invalid or malformed.');
}

export function consentRequired(): Failed {
  return {
    ok: false,
    failure: {
      status: 400,
      error: 'invalid_grant',
      code: 65001,
      description: `The user or administrator has not consented to use the application with ID '${API_CLIENT_ID}' named '${API_DISPLAY_NAME}'. Send an interactive authorization request for this user and resource.`,
      suberror: 'consent_required',
    },
  };
}

/** Conditional Access on Graph needs MFA the assertion (or the session) lacks: AADSTS50076 with the policy's claims. */
export function mfaRequired(policyId = 'c0a1d3b2-5e4f-4a6b-8c7d-9e0f1a2b3c4d'): EntraError {
  return {
    status: 400,
    error: 'invalid_grant',
    code: 50076,
    description: `Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '${GRAPH_APP_ID}'.`,
    suberror: 'basic_action',
    claims: JSON.stringify({ access_token: { capolids: { essential: true, values: [policyId] } } }),
  };
}

/** What went wrong verifying a JWT with jose, in the terms Entra's messages use. */
export type JwtProblem =
  | { kind: 'expired' }
  | { kind: 'claim'; claim: string; reason: string }
  | { kind: 'signature'; reason: string }
  | { kind: 'malformed' };

/** The one mapping of jose's verification errors. */
export function jwtProblemOf(error: unknown): JwtProblem {
  if (error instanceof errors.JWTExpired) return { kind: 'expired' };
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return { kind: 'signature', reason: 'The key was not found.' };
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return { kind: 'signature', reason: 'Key was found, but use of the key to verify the signature failed.' };
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return { kind: 'signature', reason: 'The signing algorithm is not allowed.' };
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    return { kind: 'claim', claim: error.claim, reason: error.reason };
  }
  return { kind: 'malformed' };
}

export function defaultError(status: number): EntraError {
  if (status >= 500 || status === 429) {
    return {
      status,
      error: 'temporarily_unavailable',
      code: 90033,
      description: 'A transient error has occurred. Please try again.',
    };
  }
  if (status === 401) {
    return { status, error: 'invalid_client', code: 7000215, description: 'Invalid client secret provided.' };
  }
  return { status, error: 'invalid_request', code: 90014, description: 'The request is not valid.' };
}

export interface EntraErrorBody {
  error: string;
  error_description: string;
  error_codes: number[];
  timestamp: string;
  trace_id: string;
  correlation_id: string;
  error_uri: string;
  suberror?: string;
  claims?: string;
}

/** Entra's error body: the AADSTS code leads the description, trace and correlation ids close it. */
export function errorBody(failure: EntraError, baseUrl: string, req: IncomingMessage): EntraErrorBody {
  const traceId = randomUUID();
  const correlationId = headerValue(req, 'client-request-id') ?? randomUUID();
  const timestamp = new Date()
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  return {
    error: failure.error,
    error_description: `AADSTS${failure.code}: ${failure.description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: [failure.code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `${baseUrl}/error?code=${failure.code}`,
    ...(failure.suberror === undefined ? {} : { suberror: failure.suberror }),
    ...(failure.claims === undefined ? {} : { claims: failure.claims }),
  };
}

/** A token request's failure as Entra sends it: the error body, its trace id as `x-ms-request-id`. */
export function sendTokenError(
  req: IncomingMessage,
  res: ServerResponse,
  failure: EntraError,
  baseUrl: string,
  headers: Record<string, string>,
): void {
  const answer = errorBody(failure, baseUrl, req);
  sendJson(res, failure.status, answer, { ...headers, 'x-ms-request-id': answer.trace_id });
}

/**
 * Failures Entra sends to an on-behalf-of request. msal-node throws InteractionRequiredAuthError for
 * `mfa_required` (suberror basic_action) and `consent_required` (suberror consent_required), ServerError for
 * the others (msal-common `isInteractionRequiredError`).
 */
export function entraPresets(baseUrl: () => string): Record<string, FaultPreset> {
  const preset = (failure: EntraError): FaultPreset => ({
    kind: 'token.obo',
    status: failure.status,
    body: (context: FaultContext) => errorBody(failure, baseUrl(), context.req),
  });
  return {
    mfa_required: preset(mfaRequired(randomUUID())),
    consent_required: preset(consentRequired().failure),
    invalid_assertion: preset({
      status: 400,
      error: 'invalid_grant',
      code: 50013,
      description: 'Assertion failed signature validation. [Reason - The key was not found.]',
    }),
    temporarily_unavailable: preset({
      status: 503,
      error: 'temporarily_unavailable',
      code: 90033,
      description: 'A transient error has occurred. Please try again.',
    }),
  };
}
