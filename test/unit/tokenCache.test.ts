import { randomBytes } from 'node:crypto';

import { beforeEach, describe, expect, test } from '@jest/globals';

import { MemoryTokenCacheStore } from '../../dev/inMemory/tokenCacheStore.js';
import type { CallerAccount } from '../../shared/auth/caller.js';
import { type CacheDocument, parseCacheDocument } from '../../shared/cache/document.js';
import { COSMOS_BREAKER_MS, type LoadedCache, TokenCache } from '../../shared/cache/tokenCache.js';
import { ApiError } from '../../shared/errors.js';
import { assertionHashOf, GraphTokenService } from '../../shared/obo/graphTokens.js';
import type { OboClient } from '../../shared/obo/oboClient.js';
import { RequestTelemetry } from '../../shared/telemetry.js';

const SCOPES = ['https://graph.microsoft.com/User.Read'];
const T0 = 1_800_000_000_000;
const HOUR = 3600;
const REVALIDATE_SECONDS = 60;

let clock: number;
let store: MemoryTokenCacheStore;
let eraseIds: number;

function cache(settings: Partial<ConstructorParameters<typeof TokenCache>[0]> = {}): TokenCache {
  return new TokenCache({
    keys: [{ id: 'k1', key: KEY }],
    maxEntriesPerDocument: 16,
    writeRetries: 2,
    l1MaxEntries: 100,
    l1MaxBytes: 1024 * 1024,
    l1TtlSeconds: 300,
    l1RevalidateSeconds: REVALIDATE_SECONDS,
    store,
    now: () => clock,
    random: () => 0.5,
    sleep: () => Promise.resolve(),
    newEraseId: () => `erase-${++eraseIds}`,
    ...settings,
  });
}
const KEY = randomBytes(32);

function caller(name: string, assertion = `${name}-assertion`): CallerAccount {
  return {
    oid: name,
    tid: 'tid',
    accountId: `${name}.tid`,
    scopes: ['access_as_user'],
    assertion,
    expiresAt: 0,
  };
}

function telemetry(warnings: string[] = []): RequestTelemetry {
  return new RequestTelemetry({ warn: (message) => warnings.push(message) });
}

/** The MSAL cache JSON msal-node hands back after an exchange (only what the cache reads). */
function msalJson(token: string, expiresInSeconds = HOUR): string {
  return JSON.stringify({
    Account: {},
    IdToken: {},
    AccessToken: {
      at: { secret: token, target: SCOPES.join(' '), expires_on: String(clock / 1000 + expiresInSeconds) },
    },
    RefreshToken: { rt: { secret: 'refresh' } },
    AppMetadata: {},
  });
}

async function l2Load(c: TokenCache, who: CallerAccount): Promise<LoadedCache> {
  const loaded = await c.load(who, who.assertion, SCOPES);
  if (loaded.outcome === 'l1-hit') throw new Error('expected an L2 load');
  return loaded;
}

/** A token obtained through a miss and saved, as GraphTokenService does. */
async function acquire(c: TokenCache, who: CallerAccount, token: string): Promise<void> {
  await c.save(who, who.assertion, msalJson(token), await l2Load(c, who));
}

function documentOf(id: string): CacheDocument | undefined {
  return parseCacheDocument(store.get(id), id);
}

function entriesOf(id: string): string[] {
  return Object.keys(documentOf(id)?.entries ?? {});
}

beforeEach(() => {
  clock = T0;
  store = new MemoryTokenCacheStore();
  eraseIds = 0;
});

