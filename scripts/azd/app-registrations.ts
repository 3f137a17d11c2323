/**
 * The Entra app registrations of the API and its single-page client, made with Microsoft Graph REST calls by
 * `azd up` itself (infra/scripts/azd-hook.mjs runs it), with azd's own sign-in (AzureDeveloperCliCredential):
 *   apps   (preprovision)   create or update both apps and their service principals, pre-authorize the SPA, require
 *                           (and with GRANT_ADMIN_CONSENT grant) the delegated permissions the operations table
 *                           declares on Graph and on each downstream API configured in the azd environment;
 *                           store API_CLIENT_ID, API_APP_ID_URI, SPA_CLIENT_ID, SPA_API_SCOPE in the azd environment
 *   trust  (postprovision)  add or update the API's federated credential for the Function App's federation identity
 * Never changes an app registration it did not create: it remembers each app it creates (API_APP_OBJECT_ID and
 * API_CLIENT_ID, SPA_APP_OBJECT_ID and SPA_CLIENT_ID, stored with `azd env set` the moment the app exists) and tags it
 * with a marker bound to the tenant and the azd environment; it patches an app only when both agree, and stops with
 * one line, changing nothing, when an app with its name exists that is not its own.
 * Idempotent: its own apps are found by object id, service principals by appId, the credential by name, and the
 * scope keeps its id, so running either step again changes nothing that is already right.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { API_APP_ROLES } from '../../shared/auth/appRoles.js';
import { CLOUD_NAMES, type CloudName, CLOUDS, isCloudName } from '../../shared/config/clouds.js';
import { readDownstreamApi } from '../../shared/config/downstream.js';
import { SettingReader } from '../../shared/config/settingReader.js';
import { consentDescription, permissionsByResource } from '../../shared/downstream/permissions.js';
import {
  DOWNSTREAM_RESOURCE_NAMES,
  DOWNSTREAM_RESOURCES,
  type DownstreamResource,
} from '../../shared/downstream/resources.js';
import { ConfigError } from '../../shared/errors.js';
import { isRecord } from '../../shared/narrow.js';

// One table of clouds for the runtime, these hooks and the tests: shared/config/clouds.ts.
export { type CloudName, CLOUDS } from '../../shared/config/clouds.js';

const MICROSOFT_GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
/**
 * Microsoft Graph's delegated permission ids (the same in every tenant), for the permissions the operations table
 * uses (shared/downstream/permissions.ts), from infra/entra/graph-permissions.json, which infra/entra's Bicep reads
 * too. An operation naming a Graph permission missing there fails the registration, and test/permissions.test.ts,
 * rather than deploying without it.
 */
export const GRAPH_DELEGATED_PERMISSION_IDS: Readonly<Record<string, string>> = graphPermissionIds(
  readFileSync(new URL('../../infra/entra/graph-permissions.json', import.meta.url), 'utf8'),
);

function graphPermissionIds(json: string): Record<string, string> {
  const list: unknown = JSON.parse(json);
  const isEntry = (entry: unknown): entry is { value: string; id: string } =>
    isRecord(entry) && typeof entry.value === 'string' && typeof entry.id === 'string';
  if (!Array.isArray(list) || !list.every(isEntry)) {
    throw new Error(
      'infra/entra/graph-permissions.json must be a list of { "value": "<permission>", "id": "<its id>" }',
    );
  }
  return Object.fromEntries(list.map((entry) => [entry.value, entry.id]));
}

/** A resource the API calls on users' behalf, with the delegated permissions the operations table declares on it. */
interface ResourcePermissions {
  readonly resourceAppId: string;
  /** Its service principal's object id, when already looked up (a downstream API); Graph's is looked up for consent. */
  readonly servicePrincipalId?: string;
  /** Each permission's scope id on the resource, and its value (`User.Read`). */
  readonly scopes: readonly { readonly id: string; readonly value: string }[];
}

