// The app's settings: what each one is, its default and bounds, read and validated once at start into AppConfig.
// How one setting is read and checked is shared/config/settingReader.ts's business; the readers of each group of
// settings are beside it in shared/config/ (downstream resources, OBO credential, callers, key ring, clouds).
import { readAllowedClientApps, readAllowedTenants } from './config/callers.js';
import { CLOUD_NAMES, type CloudName, CLOUDS } from './config/clouds.js';
import { type GraphSettings, readDownstream, readGraph } from './config/downstream.js';
import { type CacheKey, readKeyRing } from './config/keyRing.js';
import { type OboCredential, readClientCapabilities, readOboCredential } from './config/oboCredential.js';
import { type Env, SettingReader } from './config/settingReader.js';
import type { ResourceEndpoints } from './downstream/resources.js';

/** Every setting the app reads, validated once at start. Names match the Function App's app settings. */
export interface AppConfig {
  entra: {
    /** ENTRA_CLOUD: the Azure cloud whose defaults (authority, Graph, token exchange audience) apply. */
    cloud: CloudName;
    /** The cloud's login host (login.microsoftonline.com for AzureCloud); the sandbox's Entra emulator locally. */
    authorityHost: URL;
    tenantId: string;
    /** Tenants whose users may call; [tenantId] unless ENTRA_ALLOWED_TENANTS widens it. */
    allowedTenants: readonly string[];
    acceptV1Tokens: boolean;
    clockToleranceSeconds: number;
    /** Minimum seconds between two JWKS fetches caused by unknown `kid`s. */
    jwksRefreshCooldownSeconds: number;
  };
  api: {
    clientId: string;
    appIdUri: string;
    scope: string;
    /** Client ids of the applications whose tokens may call (`azp`/`appid`), or `any` (the setting's `*`). */
    allowedClientApps: readonly string[] | 'any';
  };
  obo: {
    credential: OboCredential;
    timeoutMs: number;
    /** msal-node `clientCapabilities`: `cp1` declares that the API handles claims challenges (CAE). */
    clientCapabilities: readonly string[];
    /** Token exchanges one caller may cause per minute in one instance (0: no bound). */
    exchangesPerCallerPerMinute: number;
  };
  graph: GraphSettings;
  /** Every downstream resource (shared/downstream/resources.ts): Graph's from `graph`, an API's undefined when unset. */
  downstream: ResourceEndpoints;
  cosmos: {
    endpoint: URL;
    database: string;
    container: string;
    /** Only for the local emulator; in Azure the managed identity is used and this stays unset. */
    key: string | undefined;
    managedIdentityClientId: string | undefined;
    requestTimeoutMs: number;
  };
  tokenCache: {
    /** First key encrypts; every key decrypts (rotation keeps old keys readable). */
    keys: readonly CacheKey[];
    maxEntriesPerDocument: number;
    writeRetries: number;
    l1MaxEntries: number;
    l1MaxBytes: number;
    l1TtlSeconds: number;
    /** After this long, an L1 hit re-reads the caller's document: bounds how long an erase elsewhere goes unseen. */
    l1RevalidateSeconds: number;
  };
}

/**
 * Reads settings into a typed object; collects every problem and reports them together. `warn` hears about
 * settings that are valid but have no effect (named, never with their values).
 */
