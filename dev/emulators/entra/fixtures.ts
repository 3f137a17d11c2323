// The sandbox tenants as Entra's directory holds them: ids of the tenants, the apps and the users.
import { createHash } from 'node:crypto';

import { API_APP_ROLE_VALUES } from '../../../shared/auth/appRoles.js';
import { permissionsByResource } from '../../../shared/downstream/permissions.js';
import { type DirectoryUser, directoryUser, type SandboxTenant } from './tenants.js';

export {
  MANAGED_IDENTITY_CLIENT_ID,
  MANAGED_IDENTITY_PRINCIPAL_ID,
  MANAGED_IDENTITY_RESOURCE_ID,
  TOKEN_EXCHANGE_AUDIENCE,
} from '../managedIdentity.js';

export const TENANT_ID = '5b1c0d6e-8f3a-4c27-9d41-a2e6b7f08c13';
export const TENANT_DOMAIN = 'sandbox.onmicrosoft.com';
export const API_CLIENT_ID = '3f9c2a71-8d4e-4b6a-a5c2-71e0d94b6c38';
export const API_APP_ID_URI = `api://${API_CLIENT_ID}`;
export const API_SCOPE = 'access_as_user';
export const API_DISPLAY_NAME = 'obo-graph-api';
export const SPA_CLIENT_ID = '6a1e4c93-2b7d-4f05-8e19-c4d27a3b9f60';
export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
export const GRAPH_RESOURCE = 'https://graph.microsoft.com';
/** The Graph permissions an administrator has consented to for the API, in every tenant it is installed in. */
export const CONSENTED_GRAPH_PERMISSIONS = ['User.Read'] as const;
/**
 * The Graph permissions the API's registration declares (what its routes need): a user consents to them
 * together with the API's own scope when the SPA asks with `prompt=consent` (combined consent).
 */
export const API_GRAPH_PERMISSIONS: readonly string[] = permissionsByResource().graph;
/**
 * The API's app roles each sandbox user holds until a test assigns otherwise: alice holds every one, so the sample
 * SPA can use every route; anyone else holds none.
 */
export const APP_ROLES_BY_DEFAULT: Readonly<Record<string, readonly string[]>> = {
  alice: API_APP_ROLE_VALUES,
};
/** The Tasks API: a second protected web API of the tenant that the API calls on the user's behalf. */
export const TASKS_API_CLIENT_ID = '9d4b7e21-6c3f-4a58-b0e7-3f12a8c5d946';
/** Entra's default form of an app ID URI (`api://<client id>`). */
export const TASKS_API_APP_ID_URI = `api://${TASKS_API_CLIENT_ID}`;
export const TASKS_API_DISPLAY_NAME = 'tasks-api';
/** The delegated scopes the Tasks API exposes. */
export const TASKS_API_SCOPES = ['Tasks.Read', 'Tasks.ReadWrite'] as const;
/**
 * What the API's registration declares by default (full scope strings): what the operations table needs of Graph and
 * of the Tasks API (shared/downstream/permissions.ts), as the app registration declares it.
 */
export const API_DECLARED_PERMISSIONS: readonly string[] = [
  ...API_GRAPH_PERMISSIONS.map((permission) => `${GRAPH_RESOURCE}/${permission}`),
  ...permissionsByResource().tasks.map((permission) => `${TASKS_API_APP_ID_URI}/${permission}`),
];

/** A resource the Entra emulator issues tokens for on behalf of a user. */
export interface DownstreamApi {
  /** Its application (client) id: what consents are keyed by. */
  appId: string;
  /** The URIs a scope may start with (`<uri>/<permission>`), besides the app id. */
  identifierUris: readonly string[];
  displayName: string;
  /** Its delegated scopes; undefined: any name (the emulator does not hold Graph's catalogue). */
  scopes: readonly string[] | undefined;
  /** Graph takes v1 tokens (`sts.windows.net` issuer, `aud` its URI); the Tasks API v2 (`aud` its client id). */
  tokenVersion: 1 | 2;
}

