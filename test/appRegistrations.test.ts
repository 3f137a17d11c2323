// The azd hook that makes the Entra app registrations (scripts/azd/app-registrations.ts), against an in-memory
// Microsoft Graph that implements the calls it makes (test/support/fakeDirectory.ts), given as its fetch. A tenant
// member's pre-created app with the hook's name must come out untouched.
import { randomUUID } from 'node:crypto';

import { describe, expect, test } from '@jest/globals';

import {
  CLOUDS,
  type Environment,
  FEDERATED_CREDENTIAL_NAME,
  GRAPH_DELEGATED_PERMISSION_IDS,
  graphResourceAccess,
  ownershipMarker,
  registerApps,
  type RegistrationDependencies,
  RegistrationError,
  trustManagedIdentity,
} from '../scripts/azd/app-registrations.js';
import { isRecord } from '../shared/narrow.js';
import { FakeGraph, type GraphObject, MICROSOFT_GRAPH_APP_ID, TENANT } from './support/fakeDirectory.js';

const TOKEN = 'graph-token-of-the-azd-user';
const PRINCIPAL = '5b0c8a6e-0000-4000-8000-000000000002';

/** The hook's dependencies over the fake directory; `remembered` collects what it stores at once (`azd env set`). */
function dependencies(
  graph: FakeGraph,
  remembered: Record<string, string> = {},
  log: string[] = [],
): RegistrationDependencies {
  return {
    fetch: graph.fetch,
    token: () => Promise.resolve(TOKEN),
    log: (line) => log.push(line),
    remember: (values) => Object.assign(remembered, values),
  };
}

const environment: Environment = {
  AZURE_ENV_NAME: 'dev',
  SPA_REDIRECT_URIS: '["https://app.contoso.com/"]',
};

function scopeIds(application: GraphObject | undefined): unknown[] {
  const api = application?.['api'];
  const scopes =
    isRecord(api) && Array.isArray(api['oauth2PermissionScopes']) ? api['oauth2PermissionScopes'] : [];
  return scopes.map((scope) => (isRecord(scope) ? scope['id'] : undefined));
}

/** The first run's azd environment afterwards: what it stored, over what it had. */
async function provisioned(graph: FakeGraph, before: Environment = environment): Promise<Environment> {
  return { ...before, ...(await registerApps(before, dependencies(graph))) };
}

/** The refusal of a run, as the hook prints it (one line). */
async function refusal(run: Promise<unknown>): Promise<string> {
  const failure = await run.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(failure).toBeInstanceOf(RegistrationError);
  const message = failure instanceof Error ? failure.message : '';
  expect(message).not.toContain('\n');
  return message;
}

