import { createHmac, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';

import { expect } from '@jest/globals';
import type { JWK, JWTPayload } from 'jose';

import { type AppConfig, loadConfig } from '../../../shared/config.js';
import type { Env } from '../../../shared/config/settingReader.js';
import { isApiError } from '../../../shared/errors.js';
import { isRecord } from '../../../shared/narrow.js';
import { problemResponse } from '../../../shared/problem.js';

/** Test doubles of Entra ID for the auth tests: keys, a JWKS endpoint behind an injected fetch, tokens. */

export const REALM = 'obo-graph-api';
export const AUTHORITY_HOST = 'https://login.microsoftonline.com';
export const TENANT_ID = '0f3e7a52-6a53-4c43-9a1f-6f1a0b0f2a11';
export const PARTNER_TENANT_ID = '5d1b7c1e-29a4-4e0f-8b47-2b8c1d3e4f50';
export const STRANGER_TENANT_ID = 'a0a0a0a0-b1b1-4c2c-8d3d-e4e4e4e4e4e4';
export const API_CLIENT_ID = '6e2c1d4b-0a8f-4c3e-9b71-2d5f8a9c0e13';
export const APP_ID_URI = `api://${API_CLIENT_ID}`;
/** The SPA whose tokens the API allows (API_ALLOWED_CLIENT_APPS): the `azp` of {@link userClaims}. */
export const SPA_CLIENT_ID = '1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b';
export const USER_OID = '9b8c7d6e-5f4a-4b3c-8d2e-1f0a9b8c7d6e';
export const USER_NAME = 'Adele Vance';
/** Frozen clock for every test: epoch seconds. */
export const NOW_SECONDS = 1_760_000_000;
export const NOW_MS = NOW_SECONDS * 1000;
export const JWKS_URL = `${AUTHORITY_HOST}/${TENANT_ID}/discovery/v2.0/keys`;

const BASE_ENV: Env = {
  ENTRA_TENANT_ID: TENANT_ID,
  API_CLIENT_ID,
  API_ALLOWED_CLIENT_APPS: SPA_CLIENT_ID,
  COSMOS_ENDPOINT: 'https://127.0.0.1:8081',
  TOKEN_CACHE_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
  TOKEN_CLOCK_TOLERANCE_SECONDS: '60',
  ENTRA_JWKS_REFRESH_COOLDOWN_SECONDS: '30',
};

export function testConfig(overrides: Env = {}): AppConfig {
  return loadConfig({ ...BASE_ENV, ...overrides });
}

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public JWK as Entra publishes it (kty, use, kid, n, e). */
  publicJwk: JWK;
}

export function newSigningKey(kid: string): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const { kty, n, e } = publicKey.export({ format: 'jwk' });
  return { kid, privateKey, publicKey, publicJwk: { kty, use: 'sig', kid, n, e } };
}

/** A JWKS endpoint reached through an injected fetch: it counts requests and fails on demand. */
export class FakeJwksEndpoint {
  keys: SigningKey[];
  readonly requestedUrls: string[] = [];
  /**
   * undefined: answer 200; a number: answer that status; 'network': reject like an unreachable host;
   * 'hang': never answer, until the request's signal aborts it.
   */
  failure: number | 'network' | 'hang' | 'invalid-json' | 'no-keys' | undefined;
  /** When set, answers wait for this promise (to hold a fetch in flight). */
  gate: Promise<void> | undefined;

  constructor(keys: SigningKey[]) {
    this.keys = keys;
  }

  get requests(): number {
    return this.requestedUrls.length;
  }

  readonly fetch: typeof fetch = async (input, init) => {
    this.requestedUrls.push(input instanceof Request ? input.url : String(input));
    if (this.gate !== undefined) await this.gate;
    const failure = this.failure;
    if (failure === 'network') throw new TypeError('fetch failed');
    if (failure === 'hang') {
      const signal = init?.signal;
      if (signal === undefined || signal === null) throw new Error('the JWKS request has no timeout signal');
      return new Promise<Response>((_resolve, reject) => {
        signal.addEventListener('abort', () => reject(new DOMException('aborted', 'TimeoutError')), {
          once: true,
        });
      });
    }
    if (typeof failure === 'number') return new Response('{"error":"unavailable"}', { status: failure });
    if (failure === 'invalid-json') return new Response('<html>', { status: 200 });
    const keys = failure === 'no-keys' ? [] : this.keys.map((key) => key.publicJwk);
    return Response.json({ keys });
  };
}

