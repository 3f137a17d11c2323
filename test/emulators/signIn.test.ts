// The Entra emulator's sign-in rules for a SPA, without a server: authorize checks, PKCE, code and refresh grants.
import { createHash } from 'node:crypto';

import { describe, expect, test } from '@jest/globals';

import {
  type ApiResource,
  authorizationResponseUrl,
  claimsRequireMfa,
  parseAuthorizationRequest,
  postLogoutRedirect,
  type SpaRegistration,
} from '../../dev/emulators/entra/signInAuthorize.js';
import {
  type AuthorizationCodeRecord,
  redeemAuthorizationCode,
  redeemRefreshToken,
  type RefreshTokenRecord,
  verifyPkce,
} from '../../dev/emulators/entra/signInGrants.js';

const spa: SpaRegistration = {
  clientId: 'spa-client',
  displayName: 'SPA',
  redirectUris: ['http://localhost:7080/'],
};
const api: ApiResource = {
  clientId: 'api-client',
  appIdUri: 'api://api-client',
  displayName: 'API',
  scopes: ['access_as_user'],
};
const verifier = 'v'.repeat(43);
const challenge = createHash('sha256').update(verifier).digest('base64url');
const origin = 'http://localhost:7080';
const now = 1_800_000_000;

function authorize(overrides: Record<string, string | undefined> = {}) {
  const fields: Record<string, string | undefined> = {
    client_id: spa.clientId,
    redirect_uri: spa.redirectUris[0],
    response_type: 'code',
    response_mode: 'fragment',
    scope: 'api://api-client/access_as_user openid profile offline_access',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 's1',
    nonce: 'n1',
    ...overrides,
  };
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) params.set(name, value);
  return parseAuthorizationRequest(params, spa, api);
}

function codeRecord(overrides: Partial<AuthorizationCodeRecord> = {}): AuthorizationCodeRecord {
  return {
    userName: 'alice',
    clientId: spa.clientId,
    apiScopes: ['access_as_user'],
    oidcScopes: ['openid', 'offline_access'],
    amr: ['pwd'],
    redirectUri: 'http://localhost:7080/',
    codeChallenge: challenge,
    expiresAt: now + 600,
    redeemed: false,
    ...overrides,
  };
}

function codeForm(overrides: Record<string, string | undefined> = {}): URLSearchParams {
  const fields: Record<string, string | undefined> = {
    client_id: spa.clientId,
    grant_type: 'authorization_code',
    code: '1.Acode',
    redirect_uri: 'http://localhost:7080/',
    code_verifier: verifier,
    ...overrides,
  };
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) form.set(name, value);
  return form;
}

const codeOf = (outcome: { ok: boolean; failure?: { code: number } }): number | undefined =>
  outcome.failure?.code;

describe('authorize', () => {
  test('accepts what msal-browser sends and splits the scopes', () => {
    const parsed = authorize();
    expect(parsed).toMatchObject({
      ok: true,
      value: {
        apiScopes: ['access_as_user'],
        oidcScopes: ['openid', 'profile', 'offline_access'],
        responseMode: 'fragment',
        state: 's1',
        nonce: 'n1',
      },
    });
  });

  test.each([
    ['an unknown client', { client_id: 'other' }, 700016],
    ['an unregistered redirect URI', { redirect_uri: 'http://localhost:9999/' }, 50011],
  ])('shows an error page, never a redirect, for %s', (_name, overrides, code) => {
    expect(authorize(overrides)).toMatchObject({ ok: false, shown: true, failure: { code } });
  });

  test.each([
    ['no PKCE', { code_challenge: undefined, code_challenge_method: undefined }, 9002325],
    ['PKCE plain', { code_challenge_method: 'plain' }, 9002325],
    ['implicit flow', { response_type: 'token' }, 70005],
    ['a scope of another resource', { scope: 'https://graph.microsoft.com/Mail.Read openid' }, 70011],
    ['only OIDC scopes', { scope: 'openid profile' }, 70011],
    ['form_post', { response_mode: 'form_post' }, 90014],
  ])('redirects an error back to the app for %s', (_name, overrides, code) => {
    expect(authorize(overrides)).toMatchObject({
      ok: false,
      shown: false,
      failure: { code },
      redirectUri: spa.redirectUris[0],
      state: 's1',
    });
  });
});

