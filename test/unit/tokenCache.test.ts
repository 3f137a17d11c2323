import { randomBytes } from 'node:crypto';

import { beforeEach, describe, expect, test } from '@jest/globals';

import { MemoryTokenCacheStore } from '../../dev/inMemory/tokenCacheStore.js';
import type { CallerAccount } from '../../shared/auth/caller.js';
import { COSMOS_BREAKER_MS, CosmosBreaker } from '../../shared/cache/breaker.js';
import { type CacheDocument, parseCacheDocument, TTL_GRACE_SECONDS } from '../../shared/cache/document.js';
import { encryptBlob } from '../../shared/cache/encryption.js';
import { type L1Options, L1TokenCache } from '../../shared/cache/l1.js';
import { type L2Options, L2TokenCache, openEntry } from '../../shared/cache/l2.js';
import { ApiError } from '../../shared/errors.js';
import { assertionHashOf, cacheEntryKeyOf } from '../../shared/obo/cacheEntryKey.js';
import { ExchangeLimit } from '../../shared/obo/exchangeLimit.js';
import type { OboClient } from '../../shared/obo/oboClient.js';
import { DelegatedTokenProvider } from '../../shared/obo/tokenProvider.js';
import { RequestTelemetry } from '../../shared/telemetry.js';

const SCOPES = ['https://graph.microsoft.com/User.Read'];
const MAIL_READ = ['https://graph.microsoft.com/Mail.Read'];
const T0 = 1_800_000_000_000;
const HOUR = 3600;
const REVALIDATE_SECONDS = 60;
const KEY = randomBytes(32);

let clock: number;
let store: MemoryTokenCacheStore;
let eraseIds: number;

/** msal-node's part, as the provider sees it: serves a usable token from the cache it is given, else exchanges. */
interface FakeObo extends OboClient {
  /** The MSAL cache each call was handed. */
  calls: (string | undefined)[];
  /** What the next exchanges return, in order (then `token-new-<n>`, for an hour). */
  next: { token: string; lifetime: number }[];
  /** Exchanges wait for it. */
  gate: Promise<void> | undefined;
  /** The changed MSAL cache of the next exchange, instead of one holding its token. */
  changed: string | undefined;
  /** Exchanges fail (Entra ID refuses). */
  refuse: boolean;
  /** Resolves once the next call reaches msal-node. */
  called(): Promise<void>;
}

function fakeObo(): FakeObo {
  let exchanges = 0;
  let onCall: (() => void) | undefined;
  const obo: FakeObo = {
    calls: [],
    next: [],
    gate: undefined,
    changed: undefined,
    refuse: false,
    called: () => new Promise<void>((resolve) => (onCall = resolve)),
    async acquire(_caller, _scopes, cacheJson, claims) {
      obo.calls.push(cacheJson);
      onCall?.();
      const cached = claims === undefined && cacheJson !== undefined ? usableIn(cacheJson) : undefined;
      if (cached !== undefined) return { accessToken: cached, fromCache: true, changedCacheJson: undefined };
      await obo.gate;
      if (obo.refuse) throw new ApiError('ERR_IDENTITY_PROVIDER_UNAVAILABLE', 'refused');
      const { token, lifetime } = obo.next.shift() ?? { token: `token-new-${++exchanges}`, lifetime: HOUR };
      const changedCacheJson = obo.changed ?? msalJson(token, lifetime);
      obo.changed = undefined;
      return { accessToken: token, fromCache: false, changedCacheJson };
    },
  };
  return obo;
}

/** The token msal-node would serve from this cache (not within 5 minutes of expiry). */
function usableIn(cacheJson: string): string | undefined {
  const parsed = JSON.parse(cacheJson) as {
    AccessToken?: Record<string, { secret: string; expires_on: string }>;
  };
  return Object.values(parsed.AccessToken ?? {}).find((t) => Number(t.expires_on) - 300 > clock / 1000)
    ?.secret;
}

/** One app instance: its provider and the layers it owns, over the shared store. */
interface Instance {
  tokens: DelegatedTokenProvider;
  l1: L1TokenCache;
  l2: L2TokenCache;
  obo: FakeObo;
}

