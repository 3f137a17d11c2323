// The App Service / Functions managed identity endpoint (IDENTITY_ENDPOINT, api-version 2019-08-01) for the
// sandbox's one user-assigned identity, as @azure/identity's ManagedIdentityCredential (msal-node's AppService
// source) calls it. The Entra emulator serves it; this module holds its pure request and token logic.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

/** Client (application) id of the sandbox's user-assigned identity: MANAGED_IDENTITY_CLIENT_ID, AZURE_CLIENT_ID. */
export const MANAGED_IDENTITY_CLIENT_ID = '8d3f6b2a-4c1e-4f7a-9b05-2e6c71d4a9f8';
/** Object (principal) id of the identity: `oid` and `sub` of its tokens, the subject of the API's federated credential. */
export const MANAGED_IDENTITY_PRINCIPAL_ID = 'c2a84e17-5d93-4b6f-8e21-09f4b7d3c65a';
export const MANAGED_IDENTITY_RESOURCE_ID =
  '/subscriptions/0f4e8a2c-7b19-4d53-a6e0-3c91d5b87f24/resourcegroups/rg-obo-sandbox/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-obo-sandbox';
/** The audience of a managed identity token used as a federated credential (Entra's token exchange). */
export const TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';
/** Where the Entra emulator serves the endpoint: IDENTITY_ENDPOINT is `<entra url>/msi/token`. */
export const MANAGED_IDENTITY_PATH = '/msi/token';
export const MANAGED_IDENTITY_API_VERSION = '2019-08-01';
/** Managed identity tokens live about a day (Entra caches them 24 h; msal-node refreshes after half). */
export const MANAGED_IDENTITY_TOKEN_LIFETIME_SECONDS = 86_400;

/** The body App Service's identity endpoint answers a failure with (Kestrel, JSON). */
export interface ManagedIdentityErrorBody {
  statusCode: number;
  message: string;
  correlationId: string;
}

export interface ManagedIdentityFailure {
  status: number;
  message: string;
}

export type ManagedIdentityRequest =
  { ok: true; resource: string } | { ok: false; failure: ManagedIdentityFailure };

/**
 * Checks a token request as App Service does: the `X-IDENTITY-HEADER` secret, the api-version, a resource and
 * the identity (by client id, principal/object id or resource id; the sandbox has no system-assigned one).
 */
export function parseManagedIdentityRequest(
  query: URLSearchParams,
  identityHeader: string | undefined,
  expectedHeader: string,
): ManagedIdentityRequest {
  if (identityHeader === undefined || !sameValue(identityHeader, expectedHeader)) {
    return refuse(
      401,
      'The X-IDENTITY-HEADER header is missing or does not match the IDENTITY_HEADER of this app.',
    );
  }
  const apiVersion = query.get('api-version');
  if (apiVersion !== MANAGED_IDENTITY_API_VERSION) {
    return refuse(
      400,
      `The api-version '${apiVersion ?? ''}' is not supported with X-IDENTITY-HEADER: use '${MANAGED_IDENTITY_API_VERSION}'.`,
    );
  }
  const resource = query.get('resource');
  if (resource === null || resource.trim() === '') {
    return refuse(400, "The 'resource' query parameter is required.");
  }
  const selectors = [
    query.get('client_id')?.toLowerCase() === MANAGED_IDENTITY_CLIENT_ID,
    ['principal_id', 'object_id'].some(
      (name) => query.get(name)?.toLowerCase() === MANAGED_IDENTITY_PRINCIPAL_ID,
    ),
    query.get('mi_res_id')?.toLowerCase() === MANAGED_IDENTITY_RESOURCE_ID.toLowerCase(),
  ];
  const given = ['client_id', 'principal_id', 'object_id', 'mi_res_id'].filter((name) => query.has(name));
  // No identity named means the system-assigned one, which this app does not have; a wrong id matches none.
  if (given.length !== 1 || !selectors.some(Boolean)) {
    return refuse(400, 'Unable to load the proper Managed Identity.');
  }
  return { ok: true, resource };
}

/** The claims of a token the identity gets for `resource`: an app-only v2 token of the tenant. */
export function managedIdentityTokenClaims(
  resource: string,
  tenant: { id: string; issuer: string },
  nowSeconds: number,
): Record<string, unknown> {
  return {
    aud: resource,
    iss: tenant.issuer,
    iat: nowSeconds,
    nbf: nowSeconds,
    exp: nowSeconds + MANAGED_IDENTITY_TOKEN_LIFETIME_SECONDS,
    appid: MANAGED_IDENTITY_CLIENT_ID,
    appidacr: '2',
    azp: MANAGED_IDENTITY_CLIENT_ID,
    azpacr: '2',
    idp: tenant.issuer,
    idtyp: 'app',
    oid: MANAGED_IDENTITY_PRINCIPAL_ID,
    sub: MANAGED_IDENTITY_PRINCIPAL_ID,
    tid: tenant.id,
    uti: randomBytes(16).toString('base64url'),
    ver: '2.0',
    xms_mirid: MANAGED_IDENTITY_RESOURCE_ID,
  };
}

/** App Service's success body: `expires_on` is epoch seconds as a string. */
export function managedIdentityTokenResponse(
  accessToken: string,
  resource: string,
  expiresOn: number,
): Record<string, string> {
  return {
    access_token: accessToken,
    expires_on: String(expiresOn),
    resource,
    token_type: 'Bearer',
    client_id: MANAGED_IDENTITY_CLIENT_ID,
  };
}

export function managedIdentityErrorBody(status: number, message: string): ManagedIdentityErrorBody {
  return { statusCode: status, message, correlationId: randomUUID() };
}

function refuse(status: number, message: string): { ok: false; failure: ManagedIdentityFailure } {
  return { ok: false, failure: { status, message } };
}

/** Compares the header secret without leaking its length or content through timing. */
function sameValue(given: string, expected: string): boolean {
  const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
