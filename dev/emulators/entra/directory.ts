// The directory state the Entra emulator changes at run time: consents, session revocations, the guests
// it has issued tokens for, app role assignments. Reset puts it back to the administrators' consents and no revocation.
import { SessionRevocations } from '../kit/sessionRevocations.js';
import { AppRoleAssignments } from './appRoles.js';
import { ConsentStore, type ResourcePermission } from './consent.js';
import {
  API_CLIENT_ID,
  API_TENANTS,
  APP_ROLES_BY_DEFAULT,
  CONSENTED_GRAPH_PERMISSIONS,
  DOWNSTREAM_APIS,
  type DownstreamApi,
  GRAPH_APP_ID,
  sandboxUser,
  TENANT_ID,
} from './fixtures.js';

export function graphPermission(permission: string): ResourcePermission {
  return { resourceAppId: GRAPH_APP_ID, permission };
}

/** The downstream API a scope names (`<app ID URI or app id>/<permission>`), and the permission's name. */
export function downstreamScopeOf(scope: string): { api: DownstreamApi; permission: string } | undefined {
  const lower = scope.toLowerCase();
  for (const api of DOWNSTREAM_APIS) {
    for (const identifier of [...api.identifierUris, api.appId]) {
      if (lower.startsWith(`${identifier.toLowerCase()}/`)) {
        return { api, permission: scope.slice(identifier.length + 1) };
      }
    }
  }
  return undefined;
}

/** The permission as the API declares it (its exposed scope's spelling), if it exposes one of that name. */
export function exposedPermission(api: DownstreamApi, permission: string): string | undefined {
  if (api.scopes === undefined) return /^[A-Za-z][A-Za-z0-9.]*$/.test(permission) ? permission : undefined;
  return api.scopes.find((scope) => scope.toLowerCase() === permission.toLowerCase());
}

/**
 * `https://graph.microsoft.com/Calendars.Read`, `api://<tasks>/Tasks.ReadWrite` (or an app id form) as a permission
 * of a downstream API the emulator knows, else undefined.
 */
export function resourcePermissionOf(scope: string): ResourcePermission | undefined {
  const found = downstreamScopeOf(scope);
  const permission = found === undefined ? undefined : exposedPermission(found.api, found.permission);
  return found === undefined || permission === undefined
    ? undefined
    : { resourceAppId: found.api.appId, permission };
}

/** A permission as a full scope string, `<the API's first app ID URI>/<permission>`. */
export function scopeOf(permission: ResourcePermission): string {
  const api = DOWNSTREAM_APIS.find((candidate) => candidate.appId === permission.resourceAppId);
  return `${api?.identifierUris[0] ?? permission.resourceAppId}/${permission.permission}`;
}

const ADMIN_CONSENT = { [API_CLIENT_ID]: CONSENTED_GRAPH_PERMISSIONS.map(graphPermission) };

export class EntraDirectory {
  /** Every tenant with the API starts with its administrator's consent to User.Read; users grant the rest. */
  readonly consents = new ConsentStore((tenant) => (API_TENANTS.has(tenant) ? ADMIN_CONSENT : {}));
  readonly revocations = new SessionRevocations();
  /** The API's app roles each user holds: in the API's tenant, the users of APP_ROLES_BY_DEFAULT hold theirs. */
  readonly appRoles = new AppRoleAssignments((tenant, oid) =>
    tenant === TENANT_ID
      ? (Object.entries(APP_ROLES_BY_DEFAULT).find(([name]) => sandboxUser(name).oid === oid)?.[1] ?? [])
      : [],
  );
  /** Guests minted so far: object id in the inviting tenant -> their home identity (Entra's client_info). */
  readonly guestHomes = new Map<string, { oid: string; tenant: string }>();
  /** Requests by the tenant in their path, then by kind. */
  readonly tenantCounters = new Map<string, Record<string, number>>();

  countTenantRequest(tenant: string, kind: string): void {
    const counts = this.tenantCounters.get(tenant) ?? {};
    counts[kind] = (counts[kind] ?? 0) + 1;
    this.tenantCounters.set(tenant, counts);
  }

  clear(): void {
    this.consents.clear();
    this.revocations.clear();
    this.appRoles.clear();
    this.tenantCounters.clear();
  }
}
