// App role assignments of the Entra emulator: which of the API's app roles each user holds, per (tenant, user). Entra
// puts them in the `roles` claim of the user's access tokens for the API. Reset puts back the sandbox's defaults.
import { API_APP_ROLE_VALUES } from '../../../shared/auth/appRoles.js';

export class AppRoleAssignments {
  readonly #assigned = new Map<string, readonly string[]>();

  /** `defaults(tenant, oid)`: what a user holds until a test assigns otherwise. */
  constructor(private readonly defaults: (tenant: string, oid: string) => readonly string[]) {}

  rolesOf(tenant: string, oid: string): string[] {
    return [...(this.#assigned.get(`${tenant}/${oid}`) ?? this.defaults(tenant, oid))];
  }

  /** Replaces the user's assignments; a role the API does not declare is refused, as Entra refuses it. */
  assign(tenant: string, oid: string, roles: readonly string[]): string | undefined {
    const unknown = roles.find((role) => !API_APP_ROLE_VALUES.includes(role));
    if (unknown !== undefined) {
      return `"${unknown.slice(0, 40)}" is not an app role of the API (${API_APP_ROLE_VALUES.join(', ')})`;
    }
    this.#assigned.set(`${tenant}/${oid}`, [...new Set(roles)]);
    return undefined;
  }

  clear(): void {
    this.#assigned.clear();
  }
}
