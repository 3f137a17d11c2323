// `npm run bench`: the benchmarks in bench/measure.ts, against a sandbox started for the run.
// `-- --load [options]`: figures under load (bench/load.ts); `-- --memory`: bench/memory.ts;
// `-- --simulate`: the scale-out simulation (bench/simulate.ts, no sandbox); `-- --soak`: bench/soak.ts.
import { runWithSandbox } from '../dev/sandbox/withSandbox.js';

const args = process.argv.slice(2);
if (args.includes('--simulate')) {
  // The scale-out simulation needs no sandbox.
  await import('./simulate.js');
  process.exit(0);
}
const script = args.includes('--load')
  ? 'bench/load.ts'
  : args.includes('--memory')
    ? 'bench/memory.ts'
    : args.includes('--soak')
      ? 'bench/soak.ts'
      : 'bench/measure.ts';
process.exit(await runWithSandbox(['--import', 'tsx', script, ...args]));
