// `npm test`: starts the sandbox on ephemeral ports, runs jest against it in a child process, stops it.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { PROJECT_ROOT, sandboxState, startSandbox } from './sandbox.js';

const sandbox = await startSandbox({ ports: { entra: 0, graph: 0, cosmos: 0 } });

const args = process.argv.slice(2);
// The emulators' counters and faults are shared: test files must not run at the same time.
const chosenWorkers = args.some((arg) => /^(-i|--runInBand|-w|--maxWorkers)(=|$)/.test(arg));
const jest = spawn(
  process.execPath,
  [
    '--experimental-vm-modules',
    '--disable-warning=ExperimentalWarning',
    join(PROJECT_ROOT, 'node_modules', 'jest', 'bin', 'jest.js'),
    ...(chosenWorkers ? [] : ['--runInBand']),
    ...args,
  ],
  {
    cwd: PROJECT_ROOT,
    stdio: 'inherit',
    env: { ...process.env, ...sandbox.settings, SANDBOX_STATE: JSON.stringify(sandboxState(sandbox)) },
  },
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    jest.kill(signal);
  });
}

const exitCode = await new Promise<number>((resolve) => {
  jest.on('error', (error) => {
    console.error(`could not start jest: ${error.message}`);
    resolve(1);
  });
  jest.on('exit', (code, signal) => {
    resolve(code ?? (signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 1));
  });
});
await sandbox.close();
process.exit(exitCode);
