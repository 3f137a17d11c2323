/**
 * The load benchmark's baselines: the same `GET /api/me` written the usual way with msal-node alone,
 * served by the same local host. Not product code. BENCH_BASELINE picks one:
 *
 * - `distributed`: msal-node's own DistributedCachePlugin over Cosmos DB, one blob per account
 *   (`dist.<oid>.<tid>`), read before every acquisition and upserted when msal-node changed it (last
 *   writer wins), a fresh client per request as msal-node recommends for web APIs.
 * - `none`: no cache at all, an exchange with Entra on every call.
 *
 * Each request writes the same JSON log line as the app (`{"event":"request",...}`) with its cache
 * outcome and Cosmos reads, writes and request charge, so the harness counts both the same way.
 */
import { CosmosClient } from '@azure/cosmos';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import {
  ConfidentialClientApplication,
  DistributedCachePlugin,
  type ICacheClient,
  type IPartitionManager,
} from '@azure/msal-node';
import { createRemoteJWKSet, jwtVerify } from 'jose';

import { loadConfig } from '../shared/config.js';
import { DOWNSTREAM_OPERATIONS, scopesFor } from '../shared/downstream/operations.js';
import { registerHttpFunction } from '../shared/http/registry.js';

function setting(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`baseline: ${name} is not set`);
  return value;
}

const design = setting('BENCH_BASELINE');
if (design !== 'distributed' && design !== 'none') throw new Error('BENCH_BASELINE: distributed or none');
const authorityHost = setting('ENTRA_AUTHORITY_HOST');
const tenantId = setting('ENTRA_TENANT_ID');
const clientId = setting('API_CLIENT_ID');
const appIdUri = setting('API_APP_ID_URI');
const clientSecret = setting('OBO_CLIENT_SECRET');
const graphUrl = `${setting('GRAPH_BASE_URL')}/v1.0/me`;
// The scopes the app's /api/me requests, from the same settings (GRAPH_RESOURCE_URI).
const scopes = scopesFor(DOWNSTREAM_OPERATIONS.myProfile, loadConfig(process.env).graph.resourceUri.origin);
const authority = `${authorityHost}/${tenantId}`;
const discovery = `${authority}/v2.0/.well-known/openid-configuration`;
const jwks = createRemoteJWKSet(new URL(`${authority}/discovery/v2.0/keys`));
const container = new CosmosClient({ endpoint: setting('COSMOS_ENDPOINT'), key: setting('COSMOS_KEY') })
  .database(setting('COSMOS_DATABASE'))
  .container(setting('COSMOS_CONTAINER'));

// Fetched once, as the app does: without them msal-node would fetch discovery on every fresh client.
const authorityMetadata = await (await fetch(discovery)).text();
const host = new URL(authorityHost).host;
const cloudDiscoveryMetadata = JSON.stringify({
  tenant_discovery_endpoint: discovery,
  'api-version': '1.1',
  metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
});

interface Costs {
  cosmosReads: number;
  cosmosWrites: number;
  cosmosRequestCharge: number;
}

/** msal-node's ICacheClient over one Cosmos DB item per account: point read, upsert. */
function cosmosCacheClient(costs: Costs): ICacheClient {
  return {
    async get(key) {
      try {
        const response = await container.item(key, key).read<{ blob?: string }>();
        costs.cosmosReads += 1;
        costs.cosmosRequestCharge += response.requestCharge;
        return response.resource?.blob ?? '';
      } catch {
        // A cache that cannot be read is an empty one: msal-node exchanges instead.
        return '';
      }
    },
    async set(key, value) {
      const response = await container.items.upsert({ id: key, blob: value });
      costs.cosmosWrites += 1;
      costs.cosmosRequestCharge += response.requestCharge;
      return value;
    },
  };
}

function partitionManager(key: string): IPartitionManager {
  return { getKey: () => Promise.resolve(key), extractKey: () => Promise.resolve(key) };
}

async function getMe(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const started = performance.now();
  const costs: Costs = { cosmosReads: 0, cosmosWrites: 0, cosmosRequestCharge: 0 };
  let cache: 'hit' | 'miss' | undefined;
  let response: HttpResponseInit;
  try {
    const assertion = /^Bearer (\S+)$/.exec(request.headers.get('authorization') ?? '')?.[1];
    if (assertion === undefined) throw new Status(401);
    const { payload } = await jwtVerify(assertion, jwks, {
      algorithms: ['RS256'],
      issuer: `${authority}/v2.0`,
      audience: [clientId, appIdUri],
    }).catch(() => {
      throw new Status(401);
    });
    if (typeof payload.oid !== 'string' || typeof payload.tid !== 'string') throw new Status(401);
    const msal = new ConfidentialClientApplication({
      auth: {
        clientId,
        clientSecret,
        authority,
        knownAuthorities: [host],
        authorityMetadata,
        cloudDiscoveryMetadata,
      },
      ...(design === 'distributed'
        ? {
            cache: {
              cachePlugin: new DistributedCachePlugin(
                cosmosCacheClient(costs),
                partitionManager(`dist.${payload.oid}.${payload.tid}`),
              ),
            },
          }
        : {}),
    });
    const result = await msal.acquireTokenOnBehalfOf({ oboAssertion: assertion, scopes }).catch(() => {
      throw new Status(503);
    });
    if (result === null) throw new Status(503);
    cache = result.fromCache ? 'hit' : 'miss';
    const graph = await fetch(graphUrl, { headers: { authorization: `Bearer ${result.accessToken}` } });
    if (!graph.ok) throw new Status(graph.status === 429 || graph.status >= 500 ? 503 : 502);
    response = { status: 200, headers: { 'Cache-Control': 'no-store' }, jsonBody: await graph.json() };
  } catch (error) {
    const status = error instanceof Status ? error.status : 500;
    response = { status, headers: status === 503 ? { 'Retry-After': '2' } : {} };
  }
  context.info(
    JSON.stringify({
      event: 'request',
      function: 'getMe',
      status: response.status,
      ms: Math.round(performance.now() - started),
      ...(cache === undefined ? {} : { cache }),
      ...costs,
    }),
  );
  return response;
}

class Status extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

registerHttpFunction('getMe', { route: 'me', methods: ['GET'], authLevel: 'anonymous', handler: getMe });
