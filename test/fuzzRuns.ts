/**
 * How many cases a property test runs: `full` under `npm test` (and CI), a fraction of it under
 * `npm run test:unit` (jest.unit.config.js sets the global), never fewer than 100.
 */
export function fuzzRuns(full: number): number {
  const fraction = (globalThis as { fuzzRunsFraction?: unknown }).fuzzRunsFraction;
  return typeof fraction === 'number' && fraction > 0 && fraction < 1
    ? Math.max(100, Math.round(full * fraction))
    : full;
}