function cache(settings: Partial<L1Options & L2Options> & { exchangesPerMinute?: number } = {}): Instance {
  const options = {
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
    ...settings,
  };
  const [l1, l2, obo] = [new L1TokenCache(options), new L2TokenCache(options), fakeObo()];
  const tokens = new DelegatedTokenProvider({
    l1,
    l2,
    obo,
    breaker: new CosmosBreaker(() => clock),
    now: () => clock,
    callerClockToleranceSeconds: 60,
    exchangeLimit: new ExchangeLimit(settings.exchangesPerMinute ?? 0, () => clock),
    newEraseId: () => `erase-${++eraseIds}`,
  });
  return { tokens, l1, l2, obo };
}

function caller(name: string, assertion = `${name}-assertion`): CallerAccount {
  return {
    oid: name,
    tid: 'tid',
    accountId: `${name}.tid`,
    scopes: ['access_as_user'],
    assertion,
    expiresAt: T0 / 1000 + 2 * HOUR,
  };
}

function keyOf(who: CallerAccount): string {
  return cacheEntryKeyOf(who.assertion, SCOPES);
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

/** A request for the caller's token that ends in an exchange for `token` when no cache can serve it. */
function acquire(c: Instance, who: CallerAccount, token: string, lifetime = HOUR): Promise<string> {
  c.obo.next.push({ token, lifetime });
  return c.tokens.acquire(who, SCOPES);
}

/** What the instance's L1 serves without asking L2 (a warm hit), or undefined. */
function warmHit(c: Instance, who: CallerAccount, scopes = SCOPES, key = keyOf(who)): string | undefined {
  const found = c.l1.lookup(who.accountId, key, scopes);
  return found.kind === 'fresh' ? found.accessToken : undefined;
}

/** Another instance stores a new token for the caller straight into L2 (read, then write from that version). */
async function storeInL2(c: Instance, who: CallerAccount, token: string, lifetime = HOUR) {
  const read = await c.l2.read(who.accountId, keyOf(who));
  const cacheJson = msalJson(token, lifetime);
  return c.l2.write(who.accountId, keyOf(who), { cacheJson, exp: clock / 1000 + lifetime }, read.version);
}

/** Starts an acquisition that has read L2 and waits in msal-node's exchange until `open` is called. */
async function heldAtExchange(c: Instance, who: CallerAccount, t = telemetry()) {
  let open = () => undefined as void;
  c.obo.gate = new Promise<void>((resolve) => (open = resolve));
  const called = c.obo.called();
  const acquiring = t.run(() => acquire(c, who, 'token-held'));
  await called;
  return {
    finish: async () => {
      open();
      c.obo.gate = undefined;
      return acquiring;
    },
  };
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
    const c = cache();
    const t = telemetry();
    await t.run(() => acquire(c, caller('ann'), 'token-1'));
    expect(t.fields.cache).toBe('miss');
    expect(t.fields.cosmosDegraded).toBeUndefined();
    expect(c.obo.calls).toEqual([undefined]);
    expect(store.calls.read).toBe(1);
  });

  test('an L2 hit hands msal-node the entry and fills L1, so the next hit reads nothing', async () => {
    await acquire(cache(), caller('ann'), 'token-1');
    const reader = cache();
    const t = telemetry();
    await t.run(() => reader.tokens.acquire(caller('ann'), SCOPES));
    expect(t.fields.cache).toBe('l2-hit');
    expect(reader.obo.calls[0]).toContain('token-1');
    const reads = store.calls.read;
    expect(warmHit(reader, caller('ann'))).toBe('token-1');
    expect(store.calls.read).toBe(reads);
  });

  test('an entry within 5 minutes of expiry is a miss that still hands msal-node the cache', async () => {
    const c = cache({ l1MaxEntries: 0 });
    const ann = caller('ann');
    await acquire(c, ann, 'short', 299);
    const t = telemetry();
    await t.run(() => acquire(c, ann, 'token-2'));
    expect(t.fields.cache).toBe('miss');
    expect(c.obo.calls[1]).toContain('short');
  });

  test('a document that does not parse is a miss, with a warning, and is overwritten', async () => {
    store.put('ann.tid', { id: 'ann.tid' });
    const warnings: string[] = [];
    const c = cache();
    await telemetry(warnings).run(() => acquire(c, caller('ann'), 'token-1'));
    expect(warnings).toHaveLength(1);
    expect(entriesOf('ann.tid')).toEqual([keyOf(caller('ann'))]);
  });

  test('an entry sealed for another caller is a miss', async () => {
    await acquire(cache(), caller('ann'), 'token-ann');
    const blob = Object.values(documentOf('ann.tid')?.entries ?? {})[0];
    if (blob === undefined) throw new Error('no entry');
    const bob = caller('bob');
    store.put('bob.tid', { id: 'bob.tid', v: 1, ttl: 600, entries: { [keyOf(bob)]: blob } });
    const t = telemetry();
    await t.run(() => acquire(cache(), bob, 'token-bob'));
    expect(t.fields.cache).toBe('miss');
  });

  test('with L1 disabled every call reads L2', async () => {
    const c = cache({ l1MaxEntries: 0 });
    await acquire(c, caller('ann'), 'token-1');
    expect(warmHit(c, caller('ann'))).toBeUndefined();
    const t = telemetry();
    await t.run(() => c.tokens.acquire(caller('ann'), SCOPES));
    expect(t.fields.cache).toBe('l2-hit');
  });

  test('L1 answers only for the scopes it was filled for, and not within 5 minutes of expiry', async () => {
    const c = cache({ l1RevalidateSeconds: 86_400 });
    const ann = caller('ann');
    await acquire(c, ann, 'token-1');
    expect(warmHit(c, ann, MAIL_READ)).toBeUndefined();
    expect(warmHit(c, ann)).toBe('token-1');
    clock += (HOUR - 300) * 1000;
    expect(warmHit(c, ann)).toBeUndefined();
  });
});