describe('load', () => {
  test('a new caller is a miss after one read, with nothing for msal-node', async () => {
    const loaded = await l2Load(cache(), caller('ann'));
    expect(loaded).toMatchObject({ outcome: 'miss', cacheJson: undefined, degraded: false });
    expect(store.calls.read).toBe(1);
  });

  test('an L2 hit hands msal-node the entry and fills L1, so the next hit reads nothing', async () => {
    const writer = cache();
    await acquire(writer, caller('ann'), 'token-1');
    const reader = cache();
    const loaded = await l2Load(reader, caller('ann'));
    expect(loaded.outcome).toBe('l2-hit');
    expect(loaded.cacheJson).toContain('token-1');
    const reads = store.calls.read;
    expect(reader.warmHit(caller('ann'), caller('ann').assertion, SCOPES)).toBe('token-1');
    expect(store.calls.read).toBe(reads);
  });

  test('an entry within 5 minutes of expiry is a miss that still hands msal-node the cache', async () => {
    const c = cache({ l1MaxEntries: 0 });
    const ann = caller('ann');
    await c.save(ann, ann.assertion, msalJson('short', 299), await l2Load(c, ann));
    const loaded = await l2Load(c, ann);
    expect(loaded.outcome).toBe('miss');
    expect(loaded.cacheJson).toContain('short');
  });

  test('a document that does not parse is a miss, with a warning, and is overwritten', async () => {
    store.put('ann.tid', { id: 'ann.tid' });
    const warnings: string[] = [];
    const c = cache();
    await telemetry(warnings).run(() => acquire(c, caller('ann'), 'token-1'));
    expect(warnings).toHaveLength(1);
    expect(entriesOf('ann.tid')).toEqual([caller('ann').assertion]);
  });

  test('an entry sealed for another caller is a miss', async () => {
    const c = cache();
    await acquire(c, caller('ann'), 'token-ann');
    const annDocument = documentOf('ann.tid');
    const blob = Object.values(annDocument?.entries ?? {})[0];
    if (blob === undefined) throw new Error('no entry');
    const bob = caller('bob');
    store.put('bob.tid', { id: 'bob.tid', v: 1, ttl: 600, entries: { [bob.assertion]: blob } });
    expect((await l2Load(cache(), bob)).outcome).toBe('miss');
  });

  test('with L1 disabled every call reads L2', async () => {
    const c = cache({ l1MaxEntries: 0 });
    await acquire(c, caller('ann'), 'token-1');
    expect(c.warmHit(caller('ann'), caller('ann').assertion, SCOPES)).toBeUndefined();
    expect((await l2Load(c, caller('ann'))).outcome).toBe('l2-hit');
  });

  test('L1 answers only for the scopes it was filled for, and not within 5 minutes of expiry', async () => {
    const c = cache({ l1RevalidateSeconds: 86_400 });
    const ann = caller('ann');
    await acquire(c, ann, 'token-1');
    expect(c.warmHit(ann, ann.assertion, ['https://graph.microsoft.com/Mail.Read'])).toBeUndefined();
    expect(c.warmHit(ann, ann.assertion, SCOPES)).toBe('token-1');
    clock += (HOUR - 300) * 1000;
    expect(c.warmHit(ann, ann.assertion, SCOPES)).toBeUndefined();
  });
});

describe('L1 revalidation', () => {
  test('past the interval, one read confirms the same entry and L1 serves again', async () => {
    const c = cache();
    const ann = caller('ann');
    await acquire(c, ann, 'token-1');
    clock += REVALIDATE_SECONDS * 1000;
    expect(c.warmHit(ann, ann.assertion, SCOPES)).toBeUndefined();
    const t = telemetry();
    const reads = store.calls.read;
    expect(await t.run(() => c.load(ann, ann.assertion, SCOPES))).toEqual({
      outcome: 'l1-hit',
      accessToken: 'token-1',
    });
    expect(t.fields).toMatchObject({ cacheRevalidated: true, cosmosReads: 1 });
    expect(store.calls.read).toBe(reads + 1);
    expect(c.warmHit(ann, ann.assertion, SCOPES)).toBe('token-1');
  });

  test('an erase on another instance is seen at the next revalidation', async () => {
    const [a, b] = [cache(), cache()];
    const ann = caller('ann');
    await acquire(b, ann, 'token-1');
    await a.erase(ann);
    expect(b.warmHit(ann, ann.assertion, SCOPES)).toBe('token-1');
    clock += REVALIDATE_SECONDS * 1000;
    const loaded = await b.load(ann, ann.assertion, SCOPES);
    expect(loaded.outcome).toBe('miss');
    expect(b.warmHit(ann, ann.assertion, SCOPES)).toBeUndefined();
  });

  test('a newer token written by another instance replaces L1 through an L2 hit', async () => {
    const [a, b] = [cache(), cache()];
    const ann = caller('ann');
    await acquire(b, ann, 'token-1');
    clock += 1000;
    await a.save(ann, ann.assertion, msalJson('token-2', 2 * HOUR), await l2Load(a, ann));
    clock += REVALIDATE_SECONDS * 1000;
    expect((await b.load(ann, ann.assertion, SCOPES)).outcome).toBe('l2-hit');
    expect(b.warmHit(ann, ann.assertion, SCOPES)).toBe('token-2');
  });

  test('when Cosmos DB cannot answer, L1 keeps serving (nobody can erase meanwhile)', async () => {
    const c = cache();
    const ann = caller('ann');
    await acquire(c, ann, 'token-1');
    clock += REVALIDATE_SECONDS * 1000;
    store.failNext(503, { operations: ['read'] });
    const t = telemetry();
    expect(await t.run(() => c.load(ann, ann.assertion, SCOPES))).toEqual({
      outcome: 'l1-hit',
      accessToken: 'token-1',
    });
    expect(t.fields.cosmosFailure).toBe('unavailable');
    const next = telemetry();
    expect((await next.run(() => c.load(ann, ann.assertion, SCOPES))).outcome).toBe('l1-hit');
    expect(next.fields.cosmosFailure).toBe('breaker-open');
  });
});

