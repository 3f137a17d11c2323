// The bundle the benchmarks measure, built into .bench/dist: apart from dist/, which `npm run build`, the bundle
// and package tests also write, so a benchmark never measures (or removes) a bundle another command is using.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export const BENCH_BUNDLE_DIR = join(root, '.bench', 'dist');
export const BENCH_BUNDLE = join(BENCH_BUNDLE_DIR, 'main.js');

/** Builds the bundle into BENCH_BUNDLE_DIR; exits when the build fails (esbuild has said why). */
export function buildBenchBundle(): void {
  const build = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'scripts/build.ts', '--outdir', BENCH_BUNDLE_DIR],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  if (build.status !== 0) process.exit(1);
}