describe('L1 revalidation', () => {
  test('past the interval, one read confirms the same entry and L1 serves again', async () => {
    const c = cache();
    const ann = caller('ann');
    await acquire(c, ann, 'token-1');
    clock += REVALIDATE_SECONDS * 1000;
    expect(warmHit(c, ann)).toBeUndefined();
    const t = telemetry();
    const [reads, calls] = [store.calls.read, c.obo.calls.length];
    expect(await t.run(() => c.tokens.acquire(ann, SCOPES))).toBe('token-1');
    expect(t.fields).toMatchObject({ cache: 'l1-hit', cacheRevalidated: true, cosmosReads: 1 });
    expect(store.calls.read).toBe(reads + 1);
    expect(c.obo.calls).toHaveLength(calls);
    expect(warmHit(c, ann)).toBe('token-1');
  });

  test('an erase on another instance is seen at the next revalidation', async () => {
    const [a, b] = [cache(), cache()];
    const ann = caller('ann');
    await acquire(b, ann, 'token-1');
    await a.tokens.erase(ann);
    expect(warmHit(b, ann)).toBe('token-1');
    clock += REVALIDATE_SECONDS * 1000;
    b.obo.refuse = true;
    const t = telemetry();
    await expect(t.run(() => b.tokens.acquire(ann, SCOPES))).rejects.toBeInstanceOf(ApiError);
    expect(t.fields.cache).toBe('miss');
    expect(warmHit(b, ann)).toBeUndefined();
  });

  test('a newer token written by another instance replaces L1 through an L2 hit', async () => {
    const [a, b] = [cache(), cache()];
    const ann = caller('ann');
    await acquire(b, ann, 'token-1');
    clock += 1000;
    await storeInL2(a, ann, 'token-2', 2 * HOUR);
    clock += REVALIDATE_SECONDS * 1000;
    const t = telemetry();
    expect(await t.run(() => b.tokens.acquire(ann, SCOPES))).toBe('token-2');
    expect(t.fields.cache).toBe('l2-hit');
    expect(warmHit(b, ann)).toBe('token-2');
  });

  test('when Cosmos DB cannot answer, L1 keeps serving (nobody can erase meanwhile)', async () => {
    const c = cache();
    const ann = caller('ann');
    await acquire(c, ann, 'token-1');
    clock += REVALIDATE_SECONDS * 1000;
    store.failNext(503, { operations: ['read'] });
    const t = telemetry();
    expect(await t.run(() => c.tokens.acquire(ann, SCOPES))).toBe('token-1');
    expect(t.fields).toMatchObject({ cache: 'l1-hit', cosmosFailure: 'unavailable' });
    const next = telemetry();
    await next.run(() => c.tokens.acquire(ann, SCOPES));
    expect(next.fields).toMatchObject({ cache: 'l1-hit', cosmosFailure: 'breaker-open' });
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
      await t.run(() => acquire(c, caller('ann'), 'token-1'));
      expect(t.fields).toMatchObject({ cache: 'miss', cosmosDegraded: true, cosmosFailure: failure });

      const other = telemetry();
      await other.run(() => acquire(c, caller('bob'), 'token-2'));
      expect(other.fields.cosmosFailure).toBe(opens ? 'breaker-open' : undefined);
      clock += COSMOS_BREAKER_MS;
      const later = telemetry();
      await later.run(() => acquire(c, caller('carl'), 'token-3'));
      expect(later.fields.cosmosFailure).toBeUndefined();
    },
  );

  test('a degraded load keeps the new token in L1 only', async () => {
    const c = cache();
    const ann = caller('ann');
    store.failNext(429, { operations: ['read'] });
    await acquire(c, ann, 'token-1');
    expect(store.calls.write).toBe(0);
    expect(warmHit(c, ann)).toBe('token-1');
  });

  test('a 413 keeps only the new entry; a second 413 refuses the document without the breaker', async () => {
    const c = cache();
    const [one, two, three, four] = ['one', 'two', 'three', 'four'].map((a) => caller('ann', a));
    if (one === undefined || two === undefined || three === undefined || four === undefined)
      throw new Error();
    await acquire(c, one, 'token-1');
    await acquire(c, two, 'token-2');
    store.failNext(413, { operations: ['write'] });
    const t = telemetry();
    await t.run(() => acquire(c, three, 'token-3'));
    expect(entriesOf('ann.tid')).toEqual([keyOf(three)]);
    expect(t.fields.cacheWriteSkipped).toBeUndefined();

    store.failNext(413, { operations: ['write'] });
    store.failNext(413, { operations: ['write'] });
    const refused = telemetry();
    await refused.run(() => acquire(c, four, 'token-4'));
    expect(refused.fields).toMatchObject({ cacheWriteSkipped: 'too-large', cosmosFailure: 'too-large' });
    expect(entriesOf('ann.tid')).toEqual([keyOf(three)]);
    expect(warmHit(c, four)).toBe('token-4');
    const next = telemetry();
    await next.run(() => acquire(c, caller('bob'), 'token-bob'));
    expect(next.fields.cosmosFailure).toBeUndefined();
  });

  test('a write that fails for availability opens the breaker; a throttled write does not', async () => {
    const c = cache();
    store.failNext(429, { operations: ['write'] });
    await acquire(c, caller('ann'), 'token-1');
    const afterThrottle = telemetry();
    await afterThrottle.run(() => acquire(c, caller('bob'), 'token-bob'));
    expect(afterThrottle.fields.cosmosFailure).toBeUndefined();
    store.failNext(503, { operations: ['write'] });
    await acquire(c, caller('carl'), 'token-2');
    const afterOutage = telemetry();
    await afterOutage.run(() => acquire(c, caller('dora'), 'token-dora'));
    expect(afterOutage.fields.cosmosFailure).toBe('breaker-open');
  });
});

