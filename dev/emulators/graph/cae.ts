// How Graph answers a token after a session revocation (Continuous Access Evaluation): a token from a
// client that declared `cp1` (`xms_cc`) and was issued before the revocation gets 401 with a claims
// challenge asking for a token issued after it; other tokens live out their short lifetime.
import type { JWTPayload } from 'jose';

import type { SessionRevocations } from '../kit/sessionRevocations.js';

export interface CaeChallenge {
  /** The claims JSON the client must satisfy (sent base64-encoded in WWW-Authenticate). */
  claims: string;
  wwwAuthenticate: string;
  code: string;
  message: string;
}

/** Graph's own `WWW-Authenticate` parameters, which every 401 of it carries. */
export const GRAPH_CHALLENGE_PREFIX =
  'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"';

export function caeChallengeFor(
  token: JWTPayload,
  revocations: SessionRevocations,
): CaeChallenge | undefined {
  if (!declaresCp1(token) || typeof token.tid !== 'string' || typeof token.oid !== 'string') return undefined;
  const issuedAt = typeof token.iat === 'number' ? token.iat : 0;
  if (!revocations.predates(token.tid, token.oid, issuedAt)) return undefined;
  const validFrom = revocations.validFrom(token.tid, token.oid) ?? issuedAt + 1;
  const claims = JSON.stringify({ access_token: { nbf: { essential: true, value: String(validFrom) } } });
  return {
    claims,
    wwwAuthenticate: `${GRAPH_CHALLENGE_PREFIX}, error="insufficient_claims", claims="${Buffer.from(claims).toString('base64')}"`,
    code: 'InvalidAuthenticationToken',
    message:
      'Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp',
  };
}

function declaresCp1(token: JWTPayload): boolean {
  const capabilities = token.xms_cc;
  return Array.isArray(capabilities) && capabilities.includes('cp1');
}