export const GRAPH_API: DownstreamApi = {
  appId: GRAPH_APP_ID,
  identifierUris: [GRAPH_RESOURCE],
  displayName: 'Microsoft Graph',
  scopes: undefined,
  tokenVersion: 1,
};
export const TASKS_API: DownstreamApi = {
  appId: TASKS_API_CLIENT_ID,
  identifierUris: [TASKS_API_APP_ID_URI],
  displayName: TASKS_API_DISPLAY_NAME,
  scopes: TASKS_API_SCOPES,
  tokenVersion: 2,
};
export const DOWNSTREAM_APIS: readonly DownstreamApi[] = [GRAPH_API, TASKS_API];
/** A second tenant where the API is installed and consented (a multi-tenant API's customer). */
export const PARTNER_TENANT_ID = '8e2d4f61-3c5a-4b7e-9f10-6a2b3c4d5e6f';
export const PARTNER_TENANT_DOMAIN = 'partner.onmicrosoft.com';
/** A tenant the API is not installed in. */
export const OTHER_TENANT_ID = 'c7a1e9b2-5d3f-4e68-8a0b-1f2e3d4c5b6a';
export const OTHER_TENANT_DOMAIN = 'elsewhere.onmicrosoft.com';
export const HOME_TENANT: SandboxTenant = { id: TENANT_ID, domain: TENANT_DOMAIN };
export const SANDBOX_TENANTS: readonly SandboxTenant[] = [
  HOME_TENANT,
  { id: PARTNER_TENANT_ID, domain: PARTNER_TENANT_DOMAIN },
  { id: OTHER_TENANT_ID, domain: OTHER_TENANT_DOMAIN },
];
/** Tenants with a service principal of the API (and the admin consent above). */
export const API_TENANTS: ReadonlySet<string> = new Set([TENANT_ID, PARTNER_TENANT_ID]);
/** Lifetime of a token for a client that declared `cp1` (Entra: 20 to 28 hours). */
export const CAE_TOKEN_LIFETIME_SECONDS = 24 * 3600;

export const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface SandboxUser {
  oid: string;
  displayName: string;
  givenName: string;
  surname: string;
  userPrincipalName: string;
}

/** The emulated user called `name` in the API's tenant: the same name is always the same user. */
export function sandboxUser(name: string): SandboxUser {
  return directoryUser(name, HOME_TENANT, HOME_TENANT);
}

/** The tenant named by an id or a domain, if the sandbox knows it. */
export function sandboxTenant(idOrDomain: string): SandboxTenant | undefined {
  const lower = idOrDomain.toLowerCase();
  return SANDBOX_TENANTS.find((tenant) => tenant.id === lower || tenant.domain === lower);
}

/** The user `name` of `tenant`; with `guestOf`, a guest from that home tenant. */
export function tenantUser(name: string, tenant: SandboxTenant, guestOf?: SandboxTenant): DirectoryUser {
  return directoryUser(name, tenant, HOME_TENANT, guestOf);
}

/** Entra's `sub` is pairwise: the same user has a different subject in each application. */
export function pairwiseSubject(oid: string, clientId: string): string {
  return createHash('sha256').update(`${oid}:${clientId}`).digest('base64url').slice(0, 43);
}

/** Entra's `client_info`: the home account's object id and tenant, base64url JSON. */
export function clientInfo(oid: string, tenantId: string): string {
  return Buffer.from(JSON.stringify({ uid: oid, utid: tenantId })).toString('base64url');
}

/** Where a request's tenant segment points: a sandbox tenant, a multi-tenant alias, or nowhere. */
export interface TenantPath {
  kind: 'own' | 'multi' | 'unknown';
  segment: string;
  /** The sandbox tenant the path names (`own`). */
  tenant?: SandboxTenant;
}

export function resolveTenant(segment: string): TenantPath {
  const lower = segment.toLowerCase();
  const known = sandboxTenant(lower);
  if (known !== undefined) return { kind: 'own', segment, tenant: known };
  if (lower === 'common' || lower === 'organizations') return { kind: 'multi', segment };
  return { kind: 'unknown', segment };
}
