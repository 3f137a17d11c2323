import { beforeEach, describe, expect, test } from '@jest/globals';

import type { CallerAccount } from '../../shared/auth/caller.js';
import type { L2Read } from '../../shared/cache/l2.js';
import { MsalCacheRecords } from '../../shared/cache/msalCache.js';
import { loadConfig } from '../../shared/config.js';
import { cacheEntryKeyOf } from '../../shared/obo/cacheEntryKey.js';
import { createServices, type Services } from '../../shared/runtime.js';
import {
  callerAccount,
  counters,
  injectFault,
  resetEmulators,
  sandbox,
  setEntraSettings,
  userToken,
} from '../sandbox.js';
import { cacheContainer, entriesOf, readCacheDocument } from './cosmosDocuments.js';
import { instance, telemetry } from './services.js';

/** Graph's /v1.0/me with a given delegated token, through the app's own resource client. */
async function profileWith(app: Services, token: string): Promise<Record<string, unknown>> {
  const answer = await app.downstream
    .resource('graph')
    .client.send({ method: 'GET', target: '/v1.0/me', pathTemplate: '/v1.0/me' }, token);
  return answer.body ?? {};
}

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
    await a.tokens.acquire(user, GRAPH_SCOPES);
    await resetEmulators();

    const t = telemetry();
    await t.run(() => b.tokens.acquire(user, GRAPH_SCOPES));
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
    const loadedA = await t1.run(() => loadForMsal(a, first));
    const loadedB = await t2.run(() => loadForMsal(b, second));
    expect(loadedA.version.stored.etag).toBe(loadedB.version.stored.etag);
    await t1.run(() => writeEntry(a, first, jsonA, loadedA));
    await t2.run(() => writeEntry(b, second, jsonB, loadedB));

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

    const token = await t.run(() => app.tokens.acquire(user, GRAPH_SCOPES));
    const profile = await t.run(() => profileWith(app, token));
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
    await app.tokens.acquire(user, GRAPH_SCOPES);
    await resetEmulators();
    await setEntraSettings({ oboTokenLifetimeSeconds: 299 });

    await app.tokens.acquire(user, GRAPH_SCOPES);
    expect((await counters('entra'))['token.obo']).toBe(1);
    expect(await writes()).toBe(1);
  });

  test('keeps at most the configured number of entries, evicting the oldest expiry', async () => {
    const app = await instance({ TOKEN_CACHE_MAX_ENTRIES: '3' });
    const user = await caller('many-clients');
    for (let i = 0; i < 5; i++) {
      const assertion = (await userToken(`many-clients-${run}`)).accessToken;
      await app.tokens.acquire({ ...user, assertion }, GRAPH_SCOPES);
    }
    expect(Object.keys(entriesOf(await readCacheDocument(user.accountId)))).toHaveLength(3);
  });

  test('writes a TTL that outlives the newest token, encrypted entries and no refresh token', async () => {
    const app = await instance(WITHOUT_CAE);
    const user = await caller('at-rest');
    const token = await app.tokens.acquire(user, GRAPH_SCOPES);
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

    await t.run(() => app.tokens.acquire(user, GRAPH_SCOPES));
    expect(t.fields.cacheDocumentUnreadable).toBe(true);
    expect(Object.keys(entriesOf(await readCacheDocument(user.accountId)))).toEqual([
      cacheEntryKeyOf(user.assertion, GRAPH_SCOPES),
    ]);
  });

  test('treats an entry sealed for another caller as a miss', async () => {
    const app = await instance();
    const victim = await caller('victim');
    const attacker = await caller('attacker');
    await app.tokens.acquire(victim, GRAPH_SCOPES);
    const victimEntries = entriesOf(await readCacheDocument(victim.accountId));
    await cacheContainer().items.upsert({
      id: attacker.accountId,
      v: 1,
      ttl: 600,
      entries: { [cacheEntryKeyOf(attacker.assertion, GRAPH_SCOPES)]: Object.values(victimEntries)[0] },
    });
    const other = await instance();
    const t = telemetry();
    const token = await t.run(() => other.tokens.acquire(attacker, GRAPH_SCOPES));
    expect(t.fields.cache).toBe('miss');
    const profile = await t.run(() => profileWith(other, token));
    expect(profile.id).toBe(attacker.oid);
  });
});

