/**
 * The Entra app registrations of the API and its single-page client, made with Microsoft Graph REST calls by
 * `azd up` itself (infra/scripts/azd-hook.mjs runs it), with azd's own sign-in (AzureDeveloperCliCredential):
 *   apps   (preprovision)   create or update both apps and their service principals, pre-authorize the SPA;
 *                           store API_CLIENT_ID, API_APP_ID_URI, SPA_CLIENT_ID, SPA_API_SCOPE in the azd environment
 *   trust  (postprovision)  add or update the API's federated credential for the Function App's managed identity
 * Idempotent: apps are upserted by uniqueName, service principals by appId, the credential by name, and the
 * scope keeps its id, so running either step again changes nothing that is already right.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';

import { isRecord } from '../../shared/narrow.js';

/** Endpoints of each Azure cloud (ENTRA_CLOUD), with its token exchange audience for federated credentials. */
export const CLOUDS = {
  AzureCloud: {
    graph: 'https://graph.microsoft.com',
    login: 'https://login.microsoftonline.com',
    tokenExchangeAudience: 'api://AzureADTokenExchange',
  },
  AzureUSGovernment: {
    graph: 'https://graph.microsoft.us',
    login: 'https://login.microsoftonline.us',
    tokenExchangeAudience: 'api://AzureADTokenExchangeUSGov',
  },
  AzureChinaCloud: {
    graph: 'https://microsoftgraph.chinacloudapi.cn',
    login: 'https://login.chinacloudapi.cn',
    tokenExchangeAudience: 'api://AzureADTokenExchangeChina',
  },
} as const;

export type CloudName = keyof typeof CLOUDS;

const MICROSOFT_GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
const GRAPH_USER_READ_SCOPE_ID = 'e1fe6dd8-ba31-4d61-89e7-70e4c2f4e1ea';
/** GET /api/me/events (shared/downstream/operations.ts): user-consentable, so a user may be asked for it. */
const GRAPH_CALENDARS_READ_SCOPE_ID = '465a38f9-76ea-45b9-9f34-9e8b0d4b0b42';
const API_SCOPE = 'access_as_user';
export const FEDERATED_CREDENTIAL_NAME = 'function-app-managed-identity';

export interface RegistrationDependencies {
  readonly fetch: typeof fetch;
  /** A Microsoft Graph access token of the signed-in azd user. */
  readonly token: () => Promise<string>;
  readonly log: (line: string) => void;
  readonly newId?: () => string;
}

/** The azd environment values this step reads (azd passes them to hooks as environment variables). */
export type Environment = Readonly<Record<string, string | undefined>>;

export class RegistrationError extends Error {}

