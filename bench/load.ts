/**
 * `npm run bench -- --load`: figures under load, every design in the same run on the same machine.
 *
 * K local hosts (real processes, dev/cli/serve.ts, as `npm run dev` starts them) per design over the sandbox
 * that bench/run.ts started; N users x M clients (one SPA token each); C concurrent callers, each calling
 * its own clients in turn (one call in flight per client), routed to a random host (no affinity, as
 * Azure). Designs: this API (GET /api/me), this API with writes (reads and writes on the Tasks API routes),
 * this API with L1 off, and two baselines (bench/baseline.ts). Then, on this API's hosts: cost as clients
 * per user grow, CPU per warm call against its floor, and fault phases.
 * Exits 1 when a call answered 500 or other than expected, a cached token was lost, or a design's Entra,
 * Cosmos DB or downstream counts differ from its expected per-call costs.
 */
import { parseArgs } from 'node:util';

import { CosmosClient } from '@azure/cosmos';
import { ConfidentialClientApplication } from '@azure/msal-node';

import { type HostProcess, startHostProcess } from '../dev/host/hostProcess.js';
import { assignAppRoles, counters, sandbox, setConsent, userToken } from '../dev/sandbox/client.js';
import { API_APP_ROLES } from '../shared/auth/appRoles.js';
import { loadConfig } from '../shared/config.js';
import { DOWNSTREAM_OPERATIONS, scopesFor } from '../shared/downstream/operations.js';
import { BENCH_BUNDLE, buildBenchBundle } from './bundle.js';
import { estimatedReadRu, estimatedWriteRu, percentile } from './costModel.js';
import { mulberry32 } from './seededRandom.js';
import { type ApiRequest, TaskWorkload } from './taskWorkload.js';

const { values: args } = parseArgs({
  options: {
    load: { type: 'boolean', default: false },
    hosts: { type: 'string', default: '3' },
    users: { type: 'string', default: '20' },
    clients: { type: 'string', default: '3' },
    calls: { type: 'string', default: '5' },
    designs: { type: 'string', default: 'api,writes,l1off,distributed,none' },
    concurrency: { type: 'string', default: '16' },
    'graph-latency-ms': { type: 'string', default: '30' },
    'entra-latency-ms': { type: 'string', default: '80' },
    'cosmos-latency-ms': { type: 'string', default: '5' },
    faults: { type: 'boolean', default: true },
    seed: { type: 'string', default: '1' },
    // bench/smoke.ts: fault phases a tenth as long and fewer warm calls profiled; the figures mean nothing.
    smoke: { type: 'boolean', default: false },
  },
  allowNegative: true,
});
/** Fault phases and their faults last this fraction of their nominal time. */
const FAULT_TIME_SCALE = args.smoke === true ? 0.1 : 1;

function whole(name: keyof typeof args, min: number): number {
  const value = Number(args[name]);
  if (!Number.isInteger(value) || value < min) {
    console.error(`--${name} must be a whole number of at least ${min}`);
    process.exit(2);
  }
  return value;
}

const HOSTS = whole('hosts', 1);
const USERS = whole('users', 1);
const CLIENTS = whole('clients', 1);
const CALLS = whole('calls', 1);
const CONCURRENCY = whole('concurrency', 1);
const GRAPH_LATENCY_MS = whole('graph-latency-ms', 0);
const ENTRA_LATENCY_MS = whole('entra-latency-ms', 0);
const COSMOS_LATENCY_MS = whole('cosmos-latency-ms', 0);
const state = sandbox();
const failures: string[] = [];
let random = mulberry32(whole('seed', 0));

// ---------------------------------------------------------------- sandbox and hosts

type Emulator = 'entra' | 'graph' | 'tasks' | 'cosmos';
const emulatorUrls: Record<Emulator, string> = {
  entra: state.entraUrl,
  graph: state.graphUrl,
  tasks: state.tasksApi.url,
  cosmos: state.cosmos.endpoint.replace(/\/$/, ''),
};

async function post(emulator: Emulator, path: string, body: unknown): Promise<void> {
  const response = await fetch(`${emulatorUrls[emulator]}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${emulator} ${path}: HTTP ${response.status} ${await response.text()}`);
}

/** Every request kind of the Tasks API emulator that its routes use (dev/emulators/tasks/server.ts). */
const TASKS_KINDS = ['tasks.list', 'tasks.create', 'tasks.read', 'tasks.update', 'tasks.delete'] as const;