describe('Cosmos DB failures by class', () => {
  test.each([
    ['no answer (connection error or deadline)', undefined, 'unavailable', true],
    ['a timeout', 408, 'unavailable', true],
    ['a 503', 503, 'unavailable', true],
    ['a 500', 500, 'unavailable', true],
    ['a 429 past the SDK retries', 429, 'throttled', false],
    ['a 403', 403, 'rejected', false],
  ] as const)(
    'a read failing with %s (status %s) degrades the request as %s; breaker opens: %s',
    async (_n, status, failure, opens) => {
      const c = cache();
      store.failNext(thrown(status), { operations: ['read'] });
      const t = telemetry();
      const loaded = await t.run(() => l2Load(c, caller('ann')));
      expect(loaded).toMatchObject({ outcome: 'miss', degraded: true });
      expect(t.fields).toMatchObject({ cosmosDegraded: true, cosmosFailure: failure });

      const other = telemetry();
      await other.run(() => l2Load(c, caller('bob')));
      expect(other.fields.cosmosFailure).toBe(opens ? 'breaker-open' : undefined);
      clock += COSMOS_BREAKER_MS;
      const later = telemetry();
      await later.run(() => l2Load(c, caller('bob')));
      expect(later.fields.cosmosFailure).toBeUndefined();
    },
  );

  test('a degraded load keeps the new token in L1 only', async () => {
    const c = cache();
    const ann = caller('ann');
    store.failNext(429, { operations: ['read'] });
    await acquire(c, ann, 'token-1');
    expect(store.calls.write).toBe(0);
    expect(c.warmHit(ann, ann.assertion, SCOPES)).toBe('token-1');
  });

  test('a 413 keeps only the new entry; a second 413 refuses the document without the breaker', async () => {
    const c = cache();
    await acquire(c, caller('ann', 'one'), 'token-1');
    await acquire(c, caller('ann', 'two'), 'token-2');
    store.failNext(413, { operations: ['write'] });
    const t = telemetry();
    await t.run(() => acquire(c, caller('ann', 'three'), 'token-3'));
    expect(entriesOf('ann.tid')).toEqual(['three']);
    expect(t.fields.cacheWriteSkipped).toBeUndefined();

    store.failNext(413, { operations: ['write'] });
    store.failNext(413, { operations: ['write'] });
    const refused = telemetry();
    await refused.run(() => acquire(c, caller('ann', 'four'), 'token-4'));
    expect(refused.fields).toMatchObject({ cacheWriteSkipped: 'too-large', cosmosFailure: 'too-large' });
    expect(entriesOf('ann.tid')).toEqual(['three']);
    expect(c.warmHit(caller('ann', 'four'), 'four', SCOPES)).toBe('token-4');
    const next = telemetry();
    await next.run(() => l2Load(c, caller('bob')));
    expect(next.fields.cosmosFailure).toBeUndefined();
  });

  test('a write that fails for availability opens the breaker; a throttled write does not', async () => {
    const c = cache();
    store.failNext(429, { operations: ['write'] });
    await acquire(c, caller('ann'), 'token-1');
    const afterThrottle = telemetry();
    await afterThrottle.run(() => l2Load(c, caller('bob')));
    expect(afterThrottle.fields.cosmosFailure).toBeUndefined();
    store.failNext(503, { operations: ['write'] });
    await acquire(c, caller('carl'), 'token-2');
    const afterOutage = telemetry();
    await afterOutage.run(() => l2Load(c, caller('dora')));
    expect(afterOutage.fields.cosmosFailure).toBe('breaker-open');
  });
});

