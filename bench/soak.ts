/**
 * `npm run bench -- --soak [--minutes N]`: a day in production, compressed. K hosts over the sandbox, steady
 * clients and arriving SPA sessions, token lifetimes shortened in the Entra emulator so that Graph tokens reach
 * msal-node's renewal window and callers' tokens are replaced, and on a schedule printed at the start: Entra's
 * key rollover, the cache key ring's staged rotation with rolling restarts, a SIGKILLed host, Cosmos DB and Graph
 * outages, revoked sessions. Every answer is checked; the report is per minute and in total (bench/soakReport.ts);
 * exits 1 on a 5xx outside an outage, a wrong answer, a lost token or an undecryptable entry.
 */
import {
  activateKey,
  counters,
  injectFault,
  retireKey,
  revokeSessions,
  rotateKeys,
  sandbox,
  setEntraSettings,
} from '../dev/sandbox/client.js';
import { BENCH_BUNDLE, buildBenchBundle } from './bundle.js';
import { mulberry32 } from './seededRandom.js';
import { accountCalls, type Window } from './soakAccount.js';
import { sleep, SoakClients } from './soakClients.js';
import {
  HostFleet,
  type KeyRing,
  ringOf,
  withoutOldest,
  withStagedKey,
  withStagedKeyPromoted,
} from './soakHosts.js';
import { describeSchedule, parseSoakOptions } from './soakOptions.js';
import { type EmulatorCounts, printReport, type SoakEvent } from './soakReport.js';

const options = parseSoakOptions(process.argv.slice(2));
const state = sandbox();
const random = mulberry32(options.seed);
buildBenchBundle();

let loadStarted = performance.now();
const now = (): number => (performance.now() - loadStarted) / 1000;

