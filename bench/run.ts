// `npm run bench`: the benchmarks in bench/measure.ts, against a sandbox started for the run.
// `npm run bench -- --load [options]`: figures under load (bench/load.ts); `-- --memory`: bench/memory.ts.
import { runWithSandbox } from '../dev/withSandbox.js';

const args = process.argv.slice(2);
const script = args.includes('--load')
  ? 'bench/load.ts'
  : args.includes('--memory')
    ? 'bench/memory.ts'
    : 'bench/measure.ts';
process.exit(await runWithSandbox(['--import', 'tsx', script, ...args]));
