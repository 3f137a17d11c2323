// The local sandbox: Entra ID, Microsoft Graph, the Tasks API and Cosmos DB emulators over HTTPS on 127.0.0.1.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { join, resolve } from 'node:path';

import { CosmosClient } from '@azure/cosmos';

import type { CosmosEmulator } from '../emulators/cosmos.js';
import { COSMOS_EMULATOR_KEY, startCosmosEmulator } from '../emulators/cosmos.js';
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
  TASKS_API_APP_ID_URI,
  TASKS_API_CLIENT_ID,
  TENANT_ID,
} from '../emulators/entra/fixtures.js';
import type { EntraEmulator, IssuedUserToken, UserTokenOptions } from '../emulators/entra/server.js';
import { startEntraEmulator } from '../emulators/entra/server.js';
import type { GraphEmulator } from '../emulators/graph/server.js';
import { startGraphEmulator } from '../emulators/graph/server.js';
import { startTasksEmulator, type TasksEmulator } from '../emulators/tasks/server.js';
import { ensureLocalCa } from './localCa.js';
import { DEFAULT_SANDBOX_DIR, type SandboxState } from './state.js';

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
  TASKS_API_APP_ID_URI,
  TASKS_API_CLIENT_ID,
  TENANT_DOMAIN,
  TENANT_ID,
  TOKEN_EXCHANGE_AUDIENCE,
} from '../emulators/entra/fixtures.js';
export type { SandboxState } from './state.js';
export {
  DEFAULT_SANDBOX_DIR,
  locateSandboxState,
  parseSandboxState,
  PROJECT_ROOT,
  readSandboxState,
  removeSandboxState,
  SandboxChoiceError,
  SandboxNotRunningError,
  sandboxState,
  sandboxStatePath,
  writeSandboxState,
} from './state.js';

export const COSMOS_DATABASE = 'obo';
export const COSMOS_CONTAINER = 'tokenCache';

export interface Sandbox extends SandboxState {
  /** Issues a user access token for the API in-process (as POST /_emulator/users/{name}/token does). */
  mintUserToken(name: string, options?: UserTokenOptions): Promise<IssuedUserToken>;
  /** The emulators themselves, for their counters and faults in-process. */
  emulators: { entra: EntraEmulator; graph: GraphEmulator; tasks: TasksEmulator; cosmos: CosmosEmulator };
  close(): Promise<void>;
}

export interface SandboxOptions {
  /** Holds the CA, the server certificate and the token cache keys; default `.sandbox` in the project. */
  dir?: string;
  /** 0 or absent: an ephemeral port. */
  ports?: { entra?: number; graph?: number; tasks?: number; cosmos?: number };
  /**
   * The downstream permissions the API's registration declares in the Entra emulator (full scopes, e.g.
   * `https://graph.microsoft.com/User.Read`): what the consent page lists and records. Default: the emulator's.
   */
  declaredPermissions?: readonly string[];
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
      ...(options.declaredPermissions === undefined
        ? {}
        : { declaredPermissions: options.declaredPermissions }),
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
    const tasks = await startTasksEmulator({
      cert,
      key,
      port: options.ports?.tasks ?? 0,
      entraUrl: entra.url,
      tenantId: TENANT_ID,
      tenantIds: [TENANT_ID, PARTNER_TENANT_ID, OTHER_TENANT_ID],
      clientId: TASKS_API_CLIENT_ID,
      appIdUri: TASKS_API_APP_ID_URI,
      ca,
    });
    started.push(tasks);
    // The app calls Graph on its own host and asks Entra for tokens of that resource (GRAPH_RESOURCE_URI), as on a
    // national cloud: Graph's tokens never go to a host that is not Graph's.
    entra.addGraphResourceUri(graph.url);
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
      // The sample SPA is the one client app of the sandbox (the Entra emulator's tokens name it in azp).
      API_ALLOWED_CLIENT_APPS: SPA_CLIENT_ID,
      OBO_CLIENT_CREDENTIAL: 'client-secret',
      OBO_CLIENT_SECRET: clientSecret,
      GRAPH_BASE_URL: graph.url,
      // The Tasks API: a second downstream API, its base URL and its scopes' prefix (app ID URI).
      TASKS_API_BASE_URL: tasks.url,
      TASKS_API_APP_ID_URI,
      GRAPH_RESOURCE_URI: graph.url,
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
      tasksApi: {
        url: tasks.url,
        clientId: TASKS_API_CLIENT_ID,
        appIdUri: TASKS_API_APP_ID_URI,
        scope: 'Tasks.ReadWrite',
      },
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
      emulators: { entra, graph, tasks, cosmos },
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
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
