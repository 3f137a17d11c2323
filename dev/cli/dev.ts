/**
 * `npm run dev [-- --instances N --port P ...]`: the whole product on a laptop. Builds the bundle, starts the
 * Entra ID, Graph and Cosmos DB emulators over HTTPS (on free ports unless given), then N local Functions hosts
 * on consecutive ports from P (default 7071) sharing them (stateless scale-out), and the sample SPA on its own
 * origin (default port P + 9, past the hosts: 7080 beside 7071, 7509 beside 7500); writes the sandbox's state to `.sandbox/state-P.json` (one file per sandbox, so
 * several run side by side) and prints a curl that calls the API as a user and the SPA's URL.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

import { isRecord } from '../../shared/narrow.js';
import { httpsJson } from '../emulators/kit/httpsClient.js';
import { startHostProcess } from '../host/hostProcess.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import {
  DEFAULT_SANDBOX_DIR,
  removeSandboxState,
  sandboxStatePath,
  writeSandboxState,
} from '../sandbox/state.js';
import { chromiumArgs, sandboxServerCertificate } from '../spa/chromium.js';
import { locateBrowser } from '../spa/findBrowser.js';
import type { SpaServer } from '../spa/server.js';
import {
  integerOption,
  isAddressInUse,
  parseCommandLine,
  portIsFree,
  portOption,
  reportUsageError,
  UsageError,
} from './args.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const USAGE =
  'npm run dev [-- [--instances N] [--port P] [--entra-port P] [--graph-port P] [--cosmos-port P] [--spa-port P] [--state FILE] [--entry FILE]]';

interface DevOptions {
  instances: number;
  firstPort: number;
  emulatorPorts: { entra: number; graph: number; cosmos: number };
  spaPort: number;
  /** Absent with --port 0: the first host's port names it once known. */
  statePath: string | undefined;
  entry: string;
}

function parseDevCommandLine(argv: readonly string[]): DevOptions | 'help' {
  const values = parseCommandLine(argv, {
    instances: { type: 'string', default: '1' },
    port: { type: 'string', default: '7071' },
    'entra-port': { type: 'string', default: '0' },
    'graph-port': { type: 'string', default: '0' },
    'cosmos-port': { type: 'string', default: '0' },
    'spa-port': { type: 'string' },
    state: { type: 'string' },
    entry: { type: 'string', default: 'dist/main.js' },
    help: { type: 'boolean', default: false },
  });
  if (values.help) return 'help';
  const instances = integerOption('instances', values.instances, 1, 16);
  const firstPort = portOption('port', values.port, { allowZero: true });
  if (firstPort !== 0 && firstPort + instances - 1 > 65535) {
    throw new UsageError(`--port ${firstPort} leaves no room for ${instances} hosts below 65536`);
  }
  return {
    instances,
    firstPort,
    emulatorPorts: {
      entra: portOption('entra-port', values['entra-port'], { allowZero: true }),
      graph: portOption('graph-port', values['graph-port'], { allowZero: true }),
      cosmos: portOption('cosmos-port', values['cosmos-port'], { allowZero: true }),
    },
    spaPort:
      values['spa-port'] === undefined
        ? defaultSpaPort(firstPort, instances)
        : portOption('spa-port', values['spa-port'], { allowZero: true }),
    statePath:
      values.state ?? (firstPort === 0 ? undefined : sandboxStatePath(DEFAULT_SANDBOX_DIR, firstPort)),
    entry: values.entry,
  };
}

/**
 * The SPA's port beside hosts from `firstPort`: 9 above it, or just past the hosts when there are more than 9, so a
 * second sandbox (`--port 7500`) gets its own (7509) and the default stays 7080. Free ports give a free one.
 */
function defaultSpaPort(firstPort: number, instances: number): number {
  if (firstPort === 0) return 0;
  const port = firstPort + Math.max(9, instances);
  return port > 65535 ? 0 : port;
}

