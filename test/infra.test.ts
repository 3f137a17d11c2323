// Reads the ARM JSON compiled from infra/main.bicep (modules are nested deployments) and pins the security
// properties of the deployment, so an edit to the Bicep cannot silently weaken them. The JSON is rebuilt with the
// pinned Bicep CLI (`bash .ci/infra build`) when it is missing or older than any Bicep source. Values are checked
// as Azure would see them, through test/arm.ts, so an identity, a scope or a condition cannot drift unnoticed.
// Restoring the Bicep CLI needs the .NET SDK: without it these tests are skipped with one notice, unless
// REQUIRE_INFRA_TESTS=1 (CI sets it) makes them run and fail.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { beforeAll, describe, expect, test } from '@jest/globals';

import { CLOUD_NAMES, CLOUDS } from '../shared/config/clouds.js';
import { isRecord } from '../shared/narrow.js';
import { METRIC } from '../shared/observability/names.js';
import { absoluteScope, type ArmCloud, Deployment, fakeGuid, GUID_PATTERN, type Json, str } from './arm.js';

const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const infraDirectory = join(repositoryRoot, 'infra');
const compiledTemplatePath = join(infraDirectory, 'build', 'main.json');

const ROLE = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
} as const;

/** Cosmos DB's built-in data roles (Reader, Contributor): the app's custom role replaces them. */
const COSMOS_BUILT_IN_ROLES = [
  '00000000-0000-0000-0000-000000000001',
  '00000000-0000-0000-0000-000000000002',
];

/** What shared/cache/cosmosStore.ts does with the container: read, create, replace, upsert, and SDK metadata. */
const TOKEN_CACHE_DATA_ACTIONS = [
  'Microsoft.DocumentDB/databaseAccounts/readMetadata',
  'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/create',
  'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/read',
  'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/replace',
  'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/upsert',
];

type JsonObject = { readonly [key: string]: unknown };

interface ArmResource {
  readonly symbol: string;
  readonly type: string;
  readonly name: string;
  readonly scope: string | undefined;
  readonly existing: boolean;
  readonly properties: JsonObject;
  readonly raw: JsonObject;
  /** The template that declares the resource: its variables and sibling resources resolve expressions. */
  readonly template: JsonObject;
}

function isObject(value: unknown): value is JsonObject {
  return isRecord(value);
}

function objectAt(value: unknown, ...path: string[]): JsonObject {
  let current = value;
  for (const key of path) {
    current = isObject(current) ? current[key] : undefined;
  }
  if (!isObject(current)) throw new Error(`expected an object at ${path.join('.')}`);
  return current;
}

function valueAt(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    current = isObject(current) ? current[key] : undefined;
  }
  return current;
}

function stringAt(value: unknown, ...path: string[]): string {
  const found = valueAt(value, ...path);
  if (typeof found !== 'string') throw new Error(`expected a string at ${path.join('.')}`);
  return found;
}

function arrayAt(value: unknown, ...path: string[]): unknown[] {
  const found = valueAt(value, ...path);
  if (!Array.isArray(found)) throw new Error(`expected an array at ${path.join('.')}`);
  return found;
}

/** Resources of a template, whether listed (languageVersion 1) or keyed by symbolic name (languageVersion 2). */
function declaredResources(template: JsonObject): [string, JsonObject][] {
  const resources = template['resources'];
  const entries: [string, unknown][] = Array.isArray(resources)
    ? resources.map((resource, index): [string, unknown] => [String(index), resource])
    : isObject(resources)
      ? Object.entries(resources)
      : [];
  return entries.filter((entry): entry is [string, JsonObject] => isObject(entry[1]));
}

function collectTemplates(template: JsonObject): JsonObject[] {
  const nested = declaredResources(template)
    .filter(([, resource]) => resource['type'] === 'Microsoft.Resources/deployments')
    .map(([, resource]) => valueAt(resource, 'properties', 'template'))
    .filter(isObject);
  return [template, ...nested.flatMap(collectTemplates)];
}

function collectResources(template: JsonObject): ArmResource[] {
  return collectTemplates(template).flatMap((owner) =>
    declaredResources(owner).map(([symbol, raw]) => ({
      symbol,
      type: stringAt(raw, 'type'),
      name: stringAt(raw, 'name'),
      scope: typeof raw['scope'] === 'string' ? raw['scope'] : undefined,
      existing: raw['existing'] === true,
      properties: isObject(raw['properties']) ? raw['properties'] : {},
      raw,
      template: owner,
    })),
  );
}

/** Replaces `variables('x')` with the variable's value where that value is a plain string. */
function resolveVariables(expression: string, template: JsonObject): string {
  return expression.replace(/variables\('([^']+)'\)/g, (whole, name: string) => {
    const value = valueAt(template, 'variables', name);
    return typeof value === 'string' && !value.startsWith('[') ? `'${value}'` : whole;
  });
}

/** The resource a `reference('symbol')` expression points at, in the same template. */
function referencedResource(expression: string, resource: ArmResource): ArmResource | undefined {
  const symbol = /reference\('([^']+)'\)/.exec(expression)?.[1];
  if (symbol === undefined) return undefined;
  return allResources.find(
    (candidate) => candidate.template === resource.template && candidate.symbol === symbol,
  );
}

function newestSourceChange(directory: string): number {
  return readdirSync(directory, { withFileTypes: true }).reduce((newest, entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory())
      return path.endsWith(join('infra', 'build')) ? newest : Math.max(newest, newestSourceChange(path));
    return entry.name.endsWith('.bicep') || entry.name === 'bicepconfig.json'
      ? Math.max(newest, statSync(path).mtimeMs)
      : newest;
  }, 0);
}

