// The tenant's discovery documents: OpenID configuration and MSAL's instance discovery (the JWKS is keys.ts').
import { GRAPH_RESOURCE, type TenantPath } from './fixtures.js';

/** The OpenID Connect scopes Entra knows (lower case): asked for beside a resource's permissions. */
export const OIDC_SCOPES: ReadonlySet<string> = new Set(['openid', 'profile', 'email', 'offline_access']);

/** `/{tenant}/v2.0/.well-known/openid-configuration` as Entra answers it. */
export function openIdConfiguration(baseUrl: string, tenant: TenantPath): Record<string, unknown> {
  const segment = tenant.segment;
  const issuerTenant = tenant.tenant?.id ?? '{tenantid}';
  const oauth = `${baseUrl}/${segment}/oauth2/v2.0`;
  return {
    token_endpoint: `${oauth}/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${baseUrl}/${segment}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: [...OIDC_SCOPES],
    issuer: `${baseUrl}/${issuerTenant}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${GRAPH_RESOURCE}/oidc/userinfo`,
    authorization_endpoint: `${oauth}/authorize`,
    device_authorization_endpoint: `${oauth}/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${oauth}/logout`,
    claims_supported: [
      'sub',
      'iss',
      'cloud_instance_name',
      'cloud_instance_host_name',
      'cloud_graph_host_name',
      'msgraph_host',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'acr',
      'nonce',
      'preferred_username',
      'name',
      'tid',
      'ver',
      'at_hash',
      'c_hash',
      'email',
    ],
    kerberos_endpoint: `${baseUrl}/${segment}/kerberos`,
    tenant_region_scope: 'EU',
    cloud_instance_name: 'microsoftonline.com',
    cloud_graph_host_name: 'graph.windows.net',
    msgraph_host: 'graph.microsoft.com',
    rbac_url: 'https://pas.windows.net',
  };
}

/** `/common/discovery/instance`: this host is its own only alias. */
export function instanceDiscovery(baseUrl: string, query: URLSearchParams): Record<string, unknown> {
  const host = new URL(baseUrl).host;
  const authorizationEndpoint = query.get('authorization_endpoint');
  let tenant = 'common';
  if (authorizationEndpoint !== null && URL.canParse(authorizationEndpoint)) {
    tenant = new URL(authorizationEndpoint).pathname.split('/')[1] || tenant;
  }
  return {
    tenant_discovery_endpoint: `${baseUrl}/${tenant}/v2.0/.well-known/openid-configuration`,
    'api-version': '1.1',
    metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
  };
}
