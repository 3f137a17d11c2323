// One source of truth for permissions: the operations table. The app registration (azd hooks and infra/entra), its
// consent text, and the sandbox's declared permissions must all say what the table derives; this fails when one does not.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { describe, expect, test } from '@jest/globals';

import {
  API_DECLARED_PERMISSIONS,
  GRAPH_RESOURCE,
  TASKS_API_APP_ID_URI,
} from '../dev/emulators/entra/fixtures.js';
import { permits, ruleFor } from '../dev/emulators/graph/permissions.js';
import {
  apiAppRoles,
  CLOUDS,
  GRAPH_DELEGATED_PERMISSION_IDS,
  graphResourceAccess,
  registerApps,
} from '../scripts/azd/app-registrations.js';
import { API_APP_ROLE_VALUES, API_APP_ROLES } from '../shared/auth/appRoles.js';
import { DOWNSTREAM_OPERATIONS, type DownstreamOperation } from '../shared/downstream/operations.js';
import { consentDescription, permissionsByResource } from '../shared/downstream/permissions.js';
import { DOWNSTREAM_RESOURCE_NAMES, DOWNSTREAM_RESOURCES } from '../shared/downstream/resources.js';
import { isRecord } from '../shared/narrow.js';
import { FakeGraph, MICROSOFT_GRAPH_APP_ID } from './support/fakeDirectory.js';

const bicep = readFileSync(new URL('../infra/entra/app-registrations.bicep', import.meta.url), 'utf8');

const GRAPH_PERMISSIONS_FILE = 'infra/entra/graph-permissions.json';
/** An entry of infra/entra/graph-permissions.json (which the azd hooks and infra/entra read), as the file writes it. */
function graphPermissionEntry(entry: unknown): string {
  const { value, id } = isRecord(entry) ? entry : {};
  return `{ "value": ${JSON.stringify(value)}, "id": ${JSON.stringify(id)} }`;
}
const graphPermissionEntries = (
  JSON.parse(readFileSync(new URL(`../${GRAPH_PERMISSIONS_FILE}`, import.meta.url), 'utf8')) as unknown[]
).map(graphPermissionEntry);

