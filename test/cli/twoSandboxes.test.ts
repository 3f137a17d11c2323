// Two `npm run dev` sandboxes side by side, every port chosen by the system: each writes its own state file,
// `npm run -s token` asks which one when two run and finds each by its API port, and each API accepts only
// its own sandbox's tokens. Ctrl-C (SIGINT) removes the state files.
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, expect, test } from '@jest/globals';

import { ensureLocalCa } from '../../dev/sandbox/localCa.js';
import { parseSandboxState } from '../../dev/sandbox/state.js';
import { linesOf, runCli, startCli } from './run.js';

const SLOW = 240_000;

interface Running {
  child: ChildProcess;
  apiUrl: string;
  exited: Promise<number | null>;
}

let dir: string;
let sandboxes: Running[] = [];

/** `npm run dev` on free ports serving `npm test`'s bundle or the sources (no build), resolved at its ready line. */
function startDev(): Promise<Running> {
  const child = startCli(
    'dev/cli/dev.ts',
    ['--port', '0', '--spa-port', '0', '--entry', process.env.TEST_HOST_ENTRY ?? 'functions/index.ts'],
    {
      SANDBOX_DIR: dir,
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let output = '';
  return new Promise((resolve, reject) => {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const ready = /API ready on (http:\/\/\S+\/api)/.exec(output);
      if (ready?.[1] !== undefined) resolve({ child, apiUrl: ready[1], exited });
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    void exited.then((code) => reject(new Error(`npm run dev exited (${code}):\n${output}`)));
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'two-sandboxes-'));
  // The sandboxes of one directory share its CA: made once here, as it is after the first `npm run dev`.
  await ensureLocalCa(dir);
  const started = await Promise.allSettled([startDev(), startDev()]);
  sandboxes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failed = started.find((result) => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}, SLOW);

afterAll(async () => {
  for (const { child } of sandboxes) child.kill('SIGINT');
  await Promise.all(sandboxes.map(({ exited }) => exited));
  await rm(dir, { recursive: true, force: true });
}, SLOW);

test(
  'each sandbox has its own ports and state file; the token CLI serves each by API port',
  async () => {
    const [first, second] = sandboxes;
    if (first === undefined || second === undefined) throw new Error('two sandboxes did not start');
    const states = await Promise.all(
      (await readdir(dir))
        .filter((name) => /^state-\d+\.json$/.test(name))
        .map(async (name) => parseSandboxState(await readFile(join(dir, name), 'utf8'), name)),
    );
    expect(states).toHaveLength(2);
    const [a, b] = states;
    expect(a?.entraUrl).not.toBe(b?.entraUrl);
    expect(a?.cosmos.endpoint).not.toBe(b?.cosmos.endpoint);
    expect(states.flatMap((state) => state.apiUrls ?? []).sort()).toEqual(
      [first.apiUrl, second.apiUrl].sort(),
    );

    // Two running, none named: one line asking which.
    const ambiguous = await runCli('dev/cli/token.ts', [], { SANDBOX_DIR: dir });
    expect(ambiguous.code).toBe(2);
    expect(linesOf(ambiguous.stderr)).toHaveLength(1);
    expect(ambiguous.stderr).toContain('--port');

    const portOf = (url: string): string => new URL(url).port;
    const [tokenA, tokenB] = await Promise.all(
      [first, second].map((sandbox) =>
        runCli('dev/cli/token.ts', ['--port', portOf(sandbox.apiUrl)], { SANDBOX_DIR: dir }),
      ),
    );
    expect(tokenA?.code).toBe(0);
    expect(tokenB?.code).toBe(0);
    const me = (apiUrl: string, token: string | undefined): Promise<Response> =>
      fetch(`${apiUrl}/me`, { headers: { Authorization: `Bearer ${(token ?? '').trim()}` } });

    expect((await me(first.apiUrl, tokenA?.stdout)).status).toBe(200);
    expect((await me(second.apiUrl, tokenB?.stdout)).status).toBe(200);
    // Separate emulators, separate signing keys: a token of one sandbox is foreign to the other.
    expect((await me(second.apiUrl, tokenA?.stdout)).status).toBe(401);
  },
  SLOW,
);

test(
  'Ctrl-C stops a sandbox and removes its state file; with one left, the token CLI needs no --port',
  async () => {
    const [first] = sandboxes;
    if (first === undefined) throw new Error('no sandbox started');
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    const left = (await readdir(dir)).filter((name) => name.startsWith('state-'));
    expect(left).toHaveLength(1);
    expect(left).not.toContain(`state-${new URL(first.apiUrl).port}.json`);

    // One left: the token CLI needs no --port.
    const only = await runCli('dev/cli/token.ts', [], { SANDBOX_DIR: dir });
    expect(only.code).toBe(0);
    expect(linesOf(only.stdout)).toHaveLength(1);
  },
  SLOW,
);