describe('save', () => {
  test('a new caller costs one read and one create, and the token goes into L1', async () => {
    const c = cache();
    await acquire(c, caller('ann'), 'token-1');
    expect(store.calls).toEqual({ read: 1, write: 1, erase: 0 });
    expect(warmHit(c, caller('ann'))).toBe('token-1');
    expect(JSON.stringify(store.get('ann.tid'))).not.toMatch(/token-1|refresh/);
  });

  test('stores nothing when the new cache holds no access token', async () => {
    const c = cache();
    c.obo.changed = '{"AccessToken":{}}';
    await acquire(c, caller('ann'), 'token-1');
    expect(store.calls.write).toBe(0);
  });

  test('two writers from the same ETag merge, the second after one conflict retry', async () => {
    const [a, b] = [cache(), cache()];
    store.put('ann.tid', { id: 'ann.tid', v: 1, ttl: 600, entries: {} });
    const [first, second] = [caller('ann', 'one'), caller('ann', 'two')];
    const [ta, tb] = [telemetry(), telemetry()];
    const heldA = await heldAtExchange(a, first, ta);
    const heldB = await heldAtExchange(b, second, tb);
    await heldA.finish();
    await heldB.finish();
    expect(tb.fields.conflictRetries).toBe(1);
    expect(entriesOf('ann.tid').sort()).toEqual([keyOf(first), keyOf(second)].sort());
  });

  test('gives up after the configured retries, says so, and keeps the token in this instance', async () => {
    const c = cache({ writeRetries: 1 });
    const ann = caller('ann');
    store.conflictNextWrites(2);
    const t = telemetry();
    await t.run(() => acquire(c, ann, 'token-1'));
    expect(t.fields).toMatchObject({ cacheWriteLost: true, conflictRetries: 1 });
    expect(warmHit(c, ann)).toBe('token-1');
  });

  test('a load older than half the tombstone TTL is not written (stale), but serves from L1', async () => {
    const c = cache();
    const t = telemetry();
    const held = await heldAtExchange(c, caller('ann'), t);
    clock += 301_000;
    await held.finish();
    expect(t.fields.cacheWriteSkipped).toBe('stale');
    expect(store.calls.write).toBe(0);
  });

  test('a document deleted under a replace is not created again', async () => {
    const c = cache();
    const ann = caller('ann');
    store.put('ann.tid', { id: 'ann.tid', v: 1, ttl: 600, entries: {} });
    const t = telemetry();
    const held = await heldAtExchange(c, ann, t);
    store.delete('ann.tid');
    await held.finish();
    expect(t.fields.cacheWriteSkipped).toBe('gone');
    expect(store.get('ann.tid')).toBeUndefined();
    expect(warmHit(c, ann)).toBeUndefined();
  });

  test('over a tombstone read after the erase: replaces it, or creates when it expired, keeping the marker', async () => {
    const c = cache();
    const ann = caller('ann');
    await c.tokens.erase(ann);
    clock += 1;
    await acquire(c, ann, 'token-1');
    expect(documentOf('ann.tid')).toMatchObject({ erasure: { id: 'erase-1' } });
    expect(entriesOf('ann.tid')).toEqual([keyOf(ann)]);

    await c.tokens.erase(ann);
    clock += 1;
    const held = await heldAtExchange(c, ann);
    store.delete('ann.tid');
    await held.finish();
    expect(documentOf('ann.tid')).toMatchObject({ erasure: { id: 'erase-2' } });
  });
});