/** `downstreamMs` is the latency of Graph's `/me` and of every Tasks API request alike. */
async function setLatencies(downstreamMs: number): Promise<void> {
  await post('graph', '/_emulator/latency', { kind: 'me', ms: downstreamMs });
  for (const kind of TASKS_KINDS) await post('tasks', '/_emulator/latency', { kind, ms: downstreamMs });
  await post('entra', '/_emulator/latency', { kind: 'token.obo', ms: ENTRA_LATENCY_MS });
  for (const kind of ['read', 'create', 'replace', 'upsert'])
    await post('cosmos', '/_emulator/latency', { kind, ms: COSMOS_LATENCY_MS });
}

interface Costs {
  entra: number;
  cosmosReads: number;
  cosmosWrites: number;
  /** Requests that reached Graph or the Tasks API, by kind (`me`, `tasks.create`, ...). */
  downstream: Record<string, number>;
}

async function emulatorCosts(): Promise<Costs> {
  const [entra, cosmos, graph, tasks] = await Promise.all(
    (['entra', 'cosmos', 'graph', 'tasks'] as const).map((emulator) => counters(emulator)),
  );
  return {
    entra: entra?.['token.obo'] ?? 0,
    cosmosReads: cosmos?.read ?? 0,
    cosmosWrites: (cosmos?.create ?? 0) + (cosmos?.replace ?? 0) + (cosmos?.upsert ?? 0),
    downstream: { ...graph, ...tasks },
  };
}

function minus(after: Costs, before: Costs): Costs {
  const downstream: Record<string, number> = {};
  for (const [kind, n] of Object.entries(after.downstream)) {
    const delta = n - (before.downstream[kind] ?? 0);
    if (delta !== 0) downstream[kind] = delta;
  }
  return {
    entra: after.entra - before.entra,
    cosmosReads: after.cosmosReads - before.cosmosReads,
    cosmosWrites: after.cosmosWrites - before.cosmosWrites,
    downstream,
  };
}

/** Whether the downstream requests counted are exactly `expected`, kind by kind. */
function sameCounts(counted: Record<string, number>, expected: Record<string, number>): boolean {
  const kinds = new Set([...Object.keys(counted), ...Object.keys(expected)]);
  return [...kinds].every((kind) => (counted[kind] ?? 0) === (expected[kind] ?? 0));
}

interface RequestLine {
  status: number;
  cache?: string;
  cosmosReads?: number;
  cosmosWrites?: number;
  cosmosRequestCharge?: number;
  conflictRetries?: number;
  cacheWriteLost?: boolean;
  cosmosDegraded?: boolean;
}

interface BenchHost {
  process: HostProcess;
  url: string;
  lines: RequestLine[];
  warnings: string[];
}

async function startHosts(env: Record<string, string>): Promise<BenchHost[]> {
  return Promise.all(
    Array.from({ length: HOSTS }, async () => {
      const lines: RequestLine[] = [];
      const warnings: string[] = [];
      const process = await startHostProcess({
        port: 0,
        entry: 'bench/loadHost.ts',
        env: { ...state.settings, ...env },
        onLine: (line) => {
          const start = line.indexOf('{"event":"request"');
          if (start >= 0) lines.push(JSON.parse(line.slice(start)) as RequestLine);
          else if (line.includes('[warn]') || line.includes('[error]')) warnings.push(line);
        },
      });
      return { process, url: process.url, lines, warnings };
    }),
  );
}

interface HostStats {
  rss: number;
  heapUsed: number;
  cpuMicros: number;
  handlerCpuMicros: number;
  handlerCalls: number;
}

async function hostStats(host: BenchHost): Promise<HostStats> {
  return (await (await fetch(`${host.url}/api/bench/stats`)).json()) as HostStats;
}

/** Request lines logged since `marks` (the line counts of each host at some earlier moment). */
function linesSince(hosts: BenchHost[], marks: number[]): RequestLine[] {
  return hosts.flatMap((host, i) => host.lines.slice(marks[i] ?? 0));
}

function logged(
  lines: RequestLine[],
): Omit<Costs, 'downstream'> & { charge: number; conflictRetries: number; lost: number } {
  const sum = (pick: (line: RequestLine) => number | undefined): number =>
    lines.reduce((total, line) => total + (pick(line) ?? 0), 0);
  return {
    entra: lines.filter((line) => line.cache === 'miss').length,
    cosmosReads: sum((line) => line.cosmosReads),
    cosmosWrites: sum((line) => line.cosmosWrites),
    charge: sum((line) => line.cosmosRequestCharge),
    conflictRetries: sum((line) => line.conflictRetries),
    lost: lines.filter((line) => line.cacheWriteLost === true).length,
  };
}

// ---------------------------------------------------------------- callers

interface Client {
  user: number;
  token: string;
  accountId: string;
}