describe('erasure and deletion', () => {
  test('an erase during an acquisition is not undone when the acquisition finishes', async () => {
    const app = await instance();
    const user = await caller('erase-race');
    await injectFault('entra', { kind: 'token.obo', delayMs: 1000 });
    const acquiring = app.tokens.acquire(user, GRAPH_SCOPES);
    await until(async () => (await counters('entra'))['token.obo'] === 1);
    await app.tokens.erase(user);
    await acquiring;

    expect(entriesOf(await readCacheDocument(user.accountId))).toEqual({});
    const t = telemetry();
    await t.run(() => app.tokens.acquire(user, GRAPH_SCOPES));
    expect(t.fields.cache).toBe('miss');
    expect((await counters('entra'))['token.obo']).toBe(2);
  });

  // Issue 11: this test used to expect the document to be created again, which is how an erase on one
  // instance was undone by another instance's acquisition that had loaded before it.
  test('a document deleted between read and write is not created again, and that is no outage', async () => {
    const app = await instance();
    const user = await caller('deleted-under-us');
    const source = await instance();
    const json = await msalCacheFor(source, user);
    await cacheContainer().item(user.accountId, user.accountId).delete();
    await cacheContainer().items.create({ id: user.accountId, v: 1, entries: {}, ttl: 600 });
    const t = telemetry();
    const loaded = await t.run(() => loadForMsal(app, user));
    await cacheContainer().item(user.accountId, user.accountId).delete();

    const written = await t.run(() => writeEntry(app, user, json, loaded));
    expect(t.fields.cosmosDegraded).toBeUndefined();
    expect(written.outcome).toBe('gone');
    expect(await readCacheDocument(user.accountId)).toBeUndefined();
  });

  test("an erase leaves a tombstone, and a new caller's first write is still a single create", async () => {
    const app = await instance();
    const user = await caller('tombstone');
    await app.tokens.acquire(user, GRAPH_SCOPES);
    const t = telemetry();
    await t.run(() => app.tokens.erase(user));
    const document = await readCacheDocument(user.accountId);
    expect(entriesOf(document)).toEqual({});
    expect(document).toMatchObject({ erasure: { id: expect.any(String), at: expect.any(Number) } });
    expect(Number(document?.ttl)).toBeLessThanOrEqual(600);
    expect((await counters('cosmos')).upsert).toBe(1);

    await resetEmulators();
    const newcomer = await caller('newcomer');
    await app.tokens.acquire(newcomer, GRAPH_SCOPES);
    expect(await counters('cosmos')).toMatchObject({ read: 1, create: 1, replace: 0, upsert: 0 });
  });

  test('two instances: an erase on A while B waits on Entra holds on every instance', async () => {
    const [a, b] = [await instance(), await instance()];
    const user = await caller('erase-two');
    const second = { ...user, assertion: (await userToken(`erase-two-${run}`)).accessToken };
    await a.tokens.acquire(user, GRAPH_SCOPES);
    const warmOnB = telemetry();
    await warmOnB.run(() => b.tokens.acquire(user, GRAPH_SCOPES));
    expect(warmOnB.fields.cache).toBe('l2-hit');

    // B reads the live document, then its exchange for the second client is held by Entra.
    await resetEmulators();
    await injectFault('entra', { kind: 'token.obo', delayMs: 1500 });
    const onB = telemetry();
    const acquiringOnB = onB.run(() => b.tokens.acquire(second, GRAPH_SCOPES));
    await until(async () => (await counters('entra'))['token.obo'] === 1);
    expect((await counters('cosmos')).read).toBe(1);
    await a.tokens.erase(user);
    expect(typeof (await acquiringOnB)).toBe('string');
    expect(onB.fields.cacheWriteSkipped).toBe('erased');
    expect(entriesOf(await readCacheDocument(user.accountId))).toEqual({});

    // After the 204: the erasing instance never serves from L1, and no instance from Cosmos DB.
    await resetEmulators();
    const outcomes: unknown[] = [];
    for (const [app, who] of [
      [a, user],
      [b, second],
      [await instance(), second],
    ] as const) {
      const t = telemetry();
      await t.run(() => app.tokens.acquire(who, GRAPH_SCOPES));
      outcomes.push(t.fields.cache);
    }
    expect(outcomes).toEqual(['miss', 'miss', 'l2-hit']);
    expect((await counters('entra'))['token.obo']).toBe(2);
  });

  test('another instance serves an erased caller from L1 no longer than the revalidation interval', async () => {
    const settings = { ...sandbox().settings, TOKEN_CACHE_L1_REVALIDATE_SECONDS: '30' };
    let clock = Date.now();
    const b = await createServices(loadConfig(settings), { now: () => clock });
    const a = await instance();
    const user = await caller('revalidate');
    await b.tokens.acquire(user, GRAPH_SCOPES);
    await a.tokens.erase(user);
    await resetEmulators();

    const within = telemetry();
    await within.run(() => b.tokens.acquire(user, GRAPH_SCOPES));
    expect(within.fields.cache).toBe('l1-hit');
    expect((await counters('cosmos')).read).toBe(0);

    clock += 31_000;
    const after = telemetry();
    await after.run(() => b.tokens.acquire(user, GRAPH_SCOPES));
    expect(after.fields).toMatchObject({ cacheRevalidated: true, cache: 'miss', cosmosReads: 1 });
    expect((await counters('entra'))['token.obo']).toBe(1);
  });

  test('a revalidation that finds the same entry costs one read and keeps serving from L1', async () => {
    const settings = { ...sandbox().settings, TOKEN_CACHE_L1_REVALIDATE_SECONDS: '30' };
    let clock = Date.now();
    const app = await createServices(loadConfig(settings), { now: () => clock });
    const user = await caller('revalidate-same');
    await app.tokens.acquire(user, GRAPH_SCOPES);
    await resetEmulators();
    clock += 31_000;
    const t = telemetry();
    await t.run(() => app.tokens.acquire(user, GRAPH_SCOPES));
    expect(t.fields).toMatchObject({ cacheRevalidated: true, cache: 'l1-hit', cosmosReads: 1 });
    const next = telemetry();
    await next.run(() => app.tokens.acquire(user, GRAPH_SCOPES));
    expect(next.fields.cosmosReads).toBeUndefined();
    expect(await counters('cosmos')).toMatchObject({ read: 1, replace: 0, create: 0 });
    expect((await counters('entra'))['token.obo']).toBe(0);
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
    await app.tokens.acquire(await caller('breaker-1'), GRAPH_SCOPES);
    const readsAfterFailure = (await counters('cosmos')).read;

    const t = telemetry();
    await t.run(async () => app.tokens.acquire(await caller('breaker-2'), GRAPH_SCOPES));
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

    const token = await t.run(() => app.tokens.acquire(user, GRAPH_SCOPES));
    const profile = await t.run(() => profileWith(app, token));
    expect(profile.id).toBe(user.oid);
    expect(t.fields.cosmosDegraded).toBe(true);
    expect(warnings.some((w) => w.includes('without the shared cache'))).toBe(true);
  });
});

