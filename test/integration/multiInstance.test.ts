import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { counters, resetEmulators, userToken } from '../sandbox.js';
import { entriesOf, readCacheDocument } from './cosmosDocuments.js';
import { requestLogs, startHosts, type TestHost } from './hosts.js';

const INSTANCES = 4;
const USERS = 20;
const CLIENTS_PER_USER = 2;
const CALLS_PER_CLIENT = 6;

let hosts: TestHost[];

beforeAll(async () => {
  hosts = await startHosts(INSTANCES);
  await resetEmulators();
}, 60_000);
afterAll(async () => {
  await Promise.all(hosts.map((host) => host.stop()));
});

function pick<T>(items: readonly T[], index: number): T {
  const item = items[index % items.length];
  if (item === undefined) throw new Error('empty list');
  return item;
}

describe('stateless scale-out', () => {
  test(`${INSTANCES} instances x ${USERS} users x ${CLIENTS_PER_USER} clients: one exchange per assertion and no lost update`, async () => {
    const clients = (
      await Promise.all(
        Array.from({ length: USERS }, (_, u) =>
          Promise.all(Array.from({ length: CLIENTS_PER_USER }, () => userToken(`scale-user-${u}`))),
        ),
      )
    ).flat();

    // First call of every client at once, spread over the instances: a user's two clients land on
    // different instances and race to write the same document.
    const first = await Promise.all(
      clients.map((client, i) =>
        fetch(`${pick(hosts, i).url}/api/me`, { headers: { Authorization: `Bearer ${client.accessToken}` } }),
      ),
    );
    expect(first.map((r) => r.status)).toEqual(clients.map(() => 200));

    // Then every client calls again on every instance, all interleaved.
    const calls = clients.flatMap((client, c) =>
      Array.from({ length: CALLS_PER_CLIENT - 1 }, (_, k) => ({ client, host: pick(hosts, c + k + 1) })),
    );
    const rest = await Promise.all(
      calls.map(({ client, host }) =>
        fetch(`${host.url}/api/me`, { headers: { Authorization: `Bearer ${client.accessToken}` } }).then(
          async (r) => ({
            status: r.status,
            body: (await r.json()) as { id?: string },
            oid: client.oid,
          }),
        ),
      ),
    );
    expect(rest.filter((r) => r.status !== 200)).toEqual([]);
    expect(rest.every((r) => r.body.id === r.oid)).toBe(true);

    expect((await counters('entra'))['token.obo']).toBe(USERS * CLIENTS_PER_USER);
    const logs = hosts.flatMap(requestLogs);
    const conflicts = logs.reduce(
      (sum, log) => sum + (typeof log.conflictRetries === 'number' ? log.conflictRetries : 0),
      0,
    );
    const outcomes = logs.reduce<Record<string, number>>((acc, log) => {
      acc[String(log.cache)] = (acc[String(log.cache)] ?? 0) + 1;
      return acc;
    }, {});
    console.log(`cache outcomes ${JSON.stringify(outcomes)}; conflicting writes retried: ${conflicts}`);
    expect(outcomes.miss).toBe(USERS * CLIENTS_PER_USER);

    for (let u = 0; u < USERS; u++) {
      const user = clients[u * CLIENTS_PER_USER];
      if (user === undefined) throw new Error('missing client');
      const entries = entriesOf(await readCacheDocument(`${user.oid}.${user.tid}`));
      expect(Object.keys(entries)).toHaveLength(CLIENTS_PER_USER);
      expect(Object.values(entries).every((e) => e.exp > Date.now() / 1000)).toBe(true);
    }
  }, 120_000);
});
