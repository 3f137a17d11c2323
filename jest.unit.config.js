// `npm run test:unit`: the suites that need no sandbox, in seconds. Property tests run a tenth of their
// cases here (test/fuzzRuns.ts); `npm test` and CI run all of them.
import base from './jest.config.js';

/** @type {import('jest').Config} */
export default {
  ...base,
  testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
  globals: { fuzzRunsFraction: 0.1 },
};
