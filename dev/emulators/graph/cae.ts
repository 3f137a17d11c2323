// How Graph answers a token after a session revocation (Continuous Access Evaluation): the shared rule
// (kit/caeChallenge.ts) with Graph's own challenge parameters, error code and message.
import type { JWTPayload } from 'jose';

import { type CaeChallenge as KitCaeChallenge, caeChallengeOf } from '../kit/caeChallenge.js';
import type { SessionRevocations } from '../kit/sessionRevocations.js';

export interface CaeChallenge extends KitCaeChallenge {
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
  const challenge = caeChallengeOf(token, revocations, GRAPH_CHALLENGE_PREFIX);
  return challenge === undefined
    ? undefined
    : {
        ...challenge,
        code: 'InvalidAuthenticationToken',
        message:
          'Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp',
      };
}