async function mintClients(prefix: string, users: number, clientsPerUser: number): Promise<Client[]> {
  const clients: Client[] = [];
  for (let user = 0; user < users; user++) {
    const minted = await Promise.all(
      Array.from({ length: clientsPerUser }, () => userToken(`${prefix}-u${user}`)),
    );
    for (const token of minted)
      clients.push({ user, token: token.accessToken, accountId: `${token.oid}.${token.tid}` });
  }
  return clients;
}

interface Answer {
  status: number;
  ms: number;
  retryAfter: string | null;
  location: string | null;
  /** The JSON body, read only for a request that asks for it (the profile calls only drain theirs). */
  body: unknown;
}

const PROFILE: ApiRequest = { method: 'GET', path: '/api/me' };

async function call(host: BenchHost, client: Client, request: ApiRequest = PROFILE): Promise<Answer> {
  const started = performance.now();
  try {
    const response = await fetch(`${host.url}${request.path}`, {
      method: request.method,
      headers: {
        authorization: `Bearer ${client.token}`,
        ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
    });
    const text = request.readBody === true ? await response.text() : '';
    if (request.readBody !== true) await response.arrayBuffer();
    return {
      status: response.status,
      ms: performance.now() - started,
      retryAfter: response.headers.get('retry-after'),
      location: response.headers.get('location'),
      body: text === '' ? undefined : (JSON.parse(text) as unknown),
    };
  } catch {
    return { status: 0, ms: performance.now() - started, retryAfter: null, location: null, body: undefined };
  }
}

/**
 * Runs `jobs` with `concurrency` workers; worker w takes, in order, the jobs whose lane is w modulo C (by
 * default a job's lane is its index). The same lane for all of a client's calls keeps one call in flight
 * per client, in the order of its jobs.
 */
async function runWorkers<T>(
  jobs: T[],
  concurrency: number,
  run: (job: T) => Promise<void>,
  laneOf: (job: T, index: number) => number = (_, index) => index,
): Promise<number> {
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (const [index, job] of jobs.entries()) {
        if (laneOf(job, index) % concurrency === worker) await run(job);
      }
    }),
  );
  return (performance.now() - started) / 1000;
}

// ---------------------------------------------------------------- designs

interface Design {
  key: string;
  name: string;
  env: Record<string, string>;
  /** What each client calls: GET /api/me, or a cycle of reads and writes on the Tasks API routes. */
  workload: 'profile' | 'tasks';
  /** The Cosmos DB item that holds a client's cache, for its size. */
  itemId?: (client: Client) => string;
}

interface DesignResult {
  name: string;
  calls: number;
  seconds: number;
  latencies: number[];
  statuses: Record<string, number>;
  costs: Costs;
  charge: number;
  conflictRetries: number;
  warmupConflictRetries: number;
  rssMb: number[];
  itemBytes: number;
  expected: string;
}

const allDesigns: Design[] = [
  {
    key: 'api',
    name: 'this API',
    env: { BENCH_TARGET: BENCH_BUNDLE },
    workload: 'profile',
    itemId: (c) => c.accountId,
  },
  {
    key: 'writes',
    name: 'this API, writes',
    env: { BENCH_TARGET: BENCH_BUNDLE },
    workload: 'tasks',
    itemId: (c) => c.accountId,
  },
  {
    key: 'l1off',
    name: 'this API, L1 off',
    env: { BENCH_TARGET: BENCH_BUNDLE, TOKEN_CACHE_L1_MAX_ENTRIES: '0' },
    workload: 'profile',
    itemId: (c) => c.accountId,
  },
  {
    key: 'distributed',
    name: 'msal-node distributed cache',
    env: { BENCH_TARGET: 'bench/baseline.ts', BENCH_BASELINE: 'distributed' },
    workload: 'profile',
    itemId: (c) => `dist.${c.accountId}`,
  },
  {
    key: 'none',
    name: 'no cache',
    env: { BENCH_TARGET: 'bench/baseline.ts', BENCH_BASELINE: 'none' },
    workload: 'profile',
  },
];

const chosen = (args.designs ?? '').split(',');
const unknownDesign = chosen.find((key) => !allDesigns.some((design) => design.key === key));
if (unknownDesign !== undefined) {
  console.error(
    `--designs: no design "${unknownDesign}" (designs: ${allDesigns.map((d) => d.key).join(', ')})`,
  );
  process.exit(2);
}
const designs = allDesigns.filter((design) => chosen.includes(design.key));

const cosmos = new CosmosClient({ endpoint: state.cosmos.endpoint, key: state.cosmos.key })
  .database(state.cosmos.database)
  .container(state.cosmos.container);

