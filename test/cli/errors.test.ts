// Every CLI answers a bad command line with one line naming the argument, then its usage, and exit code 2; a
// port in use or a missing tool is one line and exit code 1. Never a stack trace.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { linesOf, runCli } from './run.js';

// Spawning tsx several times on a loaded machine.
const SLOW = 120_000;

let emptyDir: string;
let held: Server;
let heldPort: number;

beforeAll(async () => {
  emptyDir = await mkdtemp(join(tmpdir(), 'cli-errors-'));
  held = createServer();
  heldPort = await new Promise<number>((resolve) => {
    held.listen(0, '127.0.0.1', () => {
      const address = held.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
});
afterAll(async () => {
  await new Promise((resolve) => held.close(resolve));
  await rm(emptyDir, { recursive: true, force: true });
});

function expectUsageError(result: { code: number | null; stderr: string }, argument: string): void {
  const lines = linesOf(result.stderr);
  expect(result.code).toBe(2);
  expect(lines).toHaveLength(2);
  expect(lines[0]).toContain(argument);
  expect(lines[1]).toMatch(/^usage: npm /);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

describe('bad command lines', () => {
  test.concurrent.each([
    ['dev/cli/dev.ts', ['--prot', '7500'], '--prot'],
    ['dev/cli/dev.ts', ['--instances', '2', '--', '--port', '7530'], '--'],
    ['dev/cli/dev.ts', ['--port', '99999'], '99999'],
    ['dev/cli/dev.ts', ['--instances', '0'], '--instances'],
    ['dev/cli/dev.ts', ['--cosmos-port', 'x'], '--cosmos-port'],
    ['dev/cli/token.ts', ['--prot'], '--prot'],
    ['dev/cli/token.ts', ['--lifetime', 'soon'], '--lifetime'],
    ['dev/cli/token.ts', ['--user'], '--user'],
    ['dev/cli/token.ts', ['--set', 'novalue'], 'novalue'],
    ['dev/cli/serve.ts', ['--prot'], '--prot'],
    ['dev/cli/serve.ts', ['--quiet=yes'], '--quiet'],
    ['dev/cli/serve.ts', ['extra'], 'extra'],
  ])(
    '%s %j is one line and the usage',
    async (script, args, argument) => {
      expectUsageError(await runCli(script, args, { SANDBOX_DIR: emptyDir }), argument);
    },
    SLOW,
  );

  test(
    'a negative number is a value: --lifetime -10 is parsed, and only the missing sandbox stops it',
    async () => {
      const result = await runCli('dev/cli/token.ts', ['--lifetime', '-10'], { SANDBOX_DIR: emptyDir });
      expect(result.code).toBe(1);
      expect(linesOf(result.stderr)).toHaveLength(1);
      expect(result.stderr).toContain(emptyDir);
    },
    SLOW,
  );
});

describe('ports in use', () => {
  test(
    'npm run dev on a port in use says so in one line, before building anything',
    async () => {
      const result = await runCli('dev/cli/dev.ts', ['--port', String(heldPort)], { SANDBOX_DIR: emptyDir });
      expect(result.code).toBe(1);
      expect(linesOf(result.stderr)).toHaveLength(1);
      expect(result.stderr).toContain(String(heldPort));
      expect(result.stderr).toContain('--port');
      expect(result.stdout).toBe('');
    },
    SLOW,
  );

  test(
    'an emulator port in use names its option',
    async () => {
      const result = await runCli('dev/cli/dev.ts', ['--port', '0', '--entra-port', String(heldPort)], {
        SANDBOX_DIR: emptyDir,
      });
      expect(result.code).toBe(1);
      expect(linesOf(result.stderr)).toHaveLength(1);
      expect(result.stderr).toContain('--entra-port');
    },
    SLOW,
  );
});

describe('npm start without Core Tools', () => {
  test(
    'without func on PATH: one line, exit 1; with one: exit 0',
    async () => {
      const missing = await runCli('dev/cli/checkFunc.ts', [], { PATH: emptyDir });
      expect(missing.code).toBe(1);
      expect(linesOf(missing.stderr)).toHaveLength(1);
      expect(missing.stderr).toContain('npm run dev');

      const bin = await mkdtemp(join(tmpdir(), 'cli-func-'));
      try {
        const func = join(bin, process.platform === 'win32' ? 'func.cmd' : 'func');
        await writeFile(func, '');
        await chmod(func, 0o755);
        const present = await runCli('dev/cli/checkFunc.ts', [], { PATH: `${bin}${delimiter}${emptyDir}` });
        expect(present.code).toBe(0);
      } finally {
        await rm(bin, { recursive: true, force: true });
      }
    },
    SLOW,
  );
});
