// An in-memory Microsoft Graph directory for the azd hook that makes the Entra app registrations
// (scripts/azd/app-registrations.ts), given as its fetch: the Graph v1.0 calls it makes (reads and patches by object
// id, upserts by uniqueName, appId and name, service principals found by a service principal name, admin-consent
// grants listed by client and resource, created and patched), answered as Graph answers them.
import { randomUUID } from 'node:crypto';

import { isRecord } from '../../shared/narrow.js';

export const TENANT = '72f988bf-0000-4000-8000-000000000001';
export const MICROSOFT_GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';

export type GraphObject = Record<string, unknown>;

/** A directory with the few Graph v1.0 calls the hook makes; records every request. */
export class FakeGraph {
  /** Applications by object id. */
  readonly applications = new Map<string, GraphObject>();
  /** Service principals by appId. */
  readonly servicePrincipals = new Map<string, GraphObject>();
  readonly credentials = new Map<string, GraphObject>();
  /** oauth2PermissionGrants by id. */
  readonly grants = new Map<string, GraphObject>();
  readonly requests: { method: string; url: string; authorization: string | null }[] = [];
  failWith: { status: number; code: string } | undefined;
  /** Fails the matching requests only (e.g. the SPA's creation), to interrupt a run half-way. */
  failWhen: ((method: string, path: string) => boolean) | undefined;

  constructor(readonly endpoint: string) {}

  /** The application with this uniqueName, as the directory holds it. */
  application(uniqueName: string): GraphObject | undefined {
    return [...this.applications.values()].find((application) => application['uniqueName'] === uniqueName);
  }

  /** An application registered by somebody else (a tenant member), with the name the hook would use. */
  foreignApplication(uniqueName: string, extra: GraphObject = {}): GraphObject {
    const application = {
      id: randomUUID(),
      appId: randomUUID(),
      uniqueName,
      displayName: uniqueName,
      ...extra,
    };
    this.applications.set(application.id, application);
    return application;
  }

  /**
   * A service principal of an API already in the tenant (Microsoft Graph, a team's own API): its names, and the
   * delegated scopes it exposes, each with a new id unless given.
   */
  resourceServicePrincipal(
    names: readonly string[],
    scopes: readonly (string | { value: string; id?: string; isEnabled?: boolean })[],
    appId: string = randomUUID(),
  ): { id: string; appId: string; scopeIds: Record<string, string> } {
    const exposed = scopes.map((scope) => {
      const {
        value,
        id = randomUUID(),
        isEnabled = true,
      } = typeof scope === 'string' ? { value: scope } : scope;
      return { id, value, isEnabled, type: 'User', adminConsentDisplayName: value };
    });
    const principal = {
      id: randomUUID(),
      appId,
      servicePrincipalNames: [...names],
      oauth2PermissionScopes: exposed,
    };
    this.servicePrincipals.set(appId, principal);
    return {
      id: principal.id,
      appId,
      scopeIds: Object.fromEntries(exposed.map((scope) => [scope.value, scope.id])),
    };
  }

  /** The AllPrincipals grants from a client service principal, by the resource service principal they grant. */
  adminConsent(clientId: string): Record<string, string> {
    return Object.fromEntries(
      [...this.grants.values()]
        .filter((grant) => grant['clientId'] === clientId && grant['consentType'] === 'AllPrincipals')
        .map((grant) => [String(grant['resourceId']), String(grant['scope'])]),
    );
  }

  /** The requests that could change the directory. */
  writes(): { method: string; url: string }[] {
    return this.requests.filter((request) => request.method !== 'GET');
  }

