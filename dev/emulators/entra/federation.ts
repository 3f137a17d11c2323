// Workload identity federation: a client assertion checked against the app's federated identity credentials.
import type { JSONWebKeySet, JWTPayload } from 'jose';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';

import type { EntraError, Failed, Outcome } from './errors.js';
import { fail, jwtProblemOf, malformedJwt } from './errors.js';
import { API_CLIENT_ID } from './fixtures.js';

/** Entra's tolerance for clock skew when it validates an assertion. */
export const CLOCK_SKEW_SECONDS = 300;

/** A federated identity credential of the API app registration, matched exactly (case-sensitive) as Entra does. */
export interface FederatedIdentityCredential {
  name: string;
  issuer: string;
  subject: string;
  audiences: readonly string[];
}

const FEDERATION_HELP =
  'Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation';

function invalidClient(code: number, description: string): Failed {
  return fail(401, 'invalid_client', code, description);
}

/**
 * Authenticates the API with a client assertion as Entra does. The API app has no certificate, so an assertion
 * it signed itself (`iss` = `sub` = client id) names an unknown key. Any other assertion must match a federated
 * identity credential exactly (issuer, then subject, then audience, case-sensitive) and verify: RS256 against the
 * issuer's keys (the emulator's own JWKS: the only issuer it trusts is itself), `exp` required, 5-minute skew.
 */
export async function verifyClientAssertion(
  assertion: string,
  credentials: readonly FederatedIdentityCredential[],
  issuerKeys: JSONWebKeySet,
): Promise<Outcome<FederatedIdentityCredential>> {
  let claims: JWTPayload;
  try {
    claims = decodeJwt(assertion);
    decodeProtectedHeader(assertion);
  } catch {
    return malformedJwt();
  }
  if (claims.iss === API_CLIENT_ID && claims.sub === API_CLIENT_ID) {
    return invalidClient(
      700027,
      `Client assertion contains an invalid signature. [Reason - The key was not found. Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${API_CLIENT_ID}'.]`,
    );
  }
  const byIssuer = credentials.filter((credential) => credential.issuer === claims.iss);
  if (byIssuer.length === 0) {
    return invalidClient(
      700211,
      `No matching federated identity record found for presented assertion issuer '${String(claims.iss)}'. ${FEDERATION_HELP}`,
    );
  }
  const bySubject = byIssuer.filter((credential) => credential.subject === claims.sub);
  if (bySubject.length === 0) {
    return invalidClient(
      700213,
      `No matching federated identity record found for presented assertion subject '${String(claims.sub)}'. ${FEDERATION_HELP}`,
    );
  }
  // One audience: a string, or a one-element array as some issuers (Kubernetes) send it.
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  const audience = audiences.length === 1 ? audiences[0] : undefined;
  const credential = bySubject.find((c) => audience !== undefined && c.audiences.includes(audience));
  if (credential === undefined) {
    return invalidClient(
      700212,
      `No matching federated identity record found for presented assertion audience '${audiences.map(String).join(',')}'. ${FEDERATION_HELP}`,
    );
  }
  try {
    await jwtVerify(assertion, createLocalJWKSet(issuerKeys), {
      algorithms: ['RS256'],
      clockTolerance: CLOCK_SKEW_SECONDS,
      requiredClaims: ['exp'],
    });
  } catch (error) {
    return { ok: false, failure: clientAssertionFailure(error, claims) };
  }
  return { ok: true, value: credential };
}

function clientAssertionFailure(error: unknown, claims: JWTPayload): EntraError {
  const problem = jwtProblemOf(error);
  if (problem.kind === 'expired' || (problem.kind === 'claim' && ['nbf', 'exp'].includes(problem.claim))) {
    const time = (claim: unknown): string =>
      typeof claim === 'number' ? new Date(claim * 1000).toISOString() : 'none';
    return invalidClient(
      700024,
      `Client assertion is not within its valid time range. Current time: ${new Date().toISOString()}, assertion valid from ${time(claims.nbf)}, expiry time of assertion ${time(claims.exp)}.`,
    ).failure;
  }
  if (problem.kind === 'signature') {
    return invalidClient(
      700027,
      `Client assertion contains an invalid signature. [Reason - ${problem.reason}]`,
    ).failure;
  }
  return malformedJwt().failure;
}
