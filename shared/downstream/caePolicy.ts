/**
 * What to do when a resource rejects a delegated token, as pure decisions (Continuous Access
 * Evaluation). A resource that revokes a token answers 401 with a claims challenge; the cached token is
 * then worthless everywhere, and one exchange with those claims may get a token that satisfies them.
 * Only one: if that fails too, the caller (the SPA) must get a new token itself. Never a loop.
 */

import { ApiError } from '../errors.js';
import { TOKEN_REJECTED_CODES } from './resourceClient.js';

/** The try that failed: the first call (a cached or fresh token), or the call after the claims exchange. */
export type DownstreamAttempt = 'first' | 'after-claims-exchange';

export type RejectionDecision =
  /** Drop the cached token for (assertion, scopes), exchange once more with `claims`, skipping the cache. */
  | { action: 'evict-and-exchange-with-claims'; claims: string }
  /** Drop the cached token, then answer `error` (a retry by the SPA exchanges anew). */
  | { action: 'evict-and-fail'; error: ApiError }
  /** Nothing to do with the cache: answer `error` (as thrown). */
  | { action: 'fail'; error: unknown };

/** The decision after a downstream call failed with `error` on `attempt`. */
export function decideOnDownstreamFailure(error: unknown, attempt: DownstreamAttempt): RejectionDecision {
  if (!(error instanceof ApiError)) return { action: 'fail', error };
  if (!TOKEN_REJECTED_CODES.includes(error.code)) return { action: 'fail', error };
  const claims = error.details.claims;
  if (claims === undefined) {
    // A 401 with no claims to satisfy (a token the resource cannot read): exchanging anew is all that can help.
    return { action: 'evict-and-fail', error };
  }
  if (attempt === 'first') return { action: 'evict-and-exchange-with-claims', claims };
  // The token obtained with the claims was refused again: only the SPA can satisfy them now.
  return { action: 'evict-and-fail', error: claimsChallengeForCaller(claims, error) };
}

/**
 * What the caller gets when the exchange with the resource's claims failed: Entra's own claims
 * challenge as it is; an Entra answer that needs interaction but brings no claims (AADSTS50173, a
 * token issued before the revocation) becomes a challenge with the resource's claims, which a new token
 * for this API obtained with them satisfies. Other failures (Entra down, the app misconfigured) stay.
 */
export function afterClaimsExchangeFailed(exchangeError: unknown, resourceClaims: string): unknown {
  if (!(exchangeError instanceof ApiError)) return exchangeError;
  if (exchangeError.code === 'ERR_CLAIMS_CHALLENGE') return exchangeError;
  if (exchangeError.code === 'ERR_ASSERTION_REJECTED')
    return claimsChallengeForCaller(resourceClaims, exchangeError);
  return exchangeError;
}

function claimsChallengeForCaller(claims: string, cause: ApiError): ApiError {
  return new ApiError(
    'ERR_CLAIMS_CHALLENGE',
    'The access token no longer satisfies the resource (for example the session was revoked); acquire a new one with these claims.',
    {
      cause,
      claims,
      description: 'the token must be reissued with the claims',
      ...(cause.details.upstreamCode === undefined ? {} : { upstreamCode: cause.details.upstreamCode }),
    },
  );
}
