/**
 * Benchmarks, each reported as a ratio against a baseline measured in the same run on the same
 * machine (never as an absolute target). Run with `npm run bench` (it starts the sandbox).
 *
 * 1. Cache-hit CPU cost: our warm (L1) path vs msal-node's own cache hit on one shared client, the
 *    median of several rounds measured side by side.
 * 2. Entra token requests: per-assertion entries vs one MSAL cache per account, two alternating clients.
 * 3. Requests per call by cache outcome: Entra and Cosmos DB requests counted at the emulators.
 * 4. Cold start: importing the bundle vs importing the same dependencies from node_modules.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { ConfidentialClientApplication } from '@azure/msal-node';

import {
  callerAccount as caller,
  counters,
  resetEmulators,
  sandbox,
  userToken,
} from '../dev/sandbox/client.js';
import { loadConfig } from '../shared/config.js';
import { DOWNSTREAM_OPERATIONS, scopesFor } from '../shared/downstream/operations.js';
import { createServices } from '../shared/runtime.js';
import { BENCH_BUNDLE, buildBenchBundle } from './bundle.js';

// `--smoke` (bench/smoke.ts): every measurement once, with a handful of calls; its figures mean nothing.
const { values: args } = parseArgs({ options: { smoke: { type: 'boolean', default: false } } });
const HIT_ROUNDS = args.smoke ? 1 : 7;
const HIT_ITERATIONS = args.smoke ? 10 : 1000;
const WARM_UP_CALLS = args.smoke ? 10 : 200;
const COLD_STARTS = args.smoke ? 1 : 7;

const root = fileURLToPath(new URL('..', import.meta.url));
const state = sandbox();
const config = loadConfig(state.settings);
const scopes = scopesFor(DOWNSTREAM_OPERATIONS.myProfile, config.graph.resourceUri.origin);
const results: { name: string; baseline: string; measured: string; ratio: string }[] = [];

function report(name: string, baseline: string, measured: string, ratio: number): void {
  results.push({ name, baseline, measured, ratio: `${ratio.toFixed(2)}x` });
}

/** Mean microseconds per call over `iterations`, after a warm-up. */
async function timePerCall(iterations: number, call: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < WARM_UP_CALLS; i++) await call();
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await call();
  const perCall = Number(process.hrtime.bigint() - started) / 1000 / iterations;
  // A warm hit never leaves the microtask queue: let pending I/O (sockets the emulators closed) run.
  await new Promise((resolve) => setTimeout(resolve, 20));
  return perCall;
}

async function msalClient(): Promise<ConfidentialClientApplication> {
  const metadata = await (
    await fetch(`${state.entraUrl}/${state.tenantId}/v2.0/.well-known/openid-configuration`)
  ).text();
  const host = new URL(state.entraUrl).host;
  return new ConfidentialClientApplication({
    auth: {
      clientId: state.api.clientId,
      clientSecret: state.api.clientSecret,
      authority: `${state.entraUrl}/${state.tenantId}`,
      knownAuthorities: [host],
      authorityMetadata: metadata,
      cloudDiscoveryMetadata: JSON.stringify({
        tenant_discovery_endpoint: `${state.entraUrl}/${state.tenantId}/v2.0/.well-known/openid-configuration`,
        'api-version': '1.1',
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
      }),
    },
  });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2;
}

async function cacheHitCost(): Promise<void> {
  const user = await caller('bench-hit');
  const shared = await msalClient();
  await shared.acquireTokenOnBehalfOf({ oboAssertion: user.assertion, scopes });
  const services = await createServices(config);
  await services.tokens.acquire(user, scopes);
  const iterations = HIT_ITERATIONS;
  const baselines: number[] = [];
  const ours: number[] = [];
  const ratios: number[] = [];
  // Side by side: each round measures both, so drift in the machine's load hits both alike.
  for (let round = 0; round < HIT_ROUNDS; round++) {
    const baseline = await timePerCall(iterations, () =>
      shared.acquireTokenOnBehalfOf({ oboAssertion: user.assertion, scopes }),
    );
    const warm = await timePerCall(iterations, () => services.tokens.acquire(user, scopes));
    baselines.push(baseline);
    ours.push(warm);
    ratios.push(warm / baseline);
  }
  report(
    `cache hit: warm L1 path vs one shared msal client (median of ${HIT_ROUNDS} rounds)`,
    `${median(baselines).toFixed(1)} us/call`,
    `${median(ours).toFixed(1)} us/call`,
    median(ratios),
  );
}

