// Consent state of the Entra emulator: which delegated permissions a user (or an administrator, for every
// user of a tenant) has granted to a client application, per (tenant, user, client, scope).
import { isRecord } from '../../../shared/narrow.js';

/** A permission of a resource: the resource's application id and the permission's name, as Entra keys them. */
export interface ResourcePermission {
  resourceAppId: string;
  /** As declared by the resource (`Calendars.Read`); compared case-insensitively. */
  permission: string;
}

export interface ConsentSubject {
  tenant: string;
  /** The user's object id in that tenant. */
  oid: string;
  /** The client application the permission is granted to. */
  client: string;
}

/** Tenant-wide consent given by an administrator: client -> permissions, for every user of the tenant. */
export type AdminConsents = Readonly<Record<string, readonly ResourcePermission[]>>;

/**
 * Per-user grants and revocations over the tenant's admin consents. A user's explicit revocation
 * also hides an admin grant (the sandbox's simplification: Entra would need the admin grant removed).
 */
export class ConsentStore {
  readonly #userChoices = new Map<
    string,
    { subject: ConsentSubject; scope: ResourcePermission; granted: boolean }
  >();
  /** Tenant-wide grants and revocations made at run time (an administrator's consent), over the fixed ones. */
  readonly #adminChoices = new Map<string, { scope: ResourcePermission; granted: boolean }>();

  constructor(private readonly adminConsents: (tenant: string) => AdminConsents) {}

  isGranted(subject: ConsentSubject, scope: ResourcePermission): boolean {
    const choice = this.#userChoices.get(keyOf(subject, scope));
    if (choice !== undefined) return choice.granted;
    const adminChoice = this.#adminChoices.get(keyOf({ ...subject, oid: '' }, scope));
    if (adminChoice !== undefined) return adminChoice.granted;
    return (this.adminConsents(subject.tenant)[subject.client] ?? []).some((p) => samePermission(p, scope));
  }

  /** The permissions of `wanted` that are not granted, in the order asked. */
  missing(subject: ConsentSubject, wanted: readonly ResourcePermission[]): ResourcePermission[] {
    return wanted.filter((scope) => !this.isGranted(subject, scope));
  }

  /** Every permission of `resourceAppId` granted to the client for the user (what a token's `scp` holds). */
  granted(subject: ConsentSubject, resourceAppId: string): string[] {
    const candidates = [...(this.adminConsents(subject.tenant)[subject.client] ?? [])];
    const prefix = keyOf(subject, { resourceAppId, permission: '' });
    for (const [key, choice] of this.#userChoices) {
      if (key.startsWith(prefix)) candidates.push(choice.scope);
    }
    const adminPrefix = keyOf({ ...subject, oid: '' }, { resourceAppId, permission: '' });
    for (const [key, choice] of this.#adminChoices) {
      if (key.startsWith(adminPrefix)) candidates.push(choice.scope);
    }
    const names = new Map<string, string>();
    for (const scope of candidates) {
      if (scope.resourceAppId.toLowerCase() !== resourceAppId.toLowerCase()) continue;
      const lower = scope.permission.toLowerCase();
      if (!names.has(lower) && this.isGranted(subject, scope)) names.set(lower, scope.permission);
    }
    return [...names.values()];
  }

  set(subject: ConsentSubject, scopes: readonly ResourcePermission[], granted: boolean): void {
    for (const scope of scopes) this.#userChoices.set(keyOf(subject, scope), { subject, scope, granted });
  }

  /** An administrator's consent (or its removal) for every user of the tenant; a user's own choice still wins. */
  setForTenant(
    subject: Omit<ConsentSubject, 'oid'>,
    scopes: readonly ResourcePermission[],
    granted: boolean,
  ): void {
    for (const scope of scopes)
      this.#adminChoices.set(keyOf({ ...subject, oid: '' }, scope), { scope, granted });
  }

  /** Back to the fixed admin consents only (the sandbox's reset). */
  clear(): void {
    this.#userChoices.clear();
    this.#adminChoices.clear();
  }
}

function keyOf(subject: ConsentSubject, scope: ResourcePermission): string {
  return [
    subject.tenant.toLowerCase(),
    subject.oid.toLowerCase(),
    subject.client.toLowerCase(),
    scope.resourceAppId.toLowerCase(),
    scope.permission.toLowerCase(),
  ].join('|');
}

function samePermission(a: ResourcePermission, b: ResourcePermission): boolean {
  return (
    a.resourceAppId.toLowerCase() === b.resourceAppId.toLowerCase() &&
    a.permission.toLowerCase() === b.permission.toLowerCase()
  );
}

/** The body of `POST /_emulator/consent`. */
export interface ConsentChange {
  /** undefined with `admin`: the tenant's administrator consents for every user. */
  user: string | undefined;
  admin: boolean;
  tenant: string | undefined;
  client: string | undefined;
  scopes: string[];
  granted: boolean;
}

export function parseConsentChange(input: unknown): ConsentChange | string {
  if (!isRecord(input)) return 'the body must be a JSON object';
  const { user, admin = false, tenant, client, scopes, granted } = input;
  if (typeof admin !== 'boolean') return '"admin" must be true (tenant-wide consent) or false';
  if (admin && user !== undefined) return '"admin": true consents for every user: leave "user" out';
  if (!admin && (typeof user !== 'string' || user === '')) return '"user" must be a user name';
  if (tenant !== undefined && typeof tenant !== 'string') return '"tenant" must be a tenant id';
  if (client !== undefined && typeof client !== 'string') return '"client" must be a client id';
  if (
    !Array.isArray(scopes) ||
    scopes.length === 0 ||
    !scopes.every((s) => typeof s === 'string' && s !== '')
  ) {
    return '"scopes" must be a non-empty array of scopes (https://graph.microsoft.com/Calendars.Read)';
  }
  if (typeof granted !== 'boolean') return '"granted" must be true (grant) or false (revoke)';
  return {
    user: typeof user === 'string' ? user : undefined,
    admin,
    tenant,
    client,
    scopes: scopes as string[],
    granted,
  };
}