describe('permissions follow the operations table', () => {
  test('each resource needs exactly what its operations declare', () => {
    const expected = Object.fromEntries(DOWNSTREAM_RESOURCE_NAMES.map((name) => [name, new Set<string>()]));
    for (const operation of Object.values(DOWNSTREAM_OPERATIONS)) {
      for (const permission of operation.permissions) expected[operation.resource]?.add(permission);
    }
    expect(permissionsByResource()).toEqual(
      Object.fromEntries(
        Object.entries(expected).map(([name, permissions]) => [name, [...permissions].sort()]),
      ),
    );
  });

  test(`${GRAPH_PERMISSIONS_FILE} lists every Graph permission of the table with its id, sorted by name, and no other`, () => {
    const expected = permissionsByResource().graph.map((value) =>
      graphPermissionEntry({ value, id: GRAPH_DELEGATED_PERMISSION_IDS[value] ?? '<its id>' }),
    );
    const edits = [
      ...expected
        .filter((entry) => !graphPermissionEntries.includes(entry))
        .map(
          (entry) =>
            `${GRAPH_PERMISSIONS_FILE}: add ${entry} (the id of the delegated permission in Microsoft Graph's permissions reference)`,
        ),
      ...graphPermissionEntries
        .filter((entry) => !expected.includes(entry))
        .map((entry) => `${GRAPH_PERMISSIONS_FILE}: remove ${entry} (no operation uses it)`),
    ];
    expect(edits).toEqual([]);
    expect(graphPermissionEntries).toEqual(expected);
    for (const id of Object.values(GRAPH_DELEGATED_PERMISSION_IDS)) expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });

  test("the azd hooks' requiredResourceAccess on Graph is every Graph permission of the table, by its id", () => {
    const ids = graphResourceAccess().map((access) => access.id);
    expect(ids).toEqual(permissionsByResource().graph.map((name) => GRAPH_DELEGATED_PERMISSION_IDS[name]));
  });

  test("the azd hooks require and grant every resource's permissions of the table, each configured API included", async () => {
    const graph = new FakeGraph(CLOUDS.AzureCloud.graph);
    const needed = permissionsByResource();
    const environment: Record<string, string> = {
      AZURE_ENV_NAME: 'dev',
      SPA_REDIRECT_URIS: '[]',
      GRANT_ADMIN_CONSENT: 'true',
    };
    // Each resource's service principal, exposing what the table declares on it (Graph's by its well-known ids).
    const principals = Object.fromEntries(
      DOWNSTREAM_RESOURCE_NAMES.map((name) => {
        if (name === 'graph') {
          const scopes = needed.graph.map((value) => ({ value, id: GRAPH_DELEGATED_PERMISSION_IDS[value] }));
          return [name, graph.resourceServicePrincipal([], scopes, MICROSOFT_GRAPH_APP_ID)];
        }
        const { settings } = DOWNSTREAM_RESOURCES[name];
        const appIdUri = `api://${name}-${randomUUID()}`;
        environment[settings.baseUrl] = `https://${name}.contoso.com`;
        environment[settings.scopePrefix] = appIdUri;
        return [name, graph.resourceServicePrincipal([appIdUri], needed[name])];
      }),
    );
    const values = await registerApps(environment, {
      fetch: graph.fetch,
      token: () => Promise.resolve('token'),
      log: () => undefined,
    });
    const api = graph.application('obo-api-dev');
    const apiPrincipal = graph.servicePrincipals.get(String(values['API_CLIENT_ID']));
    const consent = graph.adminConsent(String(apiPrincipal?.['id']));
    const used = DOWNSTREAM_RESOURCE_NAMES.filter((name) => needed[name].length > 0);
    expect(api?.['requiredResourceAccess']).toEqual(
      used.map((name) => ({
        resourceAppId: principals[name]?.appId,
        resourceAccess: needed[name].map((value) => ({
          id: principals[name]?.scopeIds[value],
          type: 'Scope',
        })),
      })),
    );
    expect(consent).toEqual(
      Object.fromEntries(used.map((name) => [principals[name]?.id, needed[name].join(' ')])),
    );
  });

  test('infra/entra requires and consents to graphPermissions, and to its downstream APIs', () => {
    expect(bicep).toContain("var graphPermissions = loadJsonContent('graph-permissions.json')");
    expect(bicep).toMatch(
      /resourceAppId: microsoftGraphAppId\n\s+resourceAccess: map\(graphPermissions, permission => \{\n\s+id: permission\.id\n\s+type: 'Scope'/,
    );
    expect(bicep).toContain(
      "var graphConsentScope = join(map(graphPermissions, permission => permission.value), ' ')",
    );
    expect(bicep).toMatch(/scope: graphConsentScope\n/);
    // Custom APIs come in as a parameter (appId and scope ids): both the required access and the grants use it.
    expect(bicep).toMatch(/map\(downstreamApis, downstream => \{\s+resourceAppId: downstream\.appId/);
    expect(bicep).toMatch(/for \(downstream, i\) in downstreamApis: if \(grantAdminConsent\)/);
  });

  test('the consent text names every resource and permission, in the azd hooks and in infra/entra', () => {
    for (const text of [consentDescription('you'), consentDescription('the user')]) {
      for (const permission of Object.values(permissionsByResource()).flat())
        expect(text).toContain(permission);
    }
    // infra/entra's consentUses, as Bicep evaluates it once graphPermissions lists the table's (tested above).
    const graphJoin = "${join(map(graphPermissions, permission => permission.value), ', ')}";
    const uses = /^var consentUses = '(.*)'$/m.exec(bicep)?.[1] ?? '';
    const evaluated = uses.replace(graphJoin, permissionsByResource().graph.join(', '));
    const expected = consentDescription('you').replace(/^.*behalf: (.*)\.$/, '$1');
    if (evaluated !== expected) {
      const graphPart = `Microsoft Graph (${permissionsByResource().graph.join(', ')})`;
      expect(
        `infra/entra/app-registrations.bicep: set var consentUses = '${expected.replace(graphPart, `Microsoft Graph (${graphJoin})`)}'`,
      ).toBe('');
    }
    expect(bicep).toContain(
      "adminConsentDescription: 'Lets the app call the OBO API, which calls on the user\\'s behalf: ${consentUses}.'",
    );
    expect(bicep).toContain(
      "userConsentDescription: 'Lets the app call the OBO API, which calls on your behalf: ${consentUses}.'",
    );
    expect(consentDescription('you')).toBe(
      `Lets the app call the OBO API, which calls on your behalf: ${expected}.`,
    );
  });

  test('the sandbox Graph emulator serves every Graph operation of the table, granting it with its permissions', () => {
    const edits = Object.values(DOWNSTREAM_OPERATIONS as Record<string, DownstreamOperation>)
      .filter((operation) => operation.resource === 'graph')
      .flatMap((operation) => {
        const rule = ruleFor(operation.path.replace(/\{[^}]+\}/g, 'AAMkAGI2'), operation.method);
        const list = /^\/v1\.0\/me\/([A-Za-z]+)$/.exec(operation.path)?.[1];
        const permissions = operation.permissions.map((permission) => `'${permission}'`).join(', ');
        if (rule === undefined && list !== undefined && operation.method === 'GET') {
          return [
            `dev/emulators/graph/collections.ts: add to GRAPH_ME_COLLECTIONS { name: '${list}', permissions: [${permissions}], denied: 'outlook', items: (user) => sampleItems(user, '${list}', 12, (i) => ({ ... })) }`,
          ];
        }
        if (rule === undefined) {
          return [
            `dev/emulators/graph/permissions.ts: add a route for ${operation.method} ${operation.path}, and its answer in server.ts`,
          ];
        }
        return permits(rule, operation.permissions.join(' '))
          ? []
          : [`dev/emulators/graph: ${operation.method} ${operation.path} must accept ${permissions}`];
      });
    expect(edits).toEqual([]);
  });

  test("the sandbox Entra emulator declares the table's permissions for the API's registration", () => {
    const { graph, tasks } = permissionsByResource();
    expect([...API_DECLARED_PERMISSIONS].sort()).toEqual(
      [
        ...graph.map((permission) => `${GRAPH_RESOURCE}/${permission}`),
        ...tasks.map((permission) => `${TASKS_API_APP_ID_URI}/${permission}`),
      ].sort(),
    );
  });
});

describe("app roles follow the API's declaration", () => {
  test('every app role an operation requires is declared, and every declared role is required by one', () => {
    const required = new Set(
      Object.values(DOWNSTREAM_OPERATIONS).flatMap((operation: DownstreamOperation) => [
        ...(operation.access?.anyRole ?? []),
      ]),
    );
    expect(new Set(API_APP_ROLE_VALUES)).toEqual(required);
  });

  test('the azd hooks and infra/entra declare exactly those roles, with the same texts', () => {
    const hooks = apiAppRoles(undefined, () => 'id');
    expect(hooks.map((role) => role['value'])).toEqual(API_APP_ROLE_VALUES);
    const bicepRoles = [
      ...bicep.matchAll(/value: '([^']+)'\n\s*displayName: '([^']+)'\n\s*description: '([^']+)'/g),
    ].map(([, value, displayName, description]) => ({ value, displayName, description }));
    expect(bicepRoles).toEqual(
      Object.values(API_APP_ROLES).map(({ value, displayName, description }) => ({
        value,
        displayName,
        description,
      })),
    );
  });
});
