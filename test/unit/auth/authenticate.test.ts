import { generateKeyPairSync, sign } from 'node:crypto';

import { describe, expect, test } from '@jest/globals';

import { createAuthenticator } from '../../../shared/auth/authenticate.js';
import type { Env } from '../../../shared/config/settingReader.js';
import type { ErrorCode } from '../../../shared/errors.js';
import {
  API_CLIENT_ID,
  APP_ID_URI,
  base64url,
  FakeJwksEndpoint,
  JWKS_URL,
  leaksTokenMaterial,
  newSigningKey,
  NOW_MS,
  NOW_SECONDS,
  PARTNER_TENANT_ID,
  REALM,
  rejection,
  signCompact,
  signHs256,
  signRaw,
  signToken,
  STRANGER_TENANT_ID,
  TENANT_ID,
  testConfig,
  USER_NAME,
  USER_OID,
  userClaims,
  v1UserClaims,
  v2Issuer,
} from './entraFixture.js';

const entraKey = newSigningKey('entra-key-1');
const attackerKey = newSigningKey('attacker-key');
const MULTI_TENANT: Env = { ENTRA_ALLOWED_TENANTS: `${TENANT_ID} ${PARTNER_TENANT_ID}` };
const ACCEPT_V1: Env = { ENTRA_ACCEPT_V1_TOKENS: 'true' };

function setUp(env: Env = {}) {
  const endpoint = new FakeJwksEndpoint([entraKey]);
  const clock = { now: NOW_MS };
  const authenticator = createAuthenticator(testConfig(env), { fetch: endpoint.fetch, now: () => clock.now });
  return { endpoint, authenticator, clock };
}

const bearer = (token: string) => `Bearer ${token}`;
const good = () => signToken(userClaims(), entraKey);
const publicKeyPem = () => entraKey.publicKey.export({ type: 'spki', format: 'pem' });

interface Attack {
  name: string;
  header: () => string | null;
  status: 400 | 401 | 403;
  code: ErrorCode;
  env?: Env;
}

