// The emulators' CAE, consent and tenant behaviour over HTTPS, as msal-node and the API see it.
import { InteractionRequiredAuthError } from '@azure/msal-node';
import { afterAll, beforeEach, describe, expect, it } from '@jest/globals';
import { decodeJwt } from 'jose';

import { claimsFromChallenge } from '../../shared/graph/claimsChallenge.js';
import {
  apiMsalClient,
  requestObo,
  resetEmulators,
  revokeSessions,
  sandbox,
  setConsent,
  userToken,
} from '../sandbox.js';

const USER_READ = 'https://graph.microsoft.com/User.Read';
const CALENDARS_READ = 'https://graph.microsoft.com/Calendars.Read';

async function graphTokenFor(
  assertion: string,
  options: { scopes?: string[]; cp1?: boolean; tenant?: string; claims?: string } = {},
): Promise<string> {
  const result = await apiMsalClient({
    ...(options.tenant === undefined ? {} : { tenant: options.tenant }),
    clientCapabilities: options.cp1 === true ? ['cp1'] : [],
  }).acquireTokenOnBehalfOf({
    oboAssertion: assertion,
    scopes: options.scopes ?? [USER_READ],
    ...(options.claims === undefined ? {} : { claims: options.claims }),
  });
  if (result === null) throw new Error('no token');
  return result.accessToken;
}

function graph(path: string, token: string): Promise<Response> {
  return fetch(`${sandbox().graphUrl}${path}`, { headers: { Authorization: `Bearer ${token}` } });
}

