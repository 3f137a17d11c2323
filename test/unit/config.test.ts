import { describe, expect, test } from '@jest/globals';

import { describeConfig, loadConfig } from '../../shared/config.js';
import { baseUrlMatchesResource, CLOUD_NAMES, CLOUDS } from '../../shared/config/clouds.js';
import { ConfigError } from '../../shared/errors.js';
import { federatedAssertion } from '../../shared/runtime.js';

const KEY = Buffer.alloc(32, 7).toString('base64');
const valid = {
  ENTRA_TENANT_ID: '11111111-1111-4111-8111-111111111111',
  API_CLIENT_ID: '22222222-2222-4222-8222-222222222222',
  API_ALLOWED_CLIENT_APPS: '33333333-3333-4333-8333-333333333333',
  OBO_CLIENT_CREDENTIAL: 'client-secret',
  OBO_CLIENT_SECRET: 'not-a-real-secret',
  COSMOS_ENDPOINT: 'https://127.0.0.1:8081/',
  COSMOS_KEY: 'emulator-key',
  TOKEN_CACHE_KEYS: `k1:${KEY}`,
};

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  test('applies defaults to a minimal valid configuration', () => {
    const config = loadConfig(valid);
    expect(config.api.appIdUri).toBe('api://22222222-2222-4222-8222-222222222222');
    expect(config.api.scope).toBe('access_as_user');
    expect(config.entra.allowedTenants).toEqual([valid.ENTRA_TENANT_ID]);
    expect(config.graph.resourceUri.origin).toBe('https://graph.microsoft.com');
    expect(config.obo.clientCapabilities).toEqual(['cp1']);
    expect(config.cosmos.database).toBe('obo');
    expect(config.tokenCache.keys[0]?.id).toBe('k1');
  });

  test('declares no client capability when OBO_CLIENT_CAPABILITIES is none', () => {
    expect(loadConfig({ ...valid, OBO_CLIENT_CAPABILITIES: 'none' }).obo.clientCapabilities).toEqual([]);
    expect(loadConfig({ ...valid, OBO_CLIENT_CAPABILITIES: 'cp1, cp2' }).obo.clientCapabilities).toEqual([
      'cp1',
      'cp2',
    ]);
  });

  test('names GRAPH_SCOPES, which routes no longer read, instead of ignoring it', () => {
    expect(configError({ ...valid, GRAPH_SCOPES: 'https://graph.microsoft.com/User.Read' }).setting).toBe(
      'GRAPH_SCOPES',
    );
  });

  test('configures a downstream API from its base URL and app ID URI, or leaves it off when both are unset', () => {
    expect(loadConfig(valid).downstream.tasks).toBeUndefined();
    const tasks = loadConfig({
      ...valid,
      TASKS_API_BASE_URL: 'https://tasks.contoso.example/api',
      TASKS_API_APP_ID_URI: 'api://9d4b7e21-6c3f-4a58-b0e7-3f12a8c5d946',
    }).downstream.tasks;
    expect(tasks?.scopePrefix).toBe('api://9d4b7e21-6c3f-4a58-b0e7-3f12a8c5d946');
    expect(tasks?.baseUrl.pathname).toBe('/api');
    expect(loadConfig(valid).downstream.graph?.scopePrefix).toBe('https://graph.microsoft.com');
  });

  test.each([
    [{ TASKS_API_BASE_URL: 'https://tasks.contoso.example' }, 'TASKS_API_APP_ID_URI'],
    [{ TASKS_API_APP_ID_URI: 'api://tasks' }, 'TASKS_API_BASE_URL'],
    [
      { TASKS_API_BASE_URL: 'http://tasks.contoso.example', TASKS_API_APP_ID_URI: 'api://tasks' },
      'TASKS_API_BASE_URL',
    ],
    [
      { TASKS_API_BASE_URL: 'https://tasks.contoso.example', TASKS_API_APP_ID_URI: 'api://tasks/' },
      'TASKS_API_APP_ID_URI',
    ],
    [
      { TASKS_API_BASE_URL: 'https://tasks.contoso.example', TASKS_API_APP_ID_URI: 'tasks' },
      'TASKS_API_APP_ID_URI',
    ],
    [
      {
        TASKS_API_BASE_URL: 'https://evil.example',
        TASKS_API_APP_ID_URI: 'https://tasks.contoso.example/api',
      },
      'TASKS_API_BASE_URL',
    ],
  ])('names the downstream API setting at fault in %j', (settings, setting) => {
    expect(configError({ ...valid, ...settings }).setting).toBe(setting);
  });

  test('names a missing required setting', () => {
    const { ENTRA_TENANT_ID: _omitted, ...env } = valid;
    const error = configError(env);
    expect(error.code).toBe('ERR_CONFIG_INVALID');
    expect(error.setting).toBe('ENTRA_TENANT_ID');
  });

  test.each([
    ['API_CLIENT_ID', 'not-a-guid'],
    ['COSMOS_ENDPOINT', 'http://cosmos.example'],
    ['COSMOS_ENDPOINT', 'not a url'],
    ['TOKEN_CACHE_KEYS', 'k1:c2hvcnQ='],
    ['TOKEN_CACHE_KEYS', `k1:${KEY}:extra`],
    ['TOKEN_CACHE_MAX_ENTRIES', '0'],
    ['TOKEN_CACHE_MAX_ENTRIES', '3.5'],
    ['ENTRA_ACCEPT_V1_TOKENS', 'yes'],
    ['OBO_CLIENT_CREDENTIAL', 'certificate'],
    ['ENTRA_ALLOWED_TENANTS', 'contoso.onmicrosoft.com'],
    ['ENTRA_AUTHORITY_HOST', 'https://login.microsoftonline.com/common'],
    ['ENTRA_JWKS_REFRESH_COOLDOWN_SECONDS', '0'],
    ['OBO_CLIENT_CAPABILITIES', 'cp1;cp2'],
    ['GRAPH_RESOURCE_URI', 'https://graph.microsoft.us/v1.0'],
  ])('rejects a malformed %s', (setting, value) => {
    expect(configError({ ...valid, [setting]: value }).setting).toBe(setting);
  });

  test('requires the secret only for the client-secret credential', () => {
    const { OBO_CLIENT_SECRET: _omitted, ...env } = valid;
    expect(configError(env).setting).toBe('OBO_CLIENT_SECRET');
    expect(loadConfig({ ...env, OBO_CLIENT_CREDENTIAL: 'managed-identity' }).obo.credential.kind).toBe(
      'managed-identity',
    );
  });

  test('names each bad setting once', () => {
    const { ENTRA_TENANT_ID: _omitted, ...env } = valid;
    const error = configError({ ...env, API_CLIENT_ID: 'x' });
    expect(error.message.split('ENTRA_TENANT_ID').length - 1).toBe(1);
    expect(error.message.split('API_CLIENT_ID').length - 1).toBe(1);
  });

  test('warns, naming the setting, when a client secret is set for the managed-identity credential', () => {
    const warnings: string[] = [];
    loadConfig({ ...valid, OBO_CLIENT_CREDENTIAL: 'managed-identity' }, (message) => warnings.push(message));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('OBO_CLIENT_SECRET');
    expect(warnings[0]).not.toContain(valid.OBO_CLIENT_SECRET);
    const quiet: string[] = [];
    loadConfig(valid, (message) => quiet.push(message));
    expect(quiet).toEqual([]);
  });

  test('reports every problem at once', () => {
    const error = configError({ ...valid, API_CLIENT_ID: 'x', COSMOS_ENDPOINT: '' });
    expect(error.message).toContain('API_CLIENT_ID');
    expect(error.message).toContain('COSMOS_ENDPOINT');
  });

  test('describes the configuration without secrets or keys', () => {
    const text = JSON.stringify(describeConfig(loadConfig(valid)));
    expect(text).not.toContain(valid.OBO_CLIENT_SECRET);
    expect(text).not.toContain(valid.COSMOS_KEY);
    expect(text).not.toContain(KEY);
  });
});

