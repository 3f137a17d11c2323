import type { TokenCredential } from '@azure/core-auth';
import { CosmosClient } from '@azure/cosmos';

import { type Authenticator, createAuthenticator } from './auth/authenticate.js';
import { CosmosBreaker } from './cache/breaker.js';
import { cosmosTokenCacheStore, type TokenCacheStore } from './cache/cosmosStore.js';
import { L1TokenCache } from './cache/l1.js';
import { L2TokenCache } from './cache/l2.js';
import type { AppConfig } from './config.js';
import type { DownstreamDependencies } from './downstream/callDownstream.js';
import { scopesFor } from './downstream/operations.js';
import { PageCursors } from './downstream/pages.js';
import { HttpResourceClient, type ResourceClient } from './downstream/resourceClient.js';
import {
  DOWNSTREAM_RESOURCE_NAMES,
  DOWNSTREAM_RESOURCES,
  type DownstreamResource,
  type ResourceEndpoint,
} from './downstream/resources.js';
import { ConfigError } from './errors.js';
import { ExchangeLimit } from './obo/exchangeLimit.js';
import { createOboClient } from './obo/oboClient.js';
import { DelegatedTokenProvider } from './obo/tokenProvider.js';
import { noObservability, type Observability } from './observability/observability.js';

/** Everything a request needs, built once per Functions instance. */
export interface Services {
  config: AppConfig;
  authenticator: Authenticator;
  /** The token cache's layers, for what looks at one of them (the L1 gauges, tests of L2). */
  tokenCache: { l1: L1TokenCache; l2: L2TokenCache };
  /** Delegated tokens for any resource: L1, single flight, L2 with msal-node, write-back. */
  tokens: DelegatedTokenProvider;
  /** What the downstream operations (shared/downstream) run with. */
  downstream: DownstreamDependencies;
  /** The instance's tracer and metrics (shared/observability): requests add their spans and counts. */
  observability: Observability;
}

export interface ServiceDependencies {
  fetch?: typeof fetch;
  /** Epoch milliseconds. */
  now?: () => number;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Overrides the Cosmos DB adapter (tests of the cache's own logic). */
  store?: TokenCacheStore;
  /** Where spans and metrics go (default: nowhere); the composition root starts it from the settings. */
  observability?: Observability;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function createServices(config: AppConfig, deps: ServiceDependencies = {}): Promise<Services> {
  const fetchImpl = deps.fetch ?? fetch;
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const sleepImpl = deps.sleep ?? sleep;
  const credential =
    config.cosmos.key === undefined
      ? await managedIdentity(config.cosmos.managedIdentityClientId)
      : undefined;

  const store =
    deps.store ??
    cosmosTokenCacheStore(cosmosContainer(config, credential), 2 * config.cosmos.requestTimeoutMs);
  const tokenCache = {
    l1: new L1TokenCache({ ...config.tokenCache, now }),
    l2: new L2TokenCache({ ...config.tokenCache, store, now, random, sleep: sleepImpl }),
  };
  const oboCredential = config.obo.credential;
  const obo = createOboClient(config, {
    fetch: fetchImpl,
    ...(oboCredential.kind === 'managed-identity'
      ? {
          clientAssertion: federatedAssertion(
            await managedIdentity(oboCredential.federationIdentityClientId),
            oboCredential.tokenExchangeAudience,
          ),
        }
      : {}),
  });
  const tokens = new DelegatedTokenProvider({
    ...tokenCache,
    breaker: new CosmosBreaker(now),
    obo,
    now,
    callerClockToleranceSeconds: config.entra.clockToleranceSeconds,
    exchangeLimit: new ExchangeLimit(config.obo.exchangesPerCallerPerMinute, now),
  });
  const resources = new Map<DownstreamResource, { endpoint: ResourceEndpoint; client: ResourceClient }>();
  for (const name of DOWNSTREAM_RESOURCE_NAMES) {
    const endpoint = config.downstream[name];
    if (endpoint === undefined) continue;
    const client = new HttpResourceClient(name, { endpoint, fetch: fetchImpl, now, sleep: sleepImpl });
    resources.set(name, { endpoint, client });
  }
  /** A configured resource; an unset one is the operator's to fix, named in the log (503 to the caller). */
  const resource = (name: DownstreamResource): { endpoint: ResourceEndpoint; client: ResourceClient } => {
    const found = resources.get(name);
    if (found !== undefined) return found;
    const { settings, displayName } = DOWNSTREAM_RESOURCES[name];
    throw new ConfigError(
      settings.baseUrl,
      `is not set: the routes on the ${displayName} are off until ${settings.baseUrl} and ${settings.scopePrefix} are set`,
    );
  };
  const observability = deps.observability ?? noObservability();
  observability.metrics.observeL1(() => tokenCache.l1.usage());
  return {
    config,
    authenticator: createAuthenticator(config, { fetch: fetchImpl, now }),
    tokenCache,
    tokens,
    downstream: {
      tokens,
      resource,
      scopesFor: (operation) => scopesFor(operation, resource(operation.resource).endpoint.scopePrefix),
      pages: new PageCursors(config.tokenCache.keys),
      apiClientId: config.api.clientId,
      now,
    },
    observability,
  };
}

/** How a handler reaches its services: built once per instance, awaited by every request. */
export type ServicesProvider = () => Promise<Services>;

/**
 * Builds the services on first use and keeps them. A failed build is not kept: a ConfigError is
 * raised again (and logged, naming the setting) on the next request, and a transient failure heals.
 */
export function lazyServices(build: () => Promise<Services>): ServicesProvider {
  let services: Promise<Services> | undefined;
  return () => {
    if (services === undefined) {
      const pending = Promise.resolve().then(build);
      pending.catch(() => {
        if (services === pending) services = undefined;
      });
      services = pending;
    }
    return services;
  };
}

function cosmosContainer(config: AppConfig, credential: TokenCredential | undefined) {
  const auth = config.cosmos.key !== undefined ? { key: config.cosmos.key } : { aadCredentials: credential };
  const client = new CosmosClient({
    endpoint: config.cosmos.endpoint.href,
    ...auth,
    connectionPolicy: {
      requestTimeout: config.cosmos.requestTimeoutMs,
      // Throttling is retried a little by the SDK; past that the cache degrades rather than slows the caller.
      retryOptions: { maxRetryAttemptCount: 3, fixedRetryIntervalInMilliseconds: 0, maxWaitTimeInSeconds: 3 },
    },
  });
  return client.database(config.cosmos.database).container(config.cosmos.container);
}

/** Loaded only when used: @azure/identity is a large import that the emulator setup never needs. */
async function managedIdentity(clientId: string | undefined): Promise<TokenCredential> {
  const { ManagedIdentityCredential } = await import('@azure/identity');
  // The identity endpoint's answer is used as it is: a redirect is a failure, never followed.
  const noRedirects = { redirectOptions: { maxRetries: 0 } };
  return clientId === undefined
    ? new ManagedIdentityCredential(noRedirects)
    : new ManagedIdentityCredential({ clientId, ...noRedirects });
}

/**
 * The federation identity's token for Entra's token-exchange audience of the configured cloud
 * (`api://AzureADTokenExchange` in the public cloud): the client assertion of the API's federated credential.
 */
export function federatedAssertion(credential: TokenCredential, audience: string): () => Promise<string> {
  return async () => {
    const token = await credential.getToken(`${audience}/.default`);
    if (token === null) throw new Error(`managed identity returned no token for ${audience}`);
    return token.token;
  };
}
