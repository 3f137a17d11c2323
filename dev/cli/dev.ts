/**
 * `npm run dev [-- --instances N]`: the whole product on a laptop. Builds the bundle, starts the
 * Entra ID, Graph and Cosmos DB emulators over HTTPS, then N local Functions hosts on consecutive
 * ports from 7071 sharing them (stateless scale-out), and prints a curl that calls the API as a user.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { isRecord } from '../../shared/narrow.js';
import { httpsJson } from '../emulators/kit/httpsClient.js';
import { startHostProcess } from '../host/hostProcess.js';
import { removeSandboxState, startSandbox, writeSandboxState } from '../sandbox/sandbox.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const STATE_FILE = `${root}.sandbox/state.json`;

const { values } = parseArgs({
  options: {
    instances: { type: 'string', default: '1' },
    port: { type: 'string', default: '7071' },
  },
});
const instances = Number(values.instances);
const firstPort = Number(values.port);
if (!Number.isInteger(instances) || instances < 1 || instances > 16) {
  console.error('--instances must be a whole number from 1 to 16');
  process.exit(1);
}
if (!Number.isInteger(firstPort) || firstPort < 1 || firstPort + instances > 65535) {
  console.error('--port must be a port number');
  process.exit(1);
}

await run(process.execPath, ['--import', 'tsx', 'scripts/build.ts']);
const sandbox = await startSandbox({ ports: { entra: 7443, graph: 7444, cosmos: 8081 } });
await writeSandboxState(STATE_FILE, sandbox);

const started = await Promise.allSettled(
  Array.from({ length: instances }, (_, i) =>
    startHostProcess({ port: firstPort + i, env: sandbox.settings, entry: 'dist/main.js', echo: true }),
  ),
);
const hosts = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));

let stopping = false;
/** Stops every host that started and the sandbox, whatever failed: nothing is left holding a port. */
async function stop(exitCode: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    await Promise.all(hosts.map((host) => host.stop()));
    await sandbox.close();
    await removeSandboxState(STATE_FILE);
  }
  process.exit(exitCode);
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
    if (!stopping) {
      console.error(`local host on ${host.url} exited (${code}); stopping the sandbox`);
      void stop(1);
    }
  });
}

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
Sandbox ready: Entra ID ${sandbox.entraUrl}, Graph ${sandbox.graphUrl}, Cosmos DB ${sandbox.cosmos.endpoint}
API ready on ${hosts.map((h) => `${h.url}/api`).join(', ')}  (Ctrl-C stops everything)

Call it as the sandbox user alice (the token is valid for an hour; npm run -s token -- --user bob makes others):

  curl -s -H "Authorization: Bearer ${token}" ${hosts[0]?.url ?? ''}/api/me
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
