// `npm test` (after `tsc --noEmit`): jest against a sandbox started for the run, then stopped.
import { join } from 'node:path';

import { PROJECT_ROOT } from './sandbox.js';
import { runWithSandbox } from './withSandbox.js';

const args = process.argv.slice(2);
// The emulators' counters and faults are shared: test files must not run at the same time.
const chosenWorkers = args.some((arg) => /^(-i|--runInBand|-w|--maxWorkers)(=|$)/.test(arg));

process.exit(
  await runWithSandbox([
    '--experimental-vm-modules',
    '--disable-warning=ExperimentalWarning',
    join(PROJECT_ROOT, 'node_modules', 'jest', 'bin', 'jest.js'),
    ...(chosenWorkers ? [] : ['--runInBand']),
    ...args,
  ]),
);
