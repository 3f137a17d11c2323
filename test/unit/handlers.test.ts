// The exported handler factories, built with a fake store, fake upstreams behind an injected fetch and
// a fake clock: no sandbox, no real waiting. msal-node and jose run unmodified.
import { describe, expect, test } from '@jest/globals';

import { MemoryTokenCacheStore } from '../../dev/inMemory/tokenCacheStore.js';
import { createGetHealth } from '../../functions/health.js';
import { createGetMe } from '../../functions/me.js';
import { createDeleteMyTokenCache } from '../../functions/tokenCache.js';
import { accountIdOf } from '../../shared/auth/caller.js';
import { COSMOS_BREAKER_MS } from '../../shared/cache/breaker.js';
import { HttpRequest, InvocationContext } from '../../shared/http/azureFunctions.js';
import type { ApiHandler } from '../../shared/http/handle.js';
import { isRecord } from '../../shared/narrow.js';
import { createServices, lazyServices } from '../../shared/runtime.js';
import { FakeUpstreams } from '../fakes/upstreams.js';
import { NOW_MS, TENANT_ID, testConfig, USER_OID } from './auth/entraFixture.js';

const OTHER_OID = '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f';

/** One instance: its services over the fakes, its clock, and what its handlers logged. */
function instance(settings: Record<string, string> = {}) {
  const store = new MemoryTokenCacheStore();
  const upstreams = new FakeUpstreams();
  const clock = { nowMs: NOW_MS, sleeps: [] as number[] };
  const services = lazyServices(() =>
    createServices(
      testConfig({
        OBO_CLIENT_CREDENTIAL: 'client-secret',
        OBO_CLIENT_SECRET: 'fake-secret',
        COSMOS_KEY: 'a2V5',
        ...settings,
      }),
      {
        fetch: upstreams.fetch,
        now: () => clock.nowMs,
        random: () => 0.5,
        store,
        sleep: (ms) => {
          clock.sleeps.push(ms);
          clock.nowMs += ms;
          return Promise.resolve();
        },
      },
    ),
  );
  const logs: Record<string, unknown>[] = [];
  async function call(handler: ApiHandler, method: string, path: string, token?: string) {
    const response = await handler(
      new HttpRequest({
        method,
        url: `http://localhost/api/${path}`,
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      }),
      new InvocationContext({
        functionName: path,
        logHandler: (_level, ...args) => {
          for (const arg of args) {
            const parsed: unknown =
              typeof arg === 'string' && arg.startsWith('{"event":"request"') ? JSON.parse(arg) : undefined;
            if (isRecord(parsed)) logs.push(parsed);
          }
        },
      }),
    );
    return {
      status: response.status,
      headers: new Headers(response.headers),
      body: response.jsonBody as unknown,
    };
  }
  const getMe = createGetMe(services);
  const deleteMyTokenCache = createDeleteMyTokenCache(services);
  return {
    store,
    upstreams,
    clock,
    logs,
    lastLog: () => logs.at(-1),
    health: () => call(createGetHealth(services), 'GET', 'health'),
    me: (token?: string) => call(getMe, 'GET', 'me', token),
    erase: (token?: string) => call(deleteMyTokenCache, 'DELETE', 'me/token-cache', token),
  };
}

const ACCOUNT = accountIdOf(USER_OID, TENANT_ID);

describe('GET /api/health', () => {
  test('answers 200 with liveness and readiness only (no configuration) and touches no store', async () => {
    const app = instance();
    const response = await app.health();
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ live: true, ready: true });
    expect(app.store.calls).toEqual({ read: 0, write: 0, erase: 0 });
  });

  test('answers 503 ERR_CONFIG_INVALID when a setting is bad', async () => {
    const app = instance({ TOKEN_CACHE_MAX_ENTRIES: 'many' });
    const response = await app.health();
    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    expect(response.headers.get('retry-after')).toBe('5');
  });
});

