// The on-behalf-of grant's assertion, as Entra checks it: signature against the tenant's keys, lifetime with
// Entra's skew, issuer and `tid` of the tenant, one audience (the API), a delegated user token (`scp`, `oid`),
// not issued before the user's sessions were revoked. AADSTS50013 stands for every content failure.
import type { JWTPayload } from 'jose';
import { createLocalJWKSet, jwtVerify } from 'jose';

import type { EntraError, Outcome } from './errors.js';
import { fail, jwtProblemOf, malformedJwt } from './errors.js';
import { CLOCK_SKEW_SECONDS } from './federation.js';
import { API_APP_ID_URI, API_CLIENT_ID } from './fixtures.js';
import type { GrantContext } from './grants.js';

/** The assertion's claims when it is a valid user token for the API from `tenantId`, else Entra's failure. */
export async function validateAssertion(
  assertion: string,
  tenantId: string,
  context: GrantContext,
): Promise<Outcome<JWTPayload>> {
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(assertion, createLocalJWKSet(context.keys.jwks()), {
      algorithms: ['RS256'],
      clockTolerance: CLOCK_SKEW_SECONDS,
      requiredClaims: ['exp', 'nbf', 'iat'],
    }));
  } catch (error) {
    return { ok: false, failure: assertionFailure(error) };
  }
  const issuers = [context.issuerOf(tenantId), `https://sts.windows.net/${tenantId}/`];
  if (claims.tid !== tenantId || typeof claims.iss !== 'string' || !issuers.includes(claims.iss)) {
    return invalidAssertion("Assertion failed validation: its issuer or 'tid' is not this tenant.");
  }
  // Entra's v2 access tokens carry one audience, a string: an array is not a token Entra issued.
  if (typeof claims.aud !== 'string') {
    return invalidAssertion("Assertion failed validation of the 'aud' claim: it must be a single string.");
  }
  if (claims.aud !== API_CLIENT_ID && claims.aud !== API_APP_ID_URI) {
    return invalidAssertion(
      `Assertion audience does not match the Client app presenting the assertion. The audience in the assertion was '${claims.aud}' and the expected audience is '${API_CLIENT_ID}' or one of the Application Id URIs of this web API.`,
    );
  }
  if (typeof claims.scp !== 'string' || claims.scp.trim() === '') {
    return invalidAssertion(
      "Assertion is not a delegated user token: it has no 'scp' claim. An app-only token cannot be used on behalf of a user.",
    );
  }
  if (typeof claims.oid !== 'string' || claims.oid === '') {
    return invalidAssertion("Assertion is missing the 'oid' claim.");
  }
  return { ok: true, value: claims };
}

/** AADSTS50173: the assertion was issued before the user's sessions were revoked (msal-node: interaction required). */
export function revokedGrant(issuedAt: number, validFrom: number): { ok: false; failure: EntraError } {
  return {
    ok: false,
    failure: {
      status: 400,
      error: 'invalid_grant',
      code: 50173,
      description: `The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '${new Date(issuedAt * 1000).toISOString()}' and the TokensValidFrom date (before which tokens are not valid) for this user is '${new Date(validFrom * 1000).toISOString()}'.`,
      suberror: 'bad_token',
    },
  };
}

/** AADSTS50013 stands for every assertion-content failure. */
function invalidAssertion(description: string): { ok: false; failure: EntraError } {
  return fail(400, 'invalid_grant', 50013, description);
}

function assertionFailure(error: unknown): EntraError {
  const problem = jwtProblemOf(error);
  if (
    problem.kind === 'expired' ||
    (problem.kind === 'claim' && problem.claim === 'nbf' && problem.reason === 'check_failed')
  ) {
    return fail(
      400,
      'invalid_grant',
      500133,
      `Assertion is not within its valid time range. Ensure that the access token is not expired before using it for user assertion, or request a new token. Current time: ${new Date().toISOString()}.`,
    ).failure;
  }
  if (problem.kind === 'signature') {
    return invalidAssertion(`Assertion failed signature validation. [Reason - ${problem.reason}]`).failure;
  }
  if (problem.kind === 'claim') {
    return invalidAssertion(`Assertion failed validation of the '${problem.claim}' claim.`).failure;
  }
  return malformedJwt().failure;
}
