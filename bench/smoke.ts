// `npm run bench:smoke`: every benchmark once, with the smallest parameters that still run all of its code, so a
// benchmark that broke is noticed (CI runs this); the figures it prints mean nothing. The bundles it measures
// are built into .bench/dist (bench/bundle.ts), never dist/.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

const RUNS: { name: string; args: string[] }[] = [
  { name: 'micro-benchmarks (npm run bench)', args: ['bench/run.ts', '--smoke'] },
  {
    name: 'load (npm run bench -- --load)',
    args: [
      'bench/run.ts',
      '--load',
      '--hosts',
      '1',
      '--users',
      '2',
      '--clients',
      '1',
      '--calls',
      '5',
      '--concurrency',
      '2',
      '--graph-latency-ms',
      '0',
      '--entra-latency-ms',
      '0',
      '--cosmos-latency-ms',
      '0',
      '--smoke',
    ],
  },
  {
    name: 'memory (npm run bench -- --memory)',
    args: ['bench/run.ts', '--memory', '--smoke', '--callers', '20', '--concurrency', '2'],
  },
  {
    name: 'scale-out simulation (npm run bench -- --simulate)',
    args: ['bench/run.ts', '--simulate', '--sample-users', '200', '--instances', '1,10'],
  },
  { name: 'L1 revalidation (npm run bench:revalidation)', args: ['bench/revalidation.ts', '--smoke'] },
  {
    // 30 s, two hosts, tokens of seconds (Graph's renewed 5 s after issue), every event of the schedule compressed.
    name: 'soak (npm run bench -- --soak)',
    args: [
      'bench/run.ts',
      '--soak',
      ...['--minutes', '0.5', '--hosts', '2', '--users', '3', '--clients', '2', '--think-ms', '500'],
      ...['--session-rate', '0.3', '--session-seconds', '8', '--revoke-users', '1'],
      ...['--caller-lifetime', '8', '--renew-before', '2', '--graph-lifetime', '305'],
      ...['--jwks-cooldown', '2', '--restart-gap', '1'],
      ...['--at-entra-key-publish', '1', '--at-entra-key-use', '6', '--at-entra-key-retire', '19'],
      ...['--at-ring-add', '2', '--at-ring-promote', '11', '--at-ring-retire', '21', '--at-kill', '13'],
      ...['--at-cosmos-outage', '15', '--cosmos-outage-seconds', '3'],
      ...['--at-graph-outage', '18', '--graph-outage-seconds', '2', '--at-revoke', '23'],
    ],
  },
];

const failed: string[] = [];
for (const run of RUNS) {
  const started = performance.now();
  console.log(`\n== bench smoke: ${run.name}`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', ...run.args], {
    cwd: root,
    stdio: 'inherit',
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  const ok = result.status === 0;
  console.log(
    `== ${run.name}: ${ok ? 'ran' : `FAILED (exit ${result.status ?? result.signal})`} in ${seconds} s`,
  );
  if (!ok) failed.push(run.name);
}
if (failed.length > 0) {
  console.error(`\nbench smoke: ${failed.length} failed: ${failed.join('; ')}`);
  process.exit(1);
}
