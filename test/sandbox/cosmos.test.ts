// The Cosmos DB emulator through @azure/cosmos: the container the sandbox creates, ETags, counters, faults.
import { randomUUID } from 'node:crypto';

import type { Container, ErrorResponse } from '@azure/cosmos';
import { CosmosClient } from '@azure/cosmos';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';

import { counters, injectFault, resetEmulators, sandbox } from '../sandbox.js';

interface Item {
  id: string;
  value: number;
}

let client: CosmosClient;
let container: Container;

beforeAll(() => {
  const { cosmos } = sandbox();
  client = new CosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key });
  container = client.database(cosmos.database).container(cosmos.container);
});

afterAll(() => {
  client.dispose();
});

beforeEach(resetEmulators);

async function statusOf(operation: Promise<unknown>): Promise<number | undefined> {
  try {
    await operation;
    return undefined;
  } catch (error) {
    return (error as ErrorResponse).code as number | undefined;
  }
}

describe('Cosmos DB emulator', () => {
  it('has the token cache container partitioned by /id', async () => {
    const { resource } = await container.read();
    expect(resource?.partitionKey?.paths).toEqual(['/id']);
  });

  it('creates, reads and replaces a document, refusing a stale ETag with 412', async () => {
    const id = randomUUID();
    const created = await container.items.create<Item>({ id, value: 1 });
    expect(created.statusCode).toBe(201);
    const etag = created.etag;

    const read = await container.item(id, id).read<Item>();
    expect([read.statusCode, read.resource?.value, read.etag]).toEqual([200, 1, etag]);

    const replaced = await container
      .item(id, id)
      .replace<Item>({ id, value: 2 }, { accessCondition: { type: 'IfMatch', condition: etag } });
    expect(replaced.statusCode).toBe(200);
    expect(replaced.etag).not.toBe(etag);

    const stale = container
      .item(id, id)
      .replace<Item>({ id, value: 3 }, { accessCondition: { type: 'IfMatch', condition: etag } });
    expect(await statusOf(stale)).toBe(412);

    expect(await counters('cosmos')).toMatchObject({ create: 1, read: 1, replace: 2 });
  });

  it('answers 409 to a second create of the same id and 404 to a missing read', async () => {
    const id = randomUUID();
    await container.items.create<Item>({ id, value: 1 });
    expect(await statusOf(container.items.create<Item>({ id, value: 2 }))).toBe(409);
    const missing = await container.item(randomUUID(), 'x').read<Item>();
    expect(missing.statusCode).toBe(404);
  });

  it('counts upserts, deletes and queries by kind', async () => {
    const id = randomUUID();
    await container.items.upsert<Item>({ id, value: 1 });
    await container.items
      .query<Item>({ query: 'SELECT * FROM c WHERE c.id = @id', parameters: [{ name: '@id', value: id }] })
      .fetchAll();
    await container.item(id, id).delete();
    expect(await counters('cosmos')).toMatchObject({ upsert: 1, delete: 1, query: expect.any(Number) });
    expect((await counters('cosmos')).query).toBeGreaterThanOrEqual(1);
  });

  it('fails a read with an injected status', async () => {
    const id = randomUUID();
    await container.items.create<Item>({ id, value: 1 });
    await injectFault('cosmos', { kind: 'read', status: 403 });
    expect(await statusOf(container.item(id, id).read<Item>())).toBe(403);
    expect((await container.item(id, id).read<Item>()).statusCode).toBe(200);
  });

  it('is retried by the SDK on a throttled (429) request, both of which are counted', async () => {
    const id = randomUUID();
    await container.items.create<Item>({ id, value: 1 });
    await injectFault('cosmos', { kind: 'read', preset: 'throttled' });
    expect((await container.item(id, id).read<Item>()).statusCode).toBe(200);
    expect((await counters('cosmos')).read).toBe(2);
  });

  it('applies a fault with a partitionKey only to that document, whatever the operation', async () => {
    const [hot, cold] = [randomUUID(), randomUUID()];
    // 403: a status the SDK does not retry, so each operation meets the fault once.
    await injectFault('cosmos', { status: 403, partitionKey: hot, count: 2 });
    expect(await statusOf(container.item(cold, cold).read())).toBeUndefined();
    expect(await statusOf(container.items.create({ id: cold, value: 1 }))).toBeUndefined();
    expect(await statusOf(container.items.create({ id: hot, value: 1 }))).toBe(403);
    expect(await statusOf(container.item(hot, hot).read())).toBe(403);
    expect(await statusOf(container.items.create({ id: hot, value: 1 }))).toBeUndefined();
  });

  it('refuses a partitionKey that is not a string', async () => {
    const response = await fetch(`${sandbox().cosmos.endpoint}_emulator/faults`, {
      method: 'POST',
      body: JSON.stringify({ status: 503, partitionKey: 7 }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_fault' });
  });
});
