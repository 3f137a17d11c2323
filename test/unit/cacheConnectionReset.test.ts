// Found by the soak (npm run bench -- --soak, docs/benchmarks.md): one Cosmos DB write cut by a connection reset
// (ECONNRESET on a reused keep-alive connection, no outage) opened the instance's breaker for 10 s, so every caller
// not in that host's L1 went to Entra, and the token of the write never reached L2, so the next host exchanged
// again. A conditional write (If-Match, or a create that answers 409) is safe to send again: retried once on a
// fresh connection it lands, and one reset is not an outage. Marked `failing` until shared/cache does that (the
// cache helper's rework owns that folder): jest then reports it as passing; once fixed, drop `.failing`.
import { randomBytes } from 'node:crypto';

import { beforeEach, expect, test } from '@jest/globals';

import { MemoryTokenCacheStore } from '../../dev/inMemory/tokenCacheStore.js';
import type { CallerAccount } from '../../shared/auth/caller.js';
import { parseCacheDocument } from '../../shared/cache/document.js';
import { type LoadedCache, TokenCache } from '../../shared/cache/tokenCache.js';
import { RequestTelemetry } from '../../shared/telemetry.js';

const SCOPES = ['https://graph.microsoft.com/User.Read'];
const KEY = randomBytes(32);
let clock: number;
let store: MemoryTokenCacheStore;

beforeEach(() => {
  clock = 1_800_000_000_000;
  store = new MemoryTokenCacheStore();
});

function cache(): TokenCache {
  return new TokenCache({
    keys: [{ id: 'k1', key: KEY }],
    maxEntriesPerDocument: 16,
    writeRetries: 2,
    l1MaxEntries: 100,
    l1MaxBytes: 1024 * 1024,
    l1TtlSeconds: 300,
    l1RevalidateSeconds: 60,
    store,
    now: () => clock,
    random: () => 0.5,
    sleep: () => Promise.resolve(),
  });
}

function caller(name: string): CallerAccount {
  return {
    oid: name,
    tid: 'tid',
    accountId: `${name}.tid`,
    scopes: ['access_as_user'],
    assertion: `${name}-assertion`,
    expiresAt: 0,
  };
}

function msalJson(token: string): string {
  return JSON.stringify({
    AccessToken: { at: { secret: token, target: SCOPES.join(' '), expires_on: String(clock / 1000 + 3600) } },
  });
}

async function l2Load(c: TokenCache, who: CallerAccount): Promise<LoadedCache> {
  const loaded = await c.load(who, who.assertion, SCOPES);
  if (loaded.outcome === 'l1-hit') throw new Error('expected an L2 load');
  return loaded;
}

/** What Node's HTTP client throws when the server closed a reused keep-alive connection. */
function connectionReset(): Error {
  return Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
}

test.failing(
  'a write cut once by a connection reset lands on a retry, and the breaker stays closed',
  async () => {
    const c = cache();
    const ann = caller('ann');
    store.failNext(connectionReset(), { operations: ['write'] });
    const saving = new RequestTelemetry({ warn: () => undefined });
    await saving.run(async () => c.save(ann, ann.assertion, msalJson('token-1'), await l2Load(c, ann)));
    expect(Object.keys(parseCacheDocument(store.get('ann.tid'), 'ann.tid')?.entries ?? {})).toEqual([
      ann.assertion,
    ]);

    const next = new RequestTelemetry({ warn: () => undefined });
    await next.run(() => l2Load(c, caller('bob')));
    expect(next.fields.cosmosFailure).toBeUndefined();
  },
);
