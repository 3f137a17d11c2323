import { beforeEach, describe, expect, test } from '@jest/globals';

import type { CallerAccount } from '../../shared/auth/caller.js';
import { cacheEntryKeyOf } from '../../shared/obo/cacheEntryKey.js';
import {
  callerAccount,
  counters,
  injectFault,
  resetEmulators,
  setEntraSettings,
  userToken,
} from '../sandbox.js';
import { cacheContainer, entriesOf, readCacheDocument } from './cosmosDocuments.js';
import { instance, telemetry } from './services.js';

const GRAPH_SCOPES = ['https://graph.microsoft.com/User.Read'];
let run = 0;

beforeEach(async () => {
  await resetEmulators();
  await setEntraSettings({ oboTokenLifetimeSeconds: 3600 });
  run++;
});

function caller(name: string): Promise<CallerAccount> {
  return callerAccount(`${name}-${run}`);
}

async function writes(): Promise<number> {
  const c = await counters('cosmos');
  return (c.create ?? 0) + (c.replace ?? 0) + (c.upsert ?? 0);
}

describe('token cache across instances', () => {
  test('a hit on another instance makes one read and no write', async () => {
    const [a, b] = [await instance(), await instance()];
    const user = await caller('hop');
    await a.graphTokens.acquire(user, GRAPH_SCOPES, telemetry());
    await resetEmulators();

    const t = telemetry();
    await b.graphTokens.acquire(user, GRAPH_SCOPES, t);
    expect(t.fields.cache).toBe('l2-hit');
    expect((await counters('cosmos')).read).toBe(1);
    expect(await writes()).toBe(0);
    expect((await counters('entra'))['token.obo']).toBe(0);
  });

  test.each([
    ['no document yet (create races create: 409)', false],
    ['the same ETag (replace races replace: 412)', true],
  ])('two writers on %s resolve by merge and keep both entries', async (_name, documentExists) => {
    const [a, b, source] = [await instance(), await instance(), await instance()];
    const first = await caller('race');
    const second = { ...first, assertion: (await userToken(`race-${run}`)).accessToken };
    const [hashA, hashB] = [
      cacheEntryKeyOf(first.assertion, GRAPH_SCOPES),
      cacheEntryKeyOf(second.assertion, GRAPH_SCOPES),
    ];
    const jsonA = await msalCacheFor(source, first);
    const jsonB = await msalCacheFor(source, second);
    await cacheContainer().item(first.accountId, first.accountId).delete();
    if (documentExists)
      await cacheContainer().items.create({ id: first.accountId, v: 1, entries: {}, ttl: 600 });

    // Both instances read before either writes, so the second write carries a stale view.
    const [t1, t2] = [telemetry(), telemetry()];
    const loadedA = await a.tokenCache.load(first, hashA, GRAPH_SCOPES, t1);
    const loadedB = await b.tokenCache.load(second, hashB, GRAPH_SCOPES, t2);
    expect(loadedA.stored?.etag).toBe(loadedB.stored?.etag);
    await a.tokenCache.save(first, hashA, jsonA, loadedA, t1);
    await b.tokenCache.save(second, hashB, jsonB, loadedB, t2);

    expect(t1.fields.conflictRetries).toBeUndefined();
    expect(t2.fields.conflictRetries).toBe(1);
    expect(t1.fields.cacheWriteConflicts).toBeUndefined();
    expect(t2.fields.cacheWriteConflicts).toBe(1);
    const entries = entriesOf(await readCacheDocument(first.accountId));
    expect(Object.keys(entries).sort()).toEqual([hashA, hashB].sort());
  });

  test('answers even when every write conflicts, and counts the lost write', async () => {
    const app = await instance({ TOKEN_CACHE_WRITE_RETRIES: '2' });
    const user = await caller('budget');
    await cacheContainer().items.create({ id: user.accountId, v: 1, entries: {}, ttl: 600 });
    await injectFault('cosmos', {
      kind: 'replace',
      status: 412,
      count: 10,
      body: { code: 'PreconditionFailed', message: 'etag' },
    });
    const warnings: string[] = [];
    const t = telemetry(warnings);

    const token = await app.graphTokens.acquire(user, GRAPH_SCOPES, t);
    const profile = await app.graph.get('/v1.0/me', token, t);
    expect(profile.id).toBe(user.oid);
    expect(t.fields).toMatchObject({ cacheWriteLost: true, conflictRetries: 2, cacheWriteConflicts: 3 });
    expect(warnings.some((w) => w.includes('gave up'))).toBe(true);
  });
});