async function post(url: string, body: unknown): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${await response.text()}`);
}

async function setCosmosLatency(ms: number, kinds = ['read', 'create', 'replace', 'upsert']): Promise<void> {
  for (const kind of kinds)
    await post(`${state.cosmos.endpoint.replace(/\/$/, '')}/_emulator/latency`, { kind, ms });
}

async function emulatorCounts(): Promise<EmulatorCounts> {
  const [entra, cosmos] = [await counters('entra'), await counters('cosmos')];
  return {
    entra: entra['token.obo'] ?? 0,
    cosmosReads: cosmos.read ?? 0,
    cosmosWrites: (cosmos.create ?? 0) + (cosmos.replace ?? 0) + (cosmos.upsert ?? 0),
  };
}

async function publishedKids(): Promise<string[]> {
  const jwks = (await (await fetch(`${state.entraUrl}/${state.tenantId}/discovery/v2.0/keys`)).json()) as {
    keys: { kid: string }[];
  };
  return jwks.keys.map((key) => key.kid);
}

// ---------------------------------------------------------------- set-up

const entraDefaults = await setEntraSettings({});
await setEntraSettings({
  oboTokenLifetimeSeconds: options.graphLifetime,
  caeTokenLifetimeSeconds: options.graphLifetime,
  userTokenLifetimeSeconds: options.callerLifetime,
});
await post(`${state.graphUrl}/_emulator/latency`, { kind: 'me', ms: options.graphLatencyMs });
await post(`${state.entraUrl}/_emulator/latency`, { kind: 'token.obo', ms: options.entraLatencyMs });
await setCosmosLatency(options.cosmosLatencyMs);

const fleet = new HostFleet(
  options.hosts,
  {
    ...state.settings,
    BENCH_TARGET: BENCH_BUNDLE,
    ENTRA_JWKS_REFRESH_COOLDOWN_SECONDS: String(options.jwksCooldownSeconds),
  },
  now,
);
const firstRing = ringOf(state.settings.TOKEN_CACHE_KEYS ?? '');
if (firstRing.value === '') throw new Error('the sandbox gave no TOKEN_CACHE_KEYS');
await fleet.startAll(firstRing);
const clients = new SoakClients(fleet, options, now, random);
const users = Array.from({ length: options.users }, (_, i) => `soak-u${i}`);

console.log(
  `soak: ${options.seconds} s, ${options.hosts} hosts, ${options.users} users x ${options.clientsPerUser} clients (a call every ~${options.thinkMs} ms each), ${options.sessionRate} new sessions/s of ${options.sessionSeconds} s; caller tokens ${options.callerLifetime} s (signed in again ${options.renewBeforeSeconds} s before expiry), Graph tokens ${options.graphLifetime} s (renewed ${options.graphLifetime - 300} s after issue); latency Graph ${options.graphLatencyMs} ms, Entra ${options.entraLatencyMs} ms, Cosmos ${options.cosmosLatencyMs} ms`,
);
console.log('schedule (seconds from the start of the load):');
for (const line of describeSchedule(options)) console.log(line);

// ---------------------------------------------------------------- the run

const events: SoakEvent[] = [];
const outages: Window[] = [];
let ring: KeyRing = firstRing;

async function rollingRestart(next: KeyRing, what: string): Promise<void> {
  for (let slot = 0; slot < fleet.size; slot++) {
    if (slot > 0) await sleep(options.restartGapSeconds * 1000);
    await fleet.restart(slot, next);
    events.push({ at: now(), what: `${what}: host ${slot} restarted` });
  }
}

const schedule: [number, () => Promise<void>][] = [];
const s = options.schedule;
let oldKids: string[] = [];
let newKid = '';
schedule.push([
  s.entraKeyPublish,
  async () => {
    oldKids = await publishedKids();
    newKid = await rotateKeys({ publishOnly: true });
    events.push({ at: now(), what: 'Entra key published' });
  },
]);
schedule.push([
  s.entraKeyUse,
  async () => {
    if (newKid === '') return;
    await activateKey(newKid);
    events.push({ at: now(), what: 'Entra signs with the new key' });
  },
]);
schedule.push([
  s.entraKeyRetire,
  async () => {
    for (const kid of oldKids) await retireKey(kid);
    events.push({ at: now(), what: 'Entra retired the old key' });
  },
]);
schedule.push([
  s.ringAdd,
  async () => {
    ring = withStagedKey(ring, `soak${Math.round(now())}`);
    events.push({ at: now(), what: `key ring ${ring.ids.join(',')}: rolling restart` });
    await rollingRestart(ring, 'new key staged');
  },
]);
schedule.push([
  s.ringPromote,
  async () => {
    ring = withStagedKeyPromoted(ring);
    events.push({ at: now(), what: `key ring ${ring.ids.join(',')}: rolling restart` });
    await rollingRestart(ring, 'staged key promoted');
  },
]);
schedule.push([
  s.ringRetire,
  async () => {
    ring = withoutOldest(ring);
    events.push({ at: now(), what: `key ring ${ring.ids.join(',')}: rolling restart` });
    await rollingRestart(ring, 'old key retired');
  },
]);
schedule.push([
  s.kill,
  async () => {
    // Writes that take a while, and new sessions that need them, so the kill lands with writes in flight.
    await setCosmosLatency(400, ['create', 'replace']);
    for (let i = 0; i < 2 * options.hosts; i++) {
      clients.startClient(users[Math.floor(random() * users.length)] ?? 'soak-u0', now() + 10, 'arrival');
    }
    await sleep(options.entraLatencyMs + 250);
    const slot = fleet.busiest();
    const killedAt = now();
    const killing = fleet.kill(slot);
    events.push({ at: killedAt, what: `host ${slot} killed (SIGKILL)` });
    await setCosmosLatency(options.cosmosLatencyMs, ['create', 'replace']);
    await killing;
    events.push({ at: now(), what: `host ${slot} started again` });
  },
]);
schedule.push([
  s.cosmosOutage,
  async () => {
    await injectFault('cosmos', { preset: 'unavailable', durationMs: s.cosmosOutageSeconds * 1000 });
    // The hosts skip Cosmos DB 10 s after its last failure (COSMOS_BREAKER_MS), and Cosmos' own retries take time.
    outages.push({ name: 'Cosmos DB', from: now(), to: now() + s.cosmosOutageSeconds + 15 });
    events.push({ at: now(), what: `Cosmos DB unreachable for ${s.cosmosOutageSeconds} s` });
  },
]);
schedule.push([
  s.graphOutage,
  async () => {
    await injectFault('graph', {
      kind: 'me',
      preset: 'unavailable',
      durationMs: s.graphOutageSeconds * 1000,
    });
    // A call retries Graph within its 8 s budget: one that started inside the outage may end after it.
    outages.push({ name: 'Graph', from: now(), to: now() + s.graphOutageSeconds + 10 });
    events.push({ at: now(), what: `Graph answers 503 for ${s.graphOutageSeconds} s` });
  },
]);
schedule.push([
  s.revoke,
  async () => {
    const chosen = [...users].sort(() => random() - 0.5).slice(0, options.revokeUsers);
    for (const user of chosen) {
      const session = clients.sessions.find((candidate) => candidate.user === user);
      if (session === undefined) continue;
      // Provisional first (no later than Entra's own), so a challenge that comes back before the answer is expected.
      const at = now();
      const provisional = Math.floor(Date.now() / 1000) + 1;
      clients.revocations.set(user, { user, validFrom: provisional, at, done: Number.POSITIVE_INFINITY });
      const { validFrom } = await revokeSessions({ name: user, oid: session.oid, tid: state.tenantId });
      // Graph takes its own revocation time, in whole seconds: a token issued up to a second after is challenged.
      clients.revocations.set(user, { user, validFrom: validFrom ?? provisional, at, done: now() + 1.5 });
    }
    events.push({ at: now(), what: `sessions of ${chosen.length} users revoked` });
  },
]);

const before = await emulatorCounts();
loadStarted = performance.now();
for (const user of users) {
  for (let c = 0; c < options.clientsPerUser; c++) {
    clients.startClient(user, options.seconds, 'steady', random() * options.thinkMs);
  }
}
const arrivals = (async () => {
  for (;;) {
    if (options.sessionRate <= 0) return;
    await sleep((-Math.log(1 - random()) / options.sessionRate) * 1000);
    if (now() >= options.seconds - 1) return;
    const user = users[Math.floor(random() * users.length)] ?? 'soak-u0';
    clients.startClient(user, Math.min(now() + options.sessionSeconds, options.seconds), 'arrival');
  }
})();
const scheduled = schedule
  .filter(([at]) => at < options.seconds)
  .map(async ([at, run]) => {
    await sleep(Math.max(0, at - now()) * 1000);
    try {
      await run();
    } catch (error) {
      events.push({ at: now(), what: `FAILED: ${error instanceof Error ? error.message : String(error)}` });
    }
  });
await Promise.all([arrivals, ...scheduled]);
await clients.finished();
// The load's length: until its last call ended (a rolling restart late in the schedule may end after it).
const elapsed = Math.max(0, ...clients.calls.map((call) => call.end));
// A host writes a request's line as it answers: let the last ones arrive.
await sleep(1000);
const after = await emulatorCounts();
await fleet.stopAll();
await setEntraSettings(entraDefaults);

const accounted = accountCalls({
  calls: clients.calls,
  fleet,
  revocations: clients.revocations,
  isRevoked: (session) => clients.isRevoked(session),
  graphLifetime: options.graphLifetime,
  callerLifetime: options.callerLifetime,
  outages,
});
const ok = printReport({
  accounted,
  events,
  fleet,
  sessions: clients.sessions.length,
  seconds: elapsed,
  emulator: {
    entra: after.entra - before.entra,
    cosmosReads: after.cosmosReads - before.cosmosReads,
    cosmosWrites: after.cosmosWrites - before.cosmosWrites,
  },
});
process.exit(ok ? 0 : 1);
