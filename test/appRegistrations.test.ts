// The azd hook that makes the Entra app registrations (scripts/azd/app-registrations.ts), against an in-memory
// Microsoft Graph that implements the calls it makes (upserts by uniqueName, appId and name), given as its fetch.
import { randomUUID } from 'node:crypto';

import { describe, expect, test } from '@jest/globals';

import {
  CLOUDS,
  type Environment,
  FEDERATED_CREDENTIAL_NAME,
  registerApps,
  type RegistrationDependencies,
  RegistrationError,
  trustManagedIdentity,
} from '../scripts/azd/app-registrations.js';
import { isRecord } from '../shared/narrow.js';

const TENANT = '72f988bf-0000-4000-8000-000000000001';
const TOKEN = 'graph-token-of-the-azd-user';
const PRINCIPAL = '5b0c8a6e-0000-4000-8000-000000000002';

type GraphObject = Record<string, unknown>;

/** A directory with the few Graph v1.0 calls the hook makes; records every request. */
class FakeGraph {
  readonly applications = new Map<string, GraphObject>();
  readonly servicePrincipals = new Map<string, GraphObject>();
  readonly credentials = new Map<string, GraphObject>();
  readonly requests: { method: string; url: string; authorization: string | null }[] = [];
  failWith: { status: number; code: string } | undefined;

  constructor(readonly endpoint: string) {}

  readonly fetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = decodeURIComponent(input instanceof Request ? input.url : input.toString());
    const method = init?.method ?? 'GET';
    const headers = new Headers(init?.headers);
    this.requests.push({ method, url, authorization: headers.get('authorization') });
    if (this.failWith !== undefined) {
      return Promise.resolve(
        Response.json({ error: { code: this.failWith.code } }, { status: this.failWith.status }),
      );
    }
    const body: unknown = typeof init?.body === 'string' ? JSON.parse(init.body) : {};
    const patch = isRecord(body) ? body : {};
    const upsert = headers.get('prefer') === 'create-if-missing';
    const path = url.slice(`${this.endpoint}/v1.0`.length).split('?')[0] ?? '';
    let match: RegExpExecArray | null;
    if (path === '/organization') return Promise.resolve(Response.json({ value: [{ id: TENANT }] }));
    if ((match = /^\/applications\(uniqueName='([^']+)'\)$/.exec(path)) !== null) {
      return Promise.resolve(this.upsert(this.applications, match[1] ?? '', method, patch, upsert, true));
    }
    if ((match = /^\/servicePrincipals\(appId='([^']+)'\)$/.exec(path)) !== null) {
      return Promise.resolve(
        this.upsert(this.servicePrincipals, match[1] ?? '', method, patch, upsert, false),
      );
    }
    if (
      (match = /^\/applications\/([^/]+)\/federatedIdentityCredentials\(name='([^']+)'\)$/.exec(path)) !==
      null
    ) {
      const known = [...this.applications.values()].some((application) => application['id'] === match?.[1]);
      if (!known)
        return Promise.resolve(
          Response.json({ error: { code: 'Request_ResourceNotFound' } }, { status: 404 }),
        );
      return Promise.resolve(
        this.upsert(this.credentials, `${match[1]}/${match[2]}`, method, patch, upsert, false),
      );
    }
    return Promise.resolve(Response.json({ error: { code: 'unexpected' } }, { status: 400 }));
  };

  private upsert(
    store: Map<string, GraphObject>,
    key: string,
    method: string,
    patch: GraphObject,
    upsert: boolean,
    application: boolean,
  ): Response {
    const existing = store.get(key);
    if (method === 'GET')
      return existing === undefined ? new Response(null, { status: 404 }) : Response.json(existing);
    if (existing !== undefined) {
      store.set(key, { ...existing, ...patch });
      return new Response(null, { status: 204 });
    }
    if (!upsert) return Response.json({ error: { code: 'Request_ResourceNotFound' } }, { status: 404 });
    const created = {
      id: randomUUID(),
      ...(application ? { appId: randomUUID(), uniqueName: key } : {}),
      ...patch,
    };
    store.set(key, created);
    return Response.json(created, { status: 201 });
  }
}

