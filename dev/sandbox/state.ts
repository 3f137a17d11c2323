// The sandbox's state as other processes read it (`.sandbox/state.json`, SANDBOX_STATE in tests): its type,
// and writing, reading and checking it. No emulator is loaded from here.
import { readFile, rm, writeFile } from 'node:fs/promises';

import { isRecord } from '../../shared/narrow.js';

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
  const strings = (v: unknown, keys: string[]): boolean =>
    isRecord(v) && keys.every((k) => typeof v[k] === 'string');
  const settings = (v: unknown): boolean =>
    isRecord(v) && Object.values(v).every((s) => typeof s === 'string');
  return (
    strings(value, ['caCertPath', 'tenantId', 'spaClientId', 'entraUrl', 'graphUrl']) &&
    isRecord(value) &&
    strings(value.api, ['clientId', 'clientSecret', 'appIdUri', 'scope']) &&
    strings(value.cosmos, ['endpoint', 'key', 'database', 'container']) &&
    strings(value.managedIdentity, ['clientId', 'principalId', 'resourceId', 'endpoint', 'header']) &&
    settings(value.settings) &&
    settings(value.managedIdentitySettings)
  );
}
