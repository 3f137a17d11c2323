// The sandbox tenant as Entra's directory holds it: ids of the tenant, the apps and the users.
import { createHash } from 'node:crypto';

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
/** The Graph permissions an administrator has consented to for the API. */
export const CONSENTED_GRAPH_PERMISSIONS = ['User.Read'] as const;

export const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface SandboxUser {
  oid: string;
  displayName: string;
  givenName: string;
  surname: string;
  userPrincipalName: string;
}

/** The emulated user called `name`: the same name is always the same user (oid derived from the name). */
export function sandboxUser(name: string): SandboxUser {
  if (!USER_NAME.test(name)) throw new Error(`user name must match ${String(USER_NAME)}`);
  const lower = name.toLowerCase();
  const bytes = createHash('sha256').update(`obo-graph-api sandbox user:${lower}`).digest().subarray(0, 16);
  bytes.writeUInt8(((bytes.readUInt8(6) & 0x0f) | 0x50) >>> 0, 6); // UUID version 5 (name-based, SHA)
  bytes.writeUInt8(((bytes.readUInt8(8) & 0x3f) | 0x80) >>> 0, 8); // RFC 4122 variant
  const hex = bytes.toString('hex');
  const oid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  const givenName = lower.charAt(0).toUpperCase() + lower.slice(1);
  return {
    oid,
    givenName,
    surname: 'Sandbox',
    displayName: `${givenName} Sandbox`,
    userPrincipalName: `${lower}@${TENANT_DOMAIN}`,
  };
}

/** Entra's `sub` is pairwise: the same user has a different subject in each application. */
export function pairwiseSubject(oid: string, clientId: string): string {
  return createHash('sha256').update(`${oid}:${clientId}`).digest('base64url').slice(0, 43);
}

/** Where a request's tenant segment points: this tenant, a multi-tenant alias, or nowhere. */
export interface TenantPath {
  kind: 'own' | 'multi' | 'unknown';
  segment: string;
}

export function resolveTenant(segment: string): TenantPath {
  const lower = segment.toLowerCase();
  if (lower === TENANT_ID || lower === TENANT_DOMAIN) return { kind: 'own', segment };
  if (lower === 'common' || lower === 'organizations') return { kind: 'multi', segment };
  return { kind: 'unknown', segment };
}