async function control(url: string, body?: unknown): Promise<Response> {
  return fetch(url, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

beforeEach(resetEmulators);
afterAll(resetEmulators);

describe('client capabilities and claims requests', () => {
  it('issues a long-lived token with xms_cc to a client that declares cp1', async () => {
    const user = await userToken('cp1-user');
    const plain = decodeJwt(await graphTokenFor(user.accessToken));
    const cae = decodeJwt(await graphTokenFor(user.accessToken, { cp1: true }));
    expect(plain.xms_cc).toBeUndefined();
    expect(cae.xms_cc).toEqual(['cp1']);
    expect(Number(cae.exp) - Number(cae.iat)).toBeGreaterThanOrEqual(20 * 3600);
    expect(Number(plain.exp) - Number(plain.iat)).toBeLessThanOrEqual(3600);
  });

  it('refuses claims that are not JSON', async () => {
    const user = await userToken('bad-claims');
    const response = await requestObo(user.accessToken, { scope: USER_READ, claims: '{not json' });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request', error_codes: [90100] });
  });
});

describe('session revocation', () => {
  it("Graph challenges a revoked user's CAE token with the claims Entra can satisfy", async () => {
    const user = await userToken('revoked-at-graph');
    const cae = await graphTokenFor(user.accessToken, { cp1: true });
    const plain = await graphTokenFor(user.accessToken);
    await revokeSessions({ name: 'revoked-at-graph', oid: user.oid, tid: user.tid }, 'graph');

    const challenged = await graph('/v1.0/me', cae);
    expect(challenged.status).toBe(401);
    expect(((await challenged.json()) as { error: { code: string } }).error.code).toBe(
      'InvalidAuthenticationToken',
    );
    const claims = claimsFromChallenge(challenged.headers.get('www-authenticate'));
    expect(claims).toBeDefined();
    // Without cp1 the token lives out its lifetime; with the claims Entra issues one Graph accepts.
    expect((await graph('/v1.0/me', plain)).status).toBe(200);
    const renewed = await graphTokenFor(user.accessToken, { cp1: true, claims });
    expect((await graph('/v1.0/me', renewed)).status).toBe(200);
  });

  it('Entra refuses an assertion issued before the revocation with AADSTS50173 (interaction required)', async () => {
    const user = await userToken('revoked-at-entra');
    await revokeSessions({ name: 'revoked-at-entra', oid: user.oid, tid: user.tid }, 'entra');
    const error = await graphTokenFor(user.accessToken).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InteractionRequiredAuthError);
    expect((error as InteractionRequiredAuthError).subError).toBe('bad_token');
    const fresh = await userToken('revoked-at-entra');
    await expect(graphTokenFor(fresh.accessToken)).resolves.toEqual(expect.any(String));
  });
});

describe('consent and permissions', () => {
  it('answers AADSTS65001 until the user consents, then puts every granted permission in scp', async () => {
    const user = await userToken('consenting');
    const before = await graphTokenFor(user.accessToken, { scopes: [CALENDARS_READ] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(before).toBeInstanceOf(InteractionRequiredAuthError);
    expect((before as InteractionRequiredAuthError).subError).toBe('consent_required');

    await setConsent('consenting', [CALENDARS_READ], true);
    const token = await graphTokenFor(user.accessToken, { scopes: [CALENDARS_READ] });
    expect(String(decodeJwt(token).scp).split(' ').sort()).toEqual(['Calendars.Read', 'User.Read']);
    const start = new Date().toISOString();
    const end = new Date(Date.now() + 2 * 86_400_000).toISOString();
    const events = await graph(`/v1.0/me/calendarView?startDateTime=${start}&endDateTime=${end}`, token);
    expect(events.status).toBe(200);
  });

  it('answers 403 ErrorAccessDenied for the calendar without a Calendars permission, 400 without a window', async () => {
    const user = await userToken('no-calendar');
    const token = await graphTokenFor(user.accessToken);
    const denied = await graph(
      '/v1.0/me/calendarView?startDateTime=2026-01-01&endDateTime=2026-01-02',
      token,
    );
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { error: { code: string } }).error.code).toBe('ErrorAccessDenied');
    await setConsent('no-calendar', [CALENDARS_READ], true);
    const allowed = await graphTokenFor(user.accessToken, { scopes: [CALENDARS_READ] });
    expect((await graph('/v1.0/me/calendarView', allowed)).status).toBe(400);
  });

  it('validates consent changes and lists what is granted', async () => {
    const url = `${sandbox().entraUrl}/_emulator/consent`;
    expect((await control(url, { user: 'x', scopes: [], granted: true })).status).toBe(400);
    expect(
      (await control(url, { user: 'x', scopes: ['https://other.example/Read'], granted: true })).status,
    ).toBe(400);
    expect((await control(url, { user: 'x', scopes: [CALENDARS_READ], granted: 'yes' })).status).toBe(400);
    const listed = await control(`${url}?user=x`);
    expect(await listed.json()).toMatchObject({ client: sandbox().api.clientId, scopes: [USER_READ] });
  });
});

describe('tenants', () => {
  it("exchanges a partner tenant's user at that tenant, whose Graph token Graph accepts", async () => {
    const { partner } = sandbox().tenants;
    const user = await userToken('pat', { tenant: partner });
    const token = await graphTokenFor(user.accessToken, { tenant: partner });
    expect(decodeJwt(token)).toMatchObject({ tid: partner, iss: `https://sts.windows.net/${partner}/` });
    expect((await graph('/v1.0/me', token)).status).toBe(200);
  });

  it("refuses an assertion presented at another tenant's authority", async () => {
    const { partner } = sandbox().tenants;
    const user = await userToken('pat', { tenant: partner });
    await expect(graphTokenFor(user.accessToken)).rejects.toMatchObject({ errorCode: 'invalid_grant' });
  });

  it('publishes metadata with the issuer of each tenant', async () => {
    const { entraUrl, tenants } = sandbox();
    for (const tenant of Object.values(tenants)) {
      const response = await fetch(`${entraUrl}/${tenant}/v2.0/.well-known/openid-configuration`);
      expect(await response.json()).toMatchObject({ issuer: `${entraUrl}/${tenant}/v2.0` });
    }
  });
});
