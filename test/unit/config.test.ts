import { describe, expect, test } from '@jest/globals';

import { describeConfig, loadConfig } from '../../shared/config.js';
import { ConfigError } from '../../shared/errors.js';

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