/** One-hour tokens, as Entra issues to a client that does not declare cp1. */
const WITHOUT_CAE = { OBO_CLIENT_CAPABILITIES: 'none' };

describe('token cache hygiene', () => {
  test('a token within 5 minutes of expiry triggers exactly one new exchange and one write', async () => {
    await setEntraSettings({ oboTokenLifetimeSeconds: 299 });
    // Without cp1: Entra gives CAE-capable clients day-long tokens, whatever the lifetime setting.
    const app = await instance(WITHOUT_CAE);
    const user = await caller('expiring');
    await app.graphTokens.acquire(user, GRAPH_SCOPES, telemetry());
    await resetEmulators();
    await setEntraSettings({ oboTokenLifetimeSeconds: 299 });

    await app.graphTokens.acquire(user, GRAPH_SCOPES, telemetry());
    expect((await counters('entra'))['token.obo']).toBe(1);
    expect(await writes()).toBe(1);
  });

  test('keeps at most the configured number of entries, evicting the oldest expiry', async () => {
    const app = await instance({ TOKEN_CACHE_MAX_ENTRIES: '3' });
    const user = await caller('many-clients');
    for (let i = 0; i < 5; i++) {
      const assertion = (await userToken(`many-clients-${run}`)).accessToken;
      await app.graphTokens.acquire({ ...user, assertion }, GRAPH_SCOPES, telemetry());
    }
    expect(Object.keys(entriesOf(await readCacheDocument(user.accountId)))).toHaveLength(3);
  });

  test('writes a TTL that outlives the newest token, encrypted entries and no refresh token', async () => {
    const app = await instance(WITHOUT_CAE);
    const user = await caller('at-rest');
    const token = await app.graphTokens.acquire(user, GRAPH_SCOPES, telemetry());
    const document = await readCacheDocument(user.accountId);
    const ttl = Number(document?.ttl);
    expect(ttl).toBeGreaterThan(3600);
    expect(ttl).toBeLessThanOrEqual(3600 + 3600 + 5);
    const stored = JSON.stringify(document);
    expect(stored).not.toContain(token);
    expect(stored).not.toContain(user.assertion);
    expect(stored).not.toMatch(/RefreshToken|refresh_token|secret/);
  });

  test('treats an unreadable document as a miss and overwrites it', async () => {
    const app = await instance();
    const user = await caller('corrupt');
    await cacheContainer().items.create({ id: user.accountId, v: 1, entries: 'garbage' });
    const t = telemetry();

    await app.graphTokens.acquire(user, GRAPH_SCOPES, t);
    expect(t.fields.cacheDocumentUnreadable).toBe(true);
    expect(Object.keys(entriesOf(await readCacheDocument(user.accountId)))).toEqual([
      cacheEntryKeyOf(user.assertion, GRAPH_SCOPES),
    ]);
  });

  test('treats an entry sealed for another caller as a miss', async () => {
    const app = await instance();
    const victim = await caller('victim');
    const attacker = await caller('attacker');
    await app.graphTokens.acquire(victim, GRAPH_SCOPES, telemetry());
    const victimEntries = entriesOf(await readCacheDocument(victim.accountId));
    await cacheContainer().items.upsert({
      id: attacker.accountId,
      v: 1,
      ttl: 600,
      entries: { [cacheEntryKeyOf(attacker.assertion, GRAPH_SCOPES)]: Object.values(victimEntries)[0] },
    });
    const other = await instance();
    const t = telemetry();
    const token = await other.graphTokens.acquire(attacker, GRAPH_SCOPES, t);
    expect(t.fields.cache).toBe('miss');
    const profile = await other.graph.get('/v1.0/me', token, t);
    expect(profile.id).toBe(attacker.oid);
  });
});