describe('what L2 and L1 keep', () => {
  test('an entry and its document last no longer than the caller token, even when the Graph token lives 28 h', async () => {
    const c = cache();
    const ann = caller('ann');
    await acquire(c, ann, 'token-cae', 28 * HOUR);
    const document = documentOf('ann.tid');
    const remaining = ann.expiresAt - T0 / 1000;
    expect(document?.entries[keyOf(ann)]?.exp).toBe(ann.expiresAt + 60);
    expect(document?.ttl).toBeLessThanOrEqual(remaining + 60 + TTL_GRACE_SECONDS);
  });

  test('L1 does not serve past the caller token, however long the Graph token and the L1 TTL', async () => {
    const c = cache({ l1TtlSeconds: 86_400, l1RevalidateSeconds: 86_400 });
    const ann = caller('ann');
    await acquire(c, ann, 'token-cae', 28 * HOUR);
    clock = (ann.expiresAt + 59) * 1000;
    expect(warmHit(c, ann)).toBe('token-cae');
    clock = (ann.expiresAt + 60) * 1000;
    expect(warmHit(c, ann)).toBeUndefined();
  });

  test('the stored entry holds only the access token: no id token, account, refresh token or app metadata', async () => {
    const ann = caller('ann');
    await acquire(cache(), ann, 'token-1');
    const blob = documentOf('ann.tid')?.entries[keyOf(ann)]?.blob ?? '';
    const plaintext = openEntry(blob, [{ id: 'k1', key: KEY }], 'ann.tid', keyOf(ann));
    expect(Object.keys(JSON.parse(plaintext ?? '{}') as object)).toEqual(['AccessToken']);
  });

  test('an entry stored before compression (the JSON itself, encrypted) is still an L2 hit', async () => {
    const ann = caller('ann');
    const blob = encryptBlob(msalJson('token-plain'), [{ id: 'k1', key: KEY }], `ann.tid\n${keyOf(ann)}`);
    const entries = { [keyOf(ann)]: { blob, exp: T0 / 1000 + HOUR } };
    store.put('ann.tid', { id: 'ann.tid', v: 1, ttl: 600, entries });
    const t = telemetry();
    expect(await t.run(() => cache().tokens.acquire(ann, SCOPES))).toBe('token-plain');
    expect(t.fields.cache).toBe('l2-hit');
  });
});

