// `npm test` (after `tsc --noEmit`): jest in parallel workers, each against its own sandbox started for the run
// (test/setup/workerSandbox.ts picks it), then stopped. `-i`/`--runInBand` or `-w N`/`--maxWorkers=N` choose.
// The tests' local hosts run the bundle, built once here (as Azure runs it, and each starts in a fraction of
// the time a host compiling the sources takes).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';

import { PROJECT_ROOT } from './sandbox.js';
import { runWithSandbox } from './withSandbox.js';

/** Integration files mostly wait on I/O (emulators, host processes): more workers than cores pay off. */
const DEFAULT_WORKERS = Math.max(3, availableParallelism());

const args = process.argv.slice(2);
const workers = workersOf(args);

const bundleDir = mkdtempSync(join(tmpdir(), 'obo-test-bundle-'));
const build = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/build.ts', '--outdir', bundleDir], {
  cwd: PROJECT_ROOT,
  stdio: 'inherit',
});
if (build.status !== 0) process.exit(1);
// Outside the project, nothing says the bundle is an ES module.
writeFileSync(join(bundleDir, 'package.json'), '{ "type": "module" }\n');
process.env.TEST_HOST_ENTRY = join(bundleDir, 'main.js');

const exitCode = await runWithSandbox(
  [
    '--experimental-vm-modules',
    '--disable-warning=ExperimentalWarning',
    join(PROJECT_ROOT, 'node_modules', 'jest', 'bin', 'jest.js'),
    ...(workers.chosen ? [] : [`--maxWorkers=${workers.count}`]),
    ...args,
  ],
  { sandboxes: workers.count },
);
rmSync(bundleDir, { recursive: true, force: true });
process.exit(exitCode);

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