export function loadConfig(
  env: Env,
  warn: (message: string) => void = (message) => console.warn(message),
): AppConfig {
  const read = new SettingReader(env);

  const cloudName = read.oneOf('ENTRA_CLOUD', CLOUD_NAMES, 'AzureCloud');
  const cloud = CLOUDS[cloudName];
  const tenantId = read.guid('ENTRA_TENANT_ID');
  const clientId = read.guid('API_CLIENT_ID');
  const allowedTenants = readAllowedTenants(read, tenantId);
  const { credential, managedIdentityClientId, ignored } = readOboCredential(read, cloud);
  const graph = readGraph(read, cloud);
  const downstream = readDownstream(read, graph);

  const config: AppConfig = {
    entra: {
      cloud: cloudName,
      authorityHost: read.httpsOrigin('ENTRA_AUTHORITY_HOST', cloud.login),
      tenantId,
      allowedTenants,
      acceptV1Tokens: read.boolean('ENTRA_ACCEPT_V1_TOKENS', false),
      clockToleranceSeconds: read.integer('TOKEN_CLOCK_TOLERANCE_SECONDS', 60, 0, 300),
      jwksRefreshCooldownSeconds: read.integer('ENTRA_JWKS_REFRESH_COOLDOWN_SECONDS', 30, 1, 3600),
    },
    api: {
      clientId,
      appIdUri: read.optional('API_APP_ID_URI') ?? `api://${clientId}`,
      scope: read.optional('API_SCOPE') ?? 'access_as_user',
      allowedClientApps: readAllowedClientApps(read, 'API_ALLOWED_CLIENT_APPS'),
    },
    obo: {
      credential,
      timeoutMs: read.integer('OBO_TIMEOUT_MS', 10_000, 100, 60_000),
      clientCapabilities: readClientCapabilities(read, 'OBO_CLIENT_CAPABILITIES', ['cp1']),
      exchangesPerCallerPerMinute: read.integer('OBO_EXCHANGES_PER_CALLER_PER_MINUTE', 30, 0, 10_000),
    },
    graph,
    downstream,
    cosmos: {
      endpoint: read.httpsUrl('COSMOS_ENDPOINT'),
      database: read.optional('COSMOS_DATABASE') ?? 'obo',
      container: read.optional('COSMOS_CONTAINER') ?? 'tokenCache',
      key: read.optional('COSMOS_KEY'),
      managedIdentityClientId,
      requestTimeoutMs: read.integer('COSMOS_REQUEST_TIMEOUT_MS', 3_000, 100, 60_000),
    },
    tokenCache: {
      keys: readKeyRing(read, 'TOKEN_CACHE_KEYS'),
      // An entry is a few KiB (one access token, ID token and account, encrypted): 64 stays far below 2 MB.
      maxEntriesPerDocument: read.integer('TOKEN_CACHE_MAX_ENTRIES', 16, 1, 64),
      writeRetries: read.integer('TOKEN_CACHE_WRITE_RETRIES', 5, 0, 20),
      l1MaxEntries: read.integer('TOKEN_CACHE_L1_MAX_ENTRIES', 10_000, 0, 1_000_000),
      l1MaxBytes: read.integer('TOKEN_CACHE_L1_MAX_BYTES', 64 * 1024 * 1024, 0, 2 ** 31),
      l1TtlSeconds: read.integer('TOKEN_CACHE_L1_TTL_SECONDS', 300, 1, 86_400),
      // The default comes from `npm run bench:revalidation` (docs/architecture.md, L1 revalidation).
      l1RevalidateSeconds: read.integer('TOKEN_CACHE_L1_REVALIDATE_SECONDS', 60, 1, 86_400),
    },
  };

  read.throwIfInvalid();
  // Only for a configuration that starts: a bad OBO_CLIENT_CREDENTIAL is an error above, not these warnings.
  for (const message of ignored) warn(message);
  return config;
}

/** The settings a health check may show: identifiers and hosts, never secrets or keys. */
export function describeConfig(config: AppConfig): Record<string, unknown> {
  return {
    cloud: config.entra.cloud,
    authorityHost: config.entra.authorityHost.origin,
    tenantId: config.entra.tenantId,
    allowedTenants: config.entra.allowedTenants,
    apiClientId: config.api.clientId,
    apiAppIdUri: config.api.appIdUri,
    apiScope: config.api.scope,
    allowedClientApps: config.api.allowedClientApps,
    oboCredential: config.obo.credential.kind,
    oboClientCapabilities: config.obo.clientCapabilities,
    graphBaseUrl: config.graph.baseUrl.origin,
    graphResourceUri: config.graph.resourceUri.origin,
    downstreamApis: Object.fromEntries(
      Object.entries(config.downstream)
        .filter(([name]) => name !== 'graph')
        .map(([name, api]) =>
          api === undefined
            ? [name, 'not configured']
            : [name, { baseUrl: api.baseUrl.origin, appIdUri: api.scopePrefix }],
        ),
    ),
    cosmosEndpoint: config.cosmos.endpoint.origin,
    cosmosDatabase: config.cosmos.database,
    cosmosContainer: config.cosmos.container,
    cosmosAuth: config.cosmos.key === undefined ? 'managed-identity' : 'key',
    tokenCacheKeyIds: config.tokenCache.keys.map((k) => k.id),
  };
}
