// The soak's options (every parameter one) and its schedule of events, in seconds from the start of the load.
import { parseArgs } from 'node:util';

export interface SoakOptions {
  seconds: number;
  hosts: number;
  users: number;
  clientsPerUser: number;
  /** Pause between two calls of one client, ms (+-50% jitter). */
  thinkMs: number;
  /** New SPA sessions arriving per second, each a new client with a new token for `sessionSeconds`. */
  sessionRate: number;
  sessionSeconds: number;
  /** Lifetime of users' tokens for the API; a client signs in again `renewBeforeSeconds` before it ends. */
  callerLifetime: number;
  renewBeforeSeconds: number;
  /** Lifetime of Graph tokens (CAE-capable and not): more than msal-node's 300 s renewal offset. */
  graphLifetime: number;
  revokeUsers: number;
  /** The hosts' ENTRA_JWKS_REFRESH_COOLDOWN_SECONDS: a key first used sooner than this after it was published is refused. */
  jwksCooldownSeconds: number;
  /** Seconds between two hosts' restarts in a rolling restart. */
  restartGapSeconds: number;
  graphLatencyMs: number;
  entraLatencyMs: number;
  cosmosLatencyMs: number;
  seed: number;
  schedule: Schedule;
}

/** When each event starts, seconds from the start of the load. */
export interface Schedule {
  entraKeyPublish: number;
  entraKeyUse: number;
  entraKeyRetire: number;
  ringAdd: number;
  ringPromote: number;
  ringRetire: number;
  kill: number;
  cosmosOutage: number;
  cosmosOutageSeconds: number;
  graphOutage: number;
  graphOutageSeconds: number;
  revoke: number;
}

/** Seconds one host's restart takes on a busy machine (drain, stop, start), for the default schedule. */
const RESTART_SECONDS = 4;

