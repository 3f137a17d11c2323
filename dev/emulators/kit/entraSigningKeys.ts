// Entra's access tokens as a resource emulator (Graph, Tasks) checks them: Entra's signing keys fetched over HTTPS
// (again when a token names an unknown kid), the verification, and the problem found, for the service to word.
import type { CryptoKey, JWTPayload } from 'jose';
import { decodeProtectedHeader, errors, importJWK, jwtVerify } from 'jose';

import { isRecord } from '../../../shared/narrow.js';
import { httpsJson } from './httpsClient.js';

/** The header that names the emulator fetching the keys, so that Entra counts them apart from the app's. */
export const SANDBOX_CLIENT_HEADER = 'x-sandbox-client';

export class EntraSigningKeys {
  #keys = new Map<string, CryptoKey>();
  #refreshing: Promise<void> | undefined;

  /** `client` is sent in SANDBOX_CLIENT_HEADER (`graph`, `tasks`): Entra counts its fetches as `keys.<client>`. */
  constructor(
    readonly jwksUrl: string,
    readonly ca: string,
    readonly client: string,
  ) {}

  async get(kid: string): Promise<CryptoKey | undefined> {
    if (!this.#keys.has(kid)) {
      this.#refreshing ??= this.#refresh().finally(() => {
        this.#refreshing = undefined;
      });
      await this.#refreshing;
    }
    return this.#keys.get(kid);
  }

  async #refresh(): Promise<void> {
    const { status, body } = await httpsJson(this.jwksUrl, {
      ca: this.ca,
      headers: { [SANDBOX_CLIENT_HEADER]: this.client },
    });
    if (status !== 200 || !isRecord(body) || !Array.isArray(body.keys)) return;
    const keys = new Map<string, CryptoKey>();
    for (const jwk of body.keys as unknown[]) {
      if (!isRecord(jwk) || typeof jwk.kid !== 'string' || jwk.kty !== 'RSA') continue;
      const key = await importJWK({ kty: 'RSA', n: String(jwk.n), e: String(jwk.e) }, 'RS256');
      if (!(key instanceof Uint8Array)) keys.set(jwk.kid, key);
    }
    this.#keys = keys;
  }
}

/** The token of an `Authorization: Bearer <token>` header, else undefined. */
export function bearerTokenOf(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
}

/** Why a resource refuses a token; each emulator words it in its own service's messages. */
export type TokenProblem =
  'malformed' | 'signature' | 'expired' | 'not-yet-valid' | 'audience' | 'issuer' | 'claims';

/** Resources accept Entra's tokens with 5 minutes of clock skew. */
const CLOCK_SKEW_SECONDS = 300;

/**
 * An Entra access token for a resource, verified against Entra's keys: RS256, one of `audiences`, one of
 * `issuers`, lifetime with skew, an issuer of the token's own `tid`, an `oid`. The claims, or the problem.
 */
export async function verifyEntraToken(
  token: string,
  keys: EntraSigningKeys,
  expected: { audiences: readonly string[]; issuers: readonly string[]; issuerOf: (tid: string) => string[] },
): Promise<{ ok: true; claims: JWTPayload } | { ok: false; problem: TokenProblem }> {
  let kid: string | undefined;
  try {
    kid = decodeProtectedHeader(token).kid;
  } catch {
    return { ok: false, problem: 'malformed' };
  }
  const key = kid === undefined ? undefined : await keys.get(kid);
  if (key === undefined) return { ok: false, problem: 'signature' };
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: ['RS256'],
      audience: [...expected.audiences],
      issuer: [...expected.issuers],
      clockTolerance: CLOCK_SKEW_SECONDS,
    });
    if (
      typeof payload.tid !== 'string' ||
      typeof payload.iss !== 'string' ||
      !expected.issuerOf(payload.tid).includes(payload.iss) ||
      typeof payload.oid !== 'string'
    )
      return { ok: false, problem: 'claims' };
    return { ok: true, claims: payload };
  } catch (error) {
    return { ok: false, problem: problemOf(error) };
  }
}

function problemOf(error: unknown): TokenProblem {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return 'audience';
    if (error.claim === 'iss') return 'issuer';
    if (error.claim === 'nbf') return 'not-yet-valid';
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'signature';
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return 'malformed';
  return 'claims';
}
