// The Azure clouds the app, the azd hooks and the Bicep deploy to (ENTRA_CLOUD): one table for all of them, and
// the rule that keeps a downstream's base URL on its resource's host so its tokens never go anywhere else.

/** Endpoints of each Azure cloud, with its token exchange audience for federated credentials (DESIGN.md). */
export const CLOUDS = {
  AzureCloud: {
    graph: 'https://graph.microsoft.com',
    login: 'https://login.microsoftonline.com',
    tokenExchangeAudience: 'api://AzureADTokenExchange',
    /** Every Microsoft Graph endpoint of the cloud: a base URL on one may serve the resource of another. */
    graphHosts: ['graph.microsoft.com'],
  },
  AzureUSGovernment: {
    graph: 'https://graph.microsoft.us',
    login: 'https://login.microsoftonline.us',
    tokenExchangeAudience: 'api://AzureADTokenExchangeUSGov',
    // L4 (GCC High) and DoD: Microsoft's two Graph deployments of the US Government cloud.
    graphHosts: ['graph.microsoft.us', 'dod-graph.microsoft.us'],
  },
  AzureChinaCloud: {
    graph: 'https://microsoftgraph.chinacloudapi.cn',
    login: 'https://login.chinacloudapi.cn',
    tokenExchangeAudience: 'api://AzureADTokenExchangeChina',
    graphHosts: ['microsoftgraph.chinacloudapi.cn'],
  },
} as const;

export type CloudName = keyof typeof CLOUDS;
export type Cloud = (typeof CLOUDS)[CloudName];

export const CLOUD_NAMES = Object.keys(CLOUDS) as CloudName[];

export function isCloudName(name: string): name is CloudName {
  return Object.hasOwn(CLOUDS, name);
}

/**
 * Whether a downstream's base URL may carry tokens for `resourceUri`: the same host (and port), or two Microsoft
 * Graph hosts of one national cloud (CLOUDS' `graphHosts`). Anything else would hand the resource's tokens to a
 * host that is not the resource.
 */
export function baseUrlMatchesResource(baseUrl: URL, resourceUri: URL): boolean {
  if (baseUrl.protocol !== 'https:' || resourceUri.protocol !== 'https:') return false;
  if (baseUrl.host === resourceUri.host) return true;
  const onDefaultPort = baseUrl.port === '' && resourceUri.port === '';
  return (
    onDefaultPort &&
    Object.values(CLOUDS).some(
      (cloud) =>
        (cloud.graphHosts as readonly string[]).includes(baseUrl.hostname) &&
        (cloud.graphHosts as readonly string[]).includes(resourceUri.hostname),
    )
  );
}