describe('Cosmos DB failures by class', () => {
  test("a 429 storm on one caller's document leaves every other caller's cache hits untouched", async () => {
    const source = await instance();
    const hot = await caller('hot');
    const others = await Promise.all([1, 2, 3, 4].map((i) => caller(`cold-${i}`)));
    for (const user of [hot, ...others]) await source.tokens.acquire(user, GRAPH_SCOPES);
    const app = await instance({ COSMOS_REQUEST_TIMEOUT_MS: '3000' });
    await resetEmulators();
    await injectFault('cosmos', {
      preset: 'throttled',
      partitionKey: hot.accountId,
      count: 1000,
      headers: { 'x-ms-retry-after-ms': '5' },
    });

    const outcomes: Record<string, number> = {};
    for (let round = 0; round < 2; round++) {
      const onHot = telemetry();
      await onHot.run(() => app.tokens.acquire(hot, GRAPH_SCOPES));
      // The hot caller goes to Entra once; its token then lives in this instance's L1.
      expect(onHot.fields).toMatchObject(
        round === 0 ? { cosmosDegraded: true, cosmosFailure: 'throttled' } : { cache: 'l1-hit' },
      );
      for (const user of others) {
        const t = telemetry();
        await t.run(() => app.tokens.acquire(user, GRAPH_SCOPES));
        expect(t.fields.cosmosDegraded).toBeUndefined();
        const outcome = String(t.fields.cache);
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      }
    }
    // First round from Cosmos DB (the breaker stayed closed), second from L1.
    expect(outcomes).toEqual({ 'l2-hit': others.length, 'l1-hit': others.length });
    expect((await counters('entra'))['token.obo']).toBe(1);
  });

  test('a 413 on a write keeps only the new entry; a second 413 refuses the document, not the instance', async () => {
    const app = await instance();
    const user = await caller('too-large');
    for (let i = 0; i < 2; i++) {
      const assertion = (await userToken(`too-large-${run}`)).accessToken;
      await app.tokens.acquire({ ...user, assertion }, GRAPH_SCOPES);
    }
    expect(Object.keys(entriesOf(await readCacheDocument(user.accountId)))).toHaveLength(2);
    const tooLarge = { kind: 'replace', status: 413, partitionKey: user.accountId };

    await injectFault('cosmos', tooLarge);
    const third = { ...user, assertion: (await userToken(`too-large-${run}`)).accessToken };
    const pruned = telemetry();
    await pruned.run(() => app.tokens.acquire(third, GRAPH_SCOPES));
    expect(pruned.fields.cacheWriteSkipped).toBeUndefined();
    expect(Object.keys(entriesOf(await readCacheDocument(user.accountId)))).toEqual([
      cacheEntryKeyOf(third.assertion, GRAPH_SCOPES),
    ]);

    await injectFault('cosmos', { ...tooLarge, count: 2 });
    const fourth = { ...user, assertion: (await userToken(`too-large-${run}`)).accessToken };
    const refused = telemetry();
    await refused.run(() => app.tokens.acquire(fourth, GRAPH_SCOPES));
    expect(refused.fields).toMatchObject({ cacheWriteSkipped: 'too-large', cosmosFailure: 'too-large' });
    const other = telemetry();
    await other.run(async () => app.tokens.acquire(await caller('too-large-neighbour'), GRAPH_SCOPES));
    expect(other.fields.cosmosDegraded).toBeUndefined();
    expect(other.fields.cosmosReads).toBe(1);
  });

  test('an availability failure opens the breaker; a throttled document does not', async () => {
    // A deadline long enough for the SDK's throttling retries on a loaded machine: a cut one is an outage.
    const app = await instance({ COSMOS_REQUEST_TIMEOUT_MS: '3000' });
    const hot = await caller('breaker-hot');
    await injectFault('cosmos', {
      preset: 'throttled',
      partitionKey: hot.accountId,
      count: 100,
      headers: { 'x-ms-retry-after-ms': '5' },
    });
    await app.tokens.acquire(hot, GRAPH_SCOPES);
    const next = telemetry();
    await next.run(async () => app.tokens.acquire(await caller('breaker-next'), GRAPH_SCOPES));
    expect(next.fields.cosmosFailure).toBeUndefined();

    await injectFault('cosmos', { preset: 'unavailable', kind: 'read', count: 10 });
    const failing = telemetry();
    await failing.run(async () => app.tokens.acquire(await caller('breaker-503'), GRAPH_SCOPES));
    expect(failing.fields.cosmosFailure).toBe('unavailable');
    const skipped = telemetry();
    await skipped.run(async () => app.tokens.acquire(await caller('breaker-after'), GRAPH_SCOPES));
    expect(skipped.fields).toMatchObject({ cosmosFailure: 'breaker-open', cache: 'miss' });
  });
});