async function alternatingClients(): Promise<void> {
  const calls = 20;
  const first = await caller('bench-two-clients');
  const second = { ...first, assertion: (await userToken('bench-two-clients')).accessToken };

  // Baseline: one MSAL cache per account (what a plain cache plugin keyed by account gives).
  await resetEmulators();
  let accountBlob: string | undefined;
  for (let i = 0; i < calls; i++) {
    const client = await msalClient();
    if (accountBlob !== undefined) client.getTokenCache().deserialize(accountBlob);
    await client.acquireTokenOnBehalfOf({ oboAssertion: (i % 2 === 0 ? first : second).assertion, scopes });
    accountBlob = client.getTokenCache().serialize();
  }
  const naive = (await counters('entra'))['token.obo'] ?? 0;

  await resetEmulators();
  const services = await createServices(config);
  for (let i = 0; i < calls; i++) await services.tokens.acquire(i % 2 === 0 ? first : second, scopes);
  const ours = (await counters('entra'))['token.obo'] ?? 0;
  report(
    `Entra token requests, ${calls} calls from two alternating clients of one user`,
    `${naive} (one cache per account)`,
    `${ours} (one entry per assertion)`,
    ours / naive,
  );
}

async function requestsPerOutcome(): Promise<void> {
  const [a, b] = [await createServices(config), await createServices(config)];
  const user = await caller('bench-outcomes');
  const measure = async (run: () => Promise<unknown>): Promise<string> => {
    await resetEmulators();
    await run();
    const [entra, cosmos] = [await counters('entra'), await counters('cosmos')];
    const writes = (cosmos.create ?? 0) + (cosmos.replace ?? 0);
    return `entra ${entra['token.obo'] ?? 0}, cosmos reads ${cosmos.read ?? 0}, writes ${writes}`;
  };
  const miss = await measure(() => a.tokens.acquire(user, scopes));
  const warm = await measure(() => a.tokens.acquire(user, scopes));
  const otherInstance = await measure(() => b.tokens.acquire(user, scopes));
  results.push({
    name: 'requests per call: miss / warm hit / hit on another instance',
    baseline: miss,
    measured: `${warm} / ${otherInstance}`,
    ratio: '-',
  });
}

function coldStart(): void {
  const runs = COLD_STARTS;
  const importTime = (code: string): number => {
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) {
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
        cwd: root,
        encoding: 'utf8',
      });
      // The last line: the app logs its configuration line at start when the sandbox's settings are set.
      samples.push(Number(child.stdout.trim().split('\n').at(-1)));
    }
    samples.sort((x, y) => x - y);
    return samples[Math.floor(runs / 2)] ?? Number.NaN;
  };
  const timed = (imports: string): string =>
    `const t = performance.now(); ${imports}; console.log(performance.now() - t);`;
  const unbundled = importTime(
    timed(
      "await Promise.all(['@azure/functions', '@azure/msal-node', '@azure/cosmos', 'jose', 'lru-cache'].map((m) => import(m)))",
    ),
  );
  const bundled = importTime(timed(`await import(${JSON.stringify(pathToFileURL(BENCH_BUNDLE).href)})`));
  report(
    'cold start: import of dist/main.js (whole app) vs its dependencies from node_modules',
    `${unbundled.toFixed(0)} ms`,
    `${bundled.toFixed(0)} ms`,
    bundled / unbundled,
  );
}

buildBenchBundle();
await cacheHitCost();
await alternatingClients();
await requestsPerOutcome();
coldStart();
console.table(results);
