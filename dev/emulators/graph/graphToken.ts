// The Graph emulator's token checks: a Graph access token verified against Entra's keys (kit/entraSigningKeys.ts)
// with Graph's audiences and issuers, refused with Graph's own messages.
import type { JWTPayload } from 'jose';

import { type EntraSigningKeys, type TokenProblem, verifyEntraToken } from '../kit/entraSigningKeys.js';

const GRAPH_AUDIENCES = [
  'https://graph.microsoft.com',
  'https://graph.microsoft.com/',
  '00000003-0000-0000-c000-000000000000',
];

const MESSAGES: Record<TokenProblem, string> = {
  malformed: 'CompactToken parsing failed with error code: 80049217',
  signature: 'Access token validation failure. Invalid signature.',
  expired: 'Lifetime validation failed, the token is expired.',
  'not-yet-valid': 'Lifetime validation failed, the token is not yet valid.',
  audience: 'Access token validation failure. Invalid audience.',
  issuer: 'Access token validation failure. Invalid issuer.',
  claims: 'Access token validation failure.',
};

/** The token's claims, or Graph's message for why it is refused. */
export async function verifyGraphToken(
  token: string,
  keys: EntraSigningKeys,
  tenantIds: readonly string[],
  /** This Graph's own resource URI besides the public cloud's (its origin, as a national cloud's Graph has). */
  ownResource?: string,
): Promise<JWTPayload | string> {
  const verified = await verifyEntraToken(token, keys, {
    audiences: ownResource === undefined ? GRAPH_AUDIENCES : [...GRAPH_AUDIENCES, ownResource],
    // Graph's tokens are v1 tokens: the issuer is sts.windows.net.
    issuers: tenantIds.map((tenantId) => `https://sts.windows.net/${tenantId}/`),
    issuerOf: (tid) => [`https://sts.windows.net/${tid}/`],
  });
  return verified.ok ? verified.claims : MESSAGES[verified.problem];
}
