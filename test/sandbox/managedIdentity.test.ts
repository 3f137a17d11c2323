// The App Service managed identity endpoint the Entra emulator serves (IDENTITY_ENDPOINT), as @azure/identity's
// ManagedIdentityCredential calls it: the request, the answer, the refusals, counters and faults.
import { setTimeout } from 'node:timers/promises';

import { beforeEach, describe, expect, it } from '@jest/globals';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';

import { counters, injectFault, requestManagedIdentityToken, resetEmulators, sandbox } from '../sandbox.js';

const TOKEN_EXCHANGE = 'api://AzureADTokenExchange';
const DAY_SECONDS = 86_400;

beforeEach(resetEmulators);

describe('GET IDENTITY_ENDPOINT (App Service, api-version 2019-08-01)', () => {
  it('answers as App Service does: the token, expires_on in epoch seconds as a string, resource, type, client id', async () => {
    const { status, body } = await requestManagedIdentityToken(TOKEN_EXCHANGE);
    expect(status).toBe(200);
    expect(Object.keys(body).sort()).toEqual([
      'access_token',
      'client_id',
      'expires_on',
      'resource',
      'token_type',
    ]);
    expect(body).toMatchObject({
      resource: TOKEN_EXCHANGE,
      token_type: 'Bearer',
      client_id: sandbox().managedIdentity.clientId,
      expires_on: expect.stringMatching(/^\d+$/),
    });
    const now = Math.floor(Date.now() / 1000);
    expect(Number(body.expires_on)).toBeGreaterThan(now + DAY_SECONDS - 60);
    expect(Number(body.expires_on)).toBeLessThanOrEqual(now + DAY_SECONDS + 1);
    expect(await counters('entra')).toMatchObject({ 'managed-identity': 1, 'token.obo': 0, other: 0 });
  });

  it("issues an app-only v2 token of the tenant, signed with the emulator's current key, for the identity", async () => {
    const { entraUrl, tenantId, managedIdentity } = sandbox();
    const { body } = await requestManagedIdentityToken(TOKEN_EXCHANGE);
    const { payload, protectedHeader } = await jwtVerify(
      String(body.access_token),
      createRemoteJWKSet(new URL(`${entraUrl}/${tenantId}/discovery/v2.0/keys`)),
      { issuer: `${entraUrl}/${tenantId}/v2.0`, audience: TOKEN_EXCHANGE, algorithms: ['RS256'] },
    );
    expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'JWT' });
    expect(payload).toMatchObject({
      aud: TOKEN_EXCHANGE,
      sub: managedIdentity.principalId,
      oid: managedIdentity.principalId,
      appid: managedIdentity.clientId,
      azp: managedIdentity.clientId,
      idtyp: 'app',
      tid: tenantId,
      ver: '2.0',
      xms_mirid: managedIdentity.resourceId,
    });
    expect(payload).not.toHaveProperty('scp');
    expect(Number(payload.exp) - Number(payload.iat)).toBe(DAY_SECONDS);
    expect(Number(body.expires_on)).toBe(payload.exp);
  });

  it('uses the requested resource as the audience', async () => {
    const { status, body } = await requestManagedIdentityToken('https://cosmos.azure.com');
    expect(status).toBe(200);
    expect(body.resource).toBe('https://cosmos.azure.com');
    expect(decodeJwt(String(body.access_token)).aud).toBe('https://cosmos.azure.com');
  });

  it.each([
    [
      'its principal id',
      () => ({ client_id: undefined, principal_id: sandbox().managedIdentity.principalId }),
    ],
    ['its object id', () => ({ client_id: undefined, object_id: sandbox().managedIdentity.principalId })],
    ['its resource id', () => ({ client_id: undefined, mi_res_id: sandbox().managedIdentity.resourceId })],
  ])('selects the identity by %s too', async (_name, query) => {
    const { status, body } = await requestManagedIdentityToken(TOKEN_EXCHANGE, { query: query() });
    expect(status).toBe(200);
    expect(decodeJwt(String(body.access_token)).oid).toBe(sandbox().managedIdentity.principalId);
  });
});

describe('refusals, in App Service shape', () => {
  it.each([
    ['no X-IDENTITY-HEADER', { header: null }, 401],
    ['a wrong X-IDENTITY-HEADER', { header: 'not-the-identity-header' }, 401],
    ['another client id', { query: { client_id: '11111111-2222-4333-8444-555555555555' } }, 400],
    ['no identity (the app has no system-assigned identity)', { query: { client_id: undefined } }, 400],
    ['two identities at once', { query: { principal_id: sandbox().managedIdentity.principalId } }, 400],
    ['no resource', { query: { resource: undefined } }, 400],
    ['the 2017 api-version', { query: { 'api-version': '2017-09-01' } }, 400],
  ] as const)('refuses %s', async (_name, options, status) => {
    const refused = await requestManagedIdentityToken(TOKEN_EXCHANGE, options);
    expect(refused.status).toBe(status);
    expect(refused.body).toEqual({
      statusCode: status,
      message: expect.any(String),
      correlationId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(refused.body).not.toHaveProperty('access_token');
    expect((await counters('entra'))['managed-identity']).toBe(1);
  });

  it('names the failure as App Service does when the client id is not an identity of the app', async () => {
    const refused = await requestManagedIdentityToken(TOKEN_EXCHANGE, {
      query: { client_id: '11111111-2222-4333-8444-555555555555' },
    });
    expect(refused.body.message).toBe('Unable to load the proper Managed Identity.');
  });

  it('answers 404 to a method other than GET and counts it as other', async () => {
    const response = await fetch(sandbox().managedIdentity.endpoint, { method: 'POST' });
    expect(response.status).toBe(404);
    expect(await counters('entra')).toMatchObject({ 'managed-identity': 0, other: 1 });
  });
});

describe('faults', () => {
  it('answers an injected status in App Service shape, then serves the next request for real', async () => {
    await injectFault('entra', { kind: 'managed-identity', status: 503 });
    const failed = await requestManagedIdentityToken(TOKEN_EXCHANGE);
    expect(failed.status).toBe(503);
    expect(failed.body).toMatchObject({ statusCode: 503, message: expect.any(String) });
    expect((await requestManagedIdentityToken(TOKEN_EXCHANGE)).status).toBe(200);
    expect((await counters('entra'))['managed-identity']).toBe(2);
  });

  it('slows the endpoint with a delay fault and leaves the token endpoint alone', async () => {
    await injectFault('entra', { kind: 'managed-identity', delayMs: 2000 });
    const finished: string[] = [];
    const delayed = requestManagedIdentityToken(TOKEN_EXCHANGE).then((answer) => {
      finished.push('delayed');
      return answer;
    });
    while ((await counters('entra'))['managed-identity'] !== 1) await setTimeout(10);
    // Order, not time: a request sent while the first one waits overtakes it.
    expect((await requestManagedIdentityToken(TOKEN_EXCHANGE)).status).toBe(200);
    finished.push('next');
    expect((await delayed).status).toBe(200);
    expect(finished).toEqual(['next', 'delayed']);
    expect(await counters('entra')).toMatchObject({ 'managed-identity': 2, 'token.obo': 0 });
  });
});
