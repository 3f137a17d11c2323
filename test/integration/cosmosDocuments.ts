// Reads the token cache documents straight from the sandbox's Cosmos DB, as an operator would.
import { CosmosClient } from '@azure/cosmos';

import { isRecord } from '../../shared/narrow.js';
import { sandbox } from '../sandbox.js';

export function cacheContainer() {
  const { cosmos } = sandbox();
  return new CosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key })
    .database(cosmos.database)
    .container(cosmos.container);
}

export async function readCacheDocument(accountId: string): Promise<Record<string, unknown> | undefined> {
  const { resource } = await cacheContainer().item(accountId, accountId).read<Record<string, unknown>>();
  return resource;
}

export function entriesOf(
  document: Record<string, unknown> | undefined,
): Record<string, { blob: string; exp: number }> {
  const entries = document?.entries;
  return isRecord(entries) ? (entries as Record<string, { blob: string; exp: number }>) : {};
}
