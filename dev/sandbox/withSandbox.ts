// Runs a command in a child process against sandboxes started here on ephemeral ports: the child gets the
// first one's app settings and SANDBOX_STATE, all of them in SANDBOX_STATES (one per jest worker), and
// NODE_EXTRA_CA_CERTS (which Node reads only at start; the sandboxes share the CA).
import { spawn } from 'node:child_process';

import { PROJECT_ROOT, type Sandbox, sandboxState, startSandbox } from './sandbox.js';

export async function runWithSandbox(
  args: readonly string[],
  options: {
    sandboxes?: number;
    /** Work done while the sandboxes start; what it resolves to is added to the child's environment. */
    alongside?: Promise<Record<string, string>>;
  } = {},
): Promise<number> {
  const count = Math.max(1, options.sandboxes ?? 1);
  const start = (): Promise<Sandbox> => startSandbox({ ports: { entra: 0, graph: 0, cosmos: 0 } });
  // The first creates the shared CA and token cache keys; the others reuse them.
  const first = await start();
  const started = await Promise.allSettled(Array.from({ length: count - 1 }, start));
  const sandboxes = [
    first,
    ...started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : [])),
  ];
  const failed = started.find((result) => result.status === 'rejected');
  if (failed !== undefined) {
    await Promise.allSettled(sandboxes.map((sandbox) => sandbox.close()));
    throw failed.reason;
  }
  let extraEnv: Record<string, string>;
  try {
    extraEnv = (await options.alongside) ?? {};
  } catch (error) {
    await Promise.allSettled(sandboxes.map((sandbox) => sandbox.close()));
    throw error;
  }
  const child = spawn(process.execPath, args, {
    cwd: PROJECT_ROOT,
    stdio: 'inherit',
    env: {
      ...process.env,
      ...extraEnv,
      ...first.settings,
      SANDBOX_STATE: JSON.stringify(sandboxState(first)),
      SANDBOX_STATES: JSON.stringify(sandboxes.map((sandbox) => sandboxState(sandbox))),
    },
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
  await Promise.allSettled(sandboxes.map((sandbox) => sandbox.close()));
  return exitCode;
}