async function itemBytes(id: string): Promise<number> {
  const { resource } = await cosmos.item(id, id).read<Record<string, unknown>>();
  return resource === undefined ? 0 : Buffer.byteLength(JSON.stringify(resource));
}

async function runDesign(design: Design, hosts: BenchHost[]): Promise<DesignResult> {
  random = mulberry32(whole('seed', 0));
  const pick = (): number => Math.floor(random() * hosts.length);
  const tasks = design.workload === 'tasks' ? new TaskWorkload(`load-${design.key}`) : undefined;
  if (tasks !== undefined) {
    // The sandbox's users start with consent to Graph's User.Read only, as a tenant's do, and with no app role:
    // DELETE /api/tasks/{id} needs Tasks.Admin, which a token carries only when it was assigned before minting.
    const scopes = scopesFor(DOWNSTREAM_OPERATIONS.createTask, state.tasksApi.appIdUri);
    for (let user = 0; user < USERS; user++) {
      await setConsent(`load-${design.key}-u${user}`, scopes, true);
      await assignAppRoles(`load-${design.key}-u${user}`, [API_APP_ROLES.tasksAdmin.value]);
    }
  }
  const clients = await mintClients(`load-${design.key}`, USERS, CLIENTS);
  const wrong: string[] = [];
  /** One call of the design's workload; a wrong answer is noted in `wrong`. */
  const workloadCall = async (host: number, client: Client): Promise<Answer> => {
    if (tasks === undefined) {
      const answer = await call(hosts[host] as BenchHost, client);
      if (answer.status !== 200) wrong.push(`GET /api/me answered ${answer.status}`);
      return answer;
    }
    const request = tasks.next(clients.indexOf(client), client.user);
    const answer = await call(hosts[host] as BenchHost, client, request);
    const problem = tasks.check(request, answer);
    if (problem !== undefined) wrong.push(problem);
    return answer;
  };

  // Warm-up: each client's first call, on a random host (its miss); with writes, the client's first task.
  const homeHost = new Map<Client, number>();
  const warmMarks = hosts.map((h) => h.lines.length);
  await runWorkers(clients, CONCURRENCY, async (client) => {
    const index = pick();
    homeHost.set(client, index);
    await workloadCall(index, client);
  });
  const warmup = logged(linesSince(hosts, warmMarks));
  for (const problem of new Set(wrong)) failures.push(`${design.name}: warm-up: ${problem}`);
  wrong.length = 0;
  tasks?.takeRequested();

  // Steady load: worker w owns clients w, w+C, ... and calls each in turn, CALLS rounds.
  const jobs: { client: Client; host: number }[] = [];
  const seen = new Set<string>();
  let firstVisits = 0;
  for (let round = 0; round < CALLS; round++) {
    for (const client of clients) {
      const host = pick();
      const key = `${clients.indexOf(client)}/${host}`;
      if (host !== homeHost.get(client) && !seen.has(key)) firstVisits += 1;
      seen.add(key);
      jobs.push({ client, host });
    }
  }
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const before = await emulatorCosts();
  const marks = hosts.map((h) => h.lines.length);
  const seconds = await runWorkers(
    jobs,
    CONCURRENCY,
    async ({ client, host }) => {
      const answer = await workloadCall(host, client);
      latencies.push(answer.ms);
      statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
    },
    ({ client }) => clients.indexOf(client),
  );
  const costs = minus(await emulatorCosts(), before);
  const lines = linesSince(hosts, marks);
  const fromLogs = logged(lines);
  const rssMb = (await Promise.all(hosts.map(hostStats))).map((s) => s.rss / 2 ** 20);
  const sizes =
    design.itemId === undefined
      ? []
      : await Promise.all(clients.map((c) => itemBytes(design.itemId?.(c) ?? '')));

  // Expected per-call costs of each design in steady state (every client already called once).
  const n = jobs.length;
  const downstreamExpected = tasks?.takeRequested() ?? { me: n };
  const downstreamMet = sameCounts(costs.downstream, downstreamExpected);
  const downstreamText = `downstream ${Object.entries(downstreamExpected)
    .map(([kind, count]) => `${kind} ${count}`)
    .join(', ')}`;
  const expectations: Record<string, [string, boolean]> = {
    'this API': [
      `Entra 0, writes 0, reads ${firstVisits} (first call of a client on each other host)`,
      costs.entra === 0 && costs.cosmosWrites === 0 && costs.cosmosReads === firstVisits,
    ],
    'this API, writes': [
      `Entra 0, writes 0, reads ${firstVisits} (first call of a client on each other host)`,
      costs.entra === 0 && costs.cosmosWrites === 0 && costs.cosmosReads === firstVisits,
    ],
    'this API, L1 off': [
      `Entra 0, writes 0, reads ${n} (one per call)`,
      costs.entra === 0 && costs.cosmosWrites === 0 && costs.cosmosReads === n,
    ],
    'msal-node distributed cache': [
      `reads ${n} (one per call), writes = Entra exchanges = logged misses`,
      costs.cosmosReads === n &&
        costs.cosmosWrites === costs.entra &&
        costs.entra === fromLogs.entra &&
        costs.cosmosReads === fromLogs.cosmosReads,
    ],
    'no cache': [`Entra ${n}, Cosmos 0`, costs.entra === n && costs.cosmosReads + costs.cosmosWrites === 0],
  };
  const [designExpected, designMet] = expectations[design.name] ?? ['?', false];
  const expected = `${designExpected}; ${downstreamText}`;
  const met = designMet && downstreamMet;
  if (!met)
    failures.push(
      `${design.name}: expected ${expected}; measured ${JSON.stringify(costs)}, logged ${JSON.stringify(fromLogs)}`,
    );
  for (const problem of new Set(wrong)) failures.push(`${design.name}: ${problem}`);
  if (wrong.length > 0) failures.push(`${design.name}: answers ${JSON.stringify(statuses)}`);
  if (fromLogs.lost > 0) failures.push(`${design.name}: ${fromLogs.lost} cache writes lost`);

  latencies.sort((a, b) => a - b);
  return {
    name: design.name,
    calls: n,
    seconds,
    latencies,
    statuses,
    costs,
    charge: fromLogs.charge,
    conflictRetries: fromLogs.conflictRetries,
    warmupConflictRetries: warmup.conflictRetries,
    rssMb,
    itemBytes: sizes.length === 0 ? 0 : sizes.reduce((a, b) => a + b, 0) / sizes.length,
    expected: `${met ? 'ok' : 'MISMATCH'}: ${expected}`,
  };
}