export function cloudOf(environment: Environment): (typeof CLOUDS)[CloudName] {
  const name = environment['ENTRA_CLOUD'] ?? 'AzureCloud';
  if (!(name in CLOUDS)) {
    throw new RegistrationError(`ENTRA_CLOUD: "${name}" is not one of ${Object.keys(CLOUDS).join(', ')}`);
  }
  return CLOUDS[name as CloudName];
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

const quoted = (value: string): string => `'${value.replace(/'/g, "''")}'`;

/** Creates or updates both apps; returns the values to store in the azd environment. */
export async function registerApps(
  environment: Environment,
  dependencies: RegistrationDependencies,
): Promise<Record<string, string>> {
  const environmentName = required(environment, 'AZURE_ENV_NAME');
  const uris = redirectUris(environment);
  const graph = graphClient(cloudOf(environment).graph, dependencies);
  const newId = dependencies.newId ?? randomUUID;

  const organization = await graph('GET', '/organization?$select=id');
  const organizations = Array.isArray(organization?.['value']) ? organization['value'] : [];
  const tenantId = text(isRecord(organizations[0]) ? organizations[0] : undefined, 'id');

  const apiUniqueName = `obo-api-${environmentName}`;
  const spaUniqueName = `obo-spa-${environmentName}`;
  const apiPath = `/applications(uniqueName=${quoted(apiUniqueName)})`;
  const spaPath = `/applications(uniqueName=${quoted(spaUniqueName)})`;
  const select = '?$select=id,appId,api,identifierUris';

  const existingApi = await graph('GET', `${apiPath}${select}`);
  const scopeId = existingScopeId(existingApi) ?? newId();
  const appIdUri = environment['API_APP_ID_URI'] || `api://${tenantId}/${apiUniqueName}`;
  const scope = {
    id: scopeId,
    value: API_SCOPE,
    type: 'User',
    isEnabled: true,
    adminConsentDisplayName: 'Access the OBO API as the signed-in user',
    adminConsentDescription:
      "Lets the app call the OBO API, which reads the user's Microsoft Graph profile on their behalf.",
    userConsentDisplayName: 'Access the OBO API as you',
    userConsentDescription:
      'Lets the app call the OBO API, which reads your Microsoft Graph profile on your behalf.',
  };
  await graph(
    'PATCH',
    apiPath,
    {
      displayName: `OBO API (${environmentName})`,
      signInAudience: 'AzureADMyOrg',
      identifierUris: [appIdUri],
      // v2 access tokens: aud is the client id, iss is <authority>/<tenant>/v2.0.
      api: { requestedAccessTokenVersion: 2, oauth2PermissionScopes: [scope] },
      requiredResourceAccess: [
        {
          resourceAppId: MICROSOFT_GRAPH_APP_ID,
          resourceAccess: [
            { id: GRAPH_USER_READ_SCOPE_ID, type: 'Scope' },
            { id: GRAPH_CALENDARS_READ_SCOPE_ID, type: 'Scope' },
          ],
        },
      ],
    },
    true,
  );
  const api = await graph('GET', `${apiPath}${select}`);
  const apiAppId = text(api, 'appId');
  const apiServicePrincipal = await graph(
    'PATCH',
    `/servicePrincipals(appId=${quoted(apiAppId)})`,
    { appId: apiAppId },
    true,
  );

  await graph(
    'PATCH',
    spaPath,
    {
      displayName: `OBO SPA (${environmentName})`,
      signInAudience: 'AzureADMyOrg',
      spa: { redirectUris: uris },
      requiredResourceAccess: [{ resourceAppId: apiAppId, resourceAccess: [{ id: scopeId, type: 'Scope' }] }],
    },
    true,
  );
  const spaAppId = text(await graph('GET', `${spaPath}?$select=id,appId`), 'appId');
  await graph('PATCH', `/servicePrincipals(appId=${quoted(spaAppId)})`, { appId: spaAppId }, true);

  // The SPA is pre-authorized (users never consent to it calling the API) and a known client (combined consent
  // to the API's own Graph permission, which on-behalf-of needs).
  await graph('PATCH', apiPath, {
    displayName: `OBO API (${environmentName})`,
    api: {
      requestedAccessTokenVersion: 2,
      oauth2PermissionScopes: [scope],
      preAuthorizedApplications: [{ appId: spaAppId, delegatedPermissionIds: [scopeId] }],
      knownClientApplications: [spaAppId],
    },
  });

  if (environment['GRANT_ADMIN_CONSENT'] === 'true') {
    await grantAdminConsent(graph, apiAppId, apiServicePrincipal);
  }
  dependencies.log(
    `app-registrations: API ${apiAppId} and SPA ${spaAppId} are up to date in tenant ${tenantId}`,
  );
  return {
    API_CLIENT_ID: apiAppId,
    API_APP_ID_URI: appIdUri,
    SPA_CLIENT_ID: spaAppId,
    SPA_API_SCOPE: `${appIdUri}/${API_SCOPE}`,
  };
}

/** Tenant-wide consent for the API's Graph User.Read permission (needs an administrator). */
async function grantAdminConsent(
  graph: ReturnType<typeof graphClient>,
  apiAppId: string,
  upserted: GraphObject | undefined,
): Promise<void> {
  const apiServicePrincipalId =
    typeof upserted?.['id'] === 'string'
      ? upserted['id']
      : text(await graph('GET', `/servicePrincipals(appId=${quoted(apiAppId)})?$select=id`), 'id');
  const graphServicePrincipalId = text(
    await graph('GET', `/servicePrincipals(appId=${quoted(MICROSOFT_GRAPH_APP_ID)})?$select=id`),
    'id',
  );
  const grants = await graph(
    'GET',
    `/oauth2PermissionGrants?$filter=clientId eq ${quoted(apiServicePrincipalId)} and resourceId eq ${quoted(graphServicePrincipalId)}`,
  );
  const existing: unknown = (Array.isArray(grants?.['value']) ? grants['value'] : []).find(
    (grant) => isRecord(grant) && grant['consentType'] === 'AllPrincipals',
  );
  if (isRecord(existing) && typeof existing['id'] === 'string') {
    await graph('PATCH', `/oauth2PermissionGrants/${existing['id']}`, { scope: 'User.Read' });
  } else {
    await graph('POST', '/oauth2PermissionGrants', {
      clientId: apiServicePrincipalId,
      consentType: 'AllPrincipals',
      resourceId: graphServicePrincipalId,
      scope: 'User.Read',
    });
  }
}

/** Lets the Function App's managed identity authenticate as the API: on-behalf-of without a secret. */
export async function trustManagedIdentity(
  environment: Environment,
  dependencies: RegistrationDependencies,
): Promise<void> {
  const environmentName = required(environment, 'AZURE_ENV_NAME');
  const principalId = required(environment, 'MANAGED_IDENTITY_PRINCIPAL_ID');
  const cloud = cloudOf(environment);
  const graph = graphClient(cloud.graph, dependencies);
  const organization = await graph('GET', '/organization?$select=id');
  const organizations = Array.isArray(organization?.['value']) ? organization['value'] : [];
  const tenantId = text(isRecord(organizations[0]) ? organizations[0] : undefined, 'id');
  const api = await graph(
    'GET',
    `/applications(uniqueName=${quoted(`obo-api-${environmentName}`)})?$select=id`,
  );
  if (api === undefined)
    throw new RegistrationError('the API app registration is missing: run `azd provision` again');
  await graph(
    'PATCH',
    `/applications/${text(api, 'id')}/federatedIdentityCredentials(name=${quoted(FEDERATED_CREDENTIAL_NAME)})`,
    {
      // Managed identity tokens are issued by the tenant's v2.0 issuer, with the identity's principal id as subject.
      issuer: `${cloud.login}/${tenantId}/v2.0`,
      subject: principalId,
      audiences: [cloud.tokenExchangeAudience],
      description: "The OBO Function App's user-assigned managed identity",
    },
    true,
  );
  dependencies.log(
    `app-registrations: the API trusts the managed identity ${principalId} (audience ${cloud.tokenExchangeAudience})`,
  );
  // The sample SPA's static site exists only now (provision): its URL becomes one of the SPA's redirect URIs.
  if ((environment['SAMPLE_SPA_URL'] ?? '') !== '') {
    await graph('PATCH', `/applications(uniqueName=${quoted(`obo-spa-${environmentName}`)})`, {
      spa: { redirectUris: redirectUris(environment) },
    });
    dependencies.log(`app-registrations: the SPA redirects to ${environment['SAMPLE_SPA_URL'] ?? ''} too`);
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
  };
  if (step === 'trust') {
    await trustManagedIdentity(environment, dependencies);
    return;
  }
  const values = await registerApps(environment, dependencies);
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