describe('API_ALLOWED_CLIENT_APPS', () => {
  const { API_ALLOWED_CLIENT_APPS: _allowed, ...withoutAllowedApps } = valid;

  test('is required, and the error says what to set', () => {
    const error = configError(withoutAllowedApps);
    expect(error.setting).toBe('API_ALLOWED_CLIENT_APPS');
    expect(error.message).toMatch(/client ids .* or \* for any app/);
  });

  test('reads client ids, comma-separated, lowercased', () => {
    const config = loadConfig({
      ...valid,
      API_ALLOWED_CLIENT_APPS: 'AAAAAAAA-1111-4111-8111-111111111111, bbbbbbbb-2222-4222-8222-222222222222',
    });
    expect(config.api.allowedClientApps).toEqual([
      'aaaaaaaa-1111-4111-8111-111111111111',
      'bbbbbbbb-2222-4222-8222-222222222222',
    ]);
  });

  test('reads * as any app', () => {
    expect(loadConfig({ ...valid, API_ALLOWED_CLIENT_APPS: '*' }).api.allowedClientApps).toBe('any');
  });

  test.each(['spa', '*,33333333-3333-4333-8333-333333333333'])('refuses %s', (value) => {
    expect(configError({ ...valid, API_ALLOWED_CLIENT_APPS: value }).setting).toBe('API_ALLOWED_CLIENT_APPS');
  });
});

