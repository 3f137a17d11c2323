// Handler tests: the exported handlers called in-process with real HttpRequest/InvocationContext,
// over the sandbox's emulators (faults injected there), asserting status, challenge and code.
import { beforeEach, describe, expect, test } from '@jest/globals';

import { createGetMe } from '../../functions/me.js';
import { HttpRequest, InvocationContext } from '../../shared/http/azureFunctions.js';
import { lazyServices } from '../../shared/runtime.js';
import { counters, injectFault, resetEmulators, userToken } from '../sandbox.js';
import { instance } from './services.js';

let run = 0;

// One instance for the file, as the Functions host would hold it, with short upstream budgets.
const getMe = createGetMe(
  lazyServices(() => instance({ OBO_TIMEOUT_MS: '1000', GRAPH_RETRY_BUDGET_MS: '2500' })),
);
beforeEach(async () => {
  await resetEmulators();
  run++;
});

/** GET /api/me through the exported handler, as the Functions host would invoke it. */
function invokeGetMe(accessToken: string) {
  return getMe(
    new HttpRequest({
      method: 'GET',
      url: 'http://localhost/api/me',
      headers: { authorization: `Bearer ${accessToken}` },
    }),
    new InvocationContext({ functionName: 'getMe', logHandler: () => undefined }),
  );
}

async function callMe(name: string) {
  const { accessToken } = await userToken(`${name}-${run}`);
  const response = await invokeGetMe(accessToken);
  const headers = new Headers(response.headers);
  return { status: response.status, headers, body: response.jsonBody as Record<string, unknown> };
}

describe('Entra ID errors during the exchange', () => {
  test('an MFA requirement becomes a claims challenge the SPA can step up with', async () => {
    await injectFault('entra', { kind: 'token.obo', preset: 'mfa_required' });
    const { status, headers, body } = await callMe('mfa');
    expect(status).toBe(401);
    expect(body.code).toBe('ERR_CLAIMS_CHALLENGE');
    const challenge = headers.get('www-authenticate') ?? '';
    expect(challenge).toContain('error="insufficient_claims"');
    const claims = /claims="([^"]+)"/.exec(challenge)?.[1] ?? '';
    expect(JSON.parse(Buffer.from(claims, 'base64').toString('utf8'))).toHaveProperty('access_token');
  });

  test('missing consent becomes 403 ERR_CONSENT_REQUIRED', async () => {
    await injectFault('entra', { kind: 'token.obo', preset: 'consent_required' });
    const { status, body } = await callMe('consent');
    expect(status).toBe(403);
    expect(body).toMatchObject({ code: 'ERR_CONSENT_REQUIRED', upstreamCode: 'AADSTS65001' });
  });

  test('an assertion Entra rejects becomes 401 invalid_token', async () => {
    await injectFault('entra', { kind: 'token.obo', preset: 'invalid_assertion' });
    const { status, headers, body } = await callMe('rejected');
    expect(status).toBe(401);
    expect(body.code).toBe('ERR_ASSERTION_REJECTED');
    expect(headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  test('Entra unavailable becomes 503 with Retry-After', async () => {
    await injectFault('entra', { kind: 'token.obo', preset: 'temporarily_unavailable' });
    const { status, headers, body } = await callMe('entra-down');
    expect(status).toBe(503);
    expect(body.code).toBe('ERR_IDENTITY_PROVIDER_UNAVAILABLE');
    expect(Number(headers.get('retry-after'))).toBeGreaterThan(0);
  });

  test('an Entra timeout becomes 503 with Retry-After', async () => {
    await injectFault('entra', { kind: 'token.obo', delayMs: 2000 });
    const { status, headers } = await callMe('entra-slow');
    expect(status).toBe(503);
    expect(Number(headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('Microsoft Graph errors', () => {
  test('a 429 is retried after Retry-After and the call succeeds', async () => {
    await injectFault('graph', { kind: 'me', status: 429, headers: { 'Retry-After': '1' } });
    const { status } = await callMe('throttled');
    expect(status).toBe(200);
    expect((await counters('graph')).me).toBe(2);
  });

  test('a Graph outage past the retry budget becomes 503 with Retry-After', async () => {
    await injectFault('graph', { kind: 'me', status: 503, count: 20, headers: { 'Retry-After': '1' } });
    const { status, headers, body } = await callMe('graph-down');
    expect(status).toBe(503);
    expect(body.code).toBe('ERR_GRAPH_UNAVAILABLE');
    expect(headers.get('retry-after')).toBe('1');
    expect((await counters('graph')).me).toBeGreaterThanOrEqual(2);
  });

  test('a Graph 403 becomes 403 ERR_GRAPH_FORBIDDEN', async () => {
    await injectFault('graph', {
      kind: 'me',
      status: 403,
      body: { error: { code: 'Authorization_RequestDenied', message: 'Insufficient privileges' } },
    });
    const { status, body } = await callMe('forbidden');
    expect(status).toBe(403);
    expect(body).toMatchObject({ code: 'ERR_GRAPH_FORBIDDEN', upstreamCode: 'Authorization_RequestDenied' });
  });
});

describe('a token Graph rejects', () => {
  test('answers 502 and is not served from the cache again: the next call exchanges anew', async () => {
    const { accessToken } = await userToken(`revoked-${run}`);
    const call = () => invokeGetMe(accessToken);
    expect((await call()).status).toBe(200);
    await injectFault('graph', {
      kind: 'me',
      status: 401,
      body: { error: { code: 'InvalidAuthenticationToken', message: 'revoked' } },
    });
    const rejected = await call();
    expect(rejected.status).toBe(502);
    expect(rejected.jsonBody).toMatchObject({
      code: 'ERR_GRAPH_TOKEN_REJECTED',
      upstreamCode: 'InvalidAuthenticationToken',
    });

    expect((await call()).status).toBe(200);
    expect((await counters('entra'))['token.obo']).toBe(2);
  });
});

describe('single flight', () => {
  test('concurrent requests with one token in one instance share one exchange', async () => {
    const { accessToken } = await userToken(`flight-${run}`);
    const responses = await Promise.all(Array.from({ length: 8 }, () => invokeGetMe(accessToken)));
    expect(responses.map((r) => r.status)).toEqual(Array.from({ length: 8 }, () => 200));
    expect((await counters('entra'))['token.obo']).toBe(1);
    expect((await counters('cosmos')).read).toBe(1);
  });
});
