/**
 * What the L1 revalidation interval (TOKEN_CACHE_L1_REVALIDATE_SECONDS) costs: Cosmos DB point reads
 * per instance per second, measured by running the real token provider and its cache layers over simulated time (injected clock,
 * seeded random arrivals) against the in-memory store (dev/inMemory/tokenCacheStore.ts), which counts
 * requests. No sandbox needed:
 * `npm run bench:revalidation`.
 *
 * Each caller calls at random (Poisson) with a mean gap between calls; every call needs a Graph token.
 * Entra tokens last 60-90 minutes. The first 10 minutes warm the caches and are not counted.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

import { MemoryTokenCacheStore } from '../dev/inMemory/tokenCacheStore.js';
import type { CallerAccount } from '../shared/auth/caller.js';
import { CosmosBreaker } from '../shared/cache/breaker.js';
import { L1TokenCache } from '../shared/cache/l1.js';
import { L2TokenCache } from '../shared/cache/l2.js';
import { ExchangeLimit } from '../shared/obo/exchangeLimit.js';
import type { OboClient } from '../shared/obo/oboClient.js';
import { DelegatedTokenProvider } from '../shared/obo/tokenProvider.js';
import { mulberry32 } from './seededRandom.js';

const SCOPES = ['https://graph.microsoft.com/User.Read'];
const WARM_UP_SECONDS = 600;
const MEASURED_SECONDS = 1800;

/** The MSAL cache JSON msal-node would hand back after an exchange (only what the cache reads). */
function msalCacheJson(accessToken: string, expiresOn: number): string {
  return JSON.stringify({
    Account: {},
    IdToken: {},
    AccessToken: {
      at: { secret: accessToken, target: SCOPES.join(' '), expires_on: String(expiresOn) },
    },
    RefreshToken: {},
    AppMetadata: {},
  });
}

/** The token msal-node would serve from this cache (it renews 5 minutes before expiry). */
function usableToken(cacheJson: string, nowSeconds: number): string | undefined {
  const parsed = JSON.parse(cacheJson) as {
    AccessToken?: Record<string, { secret: string; expires_on: string }>;
  };
  return Object.values(parsed.AccessToken ?? {}).find((t) => Number(t.expires_on) - 300 > nowSeconds)?.secret;
}

interface Scenario {
  callers: number;
  meanGapSeconds: number;
}

/** Cosmos DB reads per second of one instance over the measured window, for one interval. */
async function readsPerSecond(scenario: Scenario, revalidateSeconds: number): Promise<number> {
  // The same arrivals for every interval compared.
  const random = mulberry32(42);
  let clock = 0;
  const store = new MemoryTokenCacheStore();
  const reads = () => store.reads;
  const options = {
    keys: [{ id: 'k1', key: randomBytes(32) }],
    maxEntriesPerDocument: 16,
    writeRetries: 5,
    l1MaxEntries: 1_000_000,
    l1MaxBytes: 2 ** 31,
    l1TtlSeconds: 300,
    l1RevalidateSeconds: revalidateSeconds,
    store,
    now: () => clock,
    random,
    sleep: () => Promise.resolve(),
  };
  // msal-node's part without Entra ID: a cache hit when the entry holds a usable token, else a new token.
  const obo: OboClient = {
    acquire(caller, _scopes, cacheJson) {
      const cached = cacheJson === undefined ? undefined : usableToken(cacheJson, clock / 1000);
      if (cached !== undefined) {
        return Promise.resolve({ accessToken: cached, fromCache: true, changedCacheJson: undefined });
      }
      const expiresOn = Math.floor(clock / 1000) + 3600 + Math.floor(random() * 1800);
      const accessToken = `token-${caller.oid}-${clock}`;
      const changedCacheJson = msalCacheJson(accessToken, expiresOn);
      return Promise.resolve({ accessToken, fromCache: false, changedCacheJson });
    },
  };
  const tokens = new DelegatedTokenProvider({
    l1: new L1TokenCache(options),
    l2: new L2TokenCache(options),
    breaker: new CosmosBreaker(() => clock),
    obo,
    now: () => clock,
    callerClockToleranceSeconds: 60,
    exchangeLimit: new ExchangeLimit(0, () => clock),
  });
  const callers: CallerAccount[] = Array.from({ length: scenario.callers }, (_, i) => ({
    oid: `oid-${i}`,
    tid: 'tid',
    accountId: `oid-${i}.tid`,
    scopes: ['access_as_user'],
    assertion: `assertion-${i}`,
    expiresAt: Number.MAX_SAFE_INTEGER,
  }));
  const end = (WARM_UP_SECONDS + MEASURED_SECONDS) * 1000;
  const arrivals: { at: number; index: number }[] = [];
  callers.forEach((_, index) => {
    for (let at = 0; ;) {
      at += -Math.log(1 - random()) * scenario.meanGapSeconds * 1000;
      if (at >= end) break;
      arrivals.push({ at, index });
    }
  });
  arrivals.sort((x, y) => x.at - y.at);
  let readsAtStart: number | undefined;
  for (const { at, index } of arrivals) {
    clock = at;
    if (readsAtStart === undefined && clock >= WARM_UP_SECONDS * 1000) readsAtStart = reads();
    const caller = callers[index];
    if (caller === undefined) continue;
    await tokens.acquire(caller, SCOPES);
  }
  return (reads() - (readsAtStart ?? 0)) / MEASURED_SECONDS;
}

// `--smoke` (bench/smoke.ts): one small scenario, one interval and none; its figures mean nothing.
const { values: args } = parseArgs({ options: { smoke: { type: 'boolean', default: false } } });
const scenarios: Scenario[] = args.smoke
  ? [{ callers: 10, meanGapSeconds: 30 }]
  : [
      { callers: 100, meanGapSeconds: 30 },
      { callers: 1000, meanGapSeconds: 5 },
      { callers: 1000, meanGapSeconds: 30 },
      { callers: 1000, meanGapSeconds: 300 },
    ];
// 100000: longer than the L1 TTL, i.e. no revalidation at all (the cost before this setting existed).
const intervals = args.smoke ? [60, 100_000] : [15, 30, 60, 120, 100_000];
const rows: Record<string, string>[] = [];
for (const scenario of scenarios) {
  const row: Record<string, string> = {
    'callers/instance': String(scenario.callers),
    'mean gap between a caller’s calls': `${scenario.meanGapSeconds} s`,
    'calls/s': (scenario.callers / scenario.meanGapSeconds).toFixed(1),
  };
  for (const interval of intervals) {
    const perSecond = await readsPerSecond(scenario, interval);
    row[interval === 100_000 ? 'no revalidation' : `${interval} s`] = perSecond.toFixed(2);
  }
  rows.push(row);
}
console.log('Cosmos DB point reads per second per instance (each ~1 RU for a document up to 1 KB):');
console.table(rows);
