import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';

import { MAX_AUTHORIZATION_HEADER_BYTES } from '../../shared/auth/bearer.js';
import { counters, resetEmulators, sandbox, userToken } from '../sandbox.js';
import { nextRequestLogs, requestLogs, startHosts, type TestHost } from './hosts.js';

let host: TestHost;

beforeAll(async () => {
  [host] = (await startHosts(1)) as [TestHost];
});
afterAll(async () => {
  await host.stop();
});
beforeEach(async () => {
  await resetEmulators();
});

function me(token: string | undefined, method = 'GET', path = '/api/me'): Promise<Response> {
  return fetch(`${host.url}${path}`, {
    method,
    headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
  });
}

describe('GET /api/health', () => {
  test('answers anonymous callers with liveness and readiness only, no configuration', async () => {
    const response = await fetch(`${host.url}/api/health`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({ live: true, ready: true });
    expect(text).not.toContain(sandbox().api.clientId);
    expect(text).not.toContain(sandbox().api.clientSecret);
    expect(text).not.toContain(sandbox().cosmos.key);
    expect(text).not.toContain(sandbox().settings.TOKEN_CACHE_KEYS?.split(':')[1]);
  });

  test("the configuration summary is the operator's: logged once at start, with no secret", async () => {
    const logged = () => host.lines.filter((line) => line.includes('{"event":"configuration"'));
    // stdout travels apart from HTTP answers: wait for the line (it is written before any request is served).
    for (let i = 0; i < 100 && logged().length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const lines = logged();
    expect(lines).toHaveLength(1);
    const [line = ''] = lines;
    expect(line).toContain(sandbox().api.clientId);
    expect(line).not.toContain(sandbox().api.clientSecret);
    expect(line).not.toContain(sandbox().cosmos.key);
    expect(line).not.toContain(sandbox().settings.TOKEN_CACHE_KEYS?.split(':')[1]);
  });
});

describe('GET /api/me', () => {
  test('answers 401 with a Bearer challenge when no token is sent', async () => {
    const response = await me(undefined);
    expect(response.status).toBe(401);
    // A constant realm: nothing about the tenant's API (its App ID URI) or environment.
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="api"');
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toMatchObject({ code: 'ERR_TOKEN_MISSING', status: 401 });
  });

  test('returns the caller profile, exchanging once and writing the cache document', async () => {
    const user = await userToken('alice');
    const response = await me(user.accessToken);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toMatchObject({
      id: user.oid,
      userPrincipalName: expect.stringMatching(/^alice@/),
    });

    expect((await counters('entra'))['token.obo']).toBe(1);
    const cosmos = await counters('cosmos');
    expect(cosmos.read).toBe(1);
    expect((cosmos.create ?? 0) + (cosmos.replace ?? 0)).toBe(1);
  });

  test('answers 403 ERR_CLIENT_APP_NOT_ALLOWED to a token another app obtained (azp), with no exchange', async () => {
    const { accessToken } = await userToken('alice', { client: 'c0ffee00-1234-4abc-8def-0123456789ab' });
    const response = await me(accessToken);
    expect(response.status).toBe(403);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toMatchObject({ code: 'ERR_CLIENT_APP_NOT_ALLOWED', status: 403 });
    expect((await counters('entra'))['token.obo'] ?? 0).toBe(0);
    expect(Object.values(await counters('graph')).every((count) => count === 0)).toBe(true);
  });

  test('serves a second call with the same token from the warm cache: no exchange, no Cosmos request', async () => {
    const user = await userToken('bob');
    expect((await me(user.accessToken)).status).toBe(200);
    const entraBefore = (await counters('entra'))['token.obo'];
    const cosmosBefore = await counters('cosmos');

    const seen = requestLogs(host).length;
    const second = await me(user.accessToken);
    expect(second.status).toBe(200);
    expect((await counters('entra'))['token.obo']).toBe(entraBefore);
    expect(await counters('cosmos')).toEqual(cosmosBefore);
    expect((await nextRequestLogs(host, seen)).at(-1)).toMatchObject({ cache: 'l1-hit', status: 200 });
  });

  test('logs the cache outcome and costs without token material', async () => {
    const user = await userToken('carol');
    const seen = requestLogs(host).length;
    await me(user.accessToken);
    const log = (await nextRequestLogs(host, seen)).at(-1);
    expect(log).toMatchObject({
      event: 'request',
      status: 200,
      cache: 'miss',
      cosmosReads: 1,
      cosmosWrites: 1,
    });
    expect(typeof log?.entraMs).toBe('number');
    expect(typeof log?.graphMs).toBe('number');
    const everything = host.lines.join('\n');
    expect(everything).not.toContain(user.accessToken);
    expect(everything).not.toContain(user.accessToken.split('.')[2]);
  });
});

describe('DELETE /api/me/token-cache', () => {
  test('removes the caller cache so the next call exchanges again, and leaves other users alone', async () => {
    const dave = await userToken('dave');
    const erin = await userToken('erin');
    expect((await me(dave.accessToken)).status).toBe(200);
    expect((await me(erin.accessToken)).status).toBe(200);

    const erased = await me(dave.accessToken, 'DELETE', '/api/me/token-cache');
    expect(erased.status).toBe(204);
    // One write: the caller's document becomes a tombstone (docs/architecture.md, erasure).
    expect(await counters('cosmos')).toMatchObject({ upsert: 1, delete: 0 });

    const exchanges = (await counters('entra'))['token.obo'] ?? 0;
    expect((await me(dave.accessToken)).status).toBe(200);
    expect((await counters('entra'))['token.obo']).toBe(exchanges + 1);
    expect((await me(erin.accessToken)).status).toBe(200);
    expect((await counters('entra'))['token.obo']).toBe(exchanges + 1);
  });

  test('answers 401 without a token and 405 for another method', async () => {
    expect((await me(undefined, 'DELETE', '/api/me/token-cache')).status).toBe(401);
    const wrongMethod = await me(undefined, 'POST', '/api/me/token-cache');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('DELETE');
    expect(await wrongMethod.json()).toMatchObject({ code: 'ERR_METHOD_NOT_ALLOWED' });
  });

  test("answers an Authorization header over 16 KiB with the API's own 400, not a bare 431", async () => {
    const oversized = await me('a'.repeat(MAX_AUTHORIZATION_HEADER_BYTES));
    expect(oversized.status).toBe(400);
    expect(await oversized.json()).toMatchObject({ code: 'ERR_AUTHORIZATION_MALFORMED' });
  });
});