function dependencies(graph: FakeGraph): RegistrationDependencies {
  return { fetch: graph.fetch, token: () => Promise.resolve(TOKEN), log: () => undefined };
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

describe('app registrations hook', () => {
  test('creates the API and the SPA, pre-authorizes the SPA, and returns the values for the azd environment', async () => {
    const graph = new FakeGraph(CLOUDS.AzureCloud.graph);
    const values = await registerApps(environment, dependencies(graph));
    const api = graph.applications.get('obo-api-dev');
    const spa = graph.applications.get('obo-spa-dev');
    expect(values['API_CLIENT_ID']).toBe(api?.['appId']);
    expect(values['SPA_CLIENT_ID']).toBe(spa?.['appId']);
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

  test('is idempotent: a second run keeps the same apps, service principals and scope id', async () => {
    const graph = new FakeGraph(CLOUDS.AzureCloud.graph);
    const first = await registerApps(environment, dependencies(graph));
    const scopeBefore = scopeIds(graph.applications.get('obo-api-dev'));
    const second = await registerApps(environment, dependencies(graph));
    expect(second).toEqual(first);
    expect(graph.applications.size).toBe(2);
    expect(graph.servicePrincipals.size).toBe(2);
    expect(scopeIds(graph.applications.get('obo-api-dev'))).toEqual(scopeBefore);
  });

  test.each([
    ['AzureCloud', 'https://login.microsoftonline.com', 'api://AzureADTokenExchange'],
    ['AzureUSGovernment', 'https://login.microsoftonline.us', 'api://AzureADTokenExchangeUSGov'],
    ['AzureChinaCloud', 'https://login.chinacloudapi.cn', 'api://AzureADTokenExchangeChina'],
  ] as const)(
    'trusts the managed identity with the token exchange audience of %s, once',
    async (cloud, login, audience) => {
      const graph = new FakeGraph(CLOUDS[cloud].graph);
      const inCloud = { ...environment, ENTRA_CLOUD: cloud, MANAGED_IDENTITY_PRINCIPAL_ID: PRINCIPAL };
      await registerApps(inCloud, dependencies(graph));
      await trustManagedIdentity(inCloud, dependencies(graph));
      await trustManagedIdentity(inCloud, dependencies(graph));
      const apiId = String(graph.applications.get('obo-api-dev')?.['id']);
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
    await registerApps(environment, dependencies(graph));
    const provisioned = {
      ...environment,
      MANAGED_IDENTITY_PRINCIPAL_ID: PRINCIPAL,
      SAMPLE_SPA_URL: 'https://spa.azurestaticapps.net/',
    };
    await trustManagedIdentity(provisioned, dependencies(graph));
    expect(graph.applications.get('obo-spa-dev')).toMatchObject({
      spa: { redirectUris: ['https://app.contoso.com/', 'https://spa.azurestaticapps.net/'] },
    });
  });

  test('refuses to run without the settings it needs, naming them', async () => {
    const graph = new FakeGraph(CLOUDS.AzureCloud.graph);
    await expect(registerApps({}, dependencies(graph))).rejects.toThrow(RegistrationError);
    await expect(registerApps({ ...environment, ENTRA_CLOUD: 'Mars' }, dependencies(graph))).rejects.toThrow(
      /ENTRA_CLOUD/,
    );
    await expect(
      registerApps({ ...environment, SPA_REDIRECT_URIS: 'https://x' }, dependencies(graph)),
    ).rejects.toThrow(/SPA_REDIRECT_URIS/);
    await expect(trustManagedIdentity(environment, dependencies(graph))).rejects.toThrow(
      /MANAGED_IDENTITY_PRINCIPAL_ID/,
    );
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
