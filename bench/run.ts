// `npm run bench`: the benchmarks in bench/measure.ts, against a sandbox started for the run. It takes no
// arguments: anything given is refused in one line rather than silently ignored.
import { runWithSandbox } from '../dev/sandbox/withSandbox.js';

const [unexpected] = process.argv.slice(2);
if (unexpected !== undefined) {
  process.stderr.write(`bench: unexpected argument "${unexpected}"\nusage: npm run bench\n`);
  process.exit(2);
}
process.exit(await runWithSandbox(['--import', 'tsx', 'bench/measure.ts']));