describe('GET /api/me', () => {
  test('answers 401 ERR_TOKEN_MISSING with a Bearer challenge when no token is sent', async () => {
    const app = instance();
    const response = await app.me();
    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({ code: 'ERR_TOKEN_MISSING' });
    // A constant realm, never the API's App ID URI (it names the tenant's app to anonymous callers).
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="api"');
    expect(app.upstreams.calls.obo).toBe(0);
  });

  test('returns the profile after one exchange and one write, then serves the token from L1', async () => {
    const app = instance();
    const token = app.upstreams.userToken();
    const first = await app.me(token);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ id: USER_OID });
    expect(app.upstreams.calls.obo).toBe(1);
    expect(app.store.calls).toMatchObject({ read: 1, write: 1 });
    expect(app.lastLog()).toMatchObject({ status: 200, cache: 'miss', oboExchange: true, cosmosWrites: 1 });
    expect(app.store.get(ACCOUNT)).toMatchObject({ id: ACCOUNT });

    const second = await app.me(token);
    expect(second.status).toBe(200);
    expect(app.upstreams.calls.obo).toBe(1);
    expect(app.store.calls).toMatchObject({ read: 1, write: 1 });
    expect(app.lastLog()).toMatchObject({ cache: 'l1-hit' });
    expect(app.lastLog()).not.toHaveProperty('oboExchange');
  });

  test('a write that loses to another writer is re-read, merged and retried, and the log says so', async () => {
    const app = instance();
    app.store.conflictNextWrites(1);
    const response = await app.me(app.upstreams.userToken());
    expect(response.status).toBe(200);
    expect(app.lastLog()).toMatchObject({ cacheWriteConflicts: 1, conflictRetries: 1 });
    expect(app.lastLog()).not.toHaveProperty('cacheWriteLost');
    expect(app.store.writesLanded).toBe(1);
    expect(app.clock.sleeps).toHaveLength(1);
  });

  test('answers when every write conflicts, and logs the lost write', async () => {
    const app = instance({ TOKEN_CACHE_WRITE_RETRIES: '2' });
    app.store.conflictNextWrites(10);
    const response = await app.me(app.upstreams.userToken());
    expect(response.status).toBe(200);
    expect(app.lastLog()).toMatchObject({ cacheWriteLost: true, cacheWriteConflicts: 3, conflictRetries: 2 });
  });

  test('an unreadable document is a miss, logged, and overwritten', async () => {
    const app = instance();
    app.store.put(ACCOUNT, { id: ACCOUNT, v: 1, entries: 'garbage' });
    const response = await app.me(app.upstreams.userToken());
    expect(response.status).toBe(200);
    expect(app.lastLog()).toMatchObject({ cache: 'miss', cacheDocumentUnreadable: true });
    expect((await app.store.read(ACCOUNT)).document).toBeDefined();
  });

  test('after a Cosmos DB failure, requests skip the store until the breaker closes', async () => {
    const app = instance();
    app.store.failNext(500, { operations: ['read'] });
    expect((await app.me(app.upstreams.userToken())).status).toBe(200);
    expect(app.lastLog()).toMatchObject({ cosmosDegraded: true });
    const reads = app.store.reads;

    expect((await app.me(app.upstreams.userToken({ oid: OTHER_OID }))).status).toBe(200);
    expect(app.lastLog()).toMatchObject({ cosmosDegraded: true, cache: 'miss' });
    expect(app.store.reads).toBe(reads);

    app.clock.nowMs += COSMOS_BREAKER_MS;
    expect((await app.me(app.upstreams.userToken({ oid: OTHER_OID, uti: 'later' }))).status).toBe(200);
    expect(app.store.reads).toBe(reads + 1);
    expect(app.lastLog()).not.toHaveProperty('cosmosDegraded');
  });

  test('retries Graph after a 503, waiting on the injected clock, not the wall clock', async () => {
    const app = instance();
    app.upstreams.graphFailures = [503];
    const response = await app.me(app.upstreams.userToken());
    expect(response.status).toBe(200);
    expect(app.upstreams.calls.graph).toBe(2);
    expect(app.clock.sleeps).toEqual([1000]);
    expect(app.lastLog()).toMatchObject({ graphAttempts: 2 });
  });

  test('answers 503 ERR_GRAPH_UNAVAILABLE with Retry-After once the retry budget is spent', async () => {
    const app = instance({ GRAPH_RETRY_BUDGET_MS: '2500' });
    app.upstreams.graphFailures = [503, 503, 503, 503, 503];
    const response = await app.me(app.upstreams.userToken());
    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({ code: 'ERR_GRAPH_UNAVAILABLE' });
    expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(app.clock.sleeps.reduce((sum, ms) => sum + ms, 0)).toBeLessThanOrEqual(2500);
  });
});

describe('DELETE /api/me/token-cache', () => {
  test('answers 204 and leaves a tombstone for the caller; the next call exchanges again', async () => {
    const app = instance();
    const token = app.upstreams.userToken();
    await app.me(token);
    const response = await app.erase(token);
    expect(response.status).toBe(204);
    expect(app.store.get(ACCOUNT)).toMatchObject({ entries: {}, erasure: { id: expect.any(String) } });
    await app.me(token);
    expect(app.upstreams.calls.obo).toBe(2);
  });

  test('an erase during an acquisition is not undone when the acquisition finishes', async () => {
    const app = instance();
    const token = app.upstreams.userToken();
    let release = (): void => undefined;
    app.upstreams.oboGate = new Promise((resolve) => {
      release = resolve;
    });
    const acquiring = app.me(token);
    while (app.upstreams.calls.obo === 0) await new Promise((resolve) => setImmediate(resolve));
    app.clock.nowMs += 1;
    expect((await app.erase(token)).status).toBe(204);
    app.upstreams.oboGate = undefined;
    release();
    expect((await acquiring).status).toBe(200);

    expect(app.store.get(ACCOUNT)).toMatchObject({ entries: {} });
    await app.me(token);
    expect(app.upstreams.calls.obo).toBe(2);
  });

  test('answers 503 ERR_TOKEN_CACHE_UNAVAILABLE with Retry-After when the store cannot erase', async () => {
    const app = instance();
    app.store.failNext(503, { operations: ['erase'] });
    const response = await app.erase(app.upstreams.userToken());
    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({ code: 'ERR_TOKEN_CACHE_UNAVAILABLE' });
    expect(response.headers.get('retry-after')).toBe('5');
  });
});