describe('national clouds (ENTRA_CLOUD)', () => {
  test.each([
    [
      'AzureCloud',
      'https://login.microsoftonline.com',
      'https://graph.microsoft.com',
      'api://AzureADTokenExchange',
    ],
    [
      'AzureUSGovernment',
      'https://login.microsoftonline.us',
      'https://graph.microsoft.us',
      'api://AzureADTokenExchangeUSGov',
    ],
    [
      'AzureChinaCloud',
      'https://login.chinacloudapi.cn',
      'https://microsoftgraph.chinacloudapi.cn',
      'api://AzureADTokenExchangeChina',
    ],
  ])('%s sets the authority, Graph and the token exchange audience', (cloud, authority, graph, audience) => {
    const config = loadConfig({ ...valid, ENTRA_CLOUD: cloud, OBO_CLIENT_CREDENTIAL: 'managed-identity' });
    expect(config.entra.cloud).toBe(cloud);
    expect(config.entra.authorityHost.origin).toBe(authority);
    expect(config.graph.baseUrl.origin).toBe(graph);
    expect(config.graph.resourceUri.origin).toBe(graph);
    expect(config.obo.credential).toMatchObject({
      kind: 'managed-identity',
      tokenExchangeAudience: audience,
    });
  });

  test('defaults to the public cloud', () => {
    const config = loadConfig({ ...valid, OBO_CLIENT_CREDENTIAL: 'managed-identity' });
    expect(config.entra.cloud).toBe('AzureCloud');
    expect(config.obo.credential).toMatchObject({ tokenExchangeAudience: 'api://AzureADTokenExchange' });
  });

  test('names ENTRA_CLOUD when it is not a cloud', () => {
    expect(configError({ ...valid, ENTRA_CLOUD: 'AzureGermanCloud' }).setting).toBe('ENTRA_CLOUD');
  });

  test.each(CLOUD_NAMES)('asks the managed identity for the token exchange audience of %s', async (cloud) => {
    const config = loadConfig({ ...valid, ENTRA_CLOUD: cloud, OBO_CLIENT_CREDENTIAL: 'managed-identity' });
    if (config.obo.credential.kind !== 'managed-identity') throw new Error('expected managed-identity');
    const asked: string[] = [];
    const credential = {
      getToken: (scopes: string | string[]) => {
        asked.push(...[scopes].flat());
        return Promise.resolve({ token: 'assertion', expiresOnTimestamp: 0 });
      },
    };
    expect(await federatedAssertion(credential, config.obo.credential.tokenExchangeAudience)()).toBe(
      'assertion',
    );
    expect(asked).toEqual([`${CLOUDS[cloud].tokenExchangeAudience}/.default`]);
  });
});