function loadCompiledTemplate(): JsonObject {
  const stale =
    !existsSync(compiledTemplatePath) ||
    statSync(compiledTemplatePath).mtimeMs < newestSourceChange(infraDirectory);
  if (stale) {
    execFileSync('bash', [join(repositoryRoot, '.ci', 'infra'), 'build'], {
      cwd: repositoryRoot,
      stdio: 'pipe',
    });
  }
  const parsed: unknown = JSON.parse(readFileSync(compiledTemplatePath, 'utf8'));
  if (!isObject(parsed)) throw new Error(`${compiledTemplatePath} is not an ARM template`);
  return parsed;
}

/** The Bicep CLI is restored already, or can be (dotnet restore). */
function bicepToolchainAvailable(): boolean {
  if (existsSync(join(repositoryRoot, '.ci', 'bicep', 'packages'))) return true;
  return spawnSync('dotnet', ['--version'], { stdio: 'ignore' }).status === 0;
}

const infraTestsRequired = process.env['REQUIRE_INFRA_TESTS'] === '1';
const runInfraTests = infraTestsRequired || bicepToolchainAvailable();
if (!runInfraTests) {
  process.stderr.write(
    'test/infra.test.ts: skipped: the .NET SDK (dotnet) is not installed, and the Bicep CLI is restored with it ' +
      '(see README, "Prerequisites"); CI sets REQUIRE_INFRA_TESTS=1 so they never skip there.\n',
  );
}
const describeInfra = runInfraTests ? describe : describe.skip;

let mainTemplate: JsonObject = {};
let allResources: ArmResource[] = [];

function declared(type: string): ArmResource[] {
  return allResources.filter((resource) => resource.type === type && !resource.existing);
}

function theOnly(type: string): ArmResource {
  const found = declared(type);
  expect(found).toHaveLength(1);
  const [only] = found;
  if (only === undefined) throw new Error(`no ${type} declared`);
  return only;
}

function appSettings(): Map<string, string> {
  const settings = arrayAt(theOnly('Microsoft.Web/sites').properties, 'siteConfig', 'appSettings');
  return new Map(settings.map((setting) => [stringAt(setting, 'name'), stringAt(setting, 'value')]));
}

beforeAll(() => {
  if (!runInfraTests) return;
  mainTemplate = loadCompiledTemplate();
  allResources = collectResources(mainTemplate);
}, 180_000);

const MAIN_PARAMETERS = {
  environmentName: 'test',
  location: 'westeurope',
  apiClientId: fakeGuid('api client id'),
  spaClientId: fakeGuid('spa client id'),
  tokenCacheKeys: '',
};

/** The main template deployed with these parameters (defaults for the rest), to the public cloud unless named. */
function deployment(overrides: Record<string, Json> = {}, cloud: ArmCloud = 'AzureCloud'): Deployment {
  return new Deployment(
    mainTemplate as { [key: string]: Json },
    { ...MAIN_PARAMETERS, ...overrides },
    'main',
    cloud,
  );
}

function symbolOf(module: Deployment, type: string): string {
  const symbols = [...module.resources()].filter(
    ([, resource]) => resource['type'] === type && resource['existing'] !== true,
  );
  expect(symbols).toHaveLength(1);
  return symbols[0]?.[0] ?? '';
}

function record(value: Json | undefined): { [key: string]: Json } {
  if (value === undefined || value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error('expected an object');
  }
  return value;
}

/** Evaluated properties of the one resource of this type that a module declares. */
function evaluated(module: Deployment, type: string): { [key: string]: Json } {
  return record(module.value(module.resource(symbolOf(module, type))));
}

/** An identity the template creates: its resource id, principal id and client id as Azure would give them. */
function createdIdentity(
  main: Deployment,
  symbol: 'identity' | 'federationIdentity' = 'identity',
): { id: string; principalId: string; clientId: string } {
  const outputs = main.module(symbol).outputs();
  return {
    id: str(outputs['id']),
    principalId: str(outputs['principalId']),
    clientId: str(outputs['clientId']),
  };
}

/** Every role assignment of every module, evaluated: role definition, principal, absolute scope. */
function roleAssignments(
  main: Deployment,
): { type: string; roleDefinitionId: string; principalId: string; scope: string }[] {
  const modules = [...main.resources()]
    .filter(([, resource]) => resource['type'] === 'Microsoft.Resources/deployments')
    .map(([symbol]) => main.module(symbol));
  return modules.flatMap((module) =>
    [...module.resources()]
      .filter(([, resource]) => /\/(roleAssignments|sqlRoleAssignments)$/.test(str(resource['type'])))
      .map(([, resource]) => {
        const value = record(module.value(resource));
        const properties = record(value['properties']);
        const scope =
          resource['type'] === 'Microsoft.Authorization/roleAssignments'
            ? str(value['scope'])
            : str(properties['scope']);
        return {
          type: str(resource['type']),
          roleDefinitionId: str(properties['roleDefinitionId']),
          principalId: str(properties['principalId']),
          scope: absoluteScope(scope),
        };
      }),
  );
}

function evaluatedAppSettings(main: Deployment): Map<string, string> {
  const app = main.module('functionApp');
  const site = evaluated(app, 'Microsoft.Web/sites');
  const settings = record(record(site['properties'])['siteConfig'])['appSettings'];
  if (!Array.isArray(settings)) throw new Error('no appSettings');
  return new Map(settings.map((setting) => [str(record(setting)['name']), str(record(setting)['value'])]));
}