describe('save', () => {
  test('a new caller costs one read and one create, and the token goes into L1', async () => {
    const c = cache();
    await acquire(c, caller('ann'), 'token-1');
    expect(store.calls).toEqual({ read: 1, write: 1, erase: 0 });
    expect(c.warmHit(caller('ann'), caller('ann').assertion, SCOPES)).toBe('token-1');
    expect(JSON.stringify(store.get('ann.tid'))).not.toMatch(/token-1|refresh/);
  });

  test('stores nothing when the new cache holds no access token', async () => {
    const c = cache();
    const ann = caller('ann');
    await c.save(ann, ann.assertion, '{"AccessToken":{}}', await l2Load(c, ann));
    expect(store.calls.write).toBe(0);
  });

  test('two writers from the same ETag merge, the second after one conflict retry', async () => {
    const [a, b] = [cache(), cache()];
    store.put('ann.tid', { id: 'ann.tid', v: 1, ttl: 600, entries: {} });
    const [first, second] = [caller('ann', 'one'), caller('ann', 'two')];
    const [ta, tb] = [telemetry(), telemetry()];
    const [loadedA, loadedB] = [await ta.run(() => l2Load(a, first)), await tb.run(() => l2Load(b, second))];
    await ta.run(() => a.save(first, 'one', msalJson('token-1'), loadedA));
    await tb.run(() => b.save(second, 'two', msalJson('token-2'), loadedB));
    expect(tb.fields.conflictRetries).toBe(1);
    expect(entriesOf('ann.tid').sort()).toEqual(['one', 'two']);
  });

  test('gives up after the configured retries, says so, and keeps the token in this instance', async () => {
    const c = cache({ writeRetries: 1 });
    const ann = caller('ann');
    store.conflictNextWrites(2);
    const t = telemetry();
    await t.run(() => acquire(c, ann, 'token-1'));
    expect(t.fields).toMatchObject({ cacheWriteLost: true, conflictRetries: 1 });
    expect(c.warmHit(ann, ann.assertion, SCOPES)).toBe('token-1');
  });

  test('a load older than half the tombstone TTL is not written (stale), but serves from L1', async () => {
    const c = cache();
    const ann = caller('ann');
    const loaded = await l2Load(c, ann);
    clock += 301_000;
    const t = telemetry();
    await t.run(() => c.save(ann, ann.assertion, msalJson('token-1'), loaded));
    expect(t.fields.cacheWriteSkipped).toBe('stale');
    expect(store.calls.write).toBe(0);
  });

  test('a document deleted under a replace is not created again', async () => {
    const c = cache();
    const ann = caller('ann');
    store.put('ann.tid', { id: 'ann.tid', v: 1, ttl: 600, entries: {} });
    const loaded = await l2Load(c, ann);
    store.delete('ann.tid');
    const t = telemetry();
    await t.run(() => c.save(ann, ann.assertion, msalJson('token-1'), loaded));
    expect(t.fields.cacheWriteSkipped).toBe('gone');
    expect(store.get('ann.tid')).toBeUndefined();
    expect(c.warmHit(ann, ann.assertion, SCOPES)).toBeUndefined();
  });

  test('over a tombstone read after the erase: replaces it, or creates when it expired, keeping the marker', async () => {
    const c = cache();
    const ann = caller('ann');
    await c.erase(ann);
    clock += 1;
    const replaced = await l2Load(c, ann);
    await c.save(ann, ann.assertion, msalJson('token-1'), replaced);
    expect(documentOf('ann.tid')).toMatchObject({ erasure: { id: 'erase-1' } });
    expect(entriesOf('ann.tid')).toEqual([ann.assertion]);

    await c.erase(ann);
    clock += 1;
    const loaded = await l2Load(c, ann);
    store.delete('ann.tid');
    await c.save(ann, ann.assertion, msalJson('token-2'), loaded);
    expect(documentOf('ann.tid')).toMatchObject({ erasure: { id: 'erase-2' } });
  });
});

