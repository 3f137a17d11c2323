/**
 * The app roles this API declares (its registration's `appRoles`): an administrator assigns them to users, Entra puts
 * the assigned ones in the `roles` claim of the user's access token for the API, and an operation may require one
 * (`access: { anyRole: [...] }`, shared/downstream/operations.ts). The azd hooks, infra/entra and the sandbox's Entra
 * emulator declare exactly these; test/permissions.test.ts fails when one disagrees or an operation names another.
 */
export interface ApiAppRole {
  /** The claim value (`roles`), stable: renaming one unassigns every user. */
  readonly value: string;
  readonly displayName: string;
  readonly description: string;
}

export const API_APP_ROLES = {
  tasksAdmin: {
    value: 'Tasks.Admin',
    displayName: 'Tasks administrator',
    description: 'Can delete tasks through the OBO API (DELETE /api/tasks/{id}).',
  },
} as const satisfies Record<string, ApiAppRole>;

/** Every app role value the API declares. */
export const API_APP_ROLE_VALUES: readonly string[] = Object.values(API_APP_ROLES).map((role) => role.value);
