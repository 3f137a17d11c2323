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
  /**
   * `conflict`: another writer got there first (412 on replace, 409 on create): re-read and merge.
   * `gone`: the document we replace no longer exists (404): its TTL ran out, or an operator deleted it.
   */
  | { written: false; reason: 'conflict' | 'gone'; requestCharge: number };

/** The token cache's view of Cosmos DB: point operations only, partition key = id. */
export interface TokenCacheStore {
  read(accountId: string): Promise<StoredDocument>;
  /** Replace with If-Match when `etag` is known, else create; `written: false` when the precondition failed. */
  write(document: CacheDocument, etag: string | undefined): Promise<WriteOutcome>;
  /** Writes the erase's tombstone over whatever is there (upsert: the erase must win without a read). */
  erase(tombstone: CacheDocument): Promise<{ requestCharge: number }>;
}

/**
 * What a failed Cosmos DB request says about Cosmos DB. Only `unavailable` (no answer, a timeout, 5xx)
 * is about the service as a whole; the others concern one document or one request.
 */
export type CosmosFailure = 'unavailable' | 'throttled' | 'too-large' | 'rejected';

export function classifyCosmosFailure(error: unknown): CosmosFailure {
  const status = statusOf(error);
  // No HTTP status: the connection failed, or our deadline or the SDK's timeout cut the request.
  if (status === undefined || status === 408 || status >= 500) return 'unavailable';
  if (status === 429) return 'throttled';
  if (status === 413) return 'too-large';
  return 'rejected';
}

/** Error codes of a connection the server closed under a request (a reused keep-alive socket, say). */
const CONNECTION_RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

/**
 * A request cut by a reset connection, with no HTTP answer: unlike a timeout, it says nothing about the service
 * and is worth sending once more on a fresh connection.
 */
export function isConnectionReset(error: unknown): boolean {
  for (let cause: unknown = error, depth = 0; isRecord(cause) && depth < 4; cause = cause.cause, depth++) {
    if (typeof cause.code === 'string' && CONNECTION_RESET_CODES.has(cause.code))
      return statusOf(error) === undefined;
  }
  return false;
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
        if (status === 412 || status === 409) {
          return { written: false, reason: 'conflict', requestCharge: chargeOf(error) };
        }
        if (status === 404 && etag !== undefined) {
          return { written: false, reason: 'gone', requestCharge: chargeOf(error) };
        }
        throw error;
      }
    },

    async erase(tombstone) {
      const response = await container.items.upsert(tombstone, deadline());
      return { requestCharge: response.requestCharge };
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