describe('app registrations hook', () => {
  test('creates the API and the SPA, pre-authorizes the SPA, and returns the values for the azd environment', async () => {
    const graph = new FakeGraph(CLOUDS.AzureCloud.graph);
    const values = await registerApps(environment, dependencies(graph));
    const api = graph.application('obo-api-dev');
    const spa = graph.application('obo-spa-dev');
    expect(values['API_CLIENT_ID']).toBe(api?.['appId']);
    expect(values['API_APP_OBJECT_ID']).toBe(api?.['id']);
    expect(values['SPA_CLIENT_ID']).toBe(spa?.['appId']);
    expect(values['SPA_APP_OBJECT_ID']).toBe(spa?.['id']);
    expect(values['API_APP_ID_URI']).toBe(`api://${TENANT}/obo-api-dev`);
    expect(values['SPA_API_SCOPE']).toBe(`api://${TENANT}/obo-api-dev/access_as_user`);
    const [scopeId] = scopeIds(api);
    expect(api?.['api']).toMatchObject({
      requestedAccessTokenVersion: 2,
      preAuthorizedApplications: [{ appId: spa?.['appId'], delegatedPermissionIds: [scopeId] }],
      knownClientApplications: [spa?.['appId']],
    });
    expect(spa).toMatchObject({
      spa: { redirectUris: ['https://app.contoso.com/'] },
      requiredResourceAccess: [
        { resourceAppId: api?.['appId'], resourceAccess: [{ id: scopeId, type: 'Scope' }] },
      ],
    });
    expect([...graph.servicePrincipals.keys()].sort()).toEqual([api?.['appId'], spa?.['appId']].sort());
    for (const request of graph.requests) {
      expect(request.url.startsWith('https://graph.microsoft.com/v1.0/')).toBe(true);
      expect(request.authorization).toBe(`Bearer ${TOKEN}`);
    }
  });

  test('marks each app it creates with a tag bound to the tenant, the azd environment and the role', async () => {
    const graph = new FakeGraph(CLOUDS.AzureCloud.graph);
    await registerApps(environment, dependencies(graph));
    expect(graph.application('obo-api-dev')?.['tags']).toEqual([ownershipMarker(TENANT, 'dev', 'api')]);
    expect(graph.application('obo-spa-dev')?.['tags']).toEqual([ownershipMarker(TENANT, 'dev', 'spa')]);
    expect(ownershipMarker(TENANT, 'dev', 'api')).not.toBe(ownershipMarker(TENANT, 'prod', 'api'));
  });

  test('remembers an app the moment it creates it, so a run that fails later can be run again', async () => {
    const graph = new FakeGraph(CLOUDS.AzureCloud.graph);
    graph.failWhen = (method, path) => method === 'PATCH' && path.includes("uniqueName='obo-spa-dev'");
    const remembered: Record<string, string> = {};
    await expect(registerApps(environment, dependencies(graph, remembered))).rejects.toThrow(/500 injected/);
    const api = graph.application('obo-api-dev');
    expect(remembered).toEqual({ API_APP_OBJECT_ID: api?.['id'], API_CLIENT_ID: api?.['appId'] });

    graph.failWhen = undefined;
    const values = await registerApps({ ...environment, ...remembered }, dependencies(graph));
    expect(values['API_APP_OBJECT_ID']).toBe(api?.['id']);
    expect(graph.applications.size).toBe(2);
  });

  test('is idempotent: a second run patches only its own apps and keeps the ids and the scope id', async () => {
    const graph = new FakeGraph(CLOUDS.AzureCloud.graph);
    const first = await provisioned(graph);
    const scopeBefore = scopeIds(graph.application('obo-api-dev'));
    graph.requests.length = 0;
    const second = await registerApps(first, dependencies(graph));
    expect({ ...first, ...second }).toEqual(first);
    expect(graph.applications.size).toBe(2);
    expect(graph.servicePrincipals.size).toBe(2);
    expect(scopeIds(graph.application('obo-api-dev'))).toEqual(scopeBefore);
    const own = [first['API_APP_OBJECT_ID'], first['SPA_APP_OBJECT_ID']].map(
      (id) => `/v1.0/applications/${id}`,
    );
    const applicationWrites = graph.writes().filter((request) => request.url.includes('/applications'));
    expect(applicationWrites.length).toBeGreaterThan(0);
    for (const request of applicationWrites) {
      expect(own.some((path) => request.url.endsWith(path))).toBe(true);
    }
  });

  test("declares the API's app roles for users, keeps each role's id, and disables a role no longer declared", async () => {
    const graph = new FakeGraph(CLOUDS.AzureCloud.graph);
    const first = await provisioned(graph);
    const api = graph.application('obo-api-dev');
    if (api === undefined) throw new Error('the API app was not created');
    const roles = Array.isArray(api['appRoles']) ? (api['appRoles'] as GraphObject[]) : [];
    expect(roles).toEqual([
      expect.objectContaining({ value: 'Tasks.Admin', allowedMemberTypes: ['User'], isEnabled: true }),
    ]);
    const tasksAdminId = roles[0]?.['id'];
    expect(typeof tasksAdminId).toBe('string');
    api['appRoles'] = [...roles, { id: randomUUID(), value: 'Reports.Reader', isEnabled: true }];

    await registerApps(first, dependencies(graph));

    expect(graph.application('obo-api-dev')?.['appRoles']).toEqual([
      expect.objectContaining({ id: tasksAdminId, value: 'Tasks.Admin', isEnabled: true }),
      expect.objectContaining({ value: 'Reports.Reader', isEnabled: false }),
    ]);
  });

  test('a changed name setting keeps the app this environment created (uniqueName is fixed) and says so', async () => {
    const graph = new FakeGraph(CLOUDS.AzureCloud.graph);
    const first = await provisioned(graph);
    const log: string[] = [];
    const values = await registerApps(
      { ...first, API_APP_NAME: 'contoso-obo-api' },
      dependencies(graph, {}, log),
    );
    expect(values['API_CLIENT_ID']).toBe(first['API_CLIENT_ID']);
    expect(graph.applications.size).toBe(2);
    expect(graph.application('contoso-obo-api')).toBeUndefined();
    expect(log.some((line) => line.includes('API_APP_NAME') && line.includes('obo-api-dev'))).toBe(true);
  });

  test('an app of its own renamed in the directory is still found by its id, and its display name restored', async () => {
    const graph = new FakeGraph(CLOUDS.AzureCloud.graph);
    const first = await provisioned(graph);
    const api = graph.applications.get(String(first['API_APP_OBJECT_ID']));
    if (api !== undefined) api['displayName'] = 'Renamed in the portal';
    const values = await registerApps(first, dependencies(graph));
    expect(values['API_CLIENT_ID']).toBe(first['API_CLIENT_ID']);
    expect(api?.['displayName']).toBe('OBO API (dev)');
    expect(graph.applications.size).toBe(2);
  });

  test('creates its apps under the names the environment sets (API_APP_NAME, SPA_APP_NAME)', async () => {
    const graph = new FakeGraph(CLOUDS.AzureCloud.graph);
    const values = await registerApps(
      { ...environment, API_APP_NAME: 'contoso-obo-api', SPA_APP_NAME: 'contoso-obo-spa' },
      dependencies(graph),
    );
    expect(graph.application('contoso-obo-api')?.['appId']).toBe(values['API_CLIENT_ID']);
    expect(graph.application('contoso-obo-spa')?.['appId']).toBe(values['SPA_CLIENT_ID']);
    expect(values['API_APP_ID_URI']).toBe(`api://${TENANT}/contoso-obo-api`);
    await expect(registerApps({ ...environment, API_APP_NAME: "x'y" }, dependencies(graph))).rejects.toThrow(
      /API_APP_NAME/,
    );
  });

  test.each([
    ['api', 'obo-api-dev', 'API_APP_NAME'],
    ['spa', 'obo-spa-dev', 'SPA_APP_NAME'],
  ] as const)(
    'stops with one line, changing nothing, when an app named like its %s exists that it did not create',
    async (_role, name, setting) => {
      const graph = new FakeGraph(CLOUDS.AzureCloud.graph);
      const foreign = graph.foreignApplication(name, { identifierUris: ['api://elsewhere'] });
      const before = structuredClone(foreign);
      const message = await refusal(registerApps(environment, dependencies(graph)));
      expect(message).toContain(`"${name}"`);
      expect(message).toContain(String(foreign['appId']));
      expect(message).toContain(setting);
      expect(message).toMatch(/delete/);
      expect(graph.writes()).toEqual([]);
      expect(graph.applications.get(String(foreign['id']))).toEqual(before);
      expect(graph.applications.size).toBe(1);
    },
  );

  test('a forged marker is not enough: an app this environment does not remember is not its own', async () => {
    const graph = new FakeGraph(CLOUDS.AzureCloud.graph);
    graph.foreignApplication('obo-api-dev', { tags: [ownershipMarker(TENANT, 'dev', 'api')] });
    await refusal(registerApps(environment, dependencies(graph)));
    expect(graph.writes()).toEqual([]);
  });

  test("remembered ids are not enough: another environment's apps (values copied into this one) are not patched", async () => {
    const graph = new FakeGraph(CLOUDS.AzureCloud.graph);
    const production = await provisioned(graph, { ...environment, AZURE_ENV_NAME: 'prod' });
    graph.requests.length = 0;
    const copied = { ...production, AZURE_ENV_NAME: 'dev', FEDERATION_IDENTITY_PRINCIPAL_ID: PRINCIPAL };
    const message = await refusal(registerApps(copied, dependencies(graph)));
    expect(message).toContain('obo-api-prod');
    await refusal(trustManagedIdentity(copied, dependencies(graph)));
    expect(graph.writes()).toEqual([]);
    expect(graph.credentials.size).toBe(0);
  });

  test('never adds the federated credential to an app it did not create', async () => {
    const graph = new FakeGraph(CLOUDS.AzureCloud.graph);
    const foreign = graph.foreignApplication('obo-api-dev', {
      tags: [ownershipMarker(TENANT, 'dev', 'api')],
    });
    // The ids are right (somebody pasted them in), but the remembered appId is not the app's: still not its own.
    const pointed = {
      ...environment,
      FEDERATION_IDENTITY_PRINCIPAL_ID: PRINCIPAL,
      API_APP_OBJECT_ID: String(foreign['id']),
      API_CLIENT_ID: randomUUID(),
    };
    const message = await refusal(trustManagedIdentity(pointed, dependencies(graph)));
    expect(message).toContain(String(foreign['appId']));
    expect(graph.writes()).toEqual([]);
    expect(graph.credentials.size).toBe(0);
    // Without a remembered id at all there is nothing to trust.
    await refusal(
      trustManagedIdentity(
        { ...environment, FEDERATION_IDENTITY_PRINCIPAL_ID: PRINCIPAL },
        dependencies(graph),
      ),
    );
    expect(graph.credentials.size).toBe(0);
  });

  test('stops when the app it remembers no longer exists, rather than creating another', async () => {
    const graph = new FakeGraph(CLOUDS.AzureCloud.graph);
    const first = await provisioned(graph);
    graph.applications.delete(String(first['API_APP_OBJECT_ID']));
    graph.requests.length = 0;
    const message = await refusal(registerApps(first, dependencies(graph)));
    expect(message).toContain('API_APP_OBJECT_ID');
    expect(graph.writes()).toEqual([]);
  });

  test.each([
    ['AzureCloud', 'https://login.microsoftonline.com', 'api://AzureADTokenExchange'],
    ['AzureUSGovernment', 'https://login.microsoftonline.us', 'api://AzureADTokenExchangeUSGov'],
    ['AzureChinaCloud', 'https://login.chinacloudapi.cn', 'api://AzureADTokenExchangeChina'],
  ] as const)(
    'trusts the federation identity with the token exchange audience of %s, once',
    async (cloud, login, audience) => {
      const graph = new FakeGraph(CLOUDS[cloud].graph);
      const inCloud = { ...environment, ENTRA_CLOUD: cloud, FEDERATION_IDENTITY_PRINCIPAL_ID: PRINCIPAL };
      const values = await provisioned(graph, inCloud);
      await trustManagedIdentity(values, dependencies(graph));
      await trustManagedIdentity(values, dependencies(graph));
      const apiId = String(values['API_APP_OBJECT_ID']);
      expect([...graph.credentials.keys()]).toEqual([`${apiId}/${FEDERATED_CREDENTIAL_NAME}`]);
      expect(graph.credentials.get(`${apiId}/${FEDERATED_CREDENTIAL_NAME}`)).toMatchObject({
        issuer: `${login}/${TENANT}/v2.0`,
        subject: PRINCIPAL,
        audiences: [audience],
      });
    },
  );

  test("adds the sample SPA's URL to the SPA's redirect URIs once it is provisioned", async () => {
    const graph = new FakeGraph(CLOUDS.AzureCloud.graph);
    const provisionedValues = {
      ...(await provisioned(graph)),
      FEDERATION_IDENTITY_PRINCIPAL_ID: PRINCIPAL,
      SAMPLE_SPA_URL: 'https://spa.azurestaticapps.net/',
    };
    await trustManagedIdentity(provisionedValues, dependencies(graph));
    expect(graph.application('obo-spa-dev')).toMatchObject({
      spa: { redirectUris: ['https://app.contoso.com/', 'https://spa.azurestaticapps.net/'] },
    });
  });

  test('refuses to run without the settings it needs, naming them', async () => {
    const graph = new FakeGraph(CLOUDS.AzureCloud.graph);
    await expect(registerApps({}, dependencies(graph))).rejects.toThrow(RegistrationError);
    await expect(registerApps({ ...environment, ENTRA_CLOUD: 'Mars' }, dependencies(graph))).rejects.toThrow(
      /ENTRA_CLOUD/,
    );
    // Not a cloud either: a name every object has (`in` would have taken it).
    await expect(
      registerApps({ ...environment, ENTRA_CLOUD: 'toString' }, dependencies(graph)),
    ).rejects.toThrow(/ENTRA_CLOUD/);
    await expect(
      registerApps({ ...environment, SPA_REDIRECT_URIS: 'https://x' }, dependencies(graph)),
    ).rejects.toThrow(/SPA_REDIRECT_URIS/);
    await expect(trustManagedIdentity(environment, dependencies(graph))).rejects.toThrow(
      /FEDERATION_IDENTITY_PRINCIPAL_ID/,
    );
    await expect(
      trustManagedIdentity(
        { ...environment, FEDERATION_IDENTITY_PRINCIPAL_ID: PRINCIPAL },
        dependencies(graph),
      ),
    ).rejects.toThrow(/API_APP_OBJECT_ID/);
    expect(graph.requests).toEqual([]);
  });

  test('reports a Graph refusal with its status and code, never the token', async () => {
    const graph = new FakeGraph(CLOUDS.AzureCloud.graph);
    graph.failWith = { status: 403, code: 'Authorization_RequestDenied' };
    const failure = await registerApps(environment, dependencies(graph)).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RegistrationError);
    const message = failure instanceof Error ? failure.message : '';
    expect(message).toMatch(/403 Authorization_RequestDenied/);
    expect(message).not.toContain(TOKEN);
  });
});