describeInfra('infra/main.bicep deployed (values as Azure would see them)', () => {
  test('the Function App runs as the identities the template creates, and every identity setting names one', () => {
    const main = deployment();
    const identity = createdIdentity(main);
    const federation = createdIdentity(main, 'federationIdentity');
    expect(identity.clientId).toMatch(GUID_PATTERN);
    expect(federation.clientId).toMatch(GUID_PATTERN);
    expect(federation.id).not.toBe(identity.id);
    const app = main.module('functionApp');
    const site = evaluated(app, 'Microsoft.Web/sites');
    expect(Object.keys(record(record(site['identity'])['userAssignedIdentities'])).sort()).toEqual(
      [identity.id, federation.id].sort(),
    );
    const properties = record(site['properties']);
    expect(properties['keyVaultReferenceIdentity']).toBe(identity.id);
    const deploymentStorage = record(
      record(record(properties['functionAppConfig'])['deployment'])['storage'],
    );
    expect(record(deploymentStorage['authentication'])['userAssignedIdentityResourceId']).toBe(identity.id);

    const settings = evaluatedAppSettings(main);
    for (const name of ['MANAGED_IDENTITY_CLIENT_ID', 'AzureWebJobsStorage__clientId']) {
      expect(settings.get(name)).toMatch(GUID_PATTERN);
      expect(settings.get(name)).toBe(identity.clientId);
    }
    expect(settings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toBe(
      `Authorization=AAD;ClientId=${identity.clientId}`,
    );
    // The client assertion comes from the federation identity, and only from it.
    expect(settings.get('OBO_FEDERATION_IDENTITY_CLIENT_ID')).toBe(federation.clientId);
    const outputs = main.outputs();
    expect(outputs['MANAGED_IDENTITY_CLIENT_ID']).toBe(identity.clientId);
    expect(outputs['MANAGED_IDENTITY_PRINCIPAL_ID']).toBe(identity.principalId);
    expect(outputs['FEDERATION_IDENTITY_CLIENT_ID']).toBe(federation.clientId);
    expect(outputs['FEDERATION_IDENTITY_PRINCIPAL_ID']).toBe(federation.principalId);
  });

  test('grants every role to the data-plane identity, each on the narrowest scope the app needs', () => {
    const main = deployment();
    const identity = createdIdentity(main);
    const assignments = roleAssignments(main);
    expect(assignments).toHaveLength(4);
    for (const assignment of assignments) expect(assignment.principalId).toBe(identity.principalId);
    // The federation identity holds no role anywhere: attaching it gains nothing but the API's credential.
    const federation = createdIdentity(main, 'federationIdentity');
    expect(assignments.filter((assignment) => assignment.principalId === federation.principalId)).toEqual([]);

    const settings = evaluatedAppSettings(main);
    const storage = main.module('storage');
    const monitoring = main.module('monitoring');
    const cosmos = main.module('cosmos');
    const keyVault = main.module('keyVault');
    const scopeOf = (role: string): string[] =>
      assignments
        .filter((assignment) => assignment.roleDefinitionId.endsWith(role))
        .map((assignment) => assignment.scope);
    expect(scopeOf(ROLE.storageBlobDataOwner)).toEqual([
      storage.resourceId(symbolOf(storage, 'Microsoft.Storage/storageAccounts')),
    ]);
    expect(scopeOf(ROLE.monitoringMetricsPublisher)).toEqual([
      monitoring.resourceId(symbolOf(monitoring, 'Microsoft.Insights/components')),
    ]);
    // Cosmos DB: the token cache role, on the token cache container the app is configured with, not the account.
    const account = cosmos.resourceId(symbolOf(cosmos, 'Microsoft.DocumentDB/databaseAccounts'));
    const tokenCacheRole = cosmos.resourceId(
      symbolOf(cosmos, 'Microsoft.DocumentDB/databaseAccounts/sqlRoleDefinitions'),
    );
    expect(scopeOf(tokenCacheRole)).toEqual([
      `${account}/dbs/${str(settings.get('COSMOS_DATABASE'))}/colls/${str(settings.get('COSMOS_CONTAINER'))}`,
    ]);
    // Key Vault: the one secret the app's TOKEN_CACHE_KEYS reference reads, not the vault.
    const vault = keyVault.resourceId(symbolOf(keyVault, 'Microsoft.KeyVault/vaults'));
    const secretName = /secrets\/([^/)]+)\)$/.exec(str(settings.get('TOKEN_CACHE_KEYS')))?.[1];
    expect(secretName).toBeDefined();
    expect(scopeOf(ROLE.keyVaultSecretsUser)).toEqual([`${vault}/secrets/${str(secretName)}`]);
  });

  test.each([
    ['serverless', [{ name: 'EnableServerless' }], {}],
    ['provisioned', [], { throughput: 400 }],
    ['autoscale', [], { autoscaleSettings: { maxThroughput: 1000 } }],
  ])('Cosmos DB capacity mode %s', (mode, capabilities, options) => {
    const cosmos = deployment({ cosmosCapacityMode: mode }).module('cosmos');
    const account = record(evaluated(cosmos, 'Microsoft.DocumentDB/databaseAccounts')['properties']);
    expect(account['capabilities']).toEqual(capabilities);
    const container = record(
      evaluated(cosmos, 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers')['properties'],
    );
    expect(container['options']).toEqual(options);
  });

  test.each([false, true])('private networking (vnetEnabled %s)', (vnetEnabled) => {
    const main = deployment(vnetEnabled ? { vnetEnabled } : {});
    expect(main.value(main.resource('network')['condition'] ?? null)).toBe(vnetEnabled);
    const access = vnetEnabled ? 'Disabled' : 'Enabled';
    const services = [
      ['storage', 'Microsoft.Storage/storageAccounts'],
      ['cosmos', 'Microsoft.DocumentDB/databaseAccounts'],
      ['keyVault', 'Microsoft.KeyVault/vaults'],
    ] as const;
    for (const [module, type] of services) {
      expect(record(evaluated(main.module(module), type)['properties'])['publicNetworkAccess']).toBe(access);
    }
    const site = record(evaluated(main.module('functionApp'), 'Microsoft.Web/sites')['properties']);
    if (!vnetEnabled) {
      expect(site['virtualNetworkSubnetId']).toBeNull();
      return;
    }
    const network = main.module('network');
    expect(site['virtualNetworkSubnetId']).toBe(network.outputs()['appSubnetId']);
    const subnets = record(evaluated(network, 'Microsoft.Network/virtualNetworks')['properties'])['subnets'];
    const app = (Array.isArray(subnets) ? subnets : [])
      .map(record)
      .find((subnet) => subnet['name'] === 'app');
    expect(JSON.stringify(app)).toContain('Microsoft.App/environments');
    // One private endpoint for each service that refuses public traffic, to that service's own resource.
    const targets = network.instances('privateEndpoints').map((endpoint) => {
      const connections = record(endpoint['properties'])['privateLinkServiceConnections'];
      const [connection] = Array.isArray(connections) ? connections.map(record) : [];
      const properties = record(connection?.['properties'] ?? null);
      return `${str(properties['privateLinkServiceId'])} ${str(properties['groupIds'])}`;
    });
    expect(targets.sort()).toEqual(
      services
        .map(([module, type]) => {
          const deployed = main.module(module);
          const group = { storage: '["blob"]', cosmos: '["Sql"]', keyVault: '["vault"]' }[module];
          return `${deployed.resourceId(symbolOf(deployed, type))} ${group}`;
        })
        .sort(),
    );
  });

  test('the token cache role allows only the data actions the app uses, on the token cache container only', () => {
    const main = deployment();
    const cosmos = main.module('cosmos');
    const definition = record(
      evaluated(cosmos, 'Microsoft.DocumentDB/databaseAccounts/sqlRoleDefinitions')['properties'],
    );
    const permissions = definition['permissions'];
    const [only, ...others] = Array.isArray(permissions) ? permissions.map(record) : [];
    expect(others).toEqual([]);
    const dataActions = only?.['dataActions'];
    expect(Array.isArray(dataActions) ? [...dataActions].map(str).sort() : dataActions).toEqual(
      TOKEN_CACHE_DATA_ACTIONS,
    );
    expect(only?.['notDataActions'] ?? []).toEqual([]);
    const settings = evaluatedAppSettings(main);
    const account = cosmos.resourceId(symbolOf(cosmos, 'Microsoft.DocumentDB/databaseAccounts'));
    expect(definition['assignableScopes']).toEqual([
      `${account}/dbs/${str(settings.get('COSMOS_DATABASE'))}/colls/${str(settings.get('COSMOS_CONTAINER'))}`,
    ]);
  });

  test.each([
    ['keyVault', 'Microsoft.KeyVault/vaults', ['AuditEvent']],
    ['cosmos', 'Microsoft.DocumentDB/databaseAccounts', ['DataPlaneRequests', 'ControlPlaneRequests']],
  ])('%s sends its logs (%s) to the Log Analytics workspace', (module, type, categories) => {
    const main = deployment();
    const monitoring = main.module('monitoring');
    const workspace = monitoring.resourceId(symbolOf(monitoring, 'Microsoft.OperationalInsights/workspaces'));
    const deployed = main.module(module);
    const diagnostics = evaluated(deployed, 'Microsoft.Insights/diagnosticSettings');
    expect(absoluteScope(str(diagnostics['scope']))).toBe(deployed.resourceId(symbolOf(deployed, type)));
    const properties = record(diagnostics['properties']);
    expect(properties['workspaceId']).toBe(workspace);
    const logs = Array.isArray(properties['logs']) ? properties['logs'].map(record) : [];
    const enabled = logs.filter((log) => log['enabled'] === true).map((log) => str(log['category']));
    expect(enabled.sort()).toEqual([...categories].sort());
  });

  test.each(CLOUD_NAMES)(
    'in %s the app gets the cloud, its authority and its Graph, from the one table of clouds',
    (cloud) => {
      const main = deployment({}, cloud);
      const settings = evaluatedAppSettings(main);
      expect(settings.get('ENTRA_CLOUD')).toBe(cloud);
      expect(settings.get('ENTRA_AUTHORITY_HOST')).toBe(CLOUDS[cloud].login);
      expect(settings.get('GRAPH_BASE_URL')).toBe(CLOUDS[cloud].graph);
      expect(settings.get('GRAPH_RESOURCE_URI')).toBe(CLOUDS[cloud].graph);
      const outputs = main.outputs();
      expect(outputs['ENTRA_CLOUD']).toBe(cloud);
      expect(outputs['GRAPH_RESOURCE_URI']).toBe(CLOUDS[cloud].graph);
      // ENTRA_CLOUD set to the cloud deployed to changes nothing.
      expect(evaluatedAppSettings(deployment({ entraCloud: cloud }, cloud))).toEqual(settings);
    },
  );

  test('lets only the SPA registration call unless API_ALLOWED_CLIENT_APPS names the apps', () => {
    const spa = fakeGuid('spa client id');
    expect(evaluatedAppSettings(deployment()).get('API_ALLOWED_CLIENT_APPS')).toBe(spa);
    const other = fakeGuid('another client app');
    expect(
      evaluatedAppSettings(deployment({ allowedClientApps: `${spa},${other}` })).get(
        'API_ALLOWED_CLIENT_APPS',
      ),
    ).toBe(`${spa},${other}`);
    expect(() => evaluatedAppSettings(deployment({ spaClientId: '' }))).toThrow(
      /deployment fails: allowedClientApps/,
    );
  });

  test('refuses an ENTRA_CLOUD that is not the cloud deployed to', () => {
    expect(() => evaluatedAppSettings(deployment({ entraCloud: 'AzureUSGovernment' }))).toThrow(
      /deployment fails: entraCloud/,
    );
  });

  test("keeps an explicit Graph base URL, with the resource still the cloud's", () => {
    const settings = evaluatedAppSettings(
      deployment({ graphBaseUrl: 'https://dod-graph.microsoft.us' }, 'AzureUSGovernment'),
    );
    expect(settings.get('GRAPH_BASE_URL')).toBe('https://dod-graph.microsoft.us');
    expect(settings.get('GRAPH_RESOURCE_URI')).toBe('https://graph.microsoft.us');
  });

  test('refuses http://localhost origins unless allowLocalhostCors says it is a development environment', () => {
    const spaOrigins = ['https://app.contoso.com', 'http://localhost:7080'];
    expect(() => evaluatedAppSettings(deployment({ spaOrigins }))).toThrow(/deployment fails: spaOrigins/);
    const settings = evaluatedAppSettings(deployment({ spaOrigins, allowLocalhostCors: true }));
    expect(settings.get('CORS_ALLOWED_ORIGINS')).toBe(spaOrigins.join(','));
    expect(valueAt(mainTemplate, 'parameters', 'allowLocalhostCors', 'defaultValue')).toBe(false);
  });

  test('azd deploys without the sample SPA and without localhost origins unless the environment asks', () => {
    const parameters: unknown = JSON.parse(
      readFileSync(join(infraDirectory, 'main.parameters.json'), 'utf8'),
    );
    expect(valueAt(parameters, 'parameters', 'deploySampleSpa', 'value')).toBe('${DEPLOY_SAMPLE_SPA=false}');
    expect(valueAt(parameters, 'parameters', 'allowLocalhostCors', 'value')).toBe(
      '${ALLOW_LOCALHOST_CORS=false}',
    );
    expect(valueAt(parameters, 'parameters', 'entraCloud', 'value')).toBe('${ENTRA_CLOUD=}');
    const main = deployment();
    expect(main.value(main.resource('sampleSpa')['condition'] ?? null)).toBe(false);
  });

  test('storage allows no local users, SFTP or shared keys', () => {
    const storage = deployment().module('storage');
    const properties = record(evaluated(storage, 'Microsoft.Storage/storageAccounts')['properties']);
    expect(properties['isLocalUserEnabled']).toBe(false);
    expect(properties['isSftpEnabled']).toBe(false);
    expect(properties['allowSharedKeyAccess']).toBe(false);
  });
});

