import { ApiError } from '../errors.js';

/**
 * What a route requires beyond the API's own scope (API_SCOPE, checked for every call): more delegated scopes
 * the API exposes, and/or one of its app roles assigned to the user.
 */
export interface RouteAccess {
  /** Every one of these must be in the token's `scp`. */
  readonly scopes?: readonly string[];
  /** At least one of these must be in the token's `roles`. */
  readonly anyRole?: readonly string[];
}

/** Throws a 403 (RFC 6750 `insufficient_scope`) when the token lacks what the route requires. */
export function assertRouteAccess(
  scopes: readonly string[],
  roles: readonly string[],
  access: RouteAccess | undefined,
): void {
  if (access === undefined) return;
  const missing = (access.scopes ?? []).filter((scope) => !scopes.includes(scope));
  if (missing.length > 0) {
    throw new ApiError('ERR_SCOPE_INSUFFICIENT', 'The token does not grant a scope this route requires.', {
      description: 'the scp claim does not include a scope this route requires',
      requiredScope: missing.join(' '),
    });
  }
  const anyRole = access.anyRole ?? [];
  if (anyRole.length > 0 && !anyRole.some((role) => roles.includes(role))) {
    throw new ApiError('ERR_ROLE_REQUIRED', 'The user has no app role this route requires.', {
      description: 'the roles claim does not include an app role this route requires',
    });
  }
}