/** The Graph permissions the operations use, by their well-known ids. */
function graphPermissions(): ResourcePermissions {
  const scopes = permissionsByResource().graph.map((value) => {
    const id = GRAPH_DELEGATED_PERMISSION_IDS[value];
    if (id === undefined) {
      throw new Error(
        `app-registrations: the Graph permission ${value} (shared/downstream/operations.ts) has no id in infra/entra/graph-permissions.json`,
      );
    }
    return { id, value };
  });
  return { resourceAppId: MICROSOFT_GRAPH_APP_ID, scopes };
}

/** The Graph part of the API's requiredResourceAccess: what its operations use. */
export function graphResourceAccess(): { id: string; type: 'Scope' }[] {
  return resourceAccess(graphPermissions());
}

function resourceAccess(resource: ResourcePermissions): { id: string; type: 'Scope' }[] {
  return resource.scopes.map(({ id }) => ({ id, type: 'Scope' }));
}
const API_SCOPE = 'access_as_user';
export const FEDERATED_CREDENTIAL_NAME = 'function-app-managed-identity';

export interface RegistrationDependencies {
  readonly fetch: typeof fetch;
  /** A Microsoft Graph access token of the signed-in azd user. */
  readonly token: () => Promise<string>;
  readonly log: (line: string) => void;
  readonly newId?: () => string;
  /** Stores values in the azd environment at once (`azd env set`): the ids of an app the moment it is created. */
  readonly remember?: (values: Record<string, string>) => void;
}

/** The azd environment values this step reads (azd passes them to hooks as environment variables). */
export type Environment = Readonly<Record<string, string | undefined>>;

export class RegistrationError extends Error {}

export function cloudOf(environment: Environment): (typeof CLOUDS)[CloudName] {
  const name = environment['ENTRA_CLOUD'] ?? 'AzureCloud';
  if (!isCloudName(name)) {
    throw new RegistrationError(`ENTRA_CLOUD: "${name}" is not one of ${CLOUD_NAMES.join(', ')}`);
  }
  return CLOUDS[name];
}

function required(environment: Environment, name: string): string {
  const value = environment[name];
  if (value === undefined || value === '')
    throw new RegistrationError(`${name} is not set in the azd environment`);
  return value;
}

/** SPA_REDIRECT_URIS, plus the sample SPA's URL once provisioned (SAMPLE_SPA_URL, an output of infra/main.bicep). */
function redirectUris(environment: Environment): string[] {
  const sample = environment['SAMPLE_SPA_URL'] ?? '';
  const uris = configuredRedirectUris(environment);
  return sample === '' || uris.includes(sample) ? uris : [...uris, sample];
}

function configuredRedirectUris(environment: Environment): string[] {
  const raw = environment['SPA_REDIRECT_URIS'] ?? '';
  if (raw === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new RegistrationError('SPA_REDIRECT_URIS: not JSON; expected e.g. ["https://app.contoso.com/"]');
  }
  if (!Array.isArray(parsed) || !parsed.every((uri): uri is string => typeof uri === 'string')) {
    throw new RegistrationError('SPA_REDIRECT_URIS: expected a JSON array of strings');
  }
  return parsed;
}

type GraphObject = Record<string, unknown>;

type GraphClient = ReturnType<typeof graphClient>;

