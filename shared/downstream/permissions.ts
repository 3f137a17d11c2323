/**
 * The delegated permissions the API needs on each downstream resource, derived from the operations table: the one
 * source the app registration (scripts/azd/app-registrations.ts: requiredResourceAccess, admin consent, the consent
 * text) and the sandbox's declared permissions (dev/emulators/entra/fixtures.ts) follow. test/permissions.test.ts
 * fails when any of them disagrees.
 */
import { DOWNSTREAM_OPERATIONS, type DownstreamOperation } from './operations.js';
import { DOWNSTREAM_RESOURCES, type DownstreamResource } from './resources.js';

/** Each resource's permissions (`User.Read`), sorted, each once; an unused resource has none. */
export function permissionsByResource(
  operations: readonly DownstreamOperation[] = Object.values(DOWNSTREAM_OPERATIONS),
): Record<DownstreamResource, string[]> {
  const found = Object.fromEntries(
    Object.keys(DOWNSTREAM_RESOURCES).map((name) => [name, new Set<string>()]),
  ) as Record<DownstreamResource, Set<string>>;
  for (const operation of operations) {
    for (const permission of operation.permissions) found[operation.resource].add(permission);
  }
  return Object.fromEntries(
    Object.entries(found).map(([name, permissions]) => [name, [...permissions].sort()]),
  ) as Record<DownstreamResource, string[]>;
}

/** What a user is told the API does with their consent: every resource and permission, by name. */
export function consentDescription(person: 'the user' | 'you'): string {
  const uses = Object.entries(permissionsByResource())
    .filter(([, permissions]) => permissions.length > 0)
    .map(
      ([name, permissions]) =>
        `${DOWNSTREAM_RESOURCES[name as DownstreamResource].displayName} (${permissions.join(', ')})`,
    );
  const whose = person === 'you' ? 'your' : "the user's";
  return `Lets the app call the OBO API, which calls on ${whose} behalf: ${uses.join('; ')}.`;
}
