// The directory state the Entra emulator changes at run time: consents, session revocations, the guests
// it has issued tokens for. Reset puts it back to the administrators' consents and no revocation.
import { SessionRevocations } from '../kit/sessionRevocations.js';
import { ConsentStore, type ResourcePermission } from './consent.js';
import {
  API_CLIENT_ID,
  API_TENANTS,
  CONSENTED_GRAPH_PERMISSIONS,
  GRAPH_APP_ID,
  GRAPH_RESOURCE,
} from './fixtures.js';

export function graphPermission(permission: string): ResourcePermission {
  return { resourceAppId: GRAPH_APP_ID, permission };
}

/** `https://graph.microsoft.com/Calendars.Read` (or Graph's app id form) as a Graph permission. */
export function resourcePermissionOf(scope: string): ResourcePermission | undefined {
  for (const prefix of [`${GRAPH_RESOURCE}/`, `${GRAPH_APP_ID}/`]) {
    if (scope.toLowerCase().startsWith(prefix)) {
      const permission = scope.slice(prefix.length);
      return /^[A-Za-z][A-Za-z0-9.]*$/.test(permission) ? graphPermission(permission) : undefined;
    }
  }
  return undefined;
}

const ADMIN_CONSENT = { [API_CLIENT_ID]: CONSENTED_GRAPH_PERMISSIONS.map(graphPermission) };

export class EntraDirectory {
  /** Every tenant with the API starts with its administrator's consent to User.Read; users grant the rest. */
  readonly consents = new ConsentStore((tenant) => (API_TENANTS.has(tenant) ? ADMIN_CONSENT : {}));
  readonly revocations = new SessionRevocations();
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
    this.tenantCounters.clear();
  }
}