describe('erase', () => {
  test('writes a tombstone in one request and forgets only this caller in L1', async () => {
    const c = cache();
    const [ann, bob] = [caller('ann'), caller('bob')];
    await acquire(c, ann, 'token-ann');
    await acquire(c, bob, 'token-bob');
    const t = telemetry();
    await t.run(() => c.erase(ann));
    expect(store.calls.erase).toBe(1);
    expect(documentOf('ann.tid')).toEqual({
      id: 'ann.tid',
      v: 1,
      entries: {},
      ttl: 600,
      erasure: { id: 'erase-1', at: T0 },
    });
    expect(c.warmHit(ann, ann.assertion, SCOPES)).toBeUndefined();
    expect(c.warmHit(bob, bob.assertion, SCOPES)).toBe('token-bob');
    expect((await l2Load(c, ann)).outcome).toBe('miss');
  });

  test('fails with ERR_TOKEN_CACHE_UNAVAILABLE when Cosmos DB cannot take it', async () => {
    const c = cache();
    store.failNext(503, { operations: ['erase'] });
    const t = telemetry();
    await expect(t.run(() => c.erase(caller('ann')))).rejects.toMatchObject({
      code: 'ERR_TOKEN_CACHE_UNAVAILABLE',
    });
    expect(t.fields.cosmosFailure).toBe('unavailable');
    store.failNext(429, { operations: ['erase'] });
    await expect(c.erase(caller('ann'))).rejects.toBeInstanceOf(ApiError);
  });

  test('an acquisition that loaded before an erase on this instance writes nothing, anywhere', async () => {
    const c = cache();
    const ann = caller('ann');
    const loaded = await l2Load(c, ann);
    await c.erase(ann);
    const t = telemetry();
    await t.run(() => c.save(ann, ann.assertion, msalJson('token-1'), loaded));
    expect(t.fields.cacheWriteSkipped).toBe('erased');
    expect(store.calls.write).toBe(0);
    expect(c.warmHit(ann, ann.assertion, SCOPES)).toBeUndefined();
  });

  test('a load whose read started before an erase on this instance and answers after it never refills L1', async () => {
    const c = cache();
    const ann = caller('ann');
    await acquire(cache(), ann, 'token-1');
    const release = store.hold('read');
    const loading = c.load(ann, ann.assertion, SCOPES);
    await c.erase(ann);
    release();
    expect((await loading).outcome).toBe('l2-hit');
    expect(c.warmHit(ann, ann.assertion, SCOPES)).toBeUndefined();
  });

  test('a load that starts during the erase and reads the old document never refills L1', async () => {
    const c = cache();
    const ann = caller('ann');
    await acquire(cache(), ann, 'token-1');
    const releaseErase = store.hold('erase');
    const erasing = c.erase(ann);
    clock += 5;
    const loaded = await c.load(ann, ann.assertion, SCOPES);
    expect(loaded.outcome).toBe('l2-hit');
    clock += 5;
    releaseErase();
    await erasing;
    expect(c.warmHit(ann, ann.assertion, SCOPES)).toBeUndefined();
  });

  test('a writer on another instance that loaded before the erase drops its write (412, then the marker)', async () => {
    const [a, b] = [cache(), cache()];
    const [one, two] = [caller('ann', 'one'), caller('ann', 'two')];
    await acquire(a, one, 'token-1');
    await acquire(b, one, 'token-1b');
    const loadedOnB = await l2Load(b, two);
    await a.erase(one);
    const t = telemetry();
    await t.run(() => b.save(two, 'two', msalJson('token-2'), loadedOnB));
    expect(t.fields).toMatchObject({ cacheWriteSkipped: 'erased', conflictRetries: 1 });
    expect(entriesOf('ann.tid')).toEqual([]);
    expect(b.warmHit(one, 'one', SCOPES)).toBeUndefined();
  });

  test('a first write that races an erase (409) is dropped', async () => {
    const [a, b] = [cache(), cache()];
    const ann = caller('ann');
    const loaded = await l2Load(b, ann);
    await a.erase(ann);
    const t = telemetry();
    await t.run(() => b.save(ann, ann.assertion, msalJson('token-1'), loaded));
    expect(t.fields.cacheWriteSkipped).toBe('erased');
    expect(entriesOf('ann.tid')).toEqual([]);
  });

  test('a pre-erase writer is dropped even after a post-erase writer re-created the document', async () => {
    const [a, b, c] = [cache(), cache(), cache()];
    const [one, two] = [caller('ann', 'one'), caller('ann', 'two')];
    await acquire(a, one, 'token-1');
    const beforeErase = await l2Load(b, two);
    await a.erase(one);
    clock += 1;
    await acquire(c, one, 'token-after');
    const t = telemetry();
    await t.run(() => b.save(two, 'two', msalJson('token-2'), beforeErase));
    expect(t.fields.cacheWriteSkipped).toBe('erased');
    expect(entriesOf('ann.tid')).toEqual(['one']);
  });
});