function designTable(results: DesignResult[]): void {
  const api = results[0];
  const rows = results.map((r) => {
    const rps = r.calls / r.seconds;
    const perCall = (x: number): string => (x / r.calls).toFixed(3);
    const estRu =
      (r.costs.cosmosReads * estimatedReadRu(r.itemBytes) +
        r.costs.cosmosWrites * estimatedWriteRu(r.itemBytes)) /
      r.calls;
    return {
      design: r.name,
      'req/s': rps.toFixed(0),
      'p50 ms': percentile(r.latencies, 0.5).toFixed(1),
      'p95 ms': percentile(r.latencies, 0.95).toFixed(1),
      'p99 ms': percentile(r.latencies, 0.99).toFixed(1),
      'Entra/call': perCall(r.costs.entra),
      'Cosmos reads/call': perCall(r.costs.cosmosReads),
      'writes/call': perCall(r.costs.cosmosWrites),
      'RU/call (emulator)': perCall(r.charge),
      'est. RU/call': estRu.toFixed(2),
      'item bytes': r.itemBytes.toFixed(0),
      'conflict retries (warm-up)': `${r.conflictRetries} (${r.warmupConflictRetries})`,
      'RSS MB per host': r.rssMb.map((x) => x.toFixed(0)).join('/'),
    };
  });
  console.log('\nSteady load (every client called once before):');
  console.table(rows);
  for (const r of results) console.log(`  ${r.name}: ${r.expected}`);
  if (api === undefined) return;
  const apiRps = api.calls / api.seconds;
  for (const r of results.slice(1)) {
    const ratio = (x: number, y: number): string => (y === 0 ? '-' : `${(x / y).toFixed(2)}x`);
    console.log(
      `  this API vs ${r.name}: throughput ${ratio(apiRps, r.calls / r.seconds)}, p50 ${ratio(percentile(api.latencies, 0.5), percentile(r.latencies, 0.5))}, p99 ${ratio(percentile(api.latencies, 0.99), percentile(r.latencies, 0.99))}, Entra/call ${ratio(api.costs.entra, r.costs.entra)}, Cosmos requests/call ${ratio(api.costs.cosmosReads + api.costs.cosmosWrites, r.costs.cosmosReads + r.costs.cosmosWrites)}`,
    );
  }
}

// ---------------------------------------------------------------- cost as clients per user grow

