/** Local Functions hosts as separate processes: what `npm run dev` and the multi-instance tests run. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface HostProcessOptions {
  port: number;
  /** App settings for the host (the sandbox's, plus NODE_EXTRA_CA_CERTS). */
  env: Readonly<Record<string, string>>;
  /** The module that registers the functions: the bundle (dist/main.js) or the sources (functions/index.ts). */
  entry: string;
  /** Copy the host's output to this process's, prefixed with its port. */
  echo?: boolean;
  /** Receives every line the host writes (request logs), e.g. for tests to inspect. */
  onLine?: (line: string) => void;
  startTimeoutMs?: number;
}

export interface HostProcess {
  url: string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
  /** Ends the host at once with SIGKILL, as a platform kills an instance: no cleanup, writes in flight lost. */
  kill(): Promise<void>;
}

export function startHostProcess(options: HostProcessOptions): Promise<HostProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'dev/cli/serve.ts', '--port', String(options.port), '--entry', options.entry],
    { cwd: root, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const output: string[] = [];
  // With port 0 the system picks it: the echo prefix names the real one once the host says it.
  let label = String(options.port);

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`local host on port ${options.port} did not start:\n${output.slice(-20).join('\n')}`));
    }, options.startTimeoutMs ?? 30_000);

    const onLine = (line: string): void => {
      output.push(line);
      if (output.length > 200) output.shift();
      options.onLine?.(line);
      const ready = /local host ready at (http:\/\/\S+)\/api/.exec(line);
      if (ready?.[1] !== undefined) label = new URL(ready[1]).port;
      if (options.echo === true) process.stdout.write(`[host :${label}] ${line}\n`);
      if (ready?.[1] !== undefined) {
        clearTimeout(timer);
        resolve({
          url: ready[1],
          exited,
          stop: async () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
            await exited;
          },
          kill: async () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
            await exited;
          },
        });
      }
    };
    lines(child.stdout, onLine);
    lines(child.stderr, onLine);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(
        new Error(`local host on port ${options.port} exited (${code}):\n${output.slice(-20).join('\n')}`),
      );
    });
  });
}

function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const part of parts) onLine(part);
  });
}