let parsed: DevOptions | 'help';
try {
  parsed = parseDevCommandLine(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  reportUsageError('dev', error, USAGE);
  process.exit(2);
}
if (parsed === 'help') {
  console.log(`usage: ${USAGE}`);
  process.exit(0);
}
const { instances, firstPort, emulatorPorts, spaPort, entry } = parsed;
let statePath = parsed.statePath;

// Checked before the build so a taken port costs one line, not a build and a stack.
const wanted = [
  ...(firstPort === 0
    ? []
    : Array.from({ length: instances }, (_, i) => ({ port: firstPort + i, option: '--port' }))),
  ...Object.entries(emulatorPorts)
    .filter(([, port]) => port !== 0)
    .map(([name, port]) => ({ port, option: `--${name}-port` })),
  ...(spaPort === 0 ? [] : [{ port: spaPort, option: '--spa-port' }]),
];
for (const { port, option } of wanted) {
  if (!(await portIsFree(port))) {
    const hint = option === '--port' ? 'pass --port N' : `pass ${option} N, or 0 for any free port`;
    console.error(`dev: port ${port} is in use: ${hint}`);
    process.exit(1);
  }
}

// Another entry (functions/index.ts: the sources through tsx) needs no bundle.
if (entry === 'dist/main.js') await run(process.execPath, ['--import', 'tsx', 'scripts/build.ts']);
// Loaded only now: a bad command line is answered without loading the emulators.
const { startSandbox } = await import('../sandbox/sandbox.js');
let sandbox: Sandbox;
try {
  sandbox = await startSandbox({ ports: emulatorPorts });
} catch (error) {
  // Taken between the check and the start: still one line.
  if (!isAddressInUse(error)) throw error;
  console.error(`dev: an emulator port is in use (${String(error)}): pass its --*-port option, or 0`);
  process.exit(1);
}
// The sample SPA on its own origin: Entra knows it as the SPA's redirect URI, the API's CORS allows it.
const { sandboxSpaConfig, startSpaServer } = await import('../spa/server.js');
let spa: SpaServer;
try {
  spa = await startSpaServer({ port: spaPort });
} catch (error) {
  await sandbox.close();
  const reason = isAddressInUse(error)
    ? `port ${spaPort} is in use: pass --spa-port N, or 0 for any free port`
    : `the sample SPA could not start: ${String(error)}`;
  console.error(`dev: ${reason}`);
  process.exit(1);
}
sandbox.emulators.entra.signIn.registerRedirectUris([spa.url]);
// The state file carries it too, so `npm run serve -- --sandbox` joins with the same CORS.
const settings = { ...sandbox.settings, CORS_ALLOWED_ORIGINS: spa.origin };

const started = await Promise.allSettled(
  Array.from({ length: instances }, (_, i) =>
    startHostProcess({
      port: firstPort === 0 ? 0 : firstPort + i,
      env: settings,
      entry,
      echo: true,
      // A shared or slow machine: the sources through tsx can take a while.
      startTimeoutMs: 120_000,
    }),
  ),
);
const hosts = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));

let stopping: Promise<never> | undefined;
let stateWritten: Promise<void> | undefined;
/**
 * Removes the state file, then stops every host that started and the sandbox, whatever failed: nothing is left
 * holding a port. Ctrl-C reaches this process more than once (the terminal signals the whole process group, npm
 * forwards it again) and kills the hosts at the same time: every later call waits for the first one's cleanup.
 */