describe('the federation identity (OBO_FEDERATION_IDENTITY_CLIENT_ID)', () => {
  const DATA_PLANE = '33333333-3333-4333-8333-333333333333';
  const FEDERATION = '44444444-4444-4444-8444-444444444444';
  const managed = {
    ...valid,
    OBO_CLIENT_CREDENTIAL: 'managed-identity',
    MANAGED_IDENTITY_CLIENT_ID: DATA_PLANE,
  };

  test('gives the client assertion its own identity, apart from the data plane', () => {
    const config = loadConfig({ ...managed, OBO_FEDERATION_IDENTITY_CLIENT_ID: FEDERATION.toUpperCase() });
    expect(config.obo.credential).toMatchObject({ federationIdentityClientId: FEDERATION });
    expect(config.cosmos.managedIdentityClientId).toBe(DATA_PLANE);
  });

  test('uses the one identity for both when only MANAGED_IDENTITY_CLIENT_ID is set', () => {
    expect(loadConfig(managed).obo.credential).toMatchObject({ federationIdentityClientId: DATA_PLANE });
  });

  test('names OBO_FEDERATION_IDENTITY_CLIENT_ID when it is not a GUID', () => {
    expect(configError({ ...managed, OBO_FEDERATION_IDENTITY_CLIENT_ID: 'id-federation' }).setting).toBe(
      'OBO_FEDERATION_IDENTITY_CLIENT_ID',
    );
  });

  test('warns, naming it, when it is set for the client-secret credential', () => {
    const warnings: string[] = [];
    loadConfig({ ...valid, OBO_FEDERATION_IDENTITY_CLIENT_ID: FEDERATION }, (message) =>
      warnings.push(message),
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('OBO_FEDERATION_IDENTITY_CLIENT_ID');
  });
});

describe("Graph's base URL on its resource's host", () => {
  test.each([
    ['the same host', 'https://graph.microsoft.com/', 'https://graph.microsoft.com'],
    ['a path under it', 'https://graph.microsoft.com/beta/', 'https://graph.microsoft.com'],
    ['the same host and port (the sandbox)', 'https://127.0.0.1:8443/', 'https://127.0.0.1:8443'],
    ['US Government L4 and DoD', 'https://dod-graph.microsoft.us', 'https://graph.microsoft.us'],
    ['US Government DoD and L4', 'https://graph.microsoft.us', 'https://dod-graph.microsoft.us'],
  ])('accepts %s', (_case, baseUrl, resourceUri) => {
    expect(baseUrlMatchesResource(new URL(baseUrl), new URL(resourceUri))).toBe(true);
    const config = loadConfig({ ...valid, GRAPH_BASE_URL: baseUrl, GRAPH_RESOURCE_URI: resourceUri });
    expect(config.graph.baseUrl.href).toBe(new URL(baseUrl).href);
  });

  test.each([
    ['another host', 'https://graph.contoso.com', 'https://graph.microsoft.com'],
    ['a look-alike subdomain', 'https://graph.microsoft.com.contoso.com', 'https://graph.microsoft.com'],
    ['another port of the same host', 'https://127.0.0.1:9443', 'https://127.0.0.1:8443'],
    ['another cloud', 'https://graph.microsoft.us', 'https://graph.microsoft.com'],
    ['China and the public cloud', 'https://microsoftgraph.chinacloudapi.cn', 'https://graph.microsoft.com'],
    ['a national host on another port', 'https://dod-graph.microsoft.us:8443', 'https://graph.microsoft.us'],
  ])('refuses %s, naming GRAPH_BASE_URL', (_case, baseUrl, resourceUri) => {
    expect(baseUrlMatchesResource(new URL(baseUrl), new URL(resourceUri))).toBe(false);
    expect(configError({ ...valid, GRAPH_BASE_URL: baseUrl, GRAPH_RESOURCE_URI: resourceUri }).setting).toBe(
      'GRAPH_BASE_URL',
    );
  });

  test('refuses a Graph base URL set alone on another host: the resource follows the cloud', () => {
    expect(configError({ ...valid, GRAPH_BASE_URL: 'https://127.0.0.1:8443' }).setting).toBe(
      'GRAPH_BASE_URL',
    );
  });

  test('refuses a base URL of the public cloud on a national cloud', () => {
    const error = configError({
      ...valid,
      ENTRA_CLOUD: 'AzureChinaCloud',
      GRAPH_BASE_URL: 'https://graph.microsoft.com',
    });
    expect(error.setting).toBe('GRAPH_BASE_URL');
  });
});
