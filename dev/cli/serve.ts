/**
 * `npm run serve`: only the local host, configured by environment variables named like the Function
 * App's settings (or local.settings.json's Values, as `func start` reads them), to point the same
 * code at the sandbox, at real Azure, or at other endpoints.
 *
 *   tsx dev/cli/serve.ts [--port 7071] [--entry dist/main.js] [--quiet] [--sandbox | --state FILE]
 *
 * `--sandbox` takes the settings of the running `npm run dev` sandbox from its state file (`--state` names
 * one when several run), so a second host, a debugger or changed code can join it.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { loadConfig } from '../../shared/config.js';
import { ConfigError } from '../../shared/errors.js';
import { serveFunctionsCore, startLocalHost } from '../host/functionsHost.js';
import { parseAllowedOrigins } from '../host/platformCors.js';
import {
  DEFAULT_SANDBOX_DIR,
  locateSandboxState,
  readSandboxState,
  SandboxChoiceError,
  SandboxNotRunningError,
} from '../sandbox/state.js';
import { isAddressInUse, parseCommandLine, portOption, reportUsageError, UsageError } from './args.js';

const USAGE =
  'npm run serve [-- [--port P] [--entry dist/main.js] [--quiet] [--sandbox | --state .sandbox/state-P.json]]';

let values: ReturnType<typeof parseServeCommandLine>;
let port: number;
try {
  values = parseServeCommandLine(process.argv.slice(2));
  port = portOption('port', values.port, { allowZero: true });
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  reportUsageError('serve', error, USAGE);
  process.exit(2);
}

function parseServeCommandLine(argv: readonly string[]) {
  return parseCommandLine(argv, {
    port: { type: 'string', default: process.env.PORT ?? '7071' },
    entry: { type: 'string', default: 'dist/main.js' },
    quiet: { type: 'boolean', default: false },
    sandbox: { type: 'boolean', default: false },
    state: { type: 'string' },
  });
}

if (values.sandbox || values.state !== undefined) await useSandboxSettings(values.state);
applyLocalSettings('local.settings.json');
try {
  loadConfig(process.env);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`Cannot start: ${error.message}`);
    process.exit(1);
  }
  throw error;
}

// Azure's platform CORS, from the same list Bicep gives the Function App.
const cors = parseAllowedOrigins(process.env.CORS_ALLOWED_ORIGINS);
if (!cors.ok) {
  console.error(`Cannot start: ${cors.message}`);
  process.exit(1);
}

const entry = resolve(values.entry);
if (!existsSync(entry)) {
  console.error(`Cannot start: ${values.entry} does not exist; run npm run build first`);
  process.exit(1);
}
const functions = serveFunctionsCore();
await import(pathToFileURL(entry).href);
if (functions.size === 0) {
  console.error(`Cannot start: ${values.entry} registered no HTTP function`);
  process.exit(1);
}
const host = await startLocalHost({
  allowedOrigins: cors.origins,
  functions,
  port,
  ...(values.quiet ? { log: () => undefined } : {}),
}).catch((error: unknown) => {
  console.error(
    `Cannot start: ${isAddressInUse(error) ? `port ${port} is in use: pass --port N` : String(error)}`,
  );
  process.exit(1);
});
console.log(`local host ready at ${host.url}/api (${[...functions.keys()].join(', ')})`);

const stop = (): void => {
  void host.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

/**
 * The running sandbox's app settings over the environment's. Node reads NODE_EXTRA_CA_CERTS only at start, so
 * when it does not name the sandbox's CA yet, this runs itself again as a child with it, and exits with it.
 */
async function useSandboxSettings(statePath: string | undefined): Promise<void> {
  let settings: Record<string, string>;
  try {
    const path = await locateSandboxState({ dir: DEFAULT_SANDBOX_DIR, path: statePath });
    settings = (await readSandboxState(path)).settings;
  } catch (error) {
    if (!(error instanceof SandboxNotRunningError || error instanceof SandboxChoiceError)) throw error;
    const hint = error instanceof SandboxChoiceError ? ': pass --state .sandbox/state-P.json' : '';
    console.error(`Cannot start: ${error.message}${hint}`);
    process.exit(1);
  }
  const caLoadedAtStart = process.env.NODE_EXTRA_CA_CERTS;
  Object.assign(process.env, settings);
  if (process.env.NODE_EXTRA_CA_CERTS === caLoadedAtStart) return;
  const child = spawn(process.execPath, ['--import', 'tsx', ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: process.env,
  });
  const forward = (signal: NodeJS.Signals): void => void child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const code = await new Promise<number>((done) => child.once('exit', (exitCode) => done(exitCode ?? 1)));
  process.exit(code);
}

/** Like `func start`: local.settings.json's Values fill in what the environment does not set. */
function applyLocalSettings(path: string): void {
  if (!existsSync(path)) return;
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (typeof parsed !== 'object' || parsed === null || !('Values' in parsed)) return;
  const settings = parsed.Values;
  if (typeof settings !== 'object' || settings === null) return;
  for (const [name, value] of Object.entries(settings)) {
    if (process.env[name] === undefined && typeof value === 'string') process.env[name] = value;
  }
}
