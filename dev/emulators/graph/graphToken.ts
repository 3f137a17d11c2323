// The Graph emulator's token checks: Entra's signing keys fetched over HTTPS, and a Graph access token verified
// against them with Graph's audiences, issuers and clock skew, refused with Graph's own messages.
import type { CryptoKey, JWTPayload } from 'jose';
import { decodeProtectedHeader, errors, importJWK, jwtVerify } from 'jose';

import { isRecord } from '../../../shared/narrow.js';
import { httpsJson } from '../kit/httpsClient.js';

/** Sent with the emulator's own JWKS requests so that Entra counts them apart from the app's. */
export const GRAPH_JWKS_CLIENT_HEADER = { 'x-sandbox-client': 'graph' } as const;

const GRAPH_AUDIENCES = [
  'https://graph.microsoft.com',
  'https://graph.microsoft.com/',
  '00000003-0000-0000-c000-000000000000',
];
const CLOCK_SKEW_SECONDS = 300;

/** The token's claims, or Graph's message for why it is refused. */
export async function verifyGraphToken(
  token: string,
  keys: EntraSigningKeys,
  tenantIds: readonly string[],
): Promise<JWTPayload | string> {
  let kid: string | undefined;
  try {
    kid = decodeProtectedHeader(token).kid;
  } catch {
    return 'CompactToken parsing failed with error code: 80049217';
  }
  const key = kid === undefined ? undefined : await keys.get(kid);
  if (key === undefined) return 'Access token validation failure. Invalid signature.';
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: ['RS256'],
      audience: GRAPH_AUDIENCES,
      issuer: tenantIds.map((tenantId) => `https://sts.windows.net/${tenantId}/`),
      clockTolerance: CLOCK_SKEW_SECONDS,
    });
    if (
      typeof payload.tid !== 'string' ||
      payload.iss !== `https://sts.windows.net/${payload.tid}/` ||
      typeof payload.oid !== 'string'
    )
      return 'Access token validation failure.';
    return payload;
  } catch (error) {
    if (error instanceof errors.JWTExpired) return 'Lifetime validation failed, the token is expired.';
    if (error instanceof errors.JWTClaimValidationFailed) {
      if (error.claim === 'aud') return 'Access token validation failure. Invalid audience.';
      if (error.claim === 'iss') return 'Access token validation failure. Invalid issuer.';
      if (error.claim === 'nbf') return 'Lifetime validation failed, the token is not yet valid.';
    }
    if (error instanceof errors.JWSSignatureVerificationFailed)
      return 'Access token validation failure. Invalid signature.';
    return 'Access token validation failure.';
  }
}

/** Entra's signing keys fetched over HTTPS, fetched again when a token names an unknown kid. */
export class EntraSigningKeys {
  #keys = new Map<string, CryptoKey>();
  #refreshing: Promise<void> | undefined;

  constructor(
    readonly jwksUrl: string,
    readonly ca: string,
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
      headers: GRAPH_JWKS_CLIENT_HEADER,
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