export function parseSoakOptions(argv: readonly string[]): SoakOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      soak: { type: 'boolean', default: false },
      minutes: { type: 'string', default: '5' },
      hosts: { type: 'string', default: '3' },
      users: { type: 'string', default: '24' },
      clients: { type: 'string', default: '3' },
      'think-ms': { type: 'string', default: '1500' },
      'session-rate': { type: 'string', default: '0.5' },
      'session-seconds': { type: 'string', default: '45' },
      'caller-lifetime': { type: 'string', default: '150' },
      'renew-before': { type: 'string', default: '20' },
      'graph-lifetime': { type: 'string', default: '360' },
      'revoke-users': { type: 'string', default: '3' },
      'restart-gap': { type: 'string', default: '10' },
      'jwks-cooldown': { type: 'string', default: '30' },
      'graph-latency-ms': { type: 'string', default: '30' },
      'entra-latency-ms': { type: 'string', default: '80' },
      'cosmos-latency-ms': { type: 'string', default: '5' },
      seed: { type: 'string', default: '1' },
      'at-entra-key-publish': { type: 'string' },
      'at-entra-key-use': { type: 'string' },
      'at-entra-key-retire': { type: 'string' },
      'at-ring-add': { type: 'string' },
      'at-ring-promote': { type: 'string' },
      'at-ring-retire': { type: 'string' },
      'at-kill': { type: 'string' },
      'at-cosmos-outage': { type: 'string' },
      'cosmos-outage-seconds': { type: 'string', default: '10' },
      'at-graph-outage': { type: 'string' },
      'graph-outage-seconds': { type: 'string', default: '4' },
      'at-revoke': { type: 'string' },
    },
  });
  const number = (name: keyof typeof values, min: number, whole = true): number => {
    const value = Number(values[name]);
    if (!Number.isFinite(value) || value < min || (whole && !Number.isInteger(value))) {
      console.error(`--${name} must be ${whole ? 'a whole number' : 'a number'} of at least ${min}`);
      process.exit(2);
    }
    return value;
  };
  const optional = (name: keyof typeof values, fallback: number): number =>
    values[name] === undefined ? fallback : number(name, 0, false);

  const seconds = number('minutes', 0.1, false) * 60;
  const hosts = number('hosts', 2);
  const callerLifetime = number('caller-lifetime', 5);
  const renewBeforeSeconds = number('renew-before', 1);
  if (renewBeforeSeconds >= callerLifetime) {
    console.error('--renew-before must be shorter than --caller-lifetime');
    process.exit(2);
  }
  const graphLifetime = number('graph-lifetime', 301);
  // After a key is used (or every host has the new ring), tokens of the old one live a caller lifetime more.
  const drained = callerLifetime + 5;
  const entraKeyPublish = optional('at-entra-key-publish', 0.07 * seconds);
  // A host refetches Entra's keys for an unknown kid at most once per cooldown: Entra uses a key long after it
  // published it, so every host has it by then (used sooner, a host that fetched just before the publication refuses it).
  const jwksCooldownSeconds = number('jwks-cooldown', 1);
  const entraKeyUse = optional(
    'at-entra-key-use',
    entraKeyPublish + Math.max(0.1 * seconds, jwksCooldownSeconds + 5),
  );
  const ringAdd = optional('at-ring-add', 0.12 * seconds);
  const restartGapSeconds = number('restart-gap', 0, false);
  const rolling = hosts * RESTART_SECONDS + (hosts - 1) * restartGapSeconds;
  // The staged rotation: each step once every host has restarted with the previous one.
  const ringPromote = optional('at-ring-promote', ringAdd + rolling + 2);
  const schedule: Schedule = {
    entraKeyPublish,
    entraKeyUse,
    entraKeyRetire: optional('at-entra-key-retire', entraKeyUse + drained),
    ringAdd,
    ringPromote,
    ringRetire: optional('at-ring-retire', ringPromote + rolling + drained),
    kill: optional('at-kill', 0.37 * seconds),
    cosmosOutage: optional('at-cosmos-outage', 0.5 * seconds),
    cosmosOutageSeconds: number('cosmos-outage-seconds', 1),
    graphOutage: optional('at-graph-outage', 0.62 * seconds),
    graphOutageSeconds: number('graph-outage-seconds', 1),
    revoke: optional('at-revoke', 0.7 * seconds),
  };
  return {
    seconds,
    hosts,
    users: number('users', 1),
    clientsPerUser: number('clients', 1),
    thinkMs: number('think-ms', 0),
    sessionRate: number('session-rate', 0, false),
    sessionSeconds: number('session-seconds', 1),
    callerLifetime,
    renewBeforeSeconds,
    graphLifetime,
    revokeUsers: number('revoke-users', 0),
    restartGapSeconds,
    jwksCooldownSeconds,
    graphLatencyMs: number('graph-latency-ms', 0),
    entraLatencyMs: number('entra-latency-ms', 0),
    cosmosLatencyMs: number('cosmos-latency-ms', 0),
    seed: number('seed', 0),
    schedule,
  };
}

/** The schedule as printed at the start: one line per event, in order. */
export function describeSchedule(options: SoakOptions): string[] {
  const s = options.schedule;
  const events: [number, string][] = [
    [s.entraKeyPublish, 'Entra publishes a new signing key (the old one still signs)'],
    [s.entraKeyUse, 'Entra signs with the new key'],
    [s.entraKeyRetire, 'Entra retires the old key (every token it signed has expired)'],
    [s.ringAdd, 'cache key ring: a new key staged after the current one, hosts restarted one by one'],
    [s.ringPromote, 'cache key ring: the staged key promoted to current, hosts restarted one by one'],
    [s.ringRetire, 'cache key ring: the old key retired, hosts restarted one by one'],
    [s.kill, 'one host killed (SIGKILL) with writes in flight, then started again'],
    [s.cosmosOutage, `Cosmos DB unreachable for ${s.cosmosOutageSeconds} s`],
    [s.graphOutage, `Graph answers 503 for ${s.graphOutageSeconds} s`],
    [s.revoke, `${options.revokeUsers} users' sessions revoked`],
  ];
  return events
    .sort(([a], [b]) => a - b)
    .map(
      ([at, what]) =>
        `  ${at.toFixed(1).padStart(6)} s  ${what}${at >= options.seconds ? ' (after the end: skipped)' : ''}`,
    );
}