describe('evict', () => {
  test('removes one entry with one conditional write, keeps the others and the erase marker', async () => {
    const c = cache();
    const [one, two] = [caller('ann', 'one'), caller('ann', 'two')];
    await c.erase(one);
    clock += 1;
    await acquire(c, one, 'token-1');
    await acquire(c, two, 'token-2');
    const writes = store.calls.write;
    await c.evict(one, 'one', 'token-1');
    expect(store.calls.write).toBe(writes + 1);
    expect(entriesOf('ann.tid')).toEqual(['two']);
    expect(documentOf('ann.tid')?.erasure?.id).toBe('erase-1');
    expect(c.warmHit(one, 'one', SCOPES)).toBeUndefined();
    expect(c.warmHit(two, 'two', SCOPES)).toBe('token-2');
  });

  test('keeps an entry another instance refilled with a new token since the rejected one was served', async () => {
    const [a, b] = [cache(), cache()];
    const ann = caller('ann');
    await acquire(a, ann, 'token-1');
    // Instance b already evicted token-1 and stored its successor under the same key.
    await b.evict(ann, ann.assertion, 'token-1');
    await acquire(b, ann, 'token-2');
    const writes = store.calls.write;
    await a.evict(ann, ann.assertion, 'token-1');
    expect(store.calls.write).toBe(writes);
    expect(entriesOf('ann.tid')).toEqual([ann.assertion]);
    expect(a.warmHit(ann, ann.assertion, SCOPES)).toBeUndefined();
    expect(b.warmHit(ann, ann.assertion, SCOPES)).toBe('token-2');
    expect((await a.load(ann, ann.assertion, SCOPES)).outcome).toBe('l2-hit');
  });

  test('writes nothing when the entry is not there, and reads nothing while the breaker is open', async () => {
    const c = cache();
    await c.evict(caller('ann'), 'none', 'token-0');
    expect(store.calls).toMatchObject({ read: 1, write: 0 });
    store.failNext(503, { operations: ['read'] });
    await l2Load(c, caller('bob'));
    const t = telemetry();
    await t.run(() => c.evict(caller('ann'), 'none', 'token-0'));
    expect(store.calls.read).toBe(2);
    expect(t.fields.cosmosFailure).toBe('breaker-open');
  });
});

describe('evict, failing', () => {
  test('a store failure degrades the request like a write, and only an outage opens the breaker', async () => {
    const c = cache();
    await acquire(c, caller('ann'), 'token-1');
    store.failNext(429, { operations: ['write'] });
    const t = telemetry();
    await t.run(() => c.evict(caller('ann'), caller('ann').assertion, 'token-1'));
    expect(t.fields).toMatchObject({ cosmosDegraded: true, cosmosFailure: 'throttled' });
    expect(c.warmHit(caller('ann'), caller('ann').assertion, SCOPES)).toBeUndefined();
    store.failNext(503, { operations: ['read'] });
    await c.evict(caller('ann'), caller('ann').assertion, 'token-1');
    const next = telemetry();
    await next.run(() => c.load(caller('bob'), 'h', SCOPES));
    expect(next.fields.cosmosFailure).toBe('breaker-open');
  });
});