const TASKS_URI = 'api://tasks-7d1c';
/** The Tasks API configured in the azd environment, as `azd env set` puts it. */
const withTasks: Environment = {
  ...environment,
  TASKS_API_BASE_URL: 'https://tasks.contoso.com/api',
  TASKS_API_APP_ID_URI: TASKS_URI,
};

/** A tenant with Microsoft Graph's service principal and the Tasks API's (exposing `scopes`). */
function tenantWithTasksApi(
  scopes: Parameters<FakeGraph['resourceServicePrincipal']>[1] = ['Tasks.ReadWrite'],
) {
  const graph = new FakeGraph(CLOUDS.AzureCloud.graph);
  const microsoftGraph = graph.resourceServicePrincipal(
    ['https://graph.microsoft.com'],
    Object.keys(GRAPH_DELEGATED_PERMISSION_IDS).map((value) => ({
      value,
      id: GRAPH_DELEGATED_PERMISSION_IDS[value],
    })),
    MICROSOFT_GRAPH_APP_ID,
  );
  const tasks = graph.resourceServicePrincipal([TASKS_URI, randomUUID()], ['Tasks.Read', ...scopes]);
  return { graph, microsoftGraph, tasks };
}

function apiServicePrincipalId(graph: FakeGraph, values: Environment): string {
  return String(graph.servicePrincipals.get(String(values['API_CLIENT_ID']))?.['id']);
}

