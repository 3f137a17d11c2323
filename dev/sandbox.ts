// The local sandbox: Entra ID, Microsoft Graph and Cosmos DB emulators over HTTPS on 127.0.0.1.
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { CosmosClient } from '@azure/cosmos';

import { ensureLocalCa } from './ca.js';
import type { CosmosEmulator } from './cosmos.js';
import { COSMOS_EMULATOR_KEY, startCosmosEmulator } from './cosmos.js';
import type { EntraEmulator, IssuedUserToken, UserTokenOptions } from './entra.js';
import {
  API_APP_ID_URI,
  API_CLIENT_ID,
  API_SCOPE,
  MANAGED_IDENTITY_CLIENT_ID,
  MANAGED_IDENTITY_PRINCIPAL_ID,
  MANAGED_IDENTITY_RESOURCE_ID,
  OTHER_TENANT_ID,
  PARTNER_TENANT_ID,
  SPA_CLIENT_ID,
  startEntraEmulator,
  TENANT_ID,
} from './entra.js';
import type { GraphEmulator } from './graph.js';
import { startGraphEmulator } from './graph.js';

export {
  API_APP_ID_URI,
  API_CLIENT_ID,
  API_SCOPE,
  MANAGED_IDENTITY_CLIENT_ID,
  MANAGED_IDENTITY_PRINCIPAL_ID,
  MANAGED_IDENTITY_RESOURCE_ID,
  OTHER_TENANT_ID,
  PARTNER_TENANT_ID,
  SPA_CLIENT_ID,
  TENANT_DOMAIN,
  TENANT_ID,
  TOKEN_EXCHANGE_AUDIENCE,
} from './entra.js';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_SANDBOX_DIR = join(PROJECT_ROOT, '.sandbox');
export const DEFAULT_STATE_PATH = join(DEFAULT_SANDBOX_DIR, 'state.json');
export const COSMOS_DATABASE = 'obo';
export const COSMOS_CONTAINER = 'tokenCache';

export interface SandboxState {
  caCertPath: string;
  tenantId: string;
  /** The sandbox's tenants: the API's own, a second one it is allowed in (ENTRA_ALLOWED_TENANTS), one it is not. */
  tenants: { home: string; partner: string; other: string };
  spaClientId: string;
  api: { clientId: string; clientSecret: string; appIdUri: string; scope: string };
  /** https://127.0.0.1:PORT */
  entraUrl: string;
  /** https://127.0.0.1:PORT */
  graphUrl: string;
  cosmos: { endpoint: string; key: string; database: string; container: string };
  /** The user-assigned identity the app runs as, and App Service's endpoint that issues its tokens. */
  managedIdentity: {
    clientId: string;
    principalId: string;
    resourceId: string;
    /** IDENTITY_ENDPOINT: https://127.0.0.1:PORT/msi/token (on the Entra emulator). */
    endpoint: string;
    /** IDENTITY_HEADER: the secret sent as `X-IDENTITY-HEADER`. */
    header: string;
  };
  /** App settings (environment variables) that point the app at this sandbox, with a client secret for OBO. */
  settings: Record<string, string>;
  /**
   * The same settings as Azure's: OBO through the managed identity's federated credential, no client secret.
   * COSMOS_KEY stays: the Cosmos emulator cannot check Entra tokens.
   */
  managedIdentitySettings: Record<string, string>;
}

export interface Sandbox extends SandboxState {
  /** Issues a user access token for the API in-process (as POST /_emulator/users/{name}/token does). */
  mintUserToken(name: string, options?: UserTokenOptions): Promise<IssuedUserToken>;
  /** The emulators themselves, for their counters and faults in-process. */
  emulators: { entra: EntraEmulator; graph: GraphEmulator; cosmos: CosmosEmulator };
  close(): Promise<void>;
}