describe('PKCE', () => {
  test('accepts the verifier whose S256 digest is the challenge, and nothing else', () => {
    expect(verifyPkce(verifier, challenge)).toBe(true);
    expect(verifyPkce('w'.repeat(43), challenge)).toBe(false);
    expect(verifyPkce(challenge, challenge)).toBe(false);
  });
});

describe('authorization_code grant', () => {
  test('redeems a code with its verifier, cross-origin', () => {
    expect(redeemAuthorizationCode(codeForm(), origin, codeRecord(), spa, now)).toMatchObject({
      ok: true,
      value: { userName: 'alice', apiScopes: ['access_as_user'], amr: ['pwd'] },
    });
  });

  test.each([
    ['a wrong verifier', codeForm({ code_verifier: 'w'.repeat(43) }), codeRecord(), origin, 501481],
    ['a reused code', codeForm(), codeRecord({ redeemed: true }), origin, 54005],
    ['an expired code', codeForm(), codeRecord({ expiresAt: now }), origin, 70008],
    [
      'another redirect URI',
      codeForm({ redirect_uri: 'http://localhost:7080/x' }),
      codeRecord(),
      origin,
      50011,
    ],
    ['no Origin (not cross-origin)', codeForm(), codeRecord(), undefined, 9002327],
    ['a client secret', codeForm({ client_secret: 's' }), codeRecord(), origin, 700025],
    ['an unknown code', codeForm(), undefined, origin, 9002313],
  ])('refuses %s', (_name, form, record, requestOrigin, code) => {
    expect(codeOf(redeemAuthorizationCode(form, requestOrigin, record, spa, now))).toBe(code);
  });
});

describe('refresh_token grant', () => {
  const record: RefreshTokenRecord = { ...codeRecord(), expiresAt: now + 100 };
  const form = (fields: Record<string, string> = {}): URLSearchParams =>
    new URLSearchParams({
      client_id: spa.clientId,
      grant_type: 'refresh_token',
      refresh_token: 'rt',
      ...fields,
    });

  test('redeems a SPA refresh token before its fixed expiry', () => {
    expect(redeemRefreshToken(form(), origin, record, spa, api, now)).toMatchObject({ ok: true });
  });

  test('refuses an expired SPA refresh token with 700084', () => {
    expect(codeOf(redeemRefreshToken(form(), origin, { ...record, expiresAt: now }, spa, api, now))).toBe(
      700084,
    );
  });

  test('answers a claims request for MFA the session never did with interaction required', () => {
    const claims = JSON.stringify({ access_token: { capolids: { essential: true, values: ['p'] } } });
    const refused = redeemRefreshToken(form({ claims }), origin, record, spa, api, now);
    expect(refused).toMatchObject({ ok: false, failure: { code: 50076, suberror: 'basic_action' } });
    const afterMfa = redeemRefreshToken(
      form({ claims }),
      origin,
      { ...record, amr: ['pwd', 'mfa'] },
      spa,
      api,
      now,
    );
    expect(afterMfa.ok).toBe(true);
  });
});

describe('helpers', () => {
  test('asks for MFA for a Conditional Access or authentication context claims request only', () => {
    expect(claimsRequireMfa('{"access_token":{"capolids":{"essential":true,"values":["p"]}}}')).toBe(true);
    expect(claimsRequireMfa('{"access_token":{"acrs":{"essential":true,"value":"c1"}}}')).toBe(true);
    expect(claimsRequireMfa('{"access_token":{"xms_cc":{"values":["cp1"]}}}')).toBe(false);
    expect(claimsRequireMfa('not json')).toBe(false);
    expect(claimsRequireMfa(undefined)).toBe(false);
  });

  test('answers in the fragment or the query, as the app asked', () => {
    expect(authorizationResponseUrl('http://localhost:7080/', 'fragment', { code: 'c', state: 's' })).toBe(
      'http://localhost:7080/#code=c&state=s',
    );
    expect(authorizationResponseUrl('http://localhost:7080/', 'query', { code: 'c', state: undefined })).toBe(
      'http://localhost:7080/?code=c',
    );
  });

  test('redirects after sign-out only to a registered redirect URI', () => {
    const params = (uri: string) => new URLSearchParams({ post_logout_redirect_uri: uri });
    expect(postLogoutRedirect(params('http://localhost:7080/'), spa)).toBe('http://localhost:7080/');
    expect(postLogoutRedirect(params('https://evil.example/'), spa)).toBeUndefined();
  });
});
