// Found by the soak (npm run bench -- --soak, docs/benchmarks.md): one Cosmos DB write cut by a connection reset
// (ECONNRESET on a reused keep-alive connection, no outage) opened the instance's breaker for 10 s, so every caller
// not in that host's L1 went to Entra, and the token of the write never reached L2, so the next host exchanged
// again. A conditional write (If-Match, or a create that answers 409) is safe to send again: retried once on a
// fresh connection it lands, and one reset is not an outage.
import { randomBytes } from 'node:crypto';

import { expect, test } from '@jest/globals';

import { MemoryTokenCacheStore } from '../../dev/inMemory/tokenCacheStore.js';
import { isConnectionReset } from '../../shared/cache/cosmosStore.js';
import { parseCacheDocument } from '../../shared/cache/document.js';
import { L2TokenCache } from '../../shared/cache/l2.js';

const SCOPES = ['https://graph.microsoft.com/User.Read'];
const NOW = 1_800_000_000_000;

/** What Node's HTTP client throws when the server closed a reused keep-alive connection. */
function connectionReset(): Error {
  return Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
}

/** An entry write whose first `resets` attempts are cut by a connection reset. */
async function writeCutByResets(resets: number) {
  const store = new MemoryTokenCacheStore();
  const l2 = new L2TokenCache({
    store,
    keys: [{ id: 'k1', key: randomBytes(32) }],
    maxEntriesPerDocument: 16,
    writeRetries: 2,
    now: () => NOW,
    random: () => 0.5,
    sleep: () => Promise.resolve(),
  });
  const cacheJson = JSON.stringify({
    AccessToken: {
      at: { secret: 'token-1', target: SCOPES.join(' '), expires_on: String(NOW / 1000 + 3600) },
    },
  });
  const read = await l2.read('ann.tid', 'entry');
  store.failNext(connectionReset(), { operations: ['write'], times: resets });
  const written = l2.write('ann.tid', 'entry', { cacheJson, exp: NOW / 1000 + 3600 }, read.version);
  return { store, written };
}

test('a write cut once by a connection reset lands on a retry instead of failing the write', async () => {
  const { store, written } = await writeCutByResets(1);
  expect((await written).outcome).toBe('written');
  expect(Object.keys(parseCacheDocument(store.get('ann.tid'), 'ann.tid')?.entries ?? {})).toEqual(['entry']);
});

test('a write cut by resets twice in a row fails as before (one resend, no loop)', async () => {
  const { store, written } = await writeCutByResets(2);
  await expect(written).rejects.toMatchObject({ code: 'ECONNRESET' });
  expect(store.get('ann.tid')).toBeUndefined();
});

test.each([
  ['a reset connection', connectionReset(), true],
  [
    'a reset wrapped as the cause',
    Object.assign(new Error('fetch failed'), { cause: connectionReset() }),
    true,
  ],
  ['a timeout', Object.assign(new Error('The operation was aborted'), { name: 'TimeoutError' }), false],
  [
    'a Cosmos DB 503 whose cause was a reset',
    Object.assign(new Error('Service unavailable'), { code: 503, cause: connectionReset() }),
    false,
  ],
])('isConnectionReset: %s -> %s', (_name, error, expected) => {
  expect(isConnectionReset(error)).toBe(expected);
});
