// The app's settings: what each one is, its default and bounds, read and validated once at start into AppConfig.
// How one setting is read and checked is shared/config/settingReader.ts's business.
import { baseUrlMatchesResource, CLOUD_NAMES, type CloudName, CLOUDS } from './config/clouds.js';
import { type Env, GUID, SettingReader } from './config/settingReader.js';
import {
  DOWNSTREAM_RESOURCE_NAMES,
  DOWNSTREAM_RESOURCES,
  type DownstreamResource,
  type ResourceEndpoint,
  type ResourceEndpoints,
} from './downstream/resources.js';

export type OboCredential =
  | { kind: 'client-secret'; secret: string }
  | {
      kind: 'managed-identity';
      /**
       * The identity whose token is the client assertion (OBO_FEDERATION_IDENTITY_CLIENT_ID): the only one the
       * API's federated credential trusts, apart from the data-plane identity (MANAGED_IDENTITY_CLIENT_ID).
       */
      federationIdentityClientId: string | undefined;
      /** The audience that identity's token is asked for: Entra's token exchange in this cloud. */
      tokenExchangeAudience: string;
    };

export interface CacheKey {
  id: string;
  key: Buffer;
}

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
  graph: {
    /** On the host of resourceUri (or a Graph host of the same cloud): Graph tokens go nowhere else. */
    baseUrl: URL;
    /** Prefix of Graph's scopes (`<uri>/User.Read`); each operation declares its permissions. */
    resourceUri: URL;
    timeoutMs: number;
    retryBudgetMs: number;
  };
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
  const allowedTenants = read.list('ENTRA_ALLOWED_TENANTS', []);
  for (const tenant of allowedTenants) {
    if (!GUID.test(tenant)) {
      read.problem('ENTRA_ALLOWED_TENANTS', `"${tenant}" is not a tenant id (GUID)`);
    }
  }
  const credentialKind = read.oneOf(
    'OBO_CLIENT_CREDENTIAL',
    ['managed-identity', 'client-secret'] as const,
    'managed-identity',
  );
  const managedIdentityClientId = read.optionalGuid('MANAGED_IDENTITY_CLIENT_ID');
  const federationIdentityClientId = read.optionalGuid('OBO_FEDERATION_IDENTITY_CLIENT_ID');
  const credential: OboCredential =
    credentialKind === 'client-secret'
      ? { kind: 'client-secret', secret: read.required('OBO_CLIENT_SECRET') }
      : {
          kind: 'managed-identity',
          // One identity for both (a local run, the sandbox) unless the federated credential has its own.
          federationIdentityClientId: federationIdentityClientId ?? managedIdentityClientId,
          tokenExchangeAudience: cloud.tokenExchangeAudience,
        };
  const ignoredSecret =
    credentialKind === 'managed-identity' && read.optional('OBO_CLIENT_SECRET') !== undefined;
  const ignoredFederationIdentity =
    credentialKind === 'client-secret' && federationIdentityClientId !== undefined;
  const graphResourceUri = read.httpsOrigin('GRAPH_RESOURCE_URI', cloud.graph);
  const graphBaseUrl = read.httpsUrl('GRAPH_BASE_URL', cloud.graph);
  if (!baseUrlMatchesResource(graphBaseUrl, graphResourceUri)) {
    read.problem(
      'GRAPH_BASE_URL',
      `must be on the host of GRAPH_RESOURCE_URI (${graphResourceUri.host}), or a Microsoft Graph host of the same cloud, so that Graph tokens go to Graph only; set both for another Graph (ENTRA_CLOUD sets both for a national cloud)`,
    );
  }

  read.retired(
    'GRAPH_SCOPES',
    'is no longer read: each route requests the scopes its operation declares (shared/downstream/operations.ts); remove the setting (GRAPH_RESOURCE_URI sets the scope prefix for a national cloud)',
  );

  const graph = {
    baseUrl: graphBaseUrl,
    resourceUri: graphResourceUri,
    timeoutMs: read.integer('GRAPH_TIMEOUT_MS', 10_000, 100, 60_000),
    retryBudgetMs: read.integer('GRAPH_RETRY_BUDGET_MS', 8_000, 0, 60_000),
  };
  const downstream = Object.fromEntries(
    DOWNSTREAM_RESOURCE_NAMES.map((name) => [
      name,
      name === 'graph' ? { ...graph, scopePrefix: graph.resourceUri.origin } : readDownstreamApi(read, name),
    ]),
  ) as Record<DownstreamResource, ResourceEndpoint | undefined>;

  const config: AppConfig = {
    entra: {
      cloud: cloudName,
      authorityHost: read.httpsOrigin('ENTRA_AUTHORITY_HOST', cloud.login),
      tenantId,
      allowedTenants: allowedTenants.length > 0 ? allowedTenants.map((t) => t.toLowerCase()) : [tenantId],
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
  // Only for a configuration that starts: a bad OBO_CLIENT_CREDENTIAL is an error above, not this warning.
  if (ignoredSecret) {
    warn(
      'OBO_CLIENT_SECRET is set but ignored: OBO_CLIENT_CREDENTIAL is managed-identity. ' +
        'Remove the secret, or set OBO_CLIENT_CREDENTIAL=client-secret to use it.',
    );
  }
  if (ignoredFederationIdentity) {
    warn(
      'OBO_FEDERATION_IDENTITY_CLIENT_ID is set but ignored: OBO_CLIENT_CREDENTIAL is client-secret. ' +
        'Remove it, or set OBO_CLIENT_CREDENTIAL=managed-identity to use the federated credential.',
    );
  }
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

/**
 * The client applications that may call: required, so that an API is never open to every app a user consented
 * to by omission. `*` allows any app explicitly.
 */
function readAllowedClientApps(read: SettingReader, name: string): readonly string[] | 'any' {
  const expected =
    'the client ids (GUIDs) of the apps that may call this API, comma-separated, or * for any app';
  const value = read.optional(name);
  if (value === undefined) {
    read.problem(name, `is required: ${expected}`);
    return [];
  }
  if (value === '*') return 'any';
  const ids = read.list(name, []);
  if (ids.some((id) => !GUID.test(id))) {
    read.problem(name, `must be ${expected}`);
    return [];
  }
  return ids.map((id) => id.toLowerCase());
}

/**
 * A downstream API of the tenant (not Graph): its base URL and app ID URI, both or neither (an API left unset is
 * off: its routes answer 503 and the log names the settings). The base URL must be on the app ID URI's host when
 * that is an https URI, so that the API's tokens go to the API only; an `api://` URI names no host. The azd hooks read
 * the same settings from the azd environment with it (scripts/azd/app-registrations.ts).
 */
export function readDownstreamApi(
  read: SettingReader,
  name: Exclude<DownstreamResource, 'graph'>,
): ResourceEndpoint | undefined {
  const settings = DOWNSTREAM_RESOURCES[name].settings;
  const baseUrlSet = read.optional(settings.baseUrl) !== undefined;
  const appIdUriSet = read.optional(settings.scopePrefix) !== undefined;
  const timeoutMs = read.integer(settings.timeoutMs, 10_000, 100, 60_000);
  const retryBudgetMs = read.integer(settings.retryBudgetMs, 8_000, 0, 60_000);
  if (!baseUrlSet && !appIdUriSet) return undefined;
  if (!baseUrlSet || !appIdUriSet) {
    const missing = baseUrlSet ? settings.scopePrefix : settings.baseUrl;
    const given = baseUrlSet ? settings.baseUrl : settings.scopePrefix;
    read.problem(
      missing,
      `is required when ${given} is set (the ${DOWNSTREAM_RESOURCES[name].displayName} needs both)`,
    );
    return undefined;
  }
  const baseUrl = read.httpsUrl(settings.baseUrl);
  const scopePrefix = readAppIdUri(read, settings.scopePrefix);
  // Graph's rule (shared/config/clouds.ts), where the app ID URI names a host; an api:// URI names none.
  if (scopePrefix?.startsWith('https:') === true && !baseUrlMatchesResource(baseUrl, new URL(scopePrefix))) {
    read.problem(
      settings.baseUrl,
      `must be on the host of ${settings.scopePrefix} (${new URL(scopePrefix).host}), so that the API's tokens go to that API only`,
    );
  }
  return scopePrefix === undefined ? undefined : { baseUrl, scopePrefix, timeoutMs, retryBudgetMs };
}

/** An app ID URI (`api://<client id>`, `https://contoso.com/tasks`): scopes are `<uri>/<permission>`. */
function readAppIdUri(read: SettingReader, name: string): string | undefined {
  const value = read.required(name);
  const expected =
    'must be an app ID URI such as api://<client id> or https://<verified domain>/<path> (no query, no trailing slash)';
  let uri: URL;
  try {
    uri = new URL(value);
  } catch {
    read.problem(name, expected);
    return undefined;
  }
  const valid =
    (uri.protocol === 'api:' || uri.protocol === 'https:') &&
    uri.search === '' &&
    uri.hash === '' &&
    uri.username === '' &&
    uri.password === '' &&
    !value.endsWith('/') &&
    /^[\x21-\x7e]+$/.test(value);
  if (!valid) {
    read.problem(name, expected);
    return undefined;
  }
  return value;
}

/** Comma-separated capability names (`cp1`), or `none` for no capability. */
function readClientCapabilities(read: SettingReader, name: string, fallback: string[]): string[] {
  const value = read.optional(name);
  if (value === undefined) return fallback;
  if (value.toLowerCase() === 'none') return [];
  const items = read.list(name, fallback);
  if (items.length === 0 || items.some((item) => !/^[A-Za-z0-9_-]{1,32}$/.test(item))) {
    read.problem(name, 'must be a comma-separated list of capabilities (cp1), or none');
    return fallback;
  }
  return items;
}

/** `<key id>:<base64 of 32 bytes>`, comma-separated: the token cache's encryption keys, first one encrypts. */
function readKeyRing(read: SettingReader, name: string): CacheKey[] {
  const value = read.required(name);
  if (value === '') return [];
  const keys: CacheKey[] = [];
  for (const item of value.split(',')) {
    const [id, material, ...rest] = item.trim().split(':');
    const key = material === undefined ? undefined : Buffer.from(material, 'base64');
    if (id === undefined || !/^[A-Za-z0-9_-]{1,32}$/.test(id) || key?.length !== 32 || rest.length > 0) {
      read.problem(
        name,
        'must be a comma-separated list of <key id>:<base64 of 32 random bytes> (first one encrypts)',
      );
      return [];
    }
    keys.push({ id, key });
  }
  return keys;
}