/** The MSAL cache an instance holds for a caller, via a real exchange (read back by an instance with a cold L1). */
async function msalCacheFor(app: Services, user: CallerAccount): Promise<string> {
  await app.tokens.acquire(user, GRAPH_SCOPES);
  const loaded = await loadForMsal(await instance(), user);
  if (loaded.cacheJson === undefined) throw new Error('no cache for the caller');
  return loaded.cacheJson;
}

/** An L2 read, as msal-node gets the entry. */
function loadForMsal(app: Services, user: CallerAccount): Promise<L2Read> {
  return app.tokenCache.l2.read(user.accountId, cacheEntryKeyOf(user.assertion, GRAPH_SCOPES));
}

/** The write-back of an MSAL cache msal-node changed, from the version an L2 read saw. */
function writeEntry(app: Services, user: CallerAccount, cacheJson: string, loaded: L2Read) {
  const exp = MsalCacheRecords.parse(cacheJson).latestAccessTokenExpiry() ?? 0;
  const key = cacheEntryKeyOf(user.assertion, GRAPH_SCOPES);
  return app.tokenCache.l2.write(user.accountId, key, { cacheJson, exp }, loaded.version);
}

/** Waits until the sandbox reports a state (a request has reached an emulator), polling its counters. */
async function until(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the sandbox never reached the expected state');
}
