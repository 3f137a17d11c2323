/**
 * The downstream resources the API calls on a caller's behalf, as data: Microsoft Graph and each protected web API
 * of the tenant. A resource is a base URL (where its calls go) and a scope prefix (its app ID URI: what its
 * scopes start with, `<prefix>/<permission>`), both from settings named here. Adding a downstream API is one
 * entry here, its two settings, and the operations that use it (shared/downstream/operations.ts).
 */

export interface DownstreamResourceDefinition {
  /** How errors, logs and the docs name it. */
  readonly displayName: string;
  /** The app settings that configure it. */
  readonly settings: {
    /** Where its calls go (`https://tasks.contoso.com/api`): https, and on its app ID URI's host when that is https. */
    readonly baseUrl: string;
    /** Its app ID URI (`api://<client id>` or `https://contoso.com/tasks`): the prefix of its scopes. */
    readonly scopePrefix: string;
    /** Milliseconds one attempt may take. */
    readonly timeoutMs: string;
    /** Milliseconds the retries of one call (429/5xx) may take in all. */
    readonly retryBudgetMs: string;
  };
}

export const DOWNSTREAM_RESOURCES = {
  /** Microsoft Graph: always configured (its settings default to the public cloud's Graph). */
  graph: {
    displayName: 'Microsoft Graph',
    settings: {
      baseUrl: 'GRAPH_BASE_URL',
      scopePrefix: 'GRAPH_RESOURCE_URI',
      timeoutMs: 'GRAPH_TIMEOUT_MS',
      retryBudgetMs: 'GRAPH_RETRY_BUDGET_MS',
    },
  },
  /** The Tasks API: a protected web API of the tenant (the sandbox has an emulator of it). */
  tasks: {
    displayName: 'Tasks API',
    settings: {
      baseUrl: 'TASKS_API_BASE_URL',
      scopePrefix: 'TASKS_API_APP_ID_URI',
      timeoutMs: 'TASKS_API_TIMEOUT_MS',
      retryBudgetMs: 'TASKS_API_RETRY_BUDGET_MS',
    },
  },
} as const satisfies Record<string, DownstreamResourceDefinition>;

export type DownstreamResource = keyof typeof DOWNSTREAM_RESOURCES;

export const DOWNSTREAM_RESOURCE_NAMES = Object.keys(DOWNSTREAM_RESOURCES) as DownstreamResource[];

/** A configured resource, as the settings gave it. */
export interface ResourceEndpoint {
  baseUrl: URL;
  /** Without a trailing slash: `https://graph.microsoft.com`, `api://9d4b7e21-...`. */
  scopePrefix: string;
  timeoutMs: number;
  retryBudgetMs: number;
}

/** Every resource; undefined for an API whose settings are not set (its routes answer 503 ERR_CONFIG_INVALID). */
export type ResourceEndpoints = Readonly<Record<DownstreamResource, ResourceEndpoint | undefined>>;
