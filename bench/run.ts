// `npm run bench`: the benchmarks in bench/measure.ts, against a sandbox started for the run.
import { runWithSandbox } from '../dev/sandbox/withSandbox.js';

process.exit(await runWithSandbox(['--import', 'tsx', 'bench/measure.ts']));