function stop(exitCode: number): Promise<never> {
  stopping ??= (async () => {
    // This process owns the state file, and it must not outlive the sandbox even if a close below fails.
    await stateWritten?.catch(() => undefined);
    if (statePath !== undefined) await removeSandboxState(statePath);
    await Promise.allSettled(hosts.map((host) => host.stop()));
    await Promise.allSettled([spa.close(), sandbox.close()]);
    process.exit(exitCode);
  })();
  return stopping;
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

const failedToStart = started.find((result) => result.status === 'rejected');
if (failedToStart !== undefined) {
  console.error(
    failedToStart.reason instanceof Error ? failedToStart.reason.message : String(failedToStart.reason),
  );
  await stop(1);
}
for (const host of hosts) {
  void host.exited.then((code) => {
    if (stopping !== undefined) return;
    // A host exits 0 only when signalled, as by the Ctrl-C that reaches this process too.
    if (code !== 0) console.error(`local host on ${host.url} exited (${code}); stopping the sandbox`);
    void stop(code === 0 ? 0 : 1);
  });
}

const apiPort = Number(new URL(hosts[0]?.url ?? 'http://127.0.0.1:0').port);
statePath ??= sandboxStatePath(DEFAULT_SANDBOX_DIR, apiPort);
// Not once stopping has begun: the state would outlive the sandbox.
if (stopping === undefined) {
  stateWritten = writeSandboxState(
    statePath,
    { ...sandbox, settings },
    {
      apiUrls: hosts.map((host) => `${host.url}/api`),
      pid: process.pid,
    },
  );
}
await stateWritten;
spa.configure(sandboxSpaConfig({ ...sandbox, apiUrl: hosts[0]?.url ?? '' }));
const spkiFlag = chromiumArgs(await sandboxServerCertificate(sandbox.caCertPath)).filter((arg) =>
  arg.startsWith('--ignore-certificate-errors-spki-list='),
);

const browserCommand = await browserCommandFor(apiPort);

let token = '';
try {
  const issued = await httpsJson(`${sandbox.entraUrl}/_emulator/users/alice/token`, {
    ca: readFileSync(sandbox.caCertPath, 'utf8'),
    method: 'POST',
    body: {},
  });
  if (isRecord(issued.body) && typeof issued.body.access_token === 'string') {
    token = issued.body.access_token;
  }
} catch (error) {
  console.error(
    `could not obtain a sandbox token: ${error instanceof Error ? error.message : String(error)}`,
  );
  await stop(1);
}

console.log(`
Sandbox ready: Entra ID ${sandbox.entraUrl}, Graph ${sandbox.graphUrl}, Tasks API ${sandbox.tasksApi.url}, Cosmos DB ${sandbox.cosmos.endpoint}
State (ports, settings) in ${shortPath(statePath)}
API ready on ${hosts.map((h) => `${h.url}/api`).join(', ')}  (Ctrl-C stops everything)

Call it as the sandbox user alice (the token is valid for an hour; npm run -s token -- --port ${apiPort} --user bob makes others):

  curl -s -H "Authorization: Bearer ${token}" ${hosts[0]?.url ?? ''}/api/me

Sample SPA ready on ${spa.url}  (sign in as alice, bob or carol). ${browserCommand.intro}:

  ${browserCommand.executable} --user-data-dir=${browserCommand.profile} ${spkiFlag.join(' ')} ${spa.url}
`);

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${args.join(' ')} exited ${code}`)),
    );
  });
}

/** How to start the browser found on this machine (findBrowser) with a fresh profile, in the user's shell. */
async function browserCommandFor(
  apiPort: number,
): Promise<{ intro: string; executable: string; profile: string }> {
  const browser = await locateBrowser();
  const windows = process.platform === 'win32';
  return {
    intro: browser.found
      ? "Your browser trusting the sandbox's certificate"
      : `Chromium, Chrome or Edge trusting the sandbox's certificate (none found: ${browser.reason})`,
    executable: browser.found ? `"${browser.path}"` : 'chromium',
    // A fresh profile: Chromium honours the certificate flag only with an explicit --user-data-dir.
    profile: windows ? `"${join(tmpdir(), `obo-spa-profile-${apiPort}`)}"` : '"$(mktemp -d)"',
  };
}

/** Relative to the working directory when inside it, else absolute. */
function shortPath(path: string): string {
  const inside = relative(process.cwd(), path);
  return inside === '' || inside.startsWith('..') || isAbsolute(inside) ? path : inside;
}