async function costCurve(host: BenchHost): Promise<void> {
  const rows: Record<string, string>[] = [];
  // One item per entry under the caller's partition key: an item is about a one-entry document.
  let entryItem = 0;
  let perItemAt16 = 0;
  let documentAt16 = 0;
  for (const m of [1, 4, 16]) {
    const clients = await mintClients(`cost-m${m}`, 1, m);
    const id = clients[0]?.accountId ?? '';
    let size = 0;
    let read = 0;
    let written = 0;
    for (const client of clients) {
      const answer = await call(host, client);
      if (answer.status !== 200) failures.push(`cost curve: answer ${answer.status}`);
      read += size;
      size = await itemBytes(id);
      written += size;
    }
    if (m === 1) entryItem = size;
    // In steady state a miss (a client's new token) reads and rewrites the whole document.
    const docMiss = estimatedReadRu(size) + estimatedWriteRu(size);
    const itemMiss = estimatedReadRu(entryItem) + estimatedWriteRu(entryItem);
    if (m === 16) {
      perItemAt16 = itemMiss;
      documentAt16 = docMiss;
    }
    rows.push({
      'clients/user': String(m),
      'document bytes': String(size),
      'bytes read / written per miss (measured, first M calls)': `${(read / m).toFixed(0)} / ${(written / m).toFixed(0)}`,
      'document: est. RU per miss': docMiss.toFixed(2),
      'document: est. RU per L2 hit': estimatedReadRu(size).toFixed(2),
      'item per entry: bytes': String(entryItem),
      'item per entry: est. RU per miss': itemMiss.toFixed(2),
      'item per entry: est. RU per L2 hit': estimatedReadRu(entryItem).toFixed(2),
    });
  }
  console.log("\nCost as clients per user grow (RU estimated from item size with Microsoft's table):");
  console.table(rows);
  console.log(
    `  at 16 clients a miss costs ~${documentAt16.toFixed(1)} RU with one document per caller, ~${perItemAt16.toFixed(1)} RU with one item per entry (${(perItemAt16 / documentAt16).toFixed(2)}x)`,
  );
}

// ---------------------------------------------------------------- CPU per warm call

async function msalGraphToken(assertion: string): Promise<string> {
  const authority = `${state.entraUrl}/${state.tenantId}`;
  const host = new URL(state.entraUrl).host;
  const discovery = `${authority}/v2.0/.well-known/openid-configuration`;
  const client = new ConfidentialClientApplication({
    auth: {
      clientId: state.api.clientId,
      clientSecret: state.api.clientSecret,
      authority,
      knownAuthorities: [host],
      authorityMetadata: await (await fetch(discovery)).text(),
      cloudDiscoveryMetadata: JSON.stringify({
        tenant_discovery_endpoint: discovery,
        'api-version': '1.1',
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
      }),
    },
  });
  const result = await client.acquireTokenOnBehalfOf({
    oboAssertion: assertion,
    scopes: scopesFor(DOWNSTREAM_OPERATIONS.myProfile, loadConfig(state.settings).graph.resourceUri.origin),
  });
  if (result === null) throw new Error('no Graph token for the floor measurement');
  return result.accessToken;
}

async function cpuPerWarmCall(host: BenchHost): Promise<void> {
  const calls = args.smoke === true ? 10 : 100;
  await setLatencies(0);
  const [client] = await mintClients('cpu', 1, 1);
  if (client === undefined) return;
  for (let i = 0; i < 20; i++) await call(host, client);
  const before = await hostStats(host);
  for (let i = 0; i < calls; i++) await call(host, client);
  const after = await hostStats(host);
  const handler =
    (after.handlerCpuMicros - before.handlerCpuMicros) / (after.handlerCalls - before.handlerCalls);
  // The stats request itself is one call of the process's plumbing: negligible against `calls`.
  const processCpu = (after.cpuMicros - before.cpuMicros) / calls;
  const floorResponse = await fetch(`${host.url}/api/bench/floor`, {
    method: 'POST',
    body: JSON.stringify({
      n: calls,
      assertion: client.token,
      graphToken: await msalGraphToken(client.token),
      issuer: `${state.entraUrl}/${state.tenantId}/v2.0`,
      audience: state.api.clientId,
      jwksUrl: `${state.entraUrl}/${state.tenantId}/discovery/v2.0/keys`,
      graphUrl: `${state.graphUrl}/v1.0/me`,
    }),
  });
  const floor = ((await floorResponse.json()) as { cpuMicrosPerCall: number }).cpuMicrosPerCall;

  await fetch(`${host.url}/api/bench/profile`, { method: 'POST', body: '{"action":"start"}' });
  for (let i = 0; i < calls; i++) await call(host, client);
  const profile = (await (
    await fetch(`${host.url}/api/bench/profile`, { method: 'POST', body: '{"action":"stop"}' })
  ).json()) as Record<string, number>;
  await setLatencies(GRAPH_LATENCY_MS);

  console.log(
    '\nCPU per warm call (one host, one call at a time, L1 hit), measured inside the host process:',
  );
  console.table([
    {
      "app's handler us/call": handler.toFixed(0),
      'whole process us/call': processCpu.toFixed(0),
      'floor us/call (RS256 verify + Graph request)': floor.toFixed(0),
      'handler / floor': `${(handler / floor).toFixed(2)}x`,
    },
  ]);
  const total = Object.entries(profile)
    .filter(([where]) => where !== '(idle)')
    .reduce((sum, [, micros]) => sum + micros, 0);
  const top = Object.entries(profile)
    .filter(([where]) => where !== '(idle)')
    .sort(([, a], [, b]) => b - a)
    .slice(0, 12)
    .map(([where, micros]) => ({
      'self time in': where,
      share: `${((100 * micros) / total).toFixed(1)}%`,
      'us/call': (micros / calls).toFixed(0),
    }));
  console.log(
    '  where the busy time goes (V8 CPU profile over the same warm calls, bundle mapped to sources):',
  );
  console.table(top);
}