describe("app registrations hook: the API's downstream APIs", () => {
  test("requires the configured API's permissions on the API registration, by the scope ids its tenant gives", async () => {
    const { graph, tasks } = tenantWithTasksApi();
    await registerApps(withTasks, dependencies(graph));
    expect(graph.application('obo-api-dev')?.['requiredResourceAccess']).toEqual([
      { resourceAppId: MICROSOFT_GRAPH_APP_ID, resourceAccess: graphResourceAccess() },
      {
        resourceAppId: tasks.appId,
        resourceAccess: [{ id: tasks.scopeIds['Tasks.ReadWrite'], type: 'Scope' }],
      },
    ]);
    expect(graph.grants.size).toBe(0);
  });

  test('with GRANT_ADMIN_CONSENT, grants every resource its permissions once for all users; a re-run writes no grant', async () => {
    const { graph, microsoftGraph, tasks } = tenantWithTasksApi();
    const values = await provisioned(graph, { ...withTasks, GRANT_ADMIN_CONSENT: 'true' });
    const api = apiServicePrincipalId(graph, values);
    expect(graph.adminConsent(api)).toEqual({
      [microsoftGraph.id]: 'Calendars.Read Calendars.ReadWrite User.Read',
      [tasks.id]: 'Tasks.ReadWrite',
    });
    const grantsBefore = structuredClone([...graph.grants.values()]);
    graph.requests.length = 0;
    await registerApps(values, dependencies(graph));
    expect([...graph.grants.values()]).toEqual(grantsBefore);
    expect(graph.writes().filter((request) => request.url.includes('oauth2PermissionGrants'))).toEqual([]);
  });

  test("updates its own grant when the table's permissions change, and never another client's grant", async () => {
    const { graph, microsoftGraph, tasks } = tenantWithTasksApi();
    const values = await provisioned(graph, withTasks);
    const api = apiServicePrincipalId(graph, values);
    // Granted by an earlier version (only User.Read), and another app's consent to the same APIs.
    graph.grants.set('own', {
      id: 'own',
      clientId: api,
      consentType: 'AllPrincipals',
      resourceId: microsoftGraph.id,
      scope: 'User.Read',
    });
    const foreign = {
      id: 'foreign',
      clientId: randomUUID(),
      consentType: 'AllPrincipals',
      resourceId: tasks.id,
      scope: 'Tasks.Read',
    };
    graph.grants.set('foreign', structuredClone(foreign));
    await registerApps({ ...values, GRANT_ADMIN_CONSENT: 'true' }, dependencies(graph));
    expect(graph.grants.get('own')?.['scope']).toBe('Calendars.Read Calendars.ReadWrite User.Read');
    expect(graph.grants.get('foreign')).toEqual(foreign);
    expect(graph.adminConsent(api)).toEqual({
      [microsoftGraph.id]: 'Calendars.Read Calendars.ReadWrite User.Read',
      [tasks.id]: 'Tasks.ReadWrite',
    });
  });

  test('stops with one line naming the setting, the URI and the permission, changing nothing, when the API is not in the tenant', async () => {
    const graph = new FakeGraph(CLOUDS.AzureCloud.graph);
    graph.resourceServicePrincipal(['api://another-api'], ['Tasks.ReadWrite']);
    const message = await refusal(registerApps(withTasks, dependencies(graph)));
    expect(message).toContain('TASKS_API_APP_ID_URI');
    expect(message).toContain(TASKS_URI);
    expect(message).toContain('Tasks.ReadWrite');
    expect(graph.writes()).toEqual([]);
  });

  test.each([
    ['does not expose', ['Tasks.Write']],
    ['has disabled', [{ value: 'Tasks.ReadWrite', isEnabled: false }]],
  ] as const)(
    'stops with one line, changing nothing, when the API %s a permission the table declares',
    async (_case, scopes) => {
      const { graph } = tenantWithTasksApi([...scopes]);
      const message = await refusal(registerApps(withTasks, dependencies(graph)));
      expect(message).toContain('TASKS_API_APP_ID_URI');
      expect(message).toContain(TASKS_URI);
      expect(message).toContain('Tasks.ReadWrite');
      expect(graph.writes()).toEqual([]);
    },
  );

  test('an API configured by half stops the run before any Graph call, naming the missing setting', async () => {
    const graph = new FakeGraph(CLOUDS.AzureCloud.graph);
    const message = await refusal(
      registerApps({ ...environment, TASKS_API_APP_ID_URI: TASKS_URI }, dependencies(graph)),
    );
    expect(message).toContain('TASKS_API_BASE_URL');
    expect(graph.requests).toEqual([]);
  });

  test('with no downstream API configured, requires and grants Graph only and looks up no other API', async () => {
    const { graph, microsoftGraph } = tenantWithTasksApi();
    const values = await provisioned(graph, { ...environment, GRANT_ADMIN_CONSENT: 'true' });
    expect(graph.application('obo-api-dev')?.['requiredResourceAccess']).toEqual([
      { resourceAppId: MICROSOFT_GRAPH_APP_ID, resourceAccess: graphResourceAccess() },
    ]);
    expect(graph.adminConsent(apiServicePrincipalId(graph, values))).toEqual({
      [microsoftGraph.id]: 'Calendars.Read Calendars.ReadWrite User.Read',
    });
    expect(graph.requests.some((request) => request.url.includes('servicePrincipalNames'))).toBe(false);
  });
});
