// The sandbox's directory: the API's home tenant, a partner tenant (the API is consented there too) and a
// tenant nobody allowed; users are named and derived from their name and tenant; a guest is a user of one
// tenant invited into another, with an object id of its own there.
import { createHash } from 'node:crypto';

export interface SandboxTenant {
  id: string;
  domain: string;
}

export interface DirectoryUser {
  oid: string;
  tenant: SandboxTenant;
  displayName: string;
  givenName: string;
  surname: string;
  userPrincipalName: string;
  /** For a guest: the user in their home tenant (MSAL's home account, Entra's client_info). */
  home: { oid: string; tenant: SandboxTenant } | undefined;
}

const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A name-based UUID (version 5 layout over SHA-256), stable for the same seed. */
export function uuidOf(seed: string): string {
  const bytes = createHash('sha256').update(seed).digest().subarray(0, 16);
  bytes.writeUInt8(((bytes.readUInt8(6) & 0x0f) | 0x50) >>> 0, 6);
  bytes.writeUInt8(((bytes.readUInt8(8) & 0x3f) | 0x80) >>> 0, 8);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The user `name` of `tenant`. Users of `home` keep the object ids they always had (seeded by name only);
 * a guest (`guestOf` their home tenant) gets an object id of their own in `tenant`.
 */
export function directoryUser(
  name: string,
  tenant: SandboxTenant,
  home: SandboxTenant,
  guestOf?: SandboxTenant,
): DirectoryUser {
  if (!USER_NAME.test(name)) throw new Error(`user name must match ${String(USER_NAME)}`);
  const lower = name.toLowerCase();
  const memberOid = (of: SandboxTenant): string =>
    of.id === home.id
      ? uuidOf(`obo-graph-api sandbox user:${lower}`)
      : uuidOf(`obo-graph-api sandbox user:${lower}@${of.id}`);
  const givenName = lower.charAt(0).toUpperCase() + lower.slice(1);
  const base = { givenName, surname: 'Sandbox', displayName: `${givenName} Sandbox` };
  if (guestOf === undefined || guestOf.id === tenant.id) {
    return {
      ...base,
      oid: memberOid(tenant),
      tenant,
      userPrincipalName: `${lower}@${tenant.domain}`,
      home: undefined,
    };
  }
  return {
    ...base,
    oid: uuidOf(`obo-graph-api sandbox guest:${lower}@${guestOf.id}@${tenant.id}`),
    tenant,
    // Entra's form for a guest's UPN in the inviting tenant.
    userPrincipalName: `${lower}_${guestOf.domain}#EXT#@${tenant.domain}`,
    home: { oid: memberOid(guestOf), tenant: guestOf },
  };
}
