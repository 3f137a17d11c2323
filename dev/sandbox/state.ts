// The sandbox's state as other processes read it (`.sandbox/state-<API port>.json`, SANDBOX_STATE in tests):
// its type, and writing, finding, reading and checking it. No emulator is loaded from here.
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { isRecord } from '../../shared/narrow.js';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** `.sandbox` in the project, or SANDBOX_DIR: the CA, the keys and the state files of running sandboxes. */
export const DEFAULT_SANDBOX_DIR = resolve(process.env.SANDBOX_DIR ?? join(PROJECT_ROOT, '.sandbox'));

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
  /** The Tasks API emulator (a second protected downstream API): its URL and its app registration. */
  tasksApi: { url: string; clientId: string; appIdUri: string; scope: string };
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
  /** Written by `npm run dev`: the API's base URLs (`http://127.0.0.1:PORT/api`), one per local host. */
  apiUrls?: string[];
  /** Written by `npm run dev`: its process id, so a state left by a killed sandbox is recognised as stale. */
  pid?: number;
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
    tasksApi,
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
    tasksApi,
    cosmos,
    managedIdentity,
    settings,
    managedIdentitySettings,
  };
}

export async function writeSandboxState(
  path: string,
  sandbox: SandboxState,
  running: { apiUrls?: string[]; pid?: number } = {},
): Promise<void> {
  const state = { ...sandboxState(sandbox), ...running };
  await writeFile(path, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

/** Where `npm run dev` with its first local host on `apiPort` writes its state: one file per sandbox. */
export function sandboxStatePath(dir: string, apiPort: number): string {
  return join(dir, `state-${apiPort}.json`);
}

/** More than one sandbox is running and the command did not say which. */
export class SandboxChoiceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
  }
}

/**
 * The state file of the sandbox a command means: `path` when given, else the one whose first local host is on
 * `apiPort`, else the only running one in `dir` (states whose process is gone are skipped).
 */
export async function locateSandboxState(options: {
  dir: string;
  path?: string | undefined;
  apiPort?: number | undefined;
}): Promise<string> {
  if (options.path !== undefined) return options.path;
  if (options.apiPort !== undefined) return sandboxStatePath(options.dir, options.apiPort);
  const names = await readdir(options.dir).catch(() => []);
  const running: { path: string; port: number }[] = [];
  for (const name of names) {
    const port = /^state-(\d+)\.json$/.exec(name)?.[1];
    if (port === undefined) continue;
    const path = join(options.dir, name);
    const pid = await readFile(path, 'utf8').then(pidOf, () => null);
    if (pid !== null && (pid === undefined || isAlive(pid))) running.push({ path, port: Number(port) });
  }
  const [only, ...others] = running.sort((a, b) => a.port - b.port);
  if (only === undefined) {
    throw new SandboxNotRunningError(
      `no sandbox is running (no state in ${options.dir}): start it with npm run dev`,
    );
  }
  if (others.length > 0) {
    const ports = running.map((r) => r.port).join(', ');
    throw new SandboxChoiceError(`${running.length} sandboxes are running (API ports ${ports})`);
  }
  return only.path;
}

/** The `pid` in a state file's text; undefined when it has none, null when it is not a state. */
function pidOf(text: string): number | undefined | null {
  try {
    const value: unknown = JSON.parse(text);
    if (!isRecord(value)) return null;
    return typeof value.pid === 'number' ? value.pid : undefined;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return error instanceof Error && 'code' in error && error.code === 'EPERM';
  }
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
    throw new SandboxNotRunningError(`no sandbox state at ${path}: start that sandbox with npm run dev`, {
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
  const strings = (v: unknown, keys: string[]): boolean =>
    isRecord(v) && keys.every((k) => typeof v[k] === 'string');
  const settings = (v: unknown): boolean =>
    isRecord(v) && Object.values(v).every((s) => typeof s === 'string');
  return (
    strings(value, ['caCertPath', 'tenantId', 'spaClientId', 'entraUrl', 'graphUrl']) &&
    isRecord(value) &&
    strings(value.api, ['clientId', 'clientSecret', 'appIdUri', 'scope']) &&
    strings(value.tasksApi, ['url', 'clientId', 'appIdUri', 'scope']) &&
    strings(value.cosmos, ['endpoint', 'key', 'database', 'container']) &&
    strings(value.managedIdentity, ['clientId', 'principalId', 'resourceId', 'endpoint', 'header']) &&
    settings(value.settings) &&
    settings(value.managedIdentitySettings) &&
    (value.apiUrls === undefined ||
      (Array.isArray(value.apiUrls) && value.apiUrls.every((url) => typeof url === 'string'))) &&
    (value.pid === undefined || typeof value.pid === 'number')
  );
}