describeInfra('infra/main.bicep compiled to ARM', () => {
  test('deploys every module as a nested template that this test can see', () => {
    const types = new Set(allResources.map((resource) => resource.type));
    for (const type of [
      'Microsoft.Web/sites',
      'Microsoft.DocumentDB/databaseAccounts',
      'Microsoft.Storage/storageAccounts',
      'Microsoft.KeyVault/vaults',
      'Microsoft.Insights/components',
    ]) {
      expect(types).toContain(type);
    }
  });

  describe('Cosmos DB', () => {
    test('keeps Cosmos DB key auth disabled and requires TLS 1.2', () => {
      const account = theOnly('Microsoft.DocumentDB/databaseAccounts').properties;
      expect(account['disableLocalAuth']).toBe(true);
      expect(account['minimalTlsVersion']).toBe('Tls12');
      expect(account['disableKeyBasedMetadataWriteAccess']).toBe(true);
    });

    test('runs serverless unless a capacity mode is chosen', () => {
      expect(valueAt(mainTemplate, 'parameters', 'cosmosCapacityMode', 'defaultValue')).toBe('serverless');
      const capabilities = theOnly('Microsoft.DocumentDB/databaseAccounts').properties['capabilities'];
      expect(JSON.stringify(capabilities)).toContain('EnableServerless');
    });

    test('partitions the token cache by /id with per-item TTL and indexes nothing', () => {
      const container = objectAt(
        theOnly('Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers').properties,
        'resource',
      );
      expect(valueAt(container, 'partitionKey', 'paths')).toEqual(['/id']);
      expect(container['defaultTtl']).toBe(-1);
      expect(valueAt(container, 'indexingPolicy', 'includedPaths')).toEqual([]);
      expect(valueAt(container, 'indexingPolicy', 'excludedPaths')).toEqual([{ path: '/*' }]);
    });

    test('assigns a custom role under a guid() name, never a built-in data role', () => {
      const assignment = theOnly('Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments');
      const roleDefinitionId = resolveVariables(
        stringAt(assignment.properties, 'roleDefinitionId'),
        assignment.template,
      );
      for (const builtIn of COSMOS_BUILT_IN_ROLES) expect(roleDefinitionId).not.toContain(builtIn);
      expect(assignment.name).toContain('guid(');
      expect(theOnly('Microsoft.DocumentDB/databaseAccounts/sqlRoleDefinitions').properties['type']).toBe(
        'CustomRole',
      );
    });
  });

  describe('monitoring', () => {
    test('keeps Application Insights and Log Analytics local auth disabled', () => {
      expect(theOnly('Microsoft.Insights/components').properties['DisableLocalAuth']).toBe(true);
      expect(
        valueAt(
          theOnly('Microsoft.OperationalInsights/workspaces').properties,
          'features',
          'disableLocalAuth',
        ),
      ).toBe(true);
    });

    test('sends telemetry with the identity through an Entra authentication string', () => {
      expect(appSettings().get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toContain(
        'Authorization=AAD;ClientId=',
      );
    });

    describe('alerts', () => {
      /** The log search alert whose query reads the named metric of shared/observability/names.ts. */
      function alertOn(metric: string): { rule: ArmResource; criterion: JsonObject } {
        const matching = declared('Microsoft.Insights/scheduledQueryRules').flatMap((rule) =>
          arrayAt(rule.properties, 'criteria', 'allOf')
            .filter(isObject)
            .filter((criterion) => stringAt(criterion, 'query').includes(`name == "${metric}"`))
            .map((criterion) => ({ rule, criterion })),
        );
        expect(matching).toHaveLength(1);
        const [only] = matching;
        if (only === undefined) throw new Error(`no alert on ${metric}`);
        return only;
      }

      /** A literal, or the default of the module parameter the expression names. */
      function resolved(value: unknown, rule: ArmResource): unknown {
        const parameter =
          typeof value === 'string' ? /^\[parameters\('([^']+)'\)\]$/.exec(value)?.[1] : undefined;
        return parameter === undefined
          ? value
          : valueAt(rule.template, 'parameters', parameter, 'defaultValue');
      }

      test('alerts on any lost token cache write', () => {
        const { rule, criterion } = alertOn(METRIC.lostWrites.name);
        expect(rule.properties['enabled']).toBe(true);
        expect(criterion['operator']).toBe('GreaterThan');
        expect(resolved(criterion['threshold'], rule)).toBe(0);
        expect(stringAt(criterion, 'query')).toContain('sum(valueSum)');
      });

      test('alerts on a degraded token cache above a threshold of operations', () => {
        const { rule, criterion } = alertOn(METRIC.degradedOperations.name);
        expect(rule.properties['enabled']).toBe(true);
        expect(criterion['operator']).toBe('GreaterThanOrEqual');
        expect(resolved(criterion['threshold'], rule)).toBeGreaterThan(0);
      });

      test('evaluates each rule over the Application Insights component, every 5 minutes over 15', () => {
        for (const rule of declared('Microsoft.Insights/scheduledQueryRules')) {
          expect(JSON.stringify(rule.properties['scopes'])).toContain('Microsoft.Insights/components');
          expect(rule.properties['evaluationFrequency']).toBe('PT5M');
          expect(rule.properties['windowSize']).toBe('PT15M');
          expect(rule.raw['kind']).toBe('LogAlert');
        }
      });
    });
  });

  describe('storage', () => {
    test('refuses shared keys and anonymous blob access and requires TLS 1.2', () => {
      const storage = theOnly('Microsoft.Storage/storageAccounts').properties;
      expect(storage['allowSharedKeyAccess']).toBe(false);
      expect(storage['minimumTlsVersion']).toBe('TLS1_2');
      expect(storage['allowBlobPublicAccess']).toBe(false);
      expect(storage['supportsHttpsTrafficOnly']).toBe(true);
      for (const container of declared('Microsoft.Storage/storageAccounts/blobServices/containers')) {
        expect(container.properties['publicAccess']).toBe('None');
      }
    });

    test('connects the Functions host to storage with the managed identity, not a connection string', () => {
      const settings = appSettings();
      expect(settings.has('AzureWebJobsStorage')).toBe(false);
      expect(settings.get('AzureWebJobsStorage__credential')).toBe('managedidentity');
      expect(settings.get('AzureWebJobsStorage__clientId')).toBeDefined();
      expect(settings.get('AzureWebJobsStorage__blobServiceUri')).toBeDefined();
    });
  });

  describe('Function App', () => {
    test('serves HTTPS only with TLS 1.2, FTP off and basic publishing credentials off', () => {
      const site = theOnly('Microsoft.Web/sites').properties;
      expect(site['httpsOnly']).toBe(true);
      expect(valueAt(site, 'siteConfig', 'minTlsVersion')).toBe('1.2');
      expect(valueAt(site, 'siteConfig', 'scmMinTlsVersion')).toBe('1.2');
      // Flex Consumption has no FTP and rejects ftpsState; FTP is refused by the publishing policy below.
      expect(valueAt(site, 'siteConfig', 'ftpsState')).toBeUndefined();
      const policies = declared('Microsoft.Web/sites/basicPublishingCredentialsPolicies');
      expect(policies.map((policy) => /'(ftp|scm)'\)\]$/.exec(policy.name)?.[1]).sort()).toEqual([
        'ftp',
        'scm',
      ]);
      for (const policy of policies) expect(policy.properties['allow']).toBe(false);
    });

    test('runs Node 22 on Flex Consumption and deploys from blob storage with the user-assigned identity', () => {
      const plan = theOnly('Microsoft.Web/serverfarms');
      expect(valueAt(plan.raw, 'sku', 'name')).toBe('FC1');
      expect(valueAt(plan.raw, 'sku', 'tier')).toBe('FlexConsumption');
      const site = theOnly('Microsoft.Web/sites');
      expect(valueAt(site.raw, 'identity', 'type')).toBe('UserAssigned');
      const config = objectAt(site.properties, 'functionAppConfig');
      expect(valueAt(config, 'runtime', 'name')).toBe('node');
      expect(valueAt(config, 'runtime', 'version')).toBe('22');
      expect(valueAt(config, 'deployment', 'storage', 'type')).toBe('blobContainer');
      expect(valueAt(config, 'deployment', 'storage', 'authentication', 'type')).toBe('UserAssignedIdentity');
      expect(site.properties['keyVaultReferenceIdentity']).toEqual(
        valueAt(config, 'deployment', 'storage', 'authentication', 'userAssignedIdentityResourceId'),
      );
    });

    test('rejects a wildcard CORS origin at deployment and sends no credentials', () => {
      const site = theOnly('Microsoft.Web/sites');
      const cors = objectAt(site.properties, 'siteConfig', 'cors');
      expect(cors['supportCredentials']).toBe(false);
      const allowedOrigins = stringAt(cors, 'allowedOrigins');
      const variable = /^\[variables\('([^']+)'\)\]$/.exec(allowedOrigins)?.[1];
      expect(variable).toBeDefined();
      const copies = arrayAt(site.template, 'variables', 'copy');
      const guard = copies.find((copy) => valueAt(copy, 'name') === variable);
      const input = stringAt(guard, 'input');
      // Every origin passes through: if(contains(origin, '*'), fail(...), ...).
      expect(input).toMatch(
        /^\[if\(contains\(parameters\('spaOrigins'\)\[copyIndex\('[^']+'\)\], '\*'\), fail\(/,
      );
      const defaultOrigins = valueAt(mainTemplate, 'parameters', 'spaOrigins', 'defaultValue');
      expect(defaultOrigins).toEqual([]);
    });

    test('gives the app every setting its configuration reads, the key ring only as a Key Vault reference', () => {
      const settings = appSettings();
      expect([...settings.keys()].sort()).toEqual(
        [
          'API_ALLOWED_CLIENT_APPS',
          'API_APP_ID_URI',
          'API_CLIENT_ID',
          'API_SCOPE',
          'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
          'APPLICATIONINSIGHTS_CONNECTION_STRING',
          'AzureWebJobsStorage__blobServiceUri',
          'AzureWebJobsStorage__clientId',
          'AzureWebJobsStorage__credential',
          'COSMOS_CONTAINER',
          'COSMOS_DATABASE',
          'COSMOS_ENDPOINT',
          'CORS_ALLOWED_ORIGINS',
          'ENTRA_AUTHORITY_HOST',
          'ENTRA_CLOUD',
          'ENTRA_TENANT_ID',
          'GRAPH_BASE_URL',
          'GRAPH_RESOURCE_URI',
          'MANAGED_IDENTITY_CLIENT_ID',
          'OBO_CLIENT_CAPABILITIES',
          'OBO_CLIENT_CREDENTIAL',
          'OBO_FEDERATION_IDENTITY_CLIENT_ID',
          'TASKS_API_APP_ID_URI',
          'TASKS_API_BASE_URL',
          'TOKEN_CACHE_KEYS',
        ].sort(),
      );
      expect(settings.get('OBO_CLIENT_CREDENTIAL')).toBe('managed-identity');
      expect(settings.get('OBO_CLIENT_CAPABILITIES')).toBe("[parameters('oboClientCapabilities')]");
      expect(settings.get('TOKEN_CACHE_KEYS')).toMatch(
        /^\[format\('@Microsoft\.KeyVault\(SecretUri=\{0\}secrets\/\{1\}\)'/,
      );
    });
  });

  describe('sample SPA (Static Web Apps)', () => {
    /** The nested deployment of a module, by its symbolic name in main.bicep. */
    const moduleDeployment = (symbol: string): ArmResource => {
      const found = allResources.find(
        (resource) => resource.type === 'Microsoft.Resources/deployments' && resource.symbol === symbol,
      );
      if (found === undefined) throw new Error(`no module ${symbol}`);
      return found;
    };

    test('hosts the SPA on the Free plan, without previews, as the azd service "web", unless left out', () => {
      const site = theOnly('Microsoft.Web/staticSites');
      expect(valueAt(site.raw, 'sku', 'name')).toBe('Free');
      expect(site.properties['stagingEnvironmentPolicy']).toBe('Disabled');
      expect(valueAt(moduleDeployment('sampleSpa').raw, 'condition')).toBe("[parameters('deploySampleSpa')]");
      expect(valueAt(mainTemplate, 'parameters', 'deploySampleSpa', 'defaultValue')).toBe(false);
      expect(stringAt(site.raw, 'tags')).toContain("'azd-service-name', parameters('serviceName')");
      expect(
        valueAt(moduleDeployment('sampleSpa').raw, 'properties', 'parameters', 'serviceName', 'value'),
      ).toBe('web');
    });

    test('azure.yaml deploys the "web" service only if the SPA is deployed by default (azd fails on a missing resource)', () => {
      const azureYaml = readFileSync(join(repositoryRoot, 'azure.yaml'), 'utf8');
      const webServiceDeclared = /^ {2}web:\s*$/m.test(azureYaml);
      expect(webServiceDeclared).toBe(valueAt(mainTemplate, 'parameters', 'deploySampleSpa', 'defaultValue'));
      expect(azureYaml).toMatch(/^ {2}# web:\s*$/m);
    });

    test("adds the site's origin to the API's CORS only when it is deployed, and outputs its URL", () => {
      const origins = stringAt(moduleDeployment('functionApp').raw, 'properties', 'parameters', 'spaOrigins');
      expect(origins).toBe(
        "[if(parameters('deploySampleSpa'), createObject('value', union(parameters('spaOrigins'), createArray(if(parameters('deploySampleSpa'), reference('sampleSpa').outputs.origin.value, '')))), createObject('value', parameters('spaOrigins')))]",
      );
      expect(stringAt(mainTemplate, 'outputs', 'SAMPLE_SPA_URL', 'value')).toMatch(
        /^\[if\(parameters\('deploySampleSpa'\), format\('\{0\}\/'/,
      );
    });

    test('gives the app its CORS list as CORS_ALLOWED_ORIGINS, the same list the platform enforces', () => {
      const cors = stringAt(
        theOnly('Microsoft.Web/sites').properties,
        'siteConfig',
        'cors',
        'allowedOrigins',
      );
      const variable = /^\[variables\('([^']+)'\)\]$/.exec(cors)?.[1];
      expect(appSettings().get('CORS_ALLOWED_ORIGINS')).toBe(`[join(variables('${variable ?? ''}'), ',')]`);
    });
  });

  describe('Key Vault', () => {
    test('keeps the key ring in an RBAC-only vault with soft delete and purge protection', () => {
      const vault = theOnly('Microsoft.KeyVault/vaults').properties;
      expect(vault['enableRbacAuthorization']).toBe(true);
      expect(vault['enableSoftDelete']).toBe(true);
      expect(vault['enablePurgeProtection']).toBe(true);
      expect(vault['accessPolicies']).toBeUndefined();
    });

    test('writes the key ring only from a secure parameter', () => {
      const secret = theOnly('Microsoft.KeyVault/vaults/secrets');
      const parameter = /^\[parameters\('([^']+)'\)\]$/.exec(stringAt(secret.properties, 'value'))?.[1];
      expect(parameter).toBeDefined();
      expect(valueAt(secret.template, 'parameters', parameter ?? '', 'type')).toBe('securestring');
      expect(valueAt(mainTemplate, 'parameters', 'tokenCacheKeys', 'type')).toBe('securestring');
      expect(valueAt(mainTemplate, 'parameters', 'tokenCacheKeys', 'defaultValue')).toBe('');
    });
  });

  describe('role assignments', () => {
    test('grants only blob data owner, secrets user and metrics publisher', () => {
      const roles = declared('Microsoft.Authorization/roleAssignments').map((assignment) => {
        const roleDefinitionId = resolveVariables(
          stringAt(assignment.properties, 'roleDefinitionId'),
          assignment.template,
        );
        return [ROLE.storageBlobDataOwner, ROLE.keyVaultSecretsUser, ROLE.monitoringMetricsPublisher].find(
          (id) => roleDefinitionId.includes(id),
        );
      });
      expect(roles.sort()).toEqual(
        [ROLE.storageBlobDataOwner, ROLE.keyVaultSecretsUser, ROLE.monitoringMetricsPublisher].sort(),
      );
    });

    test('assigns every role to the app identity as a service principal under a guid() name', () => {
      for (const assignment of declared('Microsoft.Authorization/roleAssignments')) {
        expect(assignment.properties['principalType']).toBe('ServicePrincipal');
        expect(assignment.name).toMatch(/^\[guid\(/);
        const principal = referencedResource(stringAt(assignment.properties, 'principalId'), assignment);
        expect(principal?.type).toBe('Microsoft.ManagedIdentity/userAssignedIdentities');
      }
    });
  });

  describe('outputs', () => {
    test('exposes no secret in any output', () => {
      for (const template of collectTemplates(mainTemplate)) {
        const outputs = isObject(template['outputs']) ? template['outputs'] : {};
        for (const [name, output] of Object.entries(outputs)) {
          expect(valueAt(output, 'type')).not.toMatch(/^secure/i);
          expect(JSON.stringify(valueAt(output, 'value'))).not.toMatch(
            /\blist[A-Za-z]*\(|tokenCacheKeys'\)|ConnectionString/,
          );
          expect(name).not.toBe('TOKEN_CACHE_KEYS');
        }
      }
    });

    test('names outputs after the settings azd and the app read', () => {
      const outputs = Object.keys(objectAt(mainTemplate, 'outputs'));
      for (const name of [
        'AZURE_LOCATION',
        'AZURE_TENANT_ID',
        'AZURE_RESOURCE_GROUP',
        'SERVICE_API_NAME',
        'MANAGED_IDENTITY_CLIENT_ID',
        'MANAGED_IDENTITY_PRINCIPAL_ID',
        'FEDERATION_IDENTITY_CLIENT_ID',
        'FEDERATION_IDENTITY_PRINCIPAL_ID',
        'ENTRA_CLOUD',
        'ENTRA_AUTHORITY_HOST',
        'ENTRA_TENANT_ID',
        'API_CLIENT_ID',
        'API_APP_ID_URI',
        'API_SCOPE',
        'GRAPH_BASE_URL',
        'GRAPH_RESOURCE_URI',
        'OBO_CLIENT_CAPABILITIES',
        'COSMOS_ENDPOINT',
        'COSMOS_DATABASE',
        'COSMOS_CONTAINER',
      ]) {
        expect(outputs).toContain(name);
      }
    });
  });
});