describe('erasure and deletion', () => {
  test('an erase during an acquisition is not undone when the acquisition finishes', async () => {
    const app = await instance();
    const user = await caller('erase-race');
    await injectFault('entra', { kind: 'token.obo', delayMs: 400 });
    const acquiring = app.graphTokens.acquire(user, GRAPH_SCOPES, telemetry());
    await new Promise((resolve) => setTimeout(resolve, 100));
    await app.graphTokens.erase(user, telemetry());
    await acquiring;

    expect(await readCacheDocument(user.accountId)).toBeUndefined();
    await app.graphTokens.acquire(user, GRAPH_SCOPES, telemetry());
    expect((await counters('entra'))['token.obo']).toBe(2);
  });

  test('a document deleted between read and write is created again, not reported as an outage', async () => {
    const app = await instance();
    const user = await caller('deleted-under-us');
    await cacheContainer().items.create({ id: user.accountId, v: 1, entries: {}, ttl: 600 });
    const source = await instance();
    const json = await msalCacheFor(source, user);
    await cacheContainer().item(user.accountId, user.accountId).delete();
    await cacheContainer().items.create({ id: user.accountId, v: 1, entries: {}, ttl: 600 });
    const t = telemetry();
    const loaded = await app.tokenCache.load(
      user,
      cacheEntryKeyOf(user.assertion, GRAPH_SCOPES),
      GRAPH_SCOPES,
      t,
    );
    await cacheContainer().item(user.accountId, user.accountId).delete();

    await app.tokenCache.save(user, cacheEntryKeyOf(user.assertion, GRAPH_SCOPES), json, loaded, t);
    expect(t.fields.cosmosDegraded).toBeUndefined();
    expect(Object.keys(entriesOf(await readCacheDocument(user.accountId)))).toEqual([
      cacheEntryKeyOf(user.assertion, GRAPH_SCOPES),
    ]);
  });
});

describe('degraded Cosmos DB', () => {
  test('after a failure, the next requests skip Cosmos DB for a while instead of each waiting', async () => {
    const app = await instance({ COSMOS_REQUEST_TIMEOUT_MS: '300' });
    await injectFault('cosmos', {
      kind: 'read',
      status: 500,
      count: 1,
      body: { code: 'InternalServerError', message: 'x' },
    });
    await app.graphTokens.acquire(await caller('breaker-1'), GRAPH_SCOPES, telemetry());
    const readsAfterFailure = (await counters('cosmos')).read;

    const t = telemetry();
    await app.graphTokens.acquire(await caller('breaker-2'), GRAPH_SCOPES, t);
    expect(t.fields).toMatchObject({ cosmosDegraded: true, cache: 'miss' });
    expect((await counters('cosmos')).read).toBe(readsAfterFailure);
  });

  test.each([
    ['5xx answers', { status: 500, count: 20, body: { code: 'InternalServerError', message: 'injected' } }],
    ['timeouts', { delayMs: 1000, count: 20 }],
    ['throttling past the SDK retries', { status: 429, count: 20, headers: { 'x-ms-retry-after-ms': '10' } }],
  ])('goes to Entra without the cache on %s, and says so', async (_name, fault) => {
    const app = await instance({ COSMOS_REQUEST_TIMEOUT_MS: '300' });
    const user = await caller('degraded');
    await injectFault('cosmos', { kind: 'read', ...fault });
    await injectFault('cosmos', { kind: 'create', ...fault });
    const warnings: string[] = [];
    const t = telemetry(warnings);

    const token = await app.graphTokens.acquire(user, GRAPH_SCOPES, t);
    const profile = await app.graph.get('/v1.0/me', token, t);
    expect(profile.id).toBe(user.oid);
    expect(t.fields.cosmosDegraded).toBe(true);
    expect(warnings.some((w) => w.includes('without the shared cache'))).toBe(true);
  });
});

/** The MSAL cache an instance holds for a caller, via a real exchange. */
async function msalCacheFor(app: Awaited<ReturnType<typeof instance>>, user: CallerAccount): Promise<string> {
  await app.graphTokens.acquire(user, GRAPH_SCOPES, telemetry());
  return exportCache(app, user);
}

async function exportCache(app: Awaited<ReturnType<typeof instance>>, user: CallerAccount): Promise<string> {
  const loaded = await app.tokenCache.load(
    user,
    cacheEntryKeyOf(user.assertion, GRAPH_SCOPES),
    GRAPH_SCOPES,
    telemetry(),
  );
  if (loaded.cacheJson === undefined) throw new Error('no cache for the caller');
  return loaded.cacheJson;
}
