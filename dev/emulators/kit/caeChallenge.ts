// How a resource answers a token after a session revocation (Continuous Access Evaluation), shared by the Graph
// and Tasks emulators: a token from a client that declared `cp1` (`xms_cc`) and was issued before the revocation
// gets 401 with a claims challenge asking for a token issued after it; other tokens live out their lifetime.
import type { JWTPayload } from 'jose';

import type { SessionRevocations } from './sessionRevocations.js';

export interface CaeChallenge {
  /** The claims JSON the client must satisfy (sent base64-encoded in WWW-Authenticate). */
  claims: string;
  wwwAuthenticate: string;
}

/**
 * The challenge for a revoked user's CAE token, else undefined. `challengePrefix` is the resource's own
 * `WWW-Authenticate` parameters (`Bearer realm="", authorization_uri="...", client_id="..."`).
 */
export function caeChallengeOf(
  token: JWTPayload,
  revocations: SessionRevocations,
  challengePrefix: string,
): CaeChallenge | undefined {
  if (!declaresCp1(token) || typeof token.tid !== 'string' || typeof token.oid !== 'string') return undefined;
  const issuedAt = typeof token.iat === 'number' ? token.iat : 0;
  if (!revocations.predates(token.tid, token.oid, issuedAt)) return undefined;
  const validFrom = revocations.validFrom(token.tid, token.oid) ?? issuedAt + 1;
  const claims = JSON.stringify({ access_token: { nbf: { essential: true, value: String(validFrom) } } });
  return {
    claims,
    wwwAuthenticate: `${challengePrefix}, error="insufficient_claims", claims="${Buffer.from(claims).toString('base64')}"`,
  };
}

function declaresCp1(token: JWTPayload): boolean {
  const capabilities = token.xms_cc;
  return Array.isArray(capabilities) && capabilities.includes('cp1');
}