// ---------------------------------------------------------------- faults under load

interface Phase {
  name: string;
  seconds: number;
  /** Injects the phase's faults at its start (some queue more later). */
  start: () => Promise<void>;
  /** Clients that call for the first time in this phase (they need Entra or Cosmos DB). */
  fresh: Client[];
  /** A 503 here is expected: an upstream the call truly needs is down. */
  upstreamDown: boolean;
}

async function faultPhases(hosts: BenchHost[]): Promise<void> {
  const warm = await mintClients('faults', 20, 2);
  await runWorkers(warm, CONCURRENCY, async (client) => {
    await call(hosts[Math.floor(random() * hosts.length)] as BenchHost, client);
  });
  const hot = warm[0];
  if (hot === undefined) return;
  const hotFresh = (await Promise.all(Array.from({ length: 8 }, () => userToken('faults-u0')))).map(
    (token) => ({ user: 0, token: token.accessToken, accountId: hot.accountId }),
  );
  const fresh = async (name: string): Promise<Client[]> => mintClients(`faults-${name}`, 12, 1);
  const later = (ms: number, run: () => Promise<void>): void => {
    setTimeout(() => void run(), ms * FAULT_TIME_SCALE);
  };
  const scaled = (msOrSeconds: number): number => msOrSeconds * FAULT_TIME_SCALE;
  const phases: Phase[] = [
    {
      name: 'no fault',
      seconds: scaled(3),
      start: () => Promise.resolve(),
      fresh: await fresh('none'),
      upstreamDown: false,
    },
    {
      name: 'Cosmos DB unavailable 10 s',
      seconds: scaled(10),
      start: () => post('cosmos', '/_emulator/faults', { preset: 'unavailable', durationMs: scaled(10_000) }),
      fresh: await fresh('cosmos'),
      upstreamDown: false,
    },
    {
      name: '429 storm on one hot document 5 s',
      seconds: scaled(5),
      start: () =>
        post('cosmos', '/_emulator/faults', {
          preset: 'throttled',
          pathIncludes: hot.accountId,
          durationMs: scaled(5_000),
        }),
      fresh: hotFresh,
      upstreamDown: false,
    },
    {
      name: 'Entra answering in 3 s for 6 s',
      seconds: scaled(6),
      start: () =>
        post('entra', '/_emulator/faults', {
          kind: 'token.obo',
          delayMs: scaled(3_000),
          durationMs: scaled(6_000),
        }),
      fresh: await fresh('entra'),
      upstreamDown: false,
    },
    {
      name: 'Graph 503 bursts (1 s, twice)',
      seconds: scaled(6),
      start: async () => {
        const burst = { kind: 'me', preset: 'unavailable', durationMs: scaled(1_000) };
        await post('graph', '/_emulator/faults', burst);
        later(3_000, () => post('graph', '/_emulator/faults', burst));
      },
      fresh: await fresh('graph'),
      upstreamDown: true,
    },
    {
      name: 'Graph down 10 s (past the retry budget)',
      seconds: scaled(10),
      start: () =>
        post('graph', '/_emulator/faults', { kind: 'me', preset: 'unavailable', durationMs: scaled(10_000) }),
      fresh: await fresh('graph-down'),
      upstreamDown: true,
    },
  ];

  const rows: Record<string, string>[] = [];
  for (const phase of phases) {
    const answers: Answer[] = [];
    const before = await emulatorCosts();
    await phase.start();
    const deadline = performance.now() + phase.seconds * 1000;
    const pending = [...phase.fresh];
    const known = [...warm];
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < deadline) {
          const next = pending.length > 0 && random() < 0.2 ? pending.shift() : undefined;
          const client = next ?? known[Math.floor(random() * known.length)];
          if (client === undefined) break;
          answers.push(await call(hosts[Math.floor(random() * hosts.length)] as BenchHost, client));
          if (next !== undefined) known.push(next);
        }
      }),
    );
    const costs = minus(await emulatorCosts(), before);
    const byStatus: Record<string, number> = {};
    for (const a of answers) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
    const unavailable = answers.filter((a) => a.status === 503);
    const withoutRetryAfter = unavailable.filter((a) => a.retryAfter === null).length;
    const latencies = answers.map((a) => a.ms).sort((a, b) => a - b);
    const problems: string[] = [];
    if ((byStatus['500'] ?? 0) > 0) problems.push('500');
    if (withoutRetryAfter > 0) problems.push(`${withoutRetryAfter} 503 without Retry-After`);
    if (!phase.upstreamDown && unavailable.length > 0)
      problems.push('503 while the upstream the call needs was up');
    const other = answers.filter((a) => ![200, 503].includes(a.status)).length;
    if (other > 0) problems.push(`${other} other answers`);
    for (const problem of problems)
      failures.push(`fault phase "${phase.name}": ${problem} (${JSON.stringify(byStatus)})`);
    rows.push({
      phase: phase.name,
      calls: String(answers.length),
      'answers by status': Object.entries(byStatus)
        .map(([status, n]) => `${status}: ${n}`)
        .join(', '),
      'p50 ms': percentile(latencies, 0.5).toFixed(0),
      'p99 ms': percentile(latencies, 0.99).toFixed(0),
      'Entra / Cosmos r+w': `${costs.entra} / ${costs.cosmosReads}+${costs.cosmosWrites}`,
      verdict: problems.length === 0 ? 'as expected' : problems.join('; '),
    });
  }
  // Let the instances' Cosmos DB breaker (10 s after the last failure) close before the check.
  await new Promise((resolve) => setTimeout(resolve, 10_500));
  const before = await emulatorCosts();
  const answers: Answer[] = [];
  await runWorkers(
    warm.flatMap((client) => hosts.map((host) => ({ client, host }))),
    CONCURRENCY,
    async ({ client, host }) => {
      answers.push(await call(host, client));
    },
  );
  const after = minus(await emulatorCosts(), before);
  const served = answers.filter((a) => a.status === 200).length;
  const kept = after.entra === 0 && served === answers.length;
  if (!kept)
    failures.push(
      `after the faults: ${served}/${answers.length} answered 200 and Entra was asked ${after.entra} times`,
    );
  console.log('\nFaults under load (this API, every phase with fresh clients among warm ones):');
  console.table(rows);
  console.log(
    `  afterwards, every token cached before the faults (${warm.length} clients x ${hosts.length} hosts): ${served}/${answers.length} served, Entra requests ${after.entra}, Cosmos reads ${after.cosmosReads} -> ${kept ? 'nothing lost' : 'LOST TOKENS'}`,
  );
  const warnings = hosts.flatMap((host) => host.warnings);
  const kinds = new Map<string, number>();
  for (const line of warnings) {
    const message = /"message":"([^"]+)"/.exec(line)?.[1] ?? line.slice(0, 80);
    kinds.set(message, (kinds.get(message) ?? 0) + 1);
  }
  for (const [message, n] of kinds) console.log(`  host warnings: ${n} x ${message}`);
}

// ---------------------------------------------------------------- main

buildBenchBundle();
const startedAt = performance.now();
console.log(
  `load: ${HOSTS} hosts, ${USERS} users x ${CLIENTS} clients, ${CALLS} calls per client, concurrency ${CONCURRENCY}; emulated latency Graph ${GRAPH_LATENCY_MS} ms, Entra OBO ${ENTRA_LATENCY_MS} ms, Cosmos ${COSMOS_LATENCY_MS} ms`,
);
await setLatencies(GRAPH_LATENCY_MS);
const results: DesignResult[] = [];
for (const design of designs) {
  const hosts = await startHosts(design.env);
  try {
    results.push(await runDesign(design, hosts));
    if (design.name === 'this API') {
      const first = hosts[0];
      if (first !== undefined) {
        await costCurve(first);
        await cpuPerWarmCall(first);
      }
      if (args.faults === true) await faultPhases(hosts);
    }
  } finally {
    await Promise.all(hosts.map((host) => host.process.stop()));
  }
}
designTable(results);
console.log(`\n${((performance.now() - startedAt) / 1000).toFixed(0)} s in all`);
if (failures.length > 0) {
  console.error(`\nFAILED:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
  process.exit(1);
}
