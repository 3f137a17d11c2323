// Ctrl-C in a terminal sends SIGINT to the whole foreground process group at once: npm, `npm run dev` and its
// local hosts all get it, the hosts die while the sandbox cleans up, and npm forwards the signal again. Each time,
// the sandbox's state file must be gone once its process is.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { afterAll, beforeAll, expect, test } from '@jest/globals';

import { ensureLocalCa } from '../../dev/sandbox/localCa.js';
import { parseSandboxState } from '../../dev/sandbox/state.js';
import { PROJECT_ROOT } from './run.js';

const TRIES = 5;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ctrl-c-'));
  await ensureLocalCa(dir);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `npm run dev` as a user starts it from a terminal: its own process group, resolved at its ready line. */
async function startDevGroup(): Promise<{ pid: number; exited: Promise<void> }> {
  const child = spawn(
    'npm',
    [
      'run',
      '-s',
      'dev',
      '--',
      '--port',
      '0',
      '--spa-port',
      '0',
      '--entry',
      process.env.TEST_HOST_ENTRY ?? 'functions/index.ts',
    ],
    {
      cwd: PROJECT_ROOT,
      env: { ...process.env, SANDBOX_DIR: dir },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      if (/API ready on/.test(output)) resolve();
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    void exited.then(() => reject(new Error(`npm run dev exited before it was ready:\n${output}`)));
  });
  if (child.pid === undefined) throw new Error('npm run dev has no process id');
  return { pid: child.pid, exited };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test(
  `Ctrl-C (SIGINT to the process group) removes the state file, ${TRIES} times out of ${TRIES}`,
  async () => {
    const left: string[] = [];
    for (let attempt = 0; attempt < TRIES; attempt += 1) {
      const group = await startDevGroup();
      const [name] = (await readdir(dir)).filter((file) => /^state-\d+\.json$/.test(file));
      if (name === undefined) throw new Error('npm run dev wrote no state file');
      const { pid } = parseSandboxState(await readFile(join(dir, name), 'utf8'), name);
      if (pid === undefined) throw new Error('the state file names no process');

      process.kill(-group.pid, 'SIGINT');
      await group.exited;
      // npm may be gone before the sandbox it ran has finished: wait for that process itself.
      while (isAlive(pid)) await sleep(50);
      left.push(...(await readdir(dir)).filter((file) => file.startsWith('state-')));
      await Promise.all(left.map((file) => rm(join(dir, file), { force: true })));
    }
    expect(left).toEqual([]);
  },
  TRIES * 120_000,
);
