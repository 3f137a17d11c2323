// Who may call the API: the tenants whose users may (ENTRA_ALLOWED_TENANTS) and the client applications whose
// tokens may (API_ALLOWED_CLIENT_APPS).
import { GUID, type SettingReader } from './settingReader.js';

/** The tenants whose users may call, lower case: `tenantId` alone unless ENTRA_ALLOWED_TENANTS widens it. */
export function readAllowedTenants(read: SettingReader, tenantId: string): readonly string[] {
  const allowedTenants = read.list('ENTRA_ALLOWED_TENANTS', []);
  for (const tenant of allowedTenants) {
    if (!GUID.test(tenant)) {
      read.problem('ENTRA_ALLOWED_TENANTS', `"${tenant}" is not a tenant id (GUID)`);
    }
  }
  return allowedTenants.length > 0 ? allowedTenants.map((t) => t.toLowerCase()) : [tenantId];
}

/**
 * The client applications that may call: required, so that an API is never open to every app a user consented
 * to by omission. `*` allows any app explicitly.
 */
export function readAllowedClientApps(read: SettingReader, name: string): readonly string[] | 'any' {
  const expected =
    'the client ids (GUIDs) of the apps that may call this API, comma-separated, or * for any app';
  const value = read.optional(name);
  if (value === undefined) {
    read.problem(name, `is required: ${expected}`);
    return [];
  }
  if (value === '*') return 'any';
  const ids = read.list(name, []);
  if (ids.some((id) => !GUID.test(id))) {
    read.problem(name, `must be ${expected}`);
    return [];
  }
  return ids.map((id) => id.toLowerCase());
}
