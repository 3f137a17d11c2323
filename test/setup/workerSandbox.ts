// jest `setupFiles`: each jest worker talks to its own sandbox (one of SANDBOX_STATES, by JEST_WORKER_ID), so
// integration files run in parallel without sharing the emulators' counters, faults and keys.
import { parseSandboxState } from '../../dev/sandbox/state.js';

const states = process.env.SANDBOX_STATES;
if (states !== undefined && states !== '') {
  const list = JSON.parse(states) as unknown;
  if (!Array.isArray(list) || list.length === 0)
    throw new Error('SANDBOX_STATES is not a list of sandbox states');
  const index = (Number(process.env.JEST_WORKER_ID ?? '1') - 1) % list.length;
  const state = parseSandboxState(JSON.stringify(list[index]), `SANDBOX_STATES[${index}]`);
  process.env.SANDBOX_STATE = JSON.stringify(state);
  // The app settings of that sandbox, as `npm test` passes the first one's to the whole run.
  Object.assign(process.env, state.settings);
}
