// Runs a command in a child process against a sandbox started here on ephemeral ports: the child
// gets the app settings, SANDBOX_STATE and NODE_EXTRA_CA_CERTS (which Node reads only at start).
import { spawn } from 'node:child_process';

import { PROJECT_ROOT, sandboxState, startSandbox } from './sandbox.js';

export async function runWithSandbox(args: readonly string[]): Promise<number> {
  const sandbox = await startSandbox({ ports: { entra: 0, graph: 0, cosmos: 0 } });
  const child = spawn(process.execPath, args, {
    cwd: PROJECT_ROOT,
    stdio: 'inherit',
    env: { ...process.env, ...sandbox.settings, SANDBOX_STATE: JSON.stringify(sandboxState(sandbox)) },
  });
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);

  const exitCode = await new Promise<number>((resolve) => {
    child.on('error', (error) => {
      console.error(`could not start ${args.join(' ')}: ${error.message}`);
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      resolve(code ?? (signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 1));
    });
  });
  process.off('SIGINT', forward);
  process.off('SIGTERM', forward);
  await sandbox.close();
  return exitCode;
}