export interface SandboxOptions {
  /** Holds the CA, the server certificate and the token cache keys; default `.sandbox` in the project. */
  dir?: string;
  /** 0 or absent: an ephemeral port. */
  ports?: { entra?: number; graph?: number; cosmos?: number };
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const dir = resolve(options.dir ?? DEFAULT_SANDBOX_DIR);
  const { caCertPath, cert, key } = await ensureLocalCa(dir);
  const ca = await readFile(caCertPath, 'utf8');
  const tokenCacheKeys = await ensureTokenCacheKeys(dir);
  const clientSecret = `sandbox~${randomBytes(24).toString('base64url')}`;
  const identityHeader = randomBytes(24).toString('base64url');

  const started: { close(): Promise<void> }[] = [];
  const closeAll = async (): Promise<void> => {
    await Promise.allSettled(started.reverse().map((emulator) => emulator.close()));
  };
  try {
    const entra = await startEntraEmulator({
      cert,
      key,
      port: options.ports?.entra ?? 0,
      clientSecret,
      identityHeader,
    });
    started.push(entra);
    const graph = await startGraphEmulator({
      cert,
      key,
      port: options.ports?.graph ?? 0,
      entraUrl: entra.url,
      tenantId: TENANT_ID,
      tenantIds: [TENANT_ID, PARTNER_TENANT_ID, OTHER_TENANT_ID],
      ca,
    });
    started.push(graph);
    const cosmos = await startCosmosEmulator({ cert, key, port: options.ports?.cosmos ?? 0 });
    started.push(cosmos);
    await createContainer(cosmos.endpoint, ca);
    cosmos.control.reset();

    const settings: Record<string, string> = {
      ENTRA_AUTHORITY_HOST: entra.url,
      ENTRA_TENANT_ID: TENANT_ID,
      // A multi-tenant API: users of the partner tenant may call it, users of the other tenant may not.
      ENTRA_ALLOWED_TENANTS: `${TENANT_ID},${PARTNER_TENANT_ID}`,
      API_CLIENT_ID,
      API_APP_ID_URI,
      API_SCOPE,
      OBO_CLIENT_CREDENTIAL: 'client-secret',
      OBO_CLIENT_SECRET: clientSecret,
      GRAPH_BASE_URL: graph.url,
      COSMOS_ENDPOINT: cosmos.endpoint,
      COSMOS_KEY: COSMOS_EMULATOR_KEY,
      COSMOS_DATABASE,
      COSMOS_CONTAINER,
      TOKEN_CACHE_KEYS: tokenCacheKeys,
      NODE_EXTRA_CA_CERTS: caCertPath,
    };
    const { OBO_CLIENT_SECRET: _secret, ...withoutSecret } = settings;
    const state: SandboxState = {
      caCertPath,
      tenantId: TENANT_ID,
      tenants: { home: TENANT_ID, partner: PARTNER_TENANT_ID, other: OTHER_TENANT_ID },
      spaClientId: SPA_CLIENT_ID,
      api: { clientId: API_CLIENT_ID, clientSecret, appIdUri: API_APP_ID_URI, scope: API_SCOPE },
      entraUrl: entra.url,
      graphUrl: graph.url,
      cosmos: {
        endpoint: cosmos.endpoint,
        key: COSMOS_EMULATOR_KEY,
        database: COSMOS_DATABASE,
        container: COSMOS_CONTAINER,
      },
      managedIdentity: {
        clientId: MANAGED_IDENTITY_CLIENT_ID,
        principalId: MANAGED_IDENTITY_PRINCIPAL_ID,
        resourceId: MANAGED_IDENTITY_RESOURCE_ID,
        endpoint: entra.identityEndpoint,
        header: identityHeader,
      },
      settings,
      managedIdentitySettings: {
        ...withoutSecret,
        OBO_CLIENT_CREDENTIAL: 'managed-identity',
        MANAGED_IDENTITY_CLIENT_ID,
        // What App Service sets: DefaultAzureCredential and the Azure SDKs read these.
        AZURE_CLIENT_ID: MANAGED_IDENTITY_CLIENT_ID,
        IDENTITY_ENDPOINT: entra.identityEndpoint,
        IDENTITY_HEADER: identityHeader,
      },
    };
    return {
      ...state,
      mintUserToken: (name, tokenOptions) => entra.mintUserToken(name, tokenOptions),
      emulators: { entra, graph, cosmos },
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** The JSON-serializable part of a sandbox, for other processes. */
export function sandboxState(sandbox: SandboxState): SandboxState {
  const {
    caCertPath,
    tenantId,
    tenants,
    spaClientId,
    api,
    entraUrl,
    graphUrl,
    cosmos,
    managedIdentity,
    settings,
    managedIdentitySettings,
  } = sandbox;
  return {
    caCertPath,
    tenantId,
    tenants,
    spaClientId,
    api,
    entraUrl,
    graphUrl,
    cosmos,
    managedIdentity,
    settings,
    managedIdentitySettings,
  };
}

export async function writeSandboxState(path: string, sandbox: SandboxState): Promise<void> {
  await writeFile(path, `${JSON.stringify(sandboxState(sandbox), null, 2)}\n`, { mode: 0o600 });
}

export async function removeSandboxState(path: string): Promise<void> {
  await rm(path, { force: true });
}

export class SandboxNotRunningError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = this.constructor.name;
  }
}

export async function readSandboxState(path: string): Promise<SandboxState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new SandboxNotRunningError(`no sandbox state at ${path}: start it with npm run dev`, {
      cause: error,
    });
  }
  return parseSandboxState(text, path);
}

