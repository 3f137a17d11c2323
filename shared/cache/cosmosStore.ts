import type { Container } from '@azure/cosmos';

import { isRecord } from '../narrow.js';
import { type CacheDocument, parseCacheDocument } from './document.js';

export interface StoredDocument {
  /** Undefined when there is none, or when what is stored does not parse (then `etag` still lets us overwrite it). */
  document: CacheDocument | undefined;
  etag: string | undefined;
  requestCharge: number;
}

export type WriteOutcome =
  | { written: true; etag: string | undefined; requestCharge: number }
  | { written: false; requestCharge: number };

/** The token cache's view of Cosmos DB: point operations only, partition key = id. */
export interface TokenCacheStore {
  read(accountId: string): Promise<StoredDocument>;
  /** Replace with If-Match when `etag` is known, else create; `written: false` when another writer got there first. */
  write(document: CacheDocument, etag: string | undefined): Promise<WriteOutcome>;
  remove(accountId: string): Promise<{ requestCharge: number }>;
}

/**
 * `deadlineMs` bounds each operation including the SDK's own retries (it retries a timed-out read many
 * times): past it the cache degrades instead of holding up the caller.
 */
export function cosmosTokenCacheStore(container: Container, deadlineMs: number): TokenCacheStore {
  const deadline = () => ({ abortSignal: AbortSignal.timeout(deadlineMs) });
  return {
    async read(accountId) {
      const response = await container.item(accountId, accountId).read<Record<string, unknown>>(deadline());
      return {
        document: parseCacheDocument(response.resource, accountId),
        etag: response.resource === undefined ? undefined : response.etag,
        requestCharge: response.requestCharge,
      };
    },

    async write(document, etag) {
      try {
        const response =
          etag === undefined
            ? await container.items.create(document, deadline())
            : await container
                .item(document.id, document.id)
                .replace(document, { ...deadline(), accessCondition: { type: 'IfMatch', condition: etag } });
        return { written: true, etag: response.etag, requestCharge: response.requestCharge };
      } catch (error) {
        const status = statusOf(error);
        // 404 on replace: the document was deleted (TTL, erase) since our read; re-read and create.
        if (status === 412 || status === 409 || (status === 404 && etag !== undefined)) {
          return { written: false, requestCharge: chargeOf(error) };
        }
        throw error;
      }
    },

    async remove(accountId) {
      try {
        const response = await container.item(accountId, accountId).delete(deadline());
        return { requestCharge: response.requestCharge };
      } catch (error) {
        if (statusOf(error) === 404) return { requestCharge: chargeOf(error) };
        throw error;
      }
    },
  };
}

/** The HTTP status of an @azure/cosmos error (its `code`), or undefined for a network failure or timeout. */
export function statusOf(error: unknown): number | undefined {
  const code = isRecord(error) ? Number(error.code) : NaN;
  return Number.isInteger(code) ? code : undefined;
}

function chargeOf(error: unknown): number {
  const headers = isRecord(error) ? error.headers : undefined;
  const charge = isRecord(headers) ? Number(headers['x-ms-request-charge']) : NaN;
  return Number.isFinite(charge) ? charge : 0;
}
