// The Entra emulator's SPA sign-in over HTTPS, as a browser and msal-browser drive it: authorize and the picker,
// the code and refresh grants with CORS for the registered SPA origin only, end_session, and the MFA policy.
import { createHash, randomBytes } from 'node:crypto';

import { beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { decodeJwt } from 'jose';

import { counters, requestObo, resetEmulators, sandbox, userToken } from '../sandbox.js';

const SPA_ORIGIN = 'http://localhost:5999';
const REDIRECT_URI = `${SPA_ORIGIN}/`;

interface Pkce {
  verifier: string;
  challenge: string;
}

function pkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function oauthUrl(endpoint: 'authorize' | 'token' | 'logout'): string {
  const { entraUrl, tenantId } = sandbox();
  return `${entraUrl}/${tenantId}/oauth2/v2.0/${endpoint}`;
}

async function control(path: string, body: unknown): Promise<Response> {
  return fetch(`${sandbox().entraUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** GET /authorize as msal-browser sends it; the answer is not followed. */
function authorize(challenge: string, overrides: Record<string, string> = {}): Promise<Response> {
  const { spaClientId, api } = sandbox();
  const query = new URLSearchParams({
    client_id: spaClientId,
    scope: `${api.appIdUri}/${api.scope} openid profile offline_access`,
    redirect_uri: REDIRECT_URI,
    response_mode: 'fragment',
    response_type: 'code',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'state-1',
    nonce: 'nonce-1',
    client_info: '1',
    ...overrides,
  });
  return fetch(`${oauthUrl('authorize')}?${query.toString()}`, { redirect: 'manual' });
}

/** Signs `user` in through the picker page and gives the code from the redirect's fragment. */
async function signInCode(challenge: string, user = 'alice'): Promise<string> {
  const page = await authorize(challenge);
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toContain(`data-testid="user-${user}"`);
  const flow = /name="flow" value="([^"]+)"/.exec(html)?.[1] ?? '';
  const picked = await fetch(oauthUrl('authorize'), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ flow, user }).toString(),
    redirect: 'manual',
  });
  expect(picked.status).toBe(302);
  const location = new URL(picked.headers.get('location') ?? '');
  expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
  const fragment = new URLSearchParams(location.hash.slice(1));
  expect(fragment.get('state')).toBe('state-1');
  return fragment.get('code') ?? '';
}

function redeem(fields: Record<string, string>, origin: string | null = SPA_ORIGIN): Promise<Response> {
  return fetch(oauthUrl('token'), {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded;charset=utf-8',
      ...(origin === null ? {} : { origin }),
    },
    body: new URLSearchParams({ client_id: sandbox().spaClientId, client_info: '1', ...fields }).toString(),
  });
}

function codeGrant(
  code: string,
  verifier: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    grant_type: 'authorization_code',
    code,
    code_verifier: verifier,
    redirect_uri: REDIRECT_URI,
    scope: `${sandbox().api.appIdUri}/${sandbox().api.scope} openid profile offline_access`,
    ...overrides,
  };
}

async function aadsts(response: Response): Promise<number | undefined> {
  const body = (await response.json()) as { error_codes?: number[] };
  return body.error_codes?.[0];
}

beforeAll(async () => {
  expect((await control('/_emulator/spa/redirect-uris', { redirectUris: [REDIRECT_URI] })).status).toBe(200);
});
beforeEach(async () => {
  await resetEmulators();
  await control('/_emulator/users/alice/mfa', { required: false });
});

describe('authorization code with PKCE', () => {
  it('issues tokens for the API to the SPA, readable cross-origin by its registered origin only', async () => {
    const { verifier, challenge } = pkce();
    const code = await signInCode(challenge);
    const response = await redeem(codeGrant(code, verifier));

    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(SPA_ORIGIN);
    const tokens = (await response.json()) as Record<string, string>;
    const access = decodeJwt(tokens.access_token ?? '');
    expect(access).toMatchObject({
      aud: sandbox().api.clientId,
      azp: sandbox().spaClientId,
      scp: 'access_as_user',
      // The API's app roles an administrator assigned her (the sandbox's default for alice).
      roles: ['Tasks.Admin'],
    });
    expect(decodeJwt(tokens.id_token ?? '')).toMatchObject({ aud: sandbox().spaClientId, nonce: 'nonce-1' });
    expect(typeof tokens.refresh_token).toBe('string');
    expect(typeof tokens.client_info).toBe('string');
    expect(await counters('entra')).toMatchObject({
      authorize: 1,
      'authorize.form': 1,
      'token.authorization_code': 1,
    });
  });

  it('refuses a reused code (54005), a wrong verifier (501481), another redirect URI (50011)', async () => {
    const first = pkce();
    const code = await signInCode(first.challenge);
    expect((await redeem(codeGrant(code, first.verifier))).status).toBe(200);
    expect(await aadsts(await redeem(codeGrant(code, first.verifier)))).toBe(54005);

    const second = pkce();
    const otherCode = await signInCode(second.challenge);
    expect(await aadsts(await redeem(codeGrant(otherCode, pkce().verifier)))).toBe(501481);
    expect(
      await aadsts(await redeem(codeGrant(otherCode, second.verifier, { redirect_uri: `${SPA_ORIGIN}/x` }))),
    ).toBe(50011);
  });

  it('redeems a SPA code only cross-origin: no Origin header is 9002327', async () => {
    const { verifier, challenge } = pkce();
    const code = await signInCode(challenge);
    const response = await redeem(codeGrant(code, verifier), null);
    expect(response.status).toBe(400);
    expect(await aadsts(response)).toBe(9002327);
  });

  it('shows an error page for an unregistered redirect URI, and redirects a request without PKCE back', async () => {
    const unregistered = await authorize(pkce().challenge, { redirect_uri: 'http://localhost:6000/' });
    expect(unregistered.status).toBe(400);
    expect(await unregistered.text()).toContain('AADSTS50011');

    const withoutPkce = await authorize(pkce().challenge, { code_challenge_method: 'plain' });
    expect(withoutPkce.status).toBe(302);
    const fragment = new URLSearchParams(new URL(withoutPkce.headers.get('location') ?? '').hash.slice(1));
    expect(fragment.get('error')).toBe('invalid_request');
    expect(fragment.get('error_description')).toMatch(/^AADSTS9002325: /);
  });
});

describe('CORS on the token endpoint', () => {
  it('answers the preflight of the registered SPA origin, and no other', async () => {
    const preflight = (origin: string): Promise<Response> =>
      fetch(oauthUrl('token'), {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST' },
      });
    expect((await preflight(SPA_ORIGIN)).headers.get('access-control-allow-origin')).toBe(SPA_ORIGIN);
    expect((await preflight('https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('refresh token', () => {
  it('redeems the SPA refresh token for a new access token, cross-origin', async () => {
    const { verifier, challenge } = pkce();
    const code = await signInCode(challenge);
    const first = (await (await redeem(codeGrant(code, verifier))).json()) as Record<string, string>;
    const refreshed = await redeem({
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token ?? '',
      scope: `${sandbox().api.appIdUri}/${sandbox().api.scope} openid offline_access`,
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.headers.get('access-control-allow-origin')).toBe(SPA_ORIGIN);
    expect((await counters('entra'))['token.refresh_token']).toBe(1);
  });
});

describe('end_session', () => {
  it('redirects to a registered post-logout URI only', async () => {
    const logout = (uri: string): Promise<Response> =>
      fetch(`${oauthUrl('logout')}?post_logout_redirect_uri=${encodeURIComponent(uri)}`, {
        redirect: 'manual',
      });
    const registered = await logout(REDIRECT_URI);
    expect(registered.status).toBe(302);
    expect(registered.headers.get('location')).toBe(REDIRECT_URI);
    expect((await logout('https://evil.example/')).status).toBe(200);
  });
});

describe('MFA policy for the downstream API', () => {
  it('answers AADSTS50076 with claims until the assertion shows MFA', async () => {
    expect((await control('/_emulator/users/alice/mfa', { required: true })).status).toBe(200);
    const refused = await requestObo((await userToken('alice')).accessToken);
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as { error_codes?: number[]; suberror?: string; claims?: string };
    expect([body.error_codes?.[0], body.suberror]).toEqual([50076, 'basic_action']);
    expect(JSON.parse(body.claims ?? '{}')).toHaveProperty('access_token.capolids');

    const afterMfa = await userToken('alice', { set: { amr: ['pwd', 'mfa'] } });
    expect((await requestObo(afterMfa.accessToken)).status).toBe(200);
    expect((await requestObo((await userToken('bob')).accessToken)).status).toBe(200);
  });

  it('forgets the MFA requirement at the sandbox reset, as the next test file expects', async () => {
    expect((await control('/_emulator/users/alice/mfa', { required: true })).status).toBe(200);
    expect((await requestObo((await userToken('alice')).accessToken)).status).toBe(400);
    await resetEmulators();
    expect((await requestObo((await userToken('alice')).accessToken)).status).toBe(200);
  });
});

describe('combined consent for the declared permissions', () => {
  it("lists Graph's and the Tasks API's declared permissions, and accepting lets the API exchange for both", async () => {
    const { challenge } = pkce();
    const page = await authorize(challenge, { prompt: 'consent' });
    const flow = /name="flow" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
    const post = (fields: Record<string, string>): Promise<Response> =>
      fetch(oauthUrl('authorize'), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ flow, ...fields }).toString(),
        redirect: 'manual',
      });
    const consentPage = await (await post({ user: 'carol' })).text();
    expect(consentPage).toContain('Microsoft Graph: Calendars.Read');
    expect(consentPage).toContain('tasks-api: Tasks.ReadWrite');

    const { accessToken } = await userToken('carol');
    const tasksScope = `${sandbox().tasksApi.appIdUri}/Tasks.ReadWrite`;
    expect((await requestObo(accessToken, { scope: tasksScope })).status).toBe(400);
    expect((await post({ step: 'consent' })).status).toBe(302);
    expect((await requestObo(accessToken, { scope: tasksScope })).status).toBe(200);
  });
});
