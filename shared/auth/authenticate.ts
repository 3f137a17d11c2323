import { type JWTPayload, jwtVerify, type JWTVerifyOptions } from 'jose';

import type { AppConfig } from '../config.js';
import { assertCompactJws, parseBearerToken } from './bearer.js';
import type { CallerAccount } from './caller.js';
import { callerFromClaims, REQUIRED_CLAIMS, tokenPolicyFrom } from './claims.js';
import type { RouteAccess } from './routeAccess.js';
import { createSigningKeys, jwksUriOf } from './signingKeys.js';
import { verificationFailure } from './tokenErrors.js';

export interface Authenticator {
  /**
   * The caller named by a valid `Authorization: Bearer` access token. Rejects with an ApiError only:
   * ERR_TOKEN_MISSING, ERR_AUTHORIZATION_MALFORMED, ERR_TOKEN_INVALID, ERR_SCOPE_INSUFFICIENT,
   * ERR_APP_ONLY_TOKEN, ERR_CLIENT_APP_NOT_ALLOWED, ERR_ROLE_REQUIRED or ERR_SIGNING_KEYS_UNAVAILABLE.
   * `access` is what the route requires beyond the API's scope.
   */
  authenticate(authorization: string | null, access?: RouteAccess): Promise<CallerAccount>;
}

export interface AuthenticatorDeps {
  /** For the JWKS endpoint; the global fetch by default. */
  fetch?: typeof fetch;
  /** Epoch milliseconds; Date.now by default. */
  now?: () => number;
}

/**
 * One per instance: it owns the signing key cache. Keys come from the configured tenant's JWKS
 * endpoint, also for multi-tenant apps, since Entra signs every tenant's tokens with the same keys.
 */
export function createAuthenticator(config: AppConfig, deps: AuthenticatorDeps = {}): Authenticator {
  const now = deps.now ?? (() => Date.now());
  const policy = tokenPolicyFrom(config);
  const signingKeys = createSigningKeys({
    jwksUri: jwksUriOf(policy.authorityHost, config.entra.tenantId),
    fetch: deps.fetch ?? fetch,
    now,
    refreshCooldownMs: config.entra.jwksRefreshCooldownSeconds * 1000,
  });
  const pinned = {
    algorithms: ['RS256'],
    issuer: [...policy.issuers],
    audience: [...policy.audiences],
    clockTolerance: policy.clockToleranceSeconds,
    requiredClaims: [...REQUIRED_CLAIMS],
  } satisfies JWTVerifyOptions;

  return {
    async authenticate(authorization, access) {
      const token = parseBearerToken(authorization);
      assertCompactJws(token);
      const nowMs = now();
      let claims: JWTPayload;
      try {
        ({ payload: claims } = await jwtVerify(token, signingKeys.getKey, {
          ...pinned,
          currentDate: new Date(nowMs),
        }));
      } catch (error) {
        throw verificationFailure(error);
      }
      return callerFromClaims(claims, token, policy, Math.floor(nowMs / 1000), access);
    },
  };
}
