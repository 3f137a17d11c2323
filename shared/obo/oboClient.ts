import {
  ConfidentialClientApplication,
  type Configuration,
  type INetworkModule,
  LogLevel,
  type NetworkRequestOptions,
  type NetworkResponse,
} from '@azure/msal-node';

import type { CallerAccount } from '../auth/caller.js';
import type { AppConfig } from '../config.js';
import { ApiError, DEFAULT_RETRY_AFTER_SECONDS } from '../errors.js';
import { isRecord } from '../narrow.js';
import type { RequestCalls } from '../observability/calls.js';
import { requestTelemetry } from '../telemetry.js';
import { type EntraResponseHint, mapEntraError } from './entraErrors.js';

export interface OboResult {
  accessToken: string;
  fromCache: boolean;
  /** The serialized MSAL cache when this call changed it (a new token), else undefined. */
  changedCacheJson: string | undefined;
}

export interface OboClient {
  /** Exchanges the caller's assertion, starting from `cacheJson` (the MSAL cache for this assertion). */
  acquire(
    caller: CallerAccount,
    scopes: readonly string[],
    cacheJson: string | undefined,
    /** A resource's claims challenge to satisfy (msal-node then skips its cache). */
    claims?: string,
  ): Promise<OboResult>;
}

export interface OboDependencies {
  fetch: typeof fetch;
  /** Returns the client assertion for a federated credential (managed identity); unset for a secret. */
  clientAssertion?: () => Promise<string>;
}

/** Well-known aliases of the public cloud's authority host, so MSAL never needs instance discovery. */
const PUBLIC_CLOUD_ALIASES = [
  'login.microsoftonline.com',
  'login.windows.net',
  'login.microsoft.com',
  'sts.windows.net',
];

/**
 * OBO through msal-node with a fresh ConfidentialClientApplication per request (a shared client mixes
 * callers' caches across awaits) and the authority metadata fetched once per instance and tenant.
 */
export function createOboClient(config: AppConfig, deps: OboDependencies): OboClient {
  const host = config.entra.authorityHost;
  const metadataByTenant = new Map<string, Promise<string>>();
  const cloudDiscoveryMetadata = JSON.stringify({
    tenant_discovery_endpoint: `${host.origin}/${config.entra.tenantId}/v2.0/.well-known/openid-configuration`,
    'api-version': '1.1',
    metadata: [
      {
        preferred_network: host.host,
        preferred_cache: host.host,
        aliases: PUBLIC_CLOUD_ALIASES.includes(host.host) ? PUBLIC_CLOUD_ALIASES : [host.host],
      },
    ],
  });

  function authorityMetadata(tenant: string): Promise<string> {
    let pending = metadataByTenant.get(tenant);
    if (pending === undefined) {
      pending = fetchAuthorityMetadata(
        deps.fetch,
        `${host.origin}/${tenant}/v2.0/.well-known/openid-configuration`,
        config.obo.timeoutMs,
      );
      // A failed fetch is not cached: the next request tries again.
      pending.catch(() => metadataByTenant.delete(tenant));
      metadataByTenant.set(tenant, pending);
    }
    return pending;
  }

  return {
    async acquire(caller, scopes, cacheJson, claims) {
      const telemetry = requestTelemetry();
      const tenant = caller.tid;
      let metadata: string;
      try {
        metadata = await authorityMetadata(tenant);
      } catch (error) {
        throw new ApiError(
          'ERR_IDENTITY_PROVIDER_UNAVAILABLE',
          'The identity provider metadata could not be fetched.',
          {
            cause: error,
            retryAfterSeconds: DEFAULT_RETRY_AFTER_SECONDS,
          },
        );
      }
      const lastResponse: EntraResponseHint = {};
      const msalConfig: Configuration = {
        auth: {
          clientId: config.api.clientId,
          authority: `${host.origin}/${tenant}`,
          knownAuthorities: [host.host],
          // `cp1`: this API handles claims challenges, so Entra may issue long-lived CAE tokens (xms_cc).
          clientCapabilities: [...config.obo.clientCapabilities],
          authorityMetadata: metadata,
          cloudDiscoveryMetadata,
          ...(config.obo.credential.kind === 'client-secret'
            ? { clientSecret: config.obo.credential.secret }
            : { clientAssertion: assertionCallback(deps) }),
        },
        system: {
          networkClient: fetchNetworkClient(deps.fetch, config.obo.timeoutMs, telemetry.calls, lastResponse),
          loggerOptions: {
            logLevel: LogLevel.Error,
            piiLoggingEnabled: false,
            loggerCallback: (_level, message, containsPii) => {
              if (!containsPii) telemetry.warn('msal-node error', { message });
            },
          },
        },
      };
      const client = new ConfidentialClientApplication(msalConfig);
      if (cacheJson !== undefined) {
        try {
          client.getTokenCache().deserialize(cacheJson);
        } catch {
          // A blob that decrypts but does not parse is a miss: MSAL starts from an empty cache.
          telemetry.warn('cached MSAL state did not deserialize; starting from an empty cache');
        }
      }

      try {
        const result = await client.acquireTokenOnBehalfOf({
          oboAssertion: caller.assertion,
          scopes: [...scopes],
          ...(claims === undefined ? {} : { claims }),
        });
        if (result === null || result.accessToken === '') {
          throw new ApiError(
            'ERR_IDENTITY_PROVIDER_UNAVAILABLE',
            'The identity provider returned no token.',
            {
              retryAfterSeconds: DEFAULT_RETRY_AFTER_SECONDS,
            },
          );
        }
        return {
          accessToken: result.accessToken,
          fromCache: result.fromCache,
          // Only a token from Entra changes what is worth storing (hasChanged() is also true after deserialize).
          changedCacheJson: result.fromCache ? undefined : client.getTokenCache().serialize(),
        };
      } catch (error) {
        throw mapEntraError(error, lastResponse);
      }
    },
  };
}