/** Each bad token or header of issue 3, with the answer it must get. */
const attacks: Attack[] = [
  { name: 'no Authorization header', header: () => null, status: 401, code: 'ERR_TOKEN_MISSING' },
  {
    name: 'a token under the Basic scheme',
    header: () => `Basic ${good()}`,
    status: 401,
    code: 'ERR_TOKEN_MISSING',
  },
  {
    name: 'alg none with an empty signature',
    header: () => bearer(`${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(userClaims())}.`),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'alg none with a signature segment',
    header: () => bearer(`${base64url({ alg: 'none', kid: entraKey.kid })}.${base64url(userClaims())}.c2ln`),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'HS256 signed with the public key PEM as secret (key confusion)',
    header: () => bearer(signHs256(userClaims(), publicKeyPem(), { kid: entraKey.kid })),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'HS256 signed with the public JWK modulus as secret (key confusion)',
    header: () => bearer(signHs256(userClaims(), String(entraKey.publicJwk.n), { kid: entraKey.kid })),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'ES256 under the kid of an RSA key',
    header: () => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const input = `${base64url({ alg: 'ES256', kid: entraKey.kid })}.${base64url(userClaims())}`;
      const signature = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
      return bearer(`${input}.${signature.toString('base64url')}`);
    },
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'a key from another issuer under its own kid',
    header: () => bearer(signToken(userClaims(), attackerKey)),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'a key from another issuer under the kid of an Entra key',
    header: () => bearer(signToken(userClaims(), attackerKey, { kid: entraKey.kid })),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'a kid with path characters',
    header: () => bearer(signToken(userClaims(), attackerKey, { kid: '../../../../etc/passwd' })),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'a kid that is a URL',
    header: () => bearer(signToken(userClaims(), attackerKey, { kid: 'https://attacker.example/keys#k1' })),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'a jku header pointing at the attacker key set',
    header: () => bearer(signToken(userClaims(), attackerKey, { jku: 'https://attacker.example/jwks' })),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'an x5u header pointing at the attacker certificate',
    header: () => bearer(signToken(userClaims(), attackerKey, { x5u: 'https://attacker.example/cert.pem' })),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'an embedded jwk header with the attacker key',
    header: () => bearer(signToken(userClaims(), attackerKey, { jwk: attackerKey.publicJwk })),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'an unknown critical header extension',
    header: () =>
      bearer(signToken(userClaims(), entraKey, { crit: ['urn:example:policy'], 'urn:example:policy': 1 })),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'a critical b64 extension with an unencoded payload',
    header: () => bearer(signToken(userClaims(), entraKey, { crit: ['b64'], b64: false })),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'an expired token',
    header: () => bearer(signToken(userClaims({ exp: NOW_SECONDS - 61 }), entraKey)),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'a token not yet valid',
    header: () => bearer(signToken(userClaims({ nbf: NOW_SECONDS + 61 }), entraKey)),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'a token issued in the future beyond the tolerance',
    header: () => bearer(signToken(userClaims({ iat: NOW_SECONDS + 61 }), entraKey)),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'a token for another API',
    header: () => bearer(signToken(userClaims({ aud: 'api://another-api' }), entraKey)),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'a token for this and another API',
    header: () => bearer(signToken(userClaims({ aud: [API_CLIENT_ID, 'api://another-api'] }), entraKey)),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'a token of another issuer',
    header: () =>
      bearer(signToken(userClaims({ iss: `https://login.attacker.example/${TENANT_ID}/v2.0` }), entraKey)),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'a v1 token when only v2 is accepted',
    header: () => bearer(signToken(v1UserClaims(), entraKey)),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'a v1 issuer with a v2 token version',
    header: () =>
      bearer(signToken(userClaims({ iss: `https://sts.windows.net/${TENANT_ID}/`, ver: '2.0' }), entraKey)),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
    env: ACCEPT_V1,
  },
  {
    name: 'a tenant outside the allow-list',
    header: () =>
      bearer(signToken(userClaims({ tid: STRANGER_TENANT_ID, iss: v2Issuer(STRANGER_TENANT_ID) }), entraKey)),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
    env: MULTI_TENANT,
  },
  {
    name: 'an issuer tenant that is not the tid claim',
    header: () => bearer(signToken(userClaims({ iss: v2Issuer(PARTNER_TENANT_ID) }), entraKey)),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
    env: MULTI_TENANT,
  },
  {
    name: 'a token without oid',
    header: () => bearer(signToken(userClaims({ oid: undefined }), entraKey)),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'a token without tid',
    header: () => bearer(signToken(userClaims({ tid: undefined }), entraKey)),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'scp holding the scope only as a substring',
    header: () => bearer(signToken(userClaims({ scp: 'access_as_user_admin User.Read' }), entraKey)),
    status: 403,
    code: 'ERR_SCOPE_INSUFFICIENT',
  },
  {
    name: 'an app-only token',
    header: () =>
      bearer(signToken(userClaims({ scp: undefined, roles: ['Mail.Read'], idtyp: 'app' }), entraKey)),
    status: 403,
    code: 'ERR_APP_ONLY_TOKEN',
  },
  {
    name: 'two Authorization headers',
    header: () =>
      new Headers([
        ['authorization', bearer(good())],
        ['authorization', bearer(good())],
      ]).get('authorization'),
    status: 400,
    code: 'ERR_AUTHORIZATION_MALFORMED',
  },
  {
    name: 'Bearer with two spaces',
    header: () => `Bearer  ${good()}`,
    status: 400,
    code: 'ERR_AUTHORIZATION_MALFORMED',
  },
  {
    name: 'Bearer with a trailing comma',
    header: () => `${bearer(good())},`,
    status: 400,
    code: 'ERR_AUTHORIZATION_MALFORMED',
  },
  {
    name: 'a 1 MiB header',
    header: () => bearer(`${good()}${'A'.repeat(1024 * 1024)}`),
    status: 400,
    code: 'ERR_AUTHORIZATION_MALFORMED',
  },
  {
    name: 'a payload that is not JSON',
    header: () => bearer(signRaw('this is not JSON', entraKey)),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'a payload that is a JSON array',
    header: () => bearer(signRaw(JSON.stringify([userClaims()]), entraKey)),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'numbers as strings in exp',
    header: () => bearer(signToken(userClaims({ exp: String(NOW_SECONDS + 3600) }), entraKey)),
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'a signature spelled in non-canonical base64url',
    header: () => {
      // A 256-byte signature leaves 4 spare bits in its last character: flipping one keeps the bytes.
      const token = good();
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const last = alphabet[alphabet.indexOf(token.slice(-1)) ^ 1] ?? '';
      const respelled = `${token.slice(0, -1)}${last}`;
      expect(Buffer.from(respelled.split('.')[2] ?? '', 'base64url')).toEqual(
        Buffer.from(token.split('.')[2] ?? '', 'base64url'),
      );
      return bearer(respelled);
    },
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
  {
    name: 'a payload changed after signing',
    header: () => {
      const [header, , signature] = good().split('.');
      return bearer(`${header}.${base64url(userClaims({ oid: STRANGER_TENANT_ID }))}.${signature}`);
    },
    status: 401,
    code: 'ERR_TOKEN_INVALID',
  },
];

