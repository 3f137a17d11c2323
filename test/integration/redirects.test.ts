// Every outbound call refuses redirects: Graph, Entra's token endpoint and metadata, the JWKS and the managed
// identity endpoint. An emulator answers a redirect to a listener of this test; the API answers 503 and the
// listener never hears a request (a followed redirect would carry a token or an assertion to it).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';

import { createGetMe } from '../../functions/me.js';
import { HttpRequest, InvocationContext } from '../../shared/http/azureFunctions.js';
import { lazyServices } from '../../shared/runtime.js';
import { counters, injectFault, resetEmulators, userToken } from '../sandbox.js';
import { instance } from './services.js';

/** Where the redirects point: it counts what reaches it and answers nothing useful. */
let elsewhere: Server;
let elsewhereUrl = '';
let requestsElsewhere = 0;
let run = 0;

beforeAll(async () => {
  elsewhere = createServer((_req, res) => {
    requestsElsewhere++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
  elsewhereUrl = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/stolen`;
});
afterAll(async () => {
  await new Promise((resolve) => elsewhere.close(resolve));
});
beforeEach(async () => {
  await resetEmulators();
  requestsElsewhere = 0;
  run++;
});

/** GET /api/me through the exported handler of a new instance (nothing fetched or cached yet). */
async function callMe(name: string) {
  const getMe = createGetMe(lazyServices(() => instance({ OBO_TIMEOUT_MS: '2000' })));
  const { accessToken } = await userToken(`${name}-${run}`);
  const response = await getMe(
    new HttpRequest({
      method: 'GET',
      url: 'http://localhost/api/me',
      headers: { authorization: `Bearer ${accessToken}` },
    }),
    new InvocationContext({ functionName: 'getMe', logHandler: () => undefined }),
  );
  return {
    status: response.status,
    headers: new Headers(response.headers),
    body: response.jsonBody as Record<string, unknown>,
  };
}

describe('a redirect is an outage, never followed', () => {
  test('Microsoft Graph: 503 ERR_GRAPH_UNAVAILABLE, the token never leaves for the Location', async () => {
    await injectFault('graph', { kind: 'me', redirectTo: elsewhereUrl });
    const { status, headers, body } = await callMe('graph-redirect');
    expect(status).toBe(503);
    expect(body.code).toBe('ERR_GRAPH_UNAVAILABLE');
    expect(Number(headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await counters('graph')).me).toBe(1);
    expect(requestsElsewhere).toBe(0);
  });

  test("Entra's token endpoint (307 keeps the POST): 503, the assertion and secret never leave", async () => {
    await injectFault('entra', { kind: 'token.obo', status: 307, redirectTo: elsewhereUrl });
    const { status, body } = await callMe('token-redirect');
    expect(status).toBe(503);
    expect(body.code).toBe('ERR_IDENTITY_PROVIDER_UNAVAILABLE');
    expect((await counters('entra'))['token.obo']).toBe(1);
    expect(requestsElsewhere).toBe(0);
  });

  test("Entra's authority metadata: 503, no token endpoint taken from elsewhere", async () => {
    await injectFault('entra', { kind: 'openid-configuration', redirectTo: elsewhereUrl });
    const { status, body } = await callMe('metadata-redirect');
    expect(status).toBe(503);
    expect(body.code).toBe('ERR_IDENTITY_PROVIDER_UNAVAILABLE');
    expect((await counters('entra'))['token.obo']).toBe(0);
    expect(requestsElsewhere).toBe(0);
  });

  test("the issuer's signing keys (JWKS): 503, no keys taken from elsewhere", async () => {
    await injectFault('entra', { kind: 'keys', redirectTo: elsewhereUrl });
    const { status, body } = await callMe('jwks-redirect');
    expect(status).toBe(503);
    expect(body.code).toBe('ERR_SIGNING_KEYS_UNAVAILABLE');
    expect(requestsElsewhere).toBe(0);
  });
});