function assertionCallback(deps: OboDependencies): () => Promise<string> {
  const { clientAssertion } = deps;
  if (clientAssertion === undefined)
    throw new Error('a managed-identity credential needs a client assertion source');
  return clientAssertion;
}

async function fetchAuthorityMetadata(
  fetchImpl: typeof fetch,
  url: string,
  timeoutMs: number,
): Promise<string> {
  // Metadata from wherever a redirect points would name another token endpoint: never followed.
  const response = await fetchImpl(url, { redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) throw new Error(`authority metadata answered ${response.status}`);
  const body: unknown = await response.json();
  if (!isRecord(body) || !('token_endpoint' in body) || !('issuer' in body)) {
    throw new Error('authority metadata lacks token_endpoint or issuer');
  }
  return JSON.stringify(body);
}

/**
 * msal-node's network client over fetch: a timeout on every call, pooled keep-alive connections
 * (msal's default client opens a new TLS connection per request), and each call recorded in the
 * request's `calls`, which the client is built for (one per request, as its MSAL client).
 */
function fetchNetworkClient(
  fetchImpl: typeof fetch,
  timeoutMs: number,
  calls: RequestCalls,
  lastResponse: EntraResponseHint,
): INetworkModule {
  // Each call msal-node makes is a child span of the request (an exchange when it is the token endpoint).
  function send<T>(
    method: 'GET' | 'POST',
    url: string,
    options: NetworkRequestOptions | undefined,
  ): Promise<NetworkResponse<T>> {
    return calls.entra(url, method, () => call<T>(method, url, options));
  }
  async function call<T>(
    method: 'GET' | 'POST',
    url: string,
    options: NetworkRequestOptions | undefined,
  ): Promise<NetworkResponse<T>> {
    const response = await fetchImpl(url, {
      method,
      headers: options?.headers,
      body: method === 'POST' ? options?.body : undefined,
      // The token request carries the user's assertion and the app's credential: a redirect is an outage.
      redirect: 'error',
      signal: AbortSignal.timeout(timeoutMs),
    });
    lastResponse.status = response.status;
    lastResponse.retryAfter = response.headers.get('retry-after');
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      // Entra always answers JSON; anything else (a proxy's error page) is an outage.
      throw new Error(`identity provider answered ${response.status} with a non-JSON body`);
    }
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name] = value;
    });
    return { status: response.status, headers, body: body as T };
  }
  return {
    sendGetRequestAsync: (url, options) => send('GET', url, options),
    sendPostRequestAsync: (url, options) => send('POST', url, options),
  };
}