const CHALLENGES: Record<number, RegExp> = {
  400: new RegExp(`^Bearer realm="${REALM}", error="invalid_request", error_description="[^"]+"$`),
  401: new RegExp(`^Bearer realm="${REALM}", error="invalid_token", error_description="[^"]+"$`),
  403: new RegExp(
    `^Bearer realm="${REALM}", error="insufficient_scope", error_description="[^"]+", scope="access_as_user"$`,
  ),
};

describe('authenticate refuses', () => {
  test.each(attacks.map((attack) => [attack.name, attack] as const))('%s', async (_name, attack) => {
    const { authenticator, endpoint } = setUp(attack.env);
    const header = attack.header();
    const answer = await rejection(authenticator.authenticate(header));

    expect(answer.status).toBe(attack.status);
    expect(answer.code).toBe(attack.code);
    if (attack.code === 'ERR_TOKEN_MISSING') expect(answer.challenge).toBe(`Bearer realm="${REALM}"`);
    else expect(answer.challenge).toMatch(CHALLENGES[attack.status] ?? /^$/);

    const token = header?.slice('Bearer '.length) ?? '';
    expect(leaksTokenMaterial(answer.text, token.slice(0, 4096))).toBe(false);
    expect(answer.text).not.toContain(USER_OID);
    expect(answer.text).not.toContain(USER_NAME);
    // Only the configured tenant's key set is ever fetched: never a URL taken from a token.
    expect(endpoint.requestedUrls.every((url) => url === JWKS_URL)).toBe(true);
  });
});