describe('erase', () => {
  test('writes a tombstone in one request and forgets only this caller in L1', async () => {
    const c = cache();
    const [ann, bob] = [caller('ann'), caller('bob')];
    await acquire(c, ann, 'token-ann');
    await acquire(c, bob, 'token-bob');
    const t = telemetry();
    await t.run(() => c.tokens.erase(ann));
    expect(store.calls.erase).toBe(1);
    expect(documentOf('ann.tid')).toEqual({
      id: 'ann.tid',
      v: 1,
      entries: {},
      ttl: 600,
      erasure: { id: 'erase-1', at: T0 },
    });
    expect(warmHit(c, ann)).toBeUndefined();
    expect(warmHit(c, bob)).toBe('token-bob');
    const next = telemetry();
    await next.run(() => acquire(c, ann, 'token-ann-2'));
    expect(next.fields.cache).toBe('miss');
  });

  test('fails with ERR_TOKEN_CACHE_UNAVAILABLE when Cosmos DB cannot take it', async () => {
    const c = cache();
    store.failNext(503, { operations: ['erase'] });
    const t = telemetry();
    await expect(t.run(() => c.tokens.erase(caller('ann')))).rejects.toMatchObject({
      code: 'ERR_TOKEN_CACHE_UNAVAILABLE',
    });
    expect(t.fields.cosmosFailure).toBe('unavailable');
    store.failNext(429, { operations: ['erase'] });
    await expect(c.tokens.erase(caller('ann'))).rejects.toBeInstanceOf(ApiError);
  });

  test('an acquisition that loaded before an erase on this instance writes nothing, anywhere', async () => {
    const c = cache();
    const ann = caller('ann');
    const t = telemetry();
    const held = await heldAtExchange(c, ann, t);
    await c.tokens.erase(ann);
    await held.finish();
    expect(t.fields.cacheWriteSkipped).toBe('erased');
    expect(store.calls.write).toBe(0);
    expect(warmHit(c, ann)).toBeUndefined();
  });

  test('a load whose read started before an erase on this instance and answers after it never refills L1', async () => {
    const c = cache();
    const ann = caller('ann');
    await acquire(cache(), ann, 'token-1');
    const release = store.hold('read');
    const t = telemetry();
    const loading = t.run(() => c.tokens.acquire(ann, SCOPES));
    await c.tokens.erase(ann);
    release();
    await loading;
    expect(t.fields.cache).toBe('l2-hit');
    expect(warmHit(c, ann)).toBeUndefined();
  });

  test('a load that starts during the erase and reads the old document never refills L1', async () => {
    const c = cache();
    const ann = caller('ann');
    await acquire(cache(), ann, 'token-1');
    const releaseErase = store.hold('erase');
    const erasing = c.tokens.erase(ann);
    clock += 5;
    const t = telemetry();
    await t.run(() => c.tokens.acquire(ann, SCOPES));
    expect(t.fields.cache).toBe('l2-hit');
    clock += 5;
    releaseErase();
    await erasing;
    expect(warmHit(c, ann)).toBeUndefined();
  });

  test('a writer on another instance that loaded before the erase drops its write (412, then the marker)', async () => {
    const [a, b] = [cache(), cache()];
    const [one, two] = [caller('ann', 'one'), caller('ann', 'two')];
    await acquire(a, one, 'token-1');
    await acquire(b, one, 'token-1b');
    const t = telemetry();
    const heldOnB = await heldAtExchange(b, two, t);
    await a.tokens.erase(one);
    await heldOnB.finish();
    expect(t.fields).toMatchObject({ cacheWriteSkipped: 'erased', conflictRetries: 1 });
    expect(entriesOf('ann.tid')).toEqual([]);
    expect(warmHit(b, one)).toBeUndefined();
  });

  test('a first write that races an erase (409) is dropped', async () => {
    const [a, b] = [cache(), cache()];
    const ann = caller('ann');
    const t = telemetry();
    const held = await heldAtExchange(b, ann, t);
    await a.tokens.erase(ann);
    await held.finish();
    expect(t.fields.cacheWriteSkipped).toBe('erased');
    expect(entriesOf('ann.tid')).toEqual([]);
  });

  test('a pre-erase writer is dropped even after a post-erase writer re-created the document', async () => {
    const [a, b, c] = [cache(), cache(), cache()];
    const [one, two] = [caller('ann', 'one'), caller('ann', 'two')];
    await acquire(a, one, 'token-1');
    const t = telemetry();
    const beforeErase = await heldAtExchange(b, two, t);
    await a.tokens.erase(one);
    clock += 1;
    await acquire(c, one, 'token-after');
    await beforeErase.finish();
    expect(t.fields.cacheWriteSkipped).toBe('erased');
    expect(entriesOf('ann.tid')).toEqual([keyOf(one)]);
  });
});