  readonly fetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = input instanceof Request ? input.url : input.toString();
    const method = init?.method ?? 'GET';
    const headers = new Headers(init?.headers);
    this.requests.push({ method, url: decodeURIComponent(url), authorization: headers.get('authorization') });
    const parsed = new URL(url);
    const path = decodeURIComponent(parsed.pathname).slice(
      `${new URL(`${this.endpoint}/v1.0`).pathname}`.length,
    );
    if (this.failWith !== undefined || this.failWhen?.(method, path) === true) {
      const { status, code } = this.failWith ?? { status: 500, code: 'injected' };
      return Promise.resolve(Response.json({ error: { code } }, { status }));
    }
    const body: unknown = typeof init?.body === 'string' ? JSON.parse(init.body) : {};
    const patch = isRecord(body) ? body : {};
    const upsert = headers.get('prefer') === 'create-if-missing';
    return Promise.resolve(this.answer(method, path, parsed.searchParams, patch, upsert));
  };

  private answer(
    method: string,
    path: string,
    query: URLSearchParams,
    patch: GraphObject,
    upsert: boolean,
  ): Response {
    let match: RegExpExecArray | null;
    if (path === '/organization') return Response.json({ value: [{ id: TENANT }] });
    if ((match = /^\/applications\(uniqueName='([^']+)'\)$/.exec(path)) !== null) {
      const uniqueName = match[1] ?? '';
      const existing = this.application(uniqueName);
      if (existing !== undefined) return this.update(existing, method, patch);
      if (method === 'GET') return notFound();
      if (!upsert) return notFound();
      const created = { id: randomUUID(), appId: randomUUID(), uniqueName, ...patch };
      this.applications.set(created.id, created);
      return Response.json(created, { status: 201 });
    }
    if ((match = /^\/applications\/([^/(]+)$/.exec(path)) !== null) {
      const existing = this.applications.get(match[1] ?? '');
      return existing === undefined ? notFound() : this.update(existing, method, patch);
    }
    if (path === '/servicePrincipals' && method === 'GET') return this.servicePrincipalsNamed(query);
    if ((match = /^\/servicePrincipals\(appId='([^']+)'\)$/.exec(path)) !== null) {
      const appId = match[1] ?? '';
      const existing = this.servicePrincipals.get(appId);
      if (existing !== undefined) return this.update(existing, method, patch);
      if (method === 'GET' || !upsert) return notFound();
      const created = { id: randomUUID(), appId, ...patch };
      this.servicePrincipals.set(appId, created);
      return Response.json(created, { status: 201 });
    }
    if (
      (match = /^\/applications\/([^/]+)\/federatedIdentityCredentials\(name='([^']+)'\)$/.exec(path)) !==
      null
    ) {
      if (!this.applications.has(match[1] ?? '')) return notFound();
      const key = `${match[1]}/${match[2]}`;
      const existing = this.credentials.get(key);
      if (existing !== undefined) return this.update(existing, method, patch);
      if (method === 'GET' || !upsert) return notFound();
      this.credentials.set(key, { id: randomUUID(), name: match[2], ...patch });
      return new Response(null, { status: 201 });
    }
    if (path === '/oauth2PermissionGrants') return this.grantsAnswer(method, query, patch);
    if ((match = /^\/oauth2PermissionGrants\/([^/]+)$/.exec(path)) !== null) {
      const existing = this.grants.get(match[1] ?? '');
      return existing === undefined ? notFound() : this.update(existing, method, patch);
    }
    return badRequest();
  }

  /** `$filter=servicePrincipalNames/any(n:n eq '<name>')`, as Graph compares names: without regard to case. */
  private servicePrincipalsNamed(query: URLSearchParams): Response {
    const match = /^servicePrincipalNames\/any\(n:n eq '((?:[^']|'')*)'\)$/.exec(query.get('$filter') ?? '');
    if (match === null) return badRequest();
    const name = (match[1] ?? '').replace(/''/g, "'").toLowerCase();
    const found = [...this.servicePrincipals.values()].filter(
      (principal) =>
        Array.isArray(principal['servicePrincipalNames']) &&
        principal['servicePrincipalNames'].some(
          (candidate) => typeof candidate === 'string' && candidate.toLowerCase() === name,
        ),
    );
    return Response.json({ value: found.map((principal) => selected(principal, query)) });
  }

  /** `$filter=clientId eq '<id>' and resourceId eq '<id>'` lists; POST creates (Graph refuses a second AllPrincipals). */
  private grantsAnswer(method: string, query: URLSearchParams, patch: GraphObject): Response {
    if (method === 'GET') {
      const match = /^clientId eq '([^']+)' and resourceId eq '([^']+)'$/.exec(query.get('$filter') ?? '');
      if (match === null) return badRequest();
      const found = [...this.grants.values()].filter(
        (grant) => grant['clientId'] === match[1] && grant['resourceId'] === match[2],
      );
      return Response.json({ value: found });
    }
    if (method !== 'POST') return badRequest();
    const duplicate = [...this.grants.values()].some(
      (grant) =>
        grant['clientId'] === patch['clientId'] &&
        grant['resourceId'] === patch['resourceId'] &&
        grant['consentType'] === patch['consentType'],
    );
    if (duplicate)
      return Response.json({ error: { code: 'Request_MultipleObjectsWithSameKeyValue' } }, { status: 409 });
    const created = { id: randomUUID(), ...patch };
    this.grants.set(created.id, created);
    return Response.json(created, { status: 201 });
  }

  /** GET answers the object; PATCH merges into it in place (Graph replaces each given property whole). */
  private update(existing: GraphObject, method: string, patch: GraphObject): Response {
    if (method === 'GET') return Response.json(existing);
    Object.assign(existing, patch);
    return new Response(null, { status: 204 });
  }
}

/** The `$select`ed properties of an object (all of them without `$select`). */
function selected(object: GraphObject, query: URLSearchParams): GraphObject {
  const fields = query.get('$select')?.split(',');
  return fields === undefined ? object : Object.fromEntries(fields.map((field) => [field, object[field]]));
}

function notFound(): Response {
  return Response.json({ error: { code: 'Request_ResourceNotFound' } }, { status: 404 });
}

function badRequest(): Response {
  return Response.json({ error: { code: 'BadRequest' } }, { status: 400 });
}
