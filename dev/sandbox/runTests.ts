// `npm test`: the type check, the bundle build and one sandbox per jest worker start together; then jest runs in
// parallel workers, each against its own sandbox (test/setup/workerSandbox.ts picks it). The run fails if the
// type check or any test fails. `-i`/`--runInBand` or `-w N`/`--maxWorkers=N` choose the workers.
// The tests' local hosts run the bundle built here (as Azure runs it; each starts in a fraction of the time a
// host compiling the sources takes).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';

import { locateBrowser } from '../spa/findBrowser.js';
import { PROJECT_ROOT } from './sandbox.js';
import { runWithSandbox } from './withSandbox.js';

/** Integration files mostly wait on I/O (emulators, host processes): more workers than cores pay off. */
const DEFAULT_WORKERS = Math.max(3, availableParallelism());

const args = process.argv.slice(2);
const workers = workersOf(args);

/** A child process's exit code and what it printed (kept, so that it is shown once, after the tests). */
function run(command: string, commandArgs: readonly string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, commandArgs, { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (error) => resolve({ code: 1, output: `${command}: ${error.message}` }));
    child.on('exit', (code) => resolve({ code: code ?? 1, output }));
  });
}

const tsc = join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
// Incremental: a run after a small change checks what the change can affect (the state is in node_modules/.cache).
const typecheckOf = (project: string, name: string) =>
  run(process.execPath, [
    tsc,
    '--noEmit',
    '-p',
    project,
    '--incremental',
    '--tsBuildInfoFile',
    join(PROJECT_ROOT, 'node_modules', '.cache', 'tsc', `${name}.tsbuildinfo`),
  ]);
const typecheck = Promise.all([typecheckOf('.', 'project'), typecheckOf('dev/spa/browser', 'spa')]);

const bundleDir = mkdtempSync(join(tmpdir(), 'obo-test-bundle-'));
const bundle = run(process.execPath, ['--import', 'tsx', 'scripts/build.ts', '--outdir', bundleDir]).then(
  ({ code, output }) => {
    if (code !== 0) throw new Error(`the bundle did not build:\n${output}`);
    process.stdout.write(output);
    // Outside the project, nothing says the bundle is an ES module.
    writeFileSync(join(bundleDir, 'package.json'), '{ "type": "module" }\n');
    return { TEST_HOST_ENTRY: join(bundleDir, 'main.js') };
  },
);

// Looked for once per run: every worker drives the same browser, and the skip notice is printed once.
const browser = locateBrowser().then((found) => ({ BROWSER_FOR_TESTS: JSON.stringify(found) }));

let exitCode: number;
try {
  exitCode = await runWithSandbox(
    [
      '--experimental-vm-modules',
      '--disable-warning=ExperimentalWarning',
      join(PROJECT_ROOT, 'node_modules', 'jest', 'bin', 'jest.js'),
      ...(workers.chosen ? [] : [`--maxWorkers=${workers.count}`]),
      ...args,
    ],
    {
      sandboxes: workers.count,
      alongside: Promise.all([bundle, browser]).then(([built, found]) => ({ ...built, ...found })),
    },
  );
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  exitCode = 1;
} finally {
  rmSync(bundleDir, { recursive: true, force: true });
}

const typeErrors = (await typecheck).filter((result) => result.code !== 0);
for (const { output } of typeErrors) process.stderr.write(output);
if (typeErrors.length > 0) console.error('npm test: the type check failed (tsc --noEmit, above)');
process.exit(exitCode !== 0 ? exitCode : typeErrors.length > 0 ? 1 : 0);

function workersOf(argv: readonly string[]): { chosen: boolean; count: number } {
  for (const [index, arg] of argv.entries()) {
    if (arg === '-i' || arg === '--runInBand') return { chosen: true, count: 1 };
    const inline = /^(?:-w|--maxWorkers)=(\d+)$/.exec(arg);
    const separate = arg === '-w' || arg === '--maxWorkers' ? /^(\d+)$/.exec(argv[index + 1] ?? '') : null;
    const value = inline?.[1] ?? separate?.[1];
    if (value !== undefined) return { chosen: true, count: Math.max(1, Number(value)) };
  }
  return { chosen: false, count: DEFAULT_WORKERS };
}