describe('evict', () => {
  test('removes one entry with one conditional write, keeps the others and the erase marker', async () => {
    const c = cache();
    const [one, two] = [caller('ann', 'one'), caller('ann', 'two')];
    await c.tokens.erase(one);
    clock += 1;
    await acquire(c, one, 'token-1');
    await acquire(c, two, 'token-2');
    const writes = store.calls.write;
    await c.tokens.evict(one, SCOPES, 'token-1');
    expect(store.calls.write).toBe(writes + 1);
    expect(entriesOf('ann.tid')).toEqual([keyOf(two)]);
    expect(documentOf('ann.tid')?.erasure?.id).toBe('erase-1');
    expect(warmHit(c, one)).toBeUndefined();
    expect(warmHit(c, two)).toBe('token-2');
  });

  test('keeps an entry another instance refilled with a new token since the rejected one was served', async () => {
    const [a, b] = [cache(), cache()];
    const ann = caller('ann');
    await acquire(a, ann, 'token-1');
    // Instance b already evicted token-1 and stored its successor under the same key.
    await b.tokens.evict(ann, SCOPES, 'token-1');
    await acquire(b, ann, 'token-2');
    const writes = store.calls.write;
    await a.tokens.evict(ann, SCOPES, 'token-1');
    expect(store.calls.write).toBe(writes);
    expect(entriesOf('ann.tid')).toEqual([keyOf(ann)]);
    expect(warmHit(a, ann)).toBeUndefined();
    expect(warmHit(b, ann)).toBe('token-2');
    const t = telemetry();
    await t.run(() => a.tokens.acquire(ann, SCOPES));
    expect(t.fields.cache).toBe('l2-hit');
  });

  test('writes nothing when the entry is not there, and reads nothing while the breaker is open', async () => {
    const c = cache();
    await c.tokens.evict(caller('ann'), SCOPES, 'token-0');
    expect(store.calls).toMatchObject({ read: 1, write: 0 });
    store.failNext(503, { operations: ['read'] });
    await acquire(c, caller('bob'), 'token-bob');
    const t = telemetry();
    await t.run(() => c.tokens.evict(caller('ann'), SCOPES, 'token-0'));
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
    await t.run(() => c.tokens.evict(caller('ann'), SCOPES, 'token-1'));
    expect(t.fields).toMatchObject({ cosmosDegraded: true, cosmosFailure: 'throttled' });
    expect(warmHit(c, caller('ann'))).toBeUndefined();
    store.failNext(503, { operations: ['read'] });
    await c.tokens.evict(caller('ann'), SCOPES, 'token-1');
    const next = telemetry();
    await next.run(() => acquire(c, caller('bob'), 'token-bob'));
    expect(next.fields.cosmosFailure).toBe('breaker-open');
  });
});

describe('L1 bounds', () => {
  test('counts each entry by its strings plus a fixed overhead, evicting the least recent past the byte bound', async () => {
    // One entry: key ("a.tid\n" + entry key: 6 + 60) + token (7) + scopes (37) + source ("k1." + 16: 19) + 256.
    const entry = 6 + keyOf(caller('a', 'h')).length + 7 + 37 + 19 + 256;
    expect(entry).toBe(385);
    const c = cache({ l1MaxBytes: 2 * entry });
    for (const name of ['a', 'b', 'c']) await acquire(c, caller(name, 'h'), `token-${name}`);
    expect(warmHit(c, caller('a', 'h'))).toBeUndefined();
    expect(warmHit(c, caller('b', 'h'))).toBe('token-b');
    expect(warmHit(c, caller('c', 'h'))).toBe('token-c');
  });
});