/** Parses a sandbox state (the state file, or SANDBOX_STATE in tests), checking its shape. */
export function parseSandboxState(text: string, source: string): SandboxState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new SandboxNotRunningError(`the sandbox state in ${source} is not JSON`, { cause: error });
  }
  if (!isSandboxState(value))
    throw new SandboxNotRunningError(`the sandbox state in ${source} is incomplete`);
  return value;
}

function isSandboxState(value: unknown): value is SandboxState {
  const record = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
  const strings = (v: unknown, keys: string[]): boolean =>
    record(v) && keys.every((k) => typeof v[k] === 'string');
  const settings = (v: unknown): boolean => record(v) && Object.values(v).every((s) => typeof s === 'string');
  return (
    strings(value, ['caCertPath', 'tenantId', 'spaClientId', 'entraUrl', 'graphUrl']) &&
    record(value) &&
    strings(value.api, ['clientId', 'clientSecret', 'appIdUri', 'scope']) &&
    strings(value.cosmos, ['endpoint', 'key', 'database', 'container']) &&
    strings(value.managedIdentity, ['clientId', 'principalId', 'resourceId', 'endpoint', 'header']) &&
    settings(value.settings) &&
    settings(value.managedIdentitySettings)
  );
}

/** `<key id>:<base64 of 32 random bytes>`, generated once per sandbox directory so cached documents stay readable. */
async function ensureTokenCacheKeys(dir: string): Promise<string> {
  const path = join(dir, 'token-cache-keys');
  try {
    const existing = (await readFile(path, 'utf8')).trim();
    if (/^[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/]{43}=$/.test(existing)) return existing;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const keys = `sandbox-${randomBytes(4).toString('hex')}:${randomBytes(32).toString('base64')}`;
  await writeFile(path, `${keys}\n`, { mode: 0o600 });
  return keys;
}

/** The database and the token cache container (partition key /id, per-item TTL on), as infra/ declares them. */
async function createContainer(endpoint: string, ca: string): Promise<void> {
  // This process may have started without NODE_EXTRA_CA_CERTS: its own client trusts the CA explicitly.
  const agent = new Agent({ ca, keepAlive: true });
  const client = new CosmosClient({ endpoint, key: COSMOS_EMULATOR_KEY, agent });
  try {
    const { database } = await client.databases.createIfNotExists({ id: COSMOS_DATABASE });
    await database.containers.createIfNotExists({
      id: COSMOS_CONTAINER,
      partitionKey: { paths: ['/id'] },
      defaultTtl: -1,
    });
  } finally {
    client.dispose();
    agent.destroy();
  }
}
