/**
 * Every span, metric and attribute name the app emits, in one table: docs/observability.md, the Kusto queries, the
 * Bicep alert rules and the tests all name these. A name is never renamed once shipped (alerts use it).
 */

/** Instrumentation scope of the app's tracer and meter. */
export const INSTRUMENTATION_SCOPE = 'obo-graph-api';

export const SPAN = {
  /** One per HTTP request, a child of the Functions host's request span when there is one. */
  request: 'obo.request',
  /** One per HTTP call msal-node makes to Entra ID (the OBO token request, authority metadata). */
  entra: 'entra.request',
  /** One per Cosmos DB point operation of the token cache. */
  cosmosRead: 'cosmos.read',
  cosmosWrite: 'cosmos.write',
  cosmosDelete: 'cosmos.delete',
  /** One per attempt of a Microsoft Graph call (retries are siblings). */
  graph: 'graph.request',
  /** One per attempt of a call to another downstream API (attribute obo.downstream.resource names it). */
  downstream: 'downstream.request',
} as const;

export type SpanName = (typeof SPAN)[keyof typeof SPAN];

/**
 * Metric instruments: counters (monotonic sums, exported every interval as deltas in Azure Monitor) and two
 * gauges of what L1 holds, observed at each export.
 */
export const METRIC = {
  cacheLookups: {
    name: 'obo.cache.lookups',
    unit: '{lookup}',
    description:
      'Graph token lookups by cache outcome (attribute obo.cache.outcome: l1-hit, l2-hit, miss, coalesced)',
  },
  exchanges: {
    name: 'obo.entra.exchanges',
    unit: '{exchange}',
    description: 'On-behalf-of exchanges that reached Entra ID (attribute obo.result: success, failure)',
  },
  cosmosRequestUnits: {
    name: 'obo.cosmos.request_units',
    unit: '{request_unit}',
    description: 'Cosmos DB request units charged to the token cache (attribute db.operation.name)',
  },
  conflictRetries: {
    name: 'obo.cache.conflict_retries',
    unit: '{retry}',
    description: 'Token cache writes retried after another writer changed the document (412/409)',
  },
  lostWrites: {
    name: 'obo.cache.lost_writes',
    unit: '{write}',
    description:
      'Token cache writes given up after the conflict retries: the token stays in one instance only',
  },
  degradedOperations: {
    name: 'obo.cache.degraded_operations',
    unit: '{operation}',
    description:
      'Token cache operations that went on without Cosmos DB (attributes db.operation.name, obo.degraded.reason)',
  },
  graphRetries: {
    name: 'obo.graph.retries',
    unit: '{retry}',
    description: 'Microsoft Graph calls retried after 429/5xx (attribute http.response.status_code)',
  },
  downstreamRetries: {
    name: 'obo.downstream.retries',
    unit: '{retry}',
    description:
      'Calls to a downstream API other than Graph retried after 429/5xx (attributes obo.downstream.resource, http.response.status_code)',
  },
  l1Entries: {
    name: 'obo.cache.l1.entries',
    unit: '{entry}',
    description: 'Graph tokens held in this instance (L1), bounded by TOKEN_CACHE_L1_MAX_ENTRIES',
  },
  l1Bytes: {
    name: 'obo.cache.l1.bytes',
    unit: 'By',
    description: 'Bytes L1 accounts for what it holds, bounded by TOKEN_CACHE_L1_MAX_BYTES',
  },
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC]['name'];

/**
 * The only attribute keys the app sets, each with the kind of value it may hold. None of them can hold a
 * token, an assertion, a claim value (oid, tid, upn: not even the tenant in an Entra URL path) or a key.
 */
export const ATTRIBUTE = {
  functionName: 'faas.name',
  httpMethod: 'http.request.method',
  httpStatus: 'http.response.status_code',
  /** The problem+json `code` of a failed request or call (ERR_*), or an error class name. */
  errorType: 'error.type',
  cacheOutcome: 'obo.cache.outcome',
  /** success | failure, for exchanges. */
  result: 'obo.result',
  /** token | metadata | other: which Entra endpoint, never its URL (the path holds the caller's tenant). */
  entraOperation: 'entra.operation',
  serverAddress: 'server.address',
  /** read | write (create or replace) | delete. */
  dbOperation: 'db.operation.name',
  dbStatus: 'db.response.status_code',
  dbSubStatus: 'azure.cosmosdb.response.sub_status_code',
  requestCharge: 'azure.cosmosdb.operation.request_charge',
  /** Why a cache operation went on without Cosmos DB: failure | breaker-open. */
  degradedReason: 'obo.degraded.reason',
  /** The downstream path requested, as the operation's template (/v1.0/me, /tasks/{id}): never a user's id. */
  urlPath: 'url.path',
  /** The downstream resource of a call (shared/downstream/resources.ts): graph, tasks. */
  downstreamResource: 'obo.downstream.resource',
  /** 0 for the first attempt of a downstream call. */
  attempt: 'obo.attempt',
} as const;

export type AttributeKey = (typeof ATTRIBUTE)[keyof typeof ATTRIBUTE];

/** Attribute values the app may set: short enumerations, codes and numbers. */
export type SafeAttributes = Partial<Record<AttributeKey, string | number | boolean>>;