export function v2Issuer(tenantId: string = TENANT_ID): string {
  return `${AUTHORITY_HOST}/${tenantId}/v2.0`;
}

/** Claims of a good Entra v2 user access token for this API; `undefined` removes a claim. */
export function userClaims(overrides: Record<string, unknown> = {}): JWTPayload {
  const claims: Record<string, unknown> = {
    aud: API_CLIENT_ID,
    iss: v2Issuer(),
    iat: NOW_SECONDS - 300,
    nbf: NOW_SECONDS - 300,
    exp: NOW_SECONDS + 3600,
    aio: 'AWQAm/8ZAAAA',
    azp: SPA_CLIENT_ID,
    azpacr: '0',
    name: USER_NAME,
    oid: USER_OID,
    preferred_username: 'adelev@contoso.example',
    rh: '0.AAAA',
    scp: 'access_as_user',
    sid: '00a1b2c3-d4e5-4f60-8a1b-2c3d4e5f6a7b',
    sub: 'b3X1k9Qw',
    tid: TENANT_ID,
    uti: 'AbCdEfGh',
    ver: '2.0',
    ...overrides,
  };
  for (const [name, value] of Object.entries(claims)) {
    if (value === undefined) delete claims[name];
  }
  return claims;
}

/** Claims of a good Entra v1 user access token for this API: sts.windows.net issuer, `appid` for the client. */
export function v1UserClaims(overrides: Record<string, unknown> = {}): JWTPayload {
  return userClaims({
    iss: `https://sts.windows.net/${TENANT_ID}/`,
    ver: '1.0',
    aud: APP_ID_URI,
    azp: undefined,
    azpacr: undefined,
    appid: SPA_CLIENT_ID,
    appidacr: '0',
    ...overrides,
  });
}

/**
 * A compact JWS signed with RS256 over any header and payload bytes, by hand: jose's signers refuse
 * what the attacks need (unknown `crit`, an `alg` that does not match the key).
 */
export function signCompact(
  header: Record<string, unknown>,
  payload: Uint8Array | string,
  key: SigningKey,
): string {
  const signingInput = `${base64url(header)}.${Buffer.from(payload).toString('base64url')}`;
  return `${signingInput}.${sign('sha256', Buffer.from(signingInput), key.privateKey).toString('base64url')}`;
}

/** Signs any payload with the key; header parameters are added to (or override) alg, typ and kid. */
export function signRaw(
  payload: Uint8Array | string,
  key: SigningKey,
  header: Record<string, unknown> = {},
): string {
  return signCompact({ alg: 'RS256', typ: 'JWT', kid: key.kid, ...header }, payload, key);
}

export function signToken(claims: JWTPayload, key: SigningKey, header: Record<string, unknown> = {}): string {
  return signRaw(JSON.stringify(claims), key, header);
}

export function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** HS256 "signed" with the given secret: the key-confusion attack uses the RSA public key as secret. */
export function signHs256(
  claims: JWTPayload,
  secret: string | Buffer,
  header: Record<string, unknown>,
): string {
  const signingInput = `${base64url({ alg: 'HS256', typ: 'JWT', ...header })}.${base64url(claims)}`;
  return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
}

/** The HTTP answer an error would get, as the functions would send it. */
export interface Answer {
  status: number;
  challenge: string | undefined;
  code: string;
  retryAfter: string | undefined;
  text: string;
}

export function answerFor(error: unknown): Answer {
  expect(isApiError(error)).toBe(true);
  const response = problemResponse(error, REALM);
  const headers = new Headers(response.headers);
  const body: unknown = response.jsonBody;
  const code = isRecord(body) ? body.code : undefined;
  return {
    status: response.status ?? 0,
    challenge: headers.get('WWW-Authenticate') ?? undefined,
    code: typeof code === 'string' ? code : '',
    retryAfter: headers.get('Retry-After') ?? undefined,
    text: JSON.stringify({ headers: Object.fromEntries(headers), body }),
  };
}

/** The answer to a rejected promise; fails the test when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Answer> {
  try {
    await promise;
  } catch (error) {
    return answerFor(error);
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/** No 16-character run of the token may appear in an answer (it would leak token material). */
export function leaksTokenMaterial(text: string, token: string): boolean {
  const window = 16;
  for (let start = 0; start + window <= token.length; start += 1) {
    if (text.includes(token.slice(start, start + window))) return true;
  }
  return false;
}
