/**
 * `npm run dev [-- --instances N]`: the whole product on a laptop. Builds the bundle, starts the
 * Entra ID, Graph and Cosmos DB emulators over HTTPS, then N local Functions hosts on consecutive
 * ports from 7071 sharing them (stateless scale-out), and prints a curl that calls the API as a user.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { httpsJson } from './ca.js';
import { startHostProcess } from './processes.js';
import { removeSandboxState, startSandbox, writeSandboxState } from './sandbox.js';

const root = fileURLToPath(new URL('..', import.meta.url));
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

const hosts = await Promise.all(
  Array.from({ length: instances }, (_, i) =>
    startHostProcess({ port: firstPort + i, env: sandbox.settings, entry: 'dist/main.js', echo: true }),
  ),
);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all(hosts.map((host) => host.stop()));
  await sandbox.close();
  await removeSandboxState(STATE_FILE);
  process.exit(0);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
for (const host of hosts) {
  host.exited.then(
    (code) => {
      if (!stopping) {
        console.error(`local host on ${host.url} exited (${code}); stopping the sandbox`);
        void stop();
      }
    },
    () => undefined,
  );
}

const issued = await httpsJson(`${sandbox.entraUrl}/_emulator/users/alice/token`, {
  ca: readFileSync(sandbox.caCertPath, 'utf8'),
  method: 'POST',
  body: {},
});
const token =
  typeof issued.body === 'object' && issued.body !== null && 'access_token' in issued.body
    ? String(issued.body.access_token)
    : '';

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
