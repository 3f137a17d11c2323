// The settings of the downstream resources: Microsoft Graph's (GRAPH_*) and each downstream API's (base URL, app ID
// URI, timeouts), each base URL kept on its resource's host so that the resource's tokens go nowhere else.
import {
  DOWNSTREAM_RESOURCE_NAMES,
  DOWNSTREAM_RESOURCES,
  type DownstreamResource,
  type ResourceEndpoint,
  type ResourceEndpoints,
} from '../downstream/resources.js';
import { baseUrlMatchesResource, type Cloud } from './clouds.js';
import type { SettingReader } from './settingReader.js';

export interface GraphSettings {
  /** On the host of resourceUri (or a Graph host of the same cloud): Graph tokens go nowhere else. */
  baseUrl: URL;
  /** Prefix of Graph's scopes (`<uri>/User.Read`); each operation declares its permissions. */
  resourceUri: URL;
  timeoutMs: number;
  retryBudgetMs: number;
}

/** Graph's settings, the cloud's Graph by default. */
export function readGraph(read: SettingReader, cloud: Cloud): GraphSettings {
  const resourceUri = read.httpsOrigin('GRAPH_RESOURCE_URI', cloud.graph);
  const baseUrl = read.httpsUrl('GRAPH_BASE_URL', cloud.graph);
  if (!baseUrlMatchesResource(baseUrl, resourceUri)) {
    read.problem(
      'GRAPH_BASE_URL',
      `must be on the host of GRAPH_RESOURCE_URI (${resourceUri.host}), or a Microsoft Graph host of the same cloud, so that Graph tokens go to Graph only; set both for another Graph (ENTRA_CLOUD sets both for a national cloud)`,
    );
  }

  read.retired(
    'GRAPH_SCOPES',
    'is no longer read: each route requests the scopes its operation declares (shared/downstream/operations.ts); remove the setting (GRAPH_RESOURCE_URI sets the scope prefix for a national cloud)',
  );

  return {
    baseUrl,
    resourceUri,
    timeoutMs: read.integer('GRAPH_TIMEOUT_MS', 10_000, 100, 60_000),
    retryBudgetMs: read.integer('GRAPH_RETRY_BUDGET_MS', 8_000, 0, 60_000),
  };
}

/** Every downstream resource (shared/downstream/resources.ts): Graph's from `graph`, an API's undefined when unset. */
export function readDownstream(read: SettingReader, graph: GraphSettings): ResourceEndpoints {
  return Object.fromEntries(
    DOWNSTREAM_RESOURCE_NAMES.map((name) => [
      name,
      name === 'graph' ? { ...graph, scopePrefix: graph.resourceUri.origin } : readDownstreamApi(read, name),
    ]),
  ) as Record<DownstreamResource, ResourceEndpoint | undefined>;
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