/** One Graph session: every call carries the token and fails with the status and Graph's error code. */
function graphClient(graphEndpoint: string, dependencies: RegistrationDependencies) {
  return async (
    method: 'GET' | 'PATCH' | 'POST',
    path: string,
    body?: GraphObject,
    upsert = false,
  ): Promise<GraphObject | undefined> => {
    const headers: Record<string, string> = { authorization: `Bearer ${await dependencies.token()}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (upsert) headers['prefer'] = 'create-if-missing';
    const response = await dependencies.fetch(`${graphEndpoint}/v1.0${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (response.status === 404 && method === 'GET') return undefined;
    const text = await response.text();
    const parsed: unknown = text === '' ? {} : JSON.parse(text);
    if (!response.ok) {
      const error = isRecord(parsed) && isRecord(parsed['error']) ? parsed['error'] : {};
      const code = typeof error['code'] === 'string' ? error['code'] : 'unknown';
      const message = typeof error['message'] === 'string' ? `: ${error['message']}` : '';
      throw new RegistrationError(
        `Microsoft Graph ${method} ${path.split('?')[0] ?? ''}: ${response.status} ${code}${message}`,
      );
    }
    return isRecord(parsed) ? parsed : {};
  };
}

function text(object: GraphObject | undefined, key: string): string {
  const value = object?.[key];
  if (typeof value !== 'string') throw new RegistrationError(`Microsoft Graph returned no ${key}`);
  return value;
}

/** The id of the existing `access_as_user` scope, so an update never replaces it (a new id breaks grants). */
function existingScopeId(application: GraphObject | undefined): string | undefined {
  const api = application?.['api'];
  const scopes =
    isRecord(api) && Array.isArray(api['oauth2PermissionScopes']) ? api['oauth2PermissionScopes'] : [];
  const scope: unknown = scopes.find((candidate) => isRecord(candidate) && candidate['value'] === API_SCOPE);
  return isRecord(scope) && typeof scope['id'] === 'string' ? scope['id'] : undefined;
}

/**
 * The API's app roles (shared/auth/appRoles.ts), each keeping the id it has (a new id would drop its assignments).
 * A role no longer declared stays, disabled: Graph refuses to delete an enabled role, and its assignments stay too.
 */
export function apiAppRoles(existing: unknown, newId: () => string): GraphObject[] {
  const current = (Array.isArray(existing) ? existing : []).filter(isRecord);
  const declared = Object.values(API_APP_ROLES).map((role) => {
    const id = current.find((candidate) => candidate['value'] === role.value)?.['id'];
    return {
      id: typeof id === 'string' ? id : newId(),
      value: role.value,
      displayName: role.displayName,
      description: role.description,
      allowedMemberTypes: ['User'],
      isEnabled: true,
    };
  });
  const retired = current
    .filter((candidate) => !declared.some((role) => role.value === candidate['value']))
    .map((candidate) => ({ ...candidate, isEnabled: false }));
  return [...declared, ...retired];
}

const quoted = (value: string): string => `'${value.replace(/'/g, "''")}'`;

/** The two registrations the hooks own, and the azd environment values that remember each. */
const ROLES = {
  api: {
    label: 'API',
    nameSetting: 'API_APP_NAME',
    objectIdValue: 'API_APP_OBJECT_ID',
    appIdValue: 'API_CLIENT_ID',
  },
  spa: {
    label: 'SPA',
    nameSetting: 'SPA_APP_NAME',
    objectIdValue: 'SPA_APP_OBJECT_ID',
    appIdValue: 'SPA_CLIENT_ID',
  },
} as const;

type Role = keyof typeof ROLES;

/** An application the hooks created for this azd environment and verified (ids remembered, marker present). */
interface OwnedApplication {
  readonly id: string;
  readonly appId: string;
  readonly uniqueName: string;
  readonly tags: readonly string[];
  readonly api?: unknown;
  readonly appRoles?: unknown;
}

/** The uniqueName the hooks create an app with: API_APP_NAME / SPA_APP_NAME, else obo-api-<env> / obo-spa-<env>. */
export function applicationName(environment: Environment, role: Role): string {
  const configured = environment[ROLES[role].nameSetting] ?? '';
  if (configured === '') return `obo-${role}-${required(environment, 'AZURE_ENV_NAME')}`;
  // Entra's limit for uniqueName; no quote or slash, which the alternate-key URL would have to escape.
  if (!/^[A-Za-z0-9._~-]{1,120}$/.test(configured)) {
    throw new RegistrationError(
      `${ROLES[role].nameSetting}: "${configured}" is not a name of 1-120 letters, digits, '.', '_', '~' or '-'`,
    );
  }
  return configured;
}

/**
 * The tag the hooks put on an application they created: bound to the tenant, the azd environment and the role, so
 * one environment's values copied into another (or another tenant) never match. Anybody who owns an app can copy
 * a tag, so the tag alone proves nothing: the object id and appId remembered in the azd environment must match too.
 */
export function ownershipMarker(tenantId: string, environmentName: string, role: Role): string {
  return `obo-graph-api:azd:${tenantId}:${environmentName}:${role}`;
}

const APPLICATION_FIELDS = '$select=id,appId,uniqueName,tags,api,appRoles';

function tagsOf(application: GraphObject | undefined): string[] {
  return stringsIn(application?.['tags']);
}

function conflict(
  environment: Environment,
  role: Role,
  name: string,
  appId: string,
  tenantId: string,
): RegistrationError {
  const { label, nameSetting } = ROLES[role];
  return new RegistrationError(
    `an application named "${name}" (appId ${appId}) exists in tenant ${tenantId} and was not created by this azd ` +
      `environment (${environment['AZURE_ENV_NAME'] ?? ''}); the ${label} registration is left untouched: ` +
      `choose another name with \`azd env set ${nameSetting} <name>\` or delete that application, then run azd provision again`,
  );
}

/**
 * The application this azd environment created for the role, verified: the object id and appId it remembers and
 * the marker on the app all agree. Undefined when it remembers none. Throws when the remembered app is gone or
 * is not what it remembers (never patched then).
 */
async function ownedApplication(
  graph: GraphClient,
  environment: Environment,
  role: Role,
  tenantId: string,
): Promise<OwnedApplication | undefined> {
  const { label, objectIdValue, appIdValue } = ROLES[role];
  const objectId = environment[objectIdValue] ?? '';
  if (objectId === '') return undefined;
  if (!/^[0-9a-fA-F-]{36}$/.test(objectId)) {
    throw new RegistrationError(`${objectIdValue}: "${objectId}" is not an object id`);
  }
  const application = await graph('GET', `/applications/${objectId}?${APPLICATION_FIELDS}`);
  if (application === undefined) {
    throw new RegistrationError(
      `the ${label} app registration this azd environment created (object id ${objectId}) no longer exists: ` +
        `restore it from the deleted applications, or clear ${objectIdValue} and ${appIdValue} to create a new one`,
    );
  }
  const appId = text(application, 'appId');
  const uniqueName = typeof application['uniqueName'] === 'string' ? application['uniqueName'] : '';
  const environmentName = required(environment, 'AZURE_ENV_NAME');
  const marked = tagsOf(application).includes(ownershipMarker(tenantId, environmentName, role));
  if (appId !== (environment[appIdValue] ?? '') || !marked) {
    throw conflict(environment, role, uniqueName || objectId, appId, tenantId);
  }
  return {
    id: text(application, 'id'),
    appId,
    uniqueName,
    tags: tagsOf(application),
    api: application['api'],
    appRoles: application['appRoles'],
  };
}

/**
 * Whether the hooks may create the role's app under the configured name: stops, changing nothing, when an app with
 * that name exists (somebody else's: this environment remembers none).
 */
async function checkNameIsFree(
  graph: GraphClient,
  environment: Environment,
  role: Role,
  tenantId: string,
): Promise<void> {
  const name = applicationName(environment, role);
  const existing = await graph('GET', `/applications(uniqueName=${quoted(name)})?$select=id,appId`);
  if (existing !== undefined) throw conflict(environment, role, name, text(existing, 'appId'), tenantId);
}

/** The role's application: the verified one this environment remembers, or a new one made now under its name. */
async function ensureApplication(
  graph: GraphClient,
  environment: Environment,
  role: Role,
  remembered: OwnedApplication | undefined,
  tenantId: string,
  dependencies: RegistrationDependencies,
): Promise<OwnedApplication> {
  const { label, nameSetting, objectIdValue, appIdValue } = ROLES[role];
  const name = applicationName(environment, role);
  if (remembered !== undefined) {
    // uniqueName is fixed at creation: a new name setting does not move the app this environment's clients use.
    if (remembered.uniqueName !== name) {
      dependencies.log(
        `app-registrations: ${nameSetting} names "${name}", but this environment's ${label} was created as ` +
          `"${remembered.uniqueName}" (appId ${remembered.appId}); keeping it`,
      );
    }
    return remembered;
  }
  // Create only: the body is the display name alone, so if another app took the name since the check (204, an
  // update), nothing of ours lands on it and the run stops.
  const created = await graph(
    'PATCH',
    `/applications(uniqueName=${quoted(name)})`,
    { displayName: name },
    true,
  );
  if (typeof created?.['id'] !== 'string') throw conflict(environment, role, name, 'unknown', tenantId);
  const application = {
    id: created['id'],
    appId: text(created, 'appId'),
    uniqueName: name,
    tags: tagsOf(created),
  };
  // Remembered at once: a run that fails later must not leave an app it cannot recognise as its own.
  dependencies.remember?.({ [objectIdValue]: application.id, [appIdValue]: application.appId });
  return application;
}

/** The role's marker added to the tags the app has (a PATCH replaces the whole collection). */
function markedTags(
  application: OwnedApplication,
  tenantId: string,
  environmentName: string,
  role: Role,
): string[] {
  const marker = ownershipMarker(tenantId, environmentName, role);
  return application.tags.includes(marker) ? [...application.tags] : [...application.tags, marker];
}

/** The service principal of an app these hooks own (created when missing); returns its object id. */
async function ensureServicePrincipal(graph: GraphClient, appId: string): Promise<string> {
  const path = `/servicePrincipals(appId=${quoted(appId)})`;
  await graph('PATCH', path, { appId }, true);
  const servicePrincipal = await graph('GET', `${path}?$select=id,appId`);
  // The alternate key is the appId: a principal answering for another app would be a directory fault; never use it.
  if (servicePrincipal?.['appId'] !== appId) {
    throw new RegistrationError(`Microsoft Graph returned a service principal for another app than ${appId}`);
  }
  return text(servicePrincipal, 'id');
}

type DownstreamApiName = Exclude<DownstreamResource, 'graph'>;

/** A downstream API configured in the azd environment, and the permissions the operations table declares on it. */
interface ConfiguredDownstreamApi {
  readonly name: DownstreamApiName;
  readonly appIdUri: string;
  readonly permissions: readonly string[];
}

/**
 * The downstream APIs the azd environment configures (`azd env set TASKS_API_APP_ID_URI api://...`), read and checked
 * as the app reads them (shared/config.ts), that some operation uses. A setting the app would refuse stops the hook.
 */
function configuredDownstreamApis(environment: Environment): ConfiguredDownstreamApi[] {
  const read = new SettingReader(environment);
  const needed = permissionsByResource();
  const configured = DOWNSTREAM_RESOURCE_NAMES.filter(
    (name): name is DownstreamApiName => name !== 'graph',
  ).flatMap((name) => {
    const endpoint = readDownstreamApi(read, name);
    const permissions = needed[name];
    return endpoint === undefined || permissions.length === 0
      ? []
      : [{ name, appIdUri: endpoint.scopePrefix, permissions }];
  });
  try {
    read.throwIfInvalid();
  } catch (error) {
    if (error instanceof ConfigError) throw new RegistrationError(`in the azd environment: ${error.message}`);
    throw error;
  }
  return configured;
}

/**
 * A configured downstream API's permissions as its service principal in this tenant exposes them (scope ids by
 * value). Stops when no service principal has the app ID URI, or it exposes no enabled scope for a permission.
 */
async function downstreamApiPermissions(
  graph: GraphClient,
  api: ConfiguredDownstreamApi,
  tenantId: string,
): Promise<ResourcePermissions> {
  const { displayName, settings } = DOWNSTREAM_RESOURCES[api.name];
  const setting = settings.scopePrefix;
  const filter = `servicePrincipalNames/any(n:n eq ${quoted(api.appIdUri)})`;
  const found = await graph(
    'GET',
    `/servicePrincipals?$filter=${encodeURIComponent(filter)}&$select=id,appId,servicePrincipalNames,oauth2PermissionScopes`,
  );
  // Service principal names are unique in a tenant; the filter's answer is checked all the same.
  const principal = recordsIn(found?.['value']).find((candidate) =>
    stringsIn(candidate['servicePrincipalNames']).some(
      (name) => name.toLowerCase() === api.appIdUri.toLowerCase(),
    ),
  );
  const fix = `, then run azd provision again`;
  if (principal === undefined) {
    throw new RegistrationError(
      `${setting}: no service principal in tenant ${tenantId} has the app ID URI ${api.appIdUri}, so the ` +
        `${displayName}'s ${api.permissions.join(', ')} cannot be required: register that API in this tenant ` +
        `(or add its service principal) or correct ${setting}${fix}`,
    );
  }
  const resourceAppId = text(principal, 'appId');
  const exposed = recordsIn(principal['oauth2PermissionScopes']);
  const scopes = api.permissions.map((value) => {
    const scope = exposed.find(
      (candidate) => candidate['value'] === value && candidate['isEnabled'] !== false,
    );
    if (typeof scope?.['id'] !== 'string') {
      throw new RegistrationError(
        `${setting}: the ${displayName} at ${api.appIdUri} (appId ${resourceAppId}) exposes no delegated ` +
          `permission ${value}, which shared/downstream/operations.ts declares on it: add the scope to that API's ` +
          `registration (Expose an API) or correct ${setting}${fix}`,
      );
    }
    return { id: scope['id'], value };
  });
  return { resourceAppId, servicePrincipalId: text(principal, 'id'), scopes };
}

function recordsIn(value: unknown): GraphObject[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

function stringsIn(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/** One entry per resource app (two settings naming one API share it), each scope once: Graph refuses duplicates. */
function mergedByResource(resources: readonly ResourcePermissions[]): ResourcePermissions[] {
  const merged = new Map<string, ResourcePermissions>();
  for (const resource of resources) {
    const previous = merged.get(resource.resourceAppId);
    const known = new Set(previous?.scopes.map(({ id }) => id));
    merged.set(resource.resourceAppId, {
      resourceAppId: resource.resourceAppId,
      servicePrincipalId: previous?.servicePrincipalId ?? resource.servicePrincipalId,
      scopes: [...(previous?.scopes ?? []), ...resource.scopes.filter(({ id }) => !known.has(id))],
    });
  }
  return [...merged.values()];
}

async function tenantOf(graph: GraphClient): Promise<string> {
  const organization = await graph('GET', '/organization?$select=id');
  const organizations = Array.isArray(organization?.['value']) ? organization['value'] : [];
  return text(isRecord(organizations[0]) ? organizations[0] : undefined, 'id');
}

/** Creates both apps, or updates the ones this azd environment created; returns the values to store in it. */
export async function registerApps(
  environment: Environment,
  dependencies: RegistrationDependencies,
): Promise<Record<string, string>> {
  const environmentName = required(environment, 'AZURE_ENV_NAME');
  const uris = redirectUris(environment);
  applicationName(environment, 'api');
  applicationName(environment, 'spa');
  const downstreamApis = configuredDownstreamApis(environment);
  const graph = graphClient(cloudOf(environment).graph, dependencies);
  const newId = dependencies.newId ?? randomUUID;
  const tenantId = await tenantOf(graph);

  // Both checked before either is changed: a conflict on the SPA leaves the API untouched too.
  const rememberedApi = await ownedApplication(graph, environment, 'api', tenantId);
  const rememberedSpa = await ownedApplication(graph, environment, 'spa', tenantId);
  if (rememberedApi === undefined) await checkNameIsFree(graph, environment, 'api', tenantId);
  if (rememberedSpa === undefined) await checkNameIsFree(graph, environment, 'spa', tenantId);
  // Every downstream API's scope ids, also before anything changes: a missing API or permission stops the run here.
  const resources = [graphPermissions()];
  for (const downstreamApi of downstreamApis) {
    resources.push(await downstreamApiPermissions(graph, downstreamApi, tenantId));
  }
  const requiredResources = mergedByResource(resources);

  const api = await ensureApplication(graph, environment, 'api', rememberedApi, tenantId, dependencies);
  const apiPath = `/applications/${api.id}`;
  const scopeId = existingScopeId({ api: api.api }) ?? newId();
  const appIdUri = environment['API_APP_ID_URI'] || `api://${tenantId}/${api.uniqueName}`;
  const scope = {
    id: scopeId,
    value: API_SCOPE,
    type: 'User',
    isEnabled: true,
    adminConsentDisplayName: 'Access the OBO API as the signed-in user',
    adminConsentDescription: consentDescription('the user'),
    userConsentDisplayName: 'Access the OBO API as you',
    userConsentDescription: consentDescription('you'),
  };
  await graph('PATCH', apiPath, {
    displayName: `OBO API (${environmentName})`,
    tags: markedTags(api, tenantId, environmentName, 'api'),
    signInAudience: 'AzureADMyOrg',
    identifierUris: [appIdUri],
    // v2 access tokens: aud is the client id, iss is <authority>/<tenant>/v2.0.
    api: { requestedAccessTokenVersion: 2, oauth2PermissionScopes: [scope] },
    // What routes may require beyond the scope; an administrator assigns them to users (docs/api.md).
    appRoles: apiAppRoles(api.appRoles, newId),
    requiredResourceAccess: requiredResources.map((resource) => ({
      resourceAppId: resource.resourceAppId,
      resourceAccess: resourceAccess(resource),
    })),
  });
  const apiServicePrincipalId = await ensureServicePrincipal(graph, api.appId);

  const spa = await ensureApplication(graph, environment, 'spa', rememberedSpa, tenantId, dependencies);
  await graph('PATCH', `/applications/${spa.id}`, {
    displayName: `OBO SPA (${environmentName})`,
    tags: markedTags(spa, tenantId, environmentName, 'spa'),
    signInAudience: 'AzureADMyOrg',
    spa: { redirectUris: uris },
    requiredResourceAccess: [{ resourceAppId: api.appId, resourceAccess: [{ id: scopeId, type: 'Scope' }] }],
  });
  await ensureServicePrincipal(graph, spa.appId);

  // The SPA is pre-authorized (users never consent to it calling the API) and a known client (combined consent
  // to the API's own permissions on Graph and its downstream APIs, which on-behalf-of needs).
  await graph('PATCH', apiPath, {
    displayName: `OBO API (${environmentName})`,
    api: {
      requestedAccessTokenVersion: 2,
      oauth2PermissionScopes: [scope],
      preAuthorizedApplications: [{ appId: spa.appId, delegatedPermissionIds: [scopeId] }],
      knownClientApplications: [spa.appId],
    },
  });

  if (environment['GRANT_ADMIN_CONSENT'] === 'true') {
    for (const resource of requiredResources) {
      await grantAdminConsent(graph, apiServicePrincipalId, resource);
    }
  }
  dependencies.log(
    `app-registrations: API ${api.appId} and SPA ${spa.appId} are up to date in tenant ${tenantId}`,
  );
  return {
    API_APP_OBJECT_ID: api.id,
    API_CLIENT_ID: api.appId,
    API_APP_ID_URI: appIdUri,
    SPA_APP_OBJECT_ID: spa.id,
    SPA_CLIENT_ID: spa.appId,
    SPA_API_SCOPE: `${appIdUri}/${API_SCOPE}`,
  };
}

/** The permissions a grant gives, as a set: `scope` is space-separated and its order means nothing. */
function grantedScopes(scope: unknown): string {
  return typeof scope === 'string' ? [...new Set(scope.split(' ').filter(Boolean))].sort().join(' ') : '';
}

/**
 * Tenant-wide (admin) consent for the API's permissions on one resource (needs an administrator): one AllPrincipals
 * grant from the API's own service principal to the resource's, created, or updated when its scopes differ.
 */
async function grantAdminConsent(
  graph: GraphClient,
  apiServicePrincipalId: string,
  resource: ResourcePermissions,
): Promise<void> {
  const resourceId =
    resource.servicePrincipalId ??
    text(await graph('GET', `/servicePrincipals(appId=${quoted(resource.resourceAppId)})?$select=id`), 'id');
  const scope = grantedScopes(resource.scopes.map(({ value }) => value).join(' '));
  // Only the grant of the API's own service principal (whose app this environment owns) to that resource.
  const grants = await graph(
    'GET',
    `/oauth2PermissionGrants?$filter=clientId eq ${quoted(apiServicePrincipalId)} and resourceId eq ${quoted(resourceId)}`,
  );
  const existing = recordsIn(grants?.['value']).find(
    (grant) =>
      grant['consentType'] === 'AllPrincipals' &&
      grant['clientId'] === apiServicePrincipalId &&
      grant['resourceId'] === resourceId,
  );
  if (typeof existing?.['id'] === 'string') {
    if (grantedScopes(existing['scope']) !== scope) {
      await graph('PATCH', `/oauth2PermissionGrants/${existing['id']}`, { scope });
    }
  } else {
    await graph('POST', '/oauth2PermissionGrants', {
      clientId: apiServicePrincipalId,
      consentType: 'AllPrincipals',
      resourceId,
      scope,
    });
  }
}

/**
 * Lets the Function App's federation identity authenticate as the API: on-behalf-of without a secret. Only the API
 * this azd environment created (remembered ids and marker verified) gets the credential.
 */
export async function trustManagedIdentity(
  environment: Environment,
  dependencies: RegistrationDependencies,
): Promise<void> {
  required(environment, 'AZURE_ENV_NAME');
  const principalId = required(environment, 'FEDERATION_IDENTITY_PRINCIPAL_ID');
  required(environment, 'API_APP_OBJECT_ID');
  const cloud = cloudOf(environment);
  const graph = graphClient(cloud.graph, dependencies);
  const tenantId = await tenantOf(graph);
  const api = await ownedApplication(graph, environment, 'api', tenantId);
  if (api === undefined) throw new RegistrationError('API_APP_OBJECT_ID is not set in the azd environment');
  // The SPA is checked before anything changes, so a conflict leaves the API without the credential too.
  const sampleSpaUrl = environment['SAMPLE_SPA_URL'] ?? '';
  const spa = sampleSpaUrl === '' ? undefined : await ownedApplication(graph, environment, 'spa', tenantId);
  if (sampleSpaUrl !== '' && spa === undefined) {
    throw new RegistrationError('SPA_APP_OBJECT_ID is not set in the azd environment');
  }
  await graph(
    'PATCH',
    `/applications/${api.id}/federatedIdentityCredentials(name=${quoted(FEDERATED_CREDENTIAL_NAME)})`,
    {
      // Managed identity tokens are issued by the tenant's v2.0 issuer, with the identity's principal id as subject.
      issuer: `${cloud.login}/${tenantId}/v2.0`,
      subject: principalId,
      audiences: [cloud.tokenExchangeAudience],
      description: "The OBO Function App's user-assigned federation identity",
    },
    true,
  );
  dependencies.log(
    `app-registrations: the API trusts the managed identity ${principalId} (audience ${cloud.tokenExchangeAudience})`,
  );
  // The sample SPA's static site exists only now (provision): its URL becomes one of the SPA's redirect URIs.
  if (spa !== undefined) {
    await graph('PATCH', `/applications/${spa.id}`, { spa: { redirectUris: redirectUris(environment) } });
    dependencies.log(`app-registrations: the SPA redirects to ${sampleSpaUrl} too`);
  }
}

async function main(): Promise<void> {
  const [step] = process.argv.slice(2);
  if (step !== 'apps' && step !== 'trust') {
    console.error('usage: app-registrations.ts apps | trust');
    process.exit(2);
  }
  const { AzureDeveloperCliCredential } = await import('@azure/identity');
  const environment = process.env;
  const tenantId = environment['AZURE_TENANT_ID'];
  const credential = new AzureDeveloperCliCredential(tenantId ? { tenantId } : {});
  const scope = `${cloudOf(environment).graph}/.default`;
  const dependencies: RegistrationDependencies = {
    fetch,
    token: async () => (await credential.getToken(scope)).token,
    log: (line) => console.log(line),
    remember: storeInAzdEnvironment,
  };
  if (step === 'trust') {
    await trustManagedIdentity(environment, dependencies);
    return;
  }
  storeInAzdEnvironment(await registerApps(environment, dependencies));
}

function storeInAzdEnvironment(values: Record<string, string>): void {
  for (const [name, value] of Object.entries(values)) {
    // `azd env set` is azd's documented way for a hook to store values in the environment.
    execFileSync('azd', ['env', 'set', name, value], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    await main();
  } catch (error) {
    console.error(`app-registrations: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
