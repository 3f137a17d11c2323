// The Microsoft Graph emulator over HTTPS: /v1.0/me with Graph tokens from the Entra emulator's OBO grant.
import { beforeEach, describe, expect, it } from '@jest/globals';

import { counters, requestObo, resetEmulators, rotateKeys, sandbox, userToken } from '../sandbox.js';

/** A Graph token for `user` from the Entra emulator's on-behalf-of grant. */
async function graphToken(user = 'alice'): Promise<{ token: string; oid: string }> {
  const { accessToken, oid } = await userToken(user);
  const response = await requestObo(accessToken);
  const body = (await response.json()) as { access_token: string };
  return { token: body.access_token, oid };
}

function me(token?: string, query = ''): Promise<Response> {
  return fetch(`${sandbox().graphUrl}/v1.0/me${query}`, {
    headers:
      token === undefined ? {} : { authorization: `Bearer ${token}`, 'client-request-id': 'graph-test' },
  });
}

beforeEach(resetEmulators);

describe('GET /v1.0/me', () => {
  it('answers the profile of the user the token names, in Graph shape', async () => {
    const { token, oid } = await graphToken('alice');
    const response = await me(token);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json;odata\.metadata=minimal/);
    expect(response.headers.get('client-request-id')).toBe('graph-test');
    expect(await response.json()).toMatchObject({
      '@odata.context': `${sandbox().graphUrl}/v1.0/$metadata#users/$entity`,
      id: oid,
      displayName: 'Alice Sandbox',
      givenName: 'Alice',
      surname: 'Sandbox',
      userPrincipalName: 'alice@sandbox.onmicrosoft.com',
      mail: 'alice@sandbox.onmicrosoft.com',
      jobTitle: null,
    });
    expect((await counters('graph')).me).toBe(1);
  });

  it('answers only the selected properties with $select', async () => {
    const { token, oid } = await graphToken();
    const body = (await (await me(token, '?$select=id,displayName')).json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['@odata.context', 'displayName', 'id']);
    expect(body.id).toBe(oid);
  });

  it('answers 401 InvalidAuthenticationToken without a token', async () => {
    const response = await me();
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const body = (await response.json()) as { error: { code: string; innerError: Record<string, unknown> } };
    expect(body.error.code).toBe('InvalidAuthenticationToken');
    expect(body.error.innerError).toMatchObject({ 'request-id': response.headers.get('request-id') });
  });

  it('answers 401 to the API token (audience is not Graph)', async () => {
    const { accessToken } = await userToken('alice');
    const response = await me(accessToken);
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
      'InvalidAuthenticationToken',
    );
  });

  it('answers 401 to a token whose signature does not verify', async () => {
    const { token } = await graphToken();
    const [header, payload] = token.split('.');
    const forged = `${header ?? ''}.${payload ?? ''}.${Buffer.from('forged').toString('base64url')}`;
    expect((await me(forged)).status).toBe(401);
  });

  it('answers 401 to a malformed token', async () => {
    expect((await me('not-a-token')).status).toBe(401);
  });

  it('validates tokens signed by a new Entra key, fetching the keys again', async () => {
    await rotateKeys();
    const { token } = await graphToken();
    expect((await me(token)).status).toBe(200);
    expect((await counters('entra'))['keys.graph']).toBe(1);
  });
});