describe('authenticate accepts', () => {
  test('a good v2 user token, and resolves the caller it names', async () => {
    const { authenticator } = setUp();
    const token = good();
    await expect(authenticator.authenticate(bearer(token))).resolves.toEqual({
      oid: USER_OID,
      tid: TENANT_ID,
      accountId: `${USER_OID}.${TENANT_ID}`,
      scopes: ['access_as_user'],
      assertion: token,
      expiresAt: NOW_SECONDS + 3600,
    });
  });

  test('the scheme in any case', async () => {
    const { authenticator } = setUp();
    await expect(authenticator.authenticate(`bEARER ${good()}`)).resolves.toMatchObject({ oid: USER_OID });
  });

  test('the App ID URI as audience', async () => {
    const { authenticator } = setUp();
    const token = signToken(userClaims({ aud: APP_ID_URI }), entraKey);
    await expect(authenticator.authenticate(bearer(token))).resolves.toMatchObject({ oid: USER_OID });
  });

  test('a token of an allowed partner tenant, issued by that tenant', async () => {
    const { authenticator } = setUp(MULTI_TENANT);
    const token = signToken(
      userClaims({ tid: PARTNER_TENANT_ID, iss: v2Issuer(PARTNER_TENANT_ID) }),
      entraKey,
    );
    await expect(authenticator.authenticate(bearer(token))).resolves.toMatchObject({
      tid: PARTNER_TENANT_ID,
      accountId: `${USER_OID}.${PARTNER_TENANT_ID}`,
    });
  });

  test('a v1 token when v1 tokens are accepted', async () => {
    const { authenticator } = setUp(ACCEPT_V1);
    const claims = v1UserClaims();
    await expect(authenticator.authenticate(bearer(signToken(claims, entraKey)))).resolves.toMatchObject({
      tid: TENANT_ID,
    });
  });

  test('a good token whatever jku, x5u and jwk headers say, without fetching them', async () => {
    const { authenticator, endpoint } = setUp();
    const token = signToken(userClaims(), entraKey, {
      jku: 'https://attacker.example/jwks',
      x5u: 'https://attacker.example/cert.pem',
      jwk: attackerKey.publicJwk,
    });
    await expect(authenticator.authenticate(bearer(token))).resolves.toMatchObject({ oid: USER_OID });
    expect(endpoint.requestedUrls).toEqual([JWKS_URL]);
  });

  test('a good token without typ, as typ is not required', async () => {
    const { authenticator } = setUp();
    const token = signToken(userClaims(), entraKey, { typ: undefined });
    await expect(authenticator.authenticate(bearer(token))).resolves.toMatchObject({ oid: USER_OID });
  });

  test('tokens from a rolled-over key without a restart, and refuses the retired key', async () => {
    const { authenticator, endpoint, clock } = setUp({ ENTRA_JWKS_REFRESH_COOLDOWN_SECONDS: '1' });
    const oldToken = good();
    await expect(authenticator.authenticate(bearer(oldToken))).resolves.toBeDefined();
    const nextKey = newSigningKey('entra-key-2');
    endpoint.keys = [nextKey];
    clock.now += 1000;
    await expect(authenticator.authenticate(bearer(signToken(userClaims(), nextKey)))).resolves.toBeDefined();
    const answer = await rejection(authenticator.authenticate(bearer(oldToken)));
    expect(answer.status).toBe(401);
    expect(answer.code).toBe('ERR_TOKEN_INVALID');
  });
});

describe('authenticate during a JWKS outage', () => {
  test('still accepts good tokens when keys are cached', async () => {
    const { authenticator, endpoint } = setUp();
    await authenticator.authenticate(bearer(good()));
    endpoint.failure = 'network';
    await expect(authenticator.authenticate(bearer(good()))).resolves.toMatchObject({ oid: USER_OID });
  });

  test('answers 503 with Retry-After and no challenge when no keys were ever fetched', async () => {
    const { authenticator, endpoint } = setUp();
    endpoint.failure = 500;
    const answer = await rejection(authenticator.authenticate(bearer(good())));
    expect(answer.status).toBe(503);
    expect(answer.code).toBe('ERR_SIGNING_KEYS_UNAVAILABLE');
    // The first retry comes soon after a failure (then the waits grow up to the cooldown).
    expect(answer.retryAfter).toBe('1');
    expect(answer.challenge).toBeUndefined();
  });

  test('answers 401, not 503, for a token refused before its key is needed', async () => {
    const { authenticator, endpoint } = setUp();
    endpoint.failure = 'network';
    const answer = await rejection(
      authenticator.authenticate(bearer(signHs256(userClaims(), publicKeyPem(), { kid: entraKey.kid }))),
    );
    expect(answer.status).toBe(401);
    expect(endpoint.requests).toBe(0);
  });
});

describe('signCompact (test helper)', () => {
  test('produces tokens the authenticator accepts', async () => {
    const { authenticator } = setUp();
    const token = signCompact({ alg: 'RS256', kid: entraKey.kid }, JSON.stringify(userClaims()), entraKey);
    await expect(authenticator.authenticate(bearer(token))).resolves.toMatchObject({ oid: USER_OID });
  });
});
