import { AuthError, InteractionRequiredAuthError, ServerError } from '@azure/msal-node';

import { ApiError } from '../errors.js';
import { retryAfterSeconds } from '../retry.js';

/** AADSTS codes that mean the user (or an admin) has not consented to what the API asks for. */
const CONSENT_CODES = new Set(['65001', '65004', '65005']);
/** AADSTS codes that reject the incoming assertion itself (bad, expired or revoked). */
const ASSERTION_CODES = new Set([
  '50013',
  '500133',
  '50132',
  '50173',
  '50089',
  '700082',
  '50034',
  '50057',
  '50053',
]);
/** AADSTS codes and OAuth errors that say this API's own registration or credential is wrong. */
const APP_CODES = new Set(['7000215', '7000222', '700016', '700024', '700027', '50049', '90002']);
const APP_ERRORS = new Set(['invalid_client', 'unauthorized_client']);
/** AADSTS codes for a Conditional Access block with no claims to satisfy: retrying with a new token cannot help. */
const BLOCKED_CODES = new Set(['53003', '53000', '53001', '53002', '530032', '50105']);

/** The token endpoint's last HTTP answer: msal-node does not put the status on its errors for OBO. */
export interface EntraResponseHint {
  status?: number;
  retryAfter?: string | null;
}

/** Maps what msal-node threw for an OBO exchange to the API's error, without token material. */
export function mapEntraError(error: unknown, hint: EntraResponseHint = {}, nowMs = Date.now()): ApiError {
  if (error instanceof ApiError) return error;
  const retryAfter = retryAfterSeconds(hint.retryAfter ?? null, nowMs);
  if (!(error instanceof AuthError)) {
    return new ApiError('ERR_IDENTITY_PROVIDER_UNAVAILABLE', 'The identity provider could not be reached.', {
      cause: error,
      retryAfterSeconds: retryAfter,
    });
  }
  const aadsts = aadstsCode(error);
  const upstreamCode = aadsts === undefined ? error.errorCode : `AADSTS${aadsts}`;
  const subError = error.subError;

  if (error instanceof InteractionRequiredAuthError && error.claims !== '' && error.claims !== undefined) {
    return new ApiError(
      'ERR_CLAIMS_CHALLENGE',
      'The identity provider requires additional claims (for example MFA).',
      {
        cause: error,
        claims: error.claims,
        upstreamCode,
        description: 'additional claims are required',
      },
    );
  }
  if (
    subError === 'consent_required' ||
    error.errorCode === 'consent_required' ||
    (aadsts !== undefined && CONSENT_CODES.has(aadsts))
  ) {
    return new ApiError(
      'ERR_CONSENT_REQUIRED',
      'The user or an administrator must consent to the permissions this API requests.',
      {
        cause: error,
        upstreamCode,
      },
    );
  }
  if (APP_ERRORS.has(error.errorCode) || (aadsts !== undefined && APP_CODES.has(aadsts))) {
    return new ApiError(
      'ERR_IDENTITY_PROVIDER_REJECTED_APP',
      "The identity provider rejected this API's credentials.",
      {
        cause: error,
        upstreamCode,
      },
    );
  }
  if (aadsts !== undefined && BLOCKED_CODES.has(aadsts)) {
    return new ApiError(
      'ERR_ACCESS_BLOCKED',
      'A Conditional Access policy blocks this access for the user.',
      {
        cause: error,
        upstreamCode,
      },
    );
  }
  const status = (error instanceof ServerError ? error.status : undefined) ?? hint.status;
  if (
    (status !== undefined && status >= 500) ||
    error.errorCode === 'temporarily_unavailable' ||
    isNetworkError(error)
  ) {
    return new ApiError('ERR_IDENTITY_PROVIDER_UNAVAILABLE', 'The identity provider is unavailable.', {
      cause: error,
      upstreamCode,
      retryAfterSeconds: retryAfter,
    });
  }
  if (
    error instanceof InteractionRequiredAuthError ||
    error.errorCode === 'invalid_grant' ||
    (aadsts !== undefined && ASSERTION_CODES.has(aadsts))
  ) {
    return new ApiError(
      'ERR_ASSERTION_REJECTED',
      'The identity provider rejected the access token for the on-behalf-of exchange.',
      {
        cause: error,
        upstreamCode,
        description: 'the token was rejected by the identity provider',
      },
    );
  }
  return new ApiError('ERR_IDENTITY_PROVIDER_UNAVAILABLE', 'The identity provider answered unexpectedly.', {
    cause: error,
    upstreamCode,
    retryAfterSeconds: retryAfter,
  });
}

function aadstsCode(error: AuthError): string | undefined {
  // Typed as a string, but msal-node copies Entra's `error_codes[0]`, a JSON number.
  const errorNo: unknown = 'errorNo' in error ? error.errorNo : undefined;
  if ((typeof errorNo === 'number' || typeof errorNo === 'string') && /^\d+$/.test(String(errorNo)))
    return String(errorNo);
  return /AADSTS(\d+)/.exec(error.errorMessage)?.[1];
}

function isNetworkError(error: AuthError): boolean {
  return /network|timeout|timed_out|endpoints_resolution|unreachable/i.test(error.errorCode);
}
