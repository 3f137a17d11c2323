// Jest runs the TypeScript sources as native ES modules (jose 6 is ESM-only); swc strips types,
// `tsc --noEmit` (run first by `npm test`) does the type checking.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'es6' } },
    ],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // Under `npm test`, each worker's own sandbox (SANDBOX_STATES); a no-op for `npm run test:unit`.
  setupFiles: ['<rootDir>/test/setup/workerSandbox.ts'],
  // One line when the browser tests were skipped because no browser was found.
  reporters: ['default', '<rootDir>/test/setup/browserNotice.cjs'],
  testTimeout: 30000,
};