describe('L1 bounds', () => {
  test('counts each entry by its strings plus a fixed overhead, evicting the least recent past the byte bound', async () => {
    // One entry: key ("a.tid\nh": 7) + token (7) + scopes (37) + source ("k1." + 16: 19) + 256 = 326 bytes.
    const c = cache({ l1MaxBytes: 2 * 326 });
    for (const name of ['a', 'b', 'c']) await acquire(c, caller(name, 'h'), `token-${name}`);
    expect(c.warmHit(caller('a', 'h'), 'h', SCOPES)).toBeUndefined();
    expect(c.warmHit(caller('b', 'h'), 'h', SCOPES)).toBe('token-b');
    expect(c.warmHit(caller('c', 'h'), 'h', SCOPES)).toBe('token-c');
  });
});

/** msal-node's part, as GraphTokenService sees it: serves a usable token from the cache it is given. */
function fakeObo(): OboClient & { calls: (string | undefined)[]; gate: Promise<void> | undefined } {
  let exchanges = 0;
  const obo = {
    calls: [] as (string | undefined)[],
    gate: undefined as Promise<void> | undefined,
    async acquire(_caller: CallerAccount, _scopes: readonly string[], cacheJson: string | undefined) {
      obo.calls.push(cacheJson);
      const cached = cacheJson === undefined ? undefined : /"secret":"(token-[^"]+)"/.exec(cacheJson)?.[1];
      if (cached !== undefined) return { accessToken: cached, fromCache: true, changedCacheJson: undefined };
      await obo.gate;
      const token = `token-new-${++exchanges}`;
      return { accessToken: token, fromCache: false, changedCacheJson: msalJson(token) };
    },
  };
  return obo;
}

describe('GraphTokenService', () => {
  test('a warm hit answers from L1 without msal-node or Cosmos DB', async () => {
    const obo = fakeObo();
    const service = new GraphTokenService(cache(), obo);
    const ann = caller('ann');
    expect(await service.acquire(ann, SCOPES)).toBe('token-new-1');
    const [calls, reads] = [obo.calls.length, store.calls.read];
    const t = telemetry();
    expect(await t.run(() => service.acquire(ann, SCOPES))).toBe('token-new-1');
    expect(t.fields.cache).toBe('l1-hit');
    expect(obo.calls.length).toBe(calls);
    expect(store.calls.read).toBe(reads);
  });

  test('an L2 hit hands msal-node the decrypted cache and writes nothing', async () => {
    const ann = caller('ann');
    await new GraphTokenService(cache(), fakeObo()).acquire(ann, SCOPES);
    const obo = fakeObo();
    const t = telemetry();
    const writes = store.calls.write;
    expect(await t.run(() => new GraphTokenService(cache(), obo).acquire(ann, SCOPES))).toBe('token-new-1');
    expect(t.fields.cache).toBe('l2-hit');
    expect(obo.calls[0]).toContain('token-new-1');
    expect(store.calls.write).toBe(writes);
  });

  test('concurrent requests for one caller and token share one acquisition; an erase starts a new one', async () => {
    const obo = fakeObo();
    let open = () => undefined as void;
    obo.gate = new Promise<void>((resolve) => (open = resolve));
    const service = new GraphTokenService(cache(), obo);
    const ann = caller('ann');
    const [t1, t2] = [telemetry(), telemetry()];
    const first = t1.run(() => service.acquire(ann, SCOPES));
    const second = t2.run(() => service.acquire(ann, SCOPES));
    expect(t2.fields.cache).toBe('coalesced');
    await service.erase(ann);
    const third = service.acquire(ann, SCOPES);
    open();
    expect(await first).toBe(await second);
    expect(await third).not.toBe(await first);
    expect(obo.calls).toHaveLength(2);
    expect(assertionHashOf(ann.assertion)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

/** A thrown Cosmos DB error with that status, or a connection failure (no status) for undefined. */
function thrown(status: number | undefined): Error | number {
  return status ?? Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
}