describe('DelegatedTokenProvider', () => {
  test('a warm hit answers from L1 without msal-node or Cosmos DB', async () => {
    const c = cache();
    const ann = caller('ann');
    expect(await c.tokens.acquire(ann, SCOPES)).toBe('token-new-1');
    const [calls, reads] = [c.obo.calls.length, store.calls.read];
    const t = telemetry();
    expect(await t.run(() => c.tokens.acquire(ann, SCOPES))).toBe('token-new-1');
    expect(t.fields.cache).toBe('l1-hit');
    expect(c.obo.calls.length).toBe(calls);
    expect(store.calls.read).toBe(reads);
  });

  test('an L2 hit hands msal-node the decrypted cache and writes nothing', async () => {
    const ann = caller('ann');
    await cache().tokens.acquire(ann, SCOPES);
    const c = cache();
    const t = telemetry();
    const writes = store.calls.write;
    expect(await t.run(() => c.tokens.acquire(ann, SCOPES))).toBe('token-new-1');
    expect(t.fields.cache).toBe('l2-hit');
    expect(c.obo.calls[0]).toContain('token-new-1');
    expect(store.calls.write).toBe(writes);
  });

  test('concurrent requests for one caller and token share one acquisition; an erase starts a new one', async () => {
    const c = cache();
    let open = () => undefined as void;
    c.obo.gate = new Promise<void>((resolve) => (open = resolve));
    const ann = caller('ann');
    const [t1, t2] = [telemetry(), telemetry()];
    const first = t1.run(() => c.tokens.acquire(ann, SCOPES));
    const second = t2.run(() => c.tokens.acquire(ann, SCOPES));
    expect(t2.fields.cache).toBe('coalesced');
    await c.tokens.erase(ann);
    const third = c.tokens.acquire(ann, SCOPES);
    open();
    expect(await first).toBe(await second);
    expect(await third).not.toBe(await first);
    expect(c.obo.calls).toHaveLength(2);
    expect(assertionHashOf(ann.assertion)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe('the per-caller exchange bound', () => {
  test('past it, an exchange answers 429 ERR_TOO_MANY_EXCHANGES with Retry-After and never reaches msal-node', async () => {
    const c = cache({ exchangesPerMinute: 2 });
    const ann = caller('ann');
    for (const n of [1, 2]) {
      await c.tokens.erase(ann);
      await acquire(c, ann, `token-${n}`);
    }
    await c.tokens.erase(ann);
    const calls = c.obo.calls.length;
    const refused = acquire(c, ann, 'token-3');
    await expect(refused).rejects.toMatchObject({
      code: 'ERR_TOO_MANY_EXCHANGES',
      details: { retryAfterSeconds: 30 },
    });
    expect(c.obo.calls).toHaveLength(calls);
    c.obo.next = [];
    expect(await acquire(c, caller('bob'), 'token-bob')).toBe('token-bob');
    clock += 30_000;
    expect(await acquire(c, ann, 'token-3')).toBe('token-3');
  });

  test('what L1 and L2 serve is never counted; an exchange with claims is', async () => {
    const c = cache({ exchangesPerMinute: 1 });
    const ann = caller('ann');
    await acquire(c, ann, 'token-1');
    for (let i = 0; i < 3; i++) expect(await c.tokens.acquire(ann, SCOPES)).toBe('token-1');
    for (let i = 0; i < 3; i++)
      expect(await cache({ exchangesPerMinute: 1 }).tokens.acquire(ann, SCOPES)).toBe('token-1');
    await expect(c.tokens.acquireWithClaims(ann, SCOPES, '{"access_token":{}}')).rejects.toMatchObject({
      code: 'ERR_TOO_MANY_EXCHANGES',
    });
  });
});

/** A thrown Cosmos DB error with that status, or a connection failure (no status) for undefined. */
function thrown(status: number | undefined): Error | number {
  return status ?? Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
}
