/**
 * `npm run bench -- --simulate [options]`: past one machine, by simulation. No sandbox, no network.
 *
 * A day of calls from a sample of users, routed at random (no affinity) to N instances, through the
 * product's cache rules: L1 per instance (entries live TTL seconds from when they were set, bounded in
 * entries, scaled to the sample), L2 one Cosmos DB document per user holding one entry per SPA token
 * (assertion), a miss = one Entra exchange + one document read + one write; an entry is usable until
 * 5 minutes before its Graph token expires. SPA tokens and Graph tokens live 60-90 minutes (Entra's
 * default lifetime range). The L1/L2/miss ratios are then scaled to the target population and turned
 * into Entra requests, Cosmos DB RU (estimated from the document size measured by `--load`) and cost.
 */
import { parseArgs } from 'node:util';

import { COSMOS_PRICES, estimatedReadRu, estimatedWriteRu } from './costModel.js';
import { mulberry32 } from './seededRandom.js';

const { values: args } = parseArgs({
  options: {
    simulate: { type: 'boolean', default: false },
    'sample-users': { type: 'string', default: '20000' },
    population: { type: 'string', default: '1000000' },
    'calls-per-day': { type: 'string', default: '20' },
    'clients-per-user': { type: 'string', default: '2' },
    'sessions-per-client': { type: 'string', default: '2' },
    'call-gap-seconds': { type: 'string', default: '60' },
    'active-hours': { type: 'string', default: '10' },
    instances: { type: 'string', default: '1,10,100,1000' },
    'l1-ttl-seconds': { type: 'string', default: '300' },
    'l1-max-entries': { type: 'string', default: '10000' },
    // Measured by `npm run bench -- --load` (cost table): a document is ~base + entries x entry bytes.
    'entry-bytes': { type: 'string', default: '1923' },
    'document-base-bytes': { type: 'string', default: '276' },
    seed: { type: 'string', default: '7' },
  },
});

const num = (name: keyof typeof args): number => {
  const value = Number(args[name]);
  if (!Number.isFinite(value) || value < 0) {
    console.error(`--${name} must be a non-negative number`);
    process.exit(2);
  }
  return value;
};

const SAMPLE = Math.max(1, Math.floor(num('sample-users')));
const POPULATION = num('population');
const CALLS_PER_DAY = num('calls-per-day');
const CLIENTS = Math.max(1, Math.floor(num('clients-per-user')));
const SESSIONS = Math.max(1, Math.floor(num('sessions-per-client')));
const GAP = num('call-gap-seconds');
const ACTIVE_SECONDS = num('active-hours') * 3600;
const TTL = num('l1-ttl-seconds');
const L1_MAX = num('l1-max-entries');
const ENTRY_BYTES = num('entry-bytes');
const BASE_BYTES = num('document-base-bytes');
const RENEWAL = 300;
const MAX_ENTRIES = 16;

interface Call {
  at: number;
  user: number;
  client: number;
}

/** The day's calls: each client has sessions at random times in the active window, calls `GAP` apart on average. */
function dayOfCalls(random: () => number): Call[] {
  const calls: Call[] = [];
  const perClient = CALLS_PER_DAY / CLIENTS;
  const perSession = Math.max(1, Math.round(perClient / SESSIONS));
  for (let user = 0; user < SAMPLE; user++) {
    for (let client = 0; client < CLIENTS; client++) {
      for (let session = 0; session < SESSIONS; session++) {
        let at = random() * ACTIVE_SECONDS;
        for (let i = 0; i < perSession; i++) {
          calls.push({ at, user, client: user * CLIENTS + client });
          at += -Math.log(1 - random()) * GAP;
        }
      }
    }
  }
  return calls.sort((a, b) => a.at - b.at);
}

interface Outcome {
  instances: number;
  l1: number;
  l2: number;
  miss: number;
  /** Estimated RU over the sample's day, one document per user / one item per entry. */
  ruDocument: number;
  ruItem: number;
  /** The busiest hour's estimated RU (document layout), for provisioned throughput. */
  peakHourRu: number;
  hourlyRu: number[];
}

function simulate(instances: number, calls: readonly Call[], seed: number): Outcome {
  const random = mulberry32(seed);
  const lifetime = (): number => 3600 + random() * 1800;
  // The SPA token a client holds: id and expiry; a client gets a new one when it has expired.
  const spaToken = new Map<number, { id: number; exp: number }>();
  let nextTokenId = 0;
  // L2: per user, entries by token id -> Graph token expiry.
  const documents = new Map<number, Map<number, number>>();
  // L1 per instance: token id -> { setAt, exp }, a Map in LRU order.
  const l1 = Array.from({ length: instances }, () => new Map<number, { setAt: number; exp: number }>());
  const l1Max = Math.max(1, Math.round((L1_MAX * SAMPLE) / POPULATION));
  const outcome: Outcome = {
    instances,
    l1: 0,
    l2: 0,
    miss: 0,
    ruDocument: 0,
    ruItem: 0,
    peakHourRu: 0,
    hourlyRu: Array.from({ length: 24 }, () => 0),
  };
  const itemBytes = BASE_BYTES + ENTRY_BYTES;

  for (const call of calls) {
    let token = spaToken.get(call.client);
    if (token === undefined || token.exp - 300 <= call.at) {
      token = { id: nextTokenId++, exp: call.at + lifetime() };
      spaToken.set(call.client, token);
    }
    const cache = l1[Math.floor(random() * instances)] ?? new Map<number, { setAt: number; exp: number }>();
    const inL1 = cache.get(token.id);
    if (inL1 !== undefined && call.at - inL1.setAt < TTL && inL1.exp - RENEWAL > call.at) {
      outcome.l1 += 1;
      cache.delete(token.id);
      cache.set(token.id, inL1);
      continue;
    }
    const document = documents.get(call.user) ?? new Map<number, number>();
    documents.set(call.user, document);
    for (const [id, exp] of document) if (exp <= call.at) document.delete(id);
    const documentBytes = BASE_BYTES + ENTRY_BYTES * document.size;
    let ru = estimatedReadRu(documentBytes);
    let itemRu = estimatedReadRu(itemBytes);
    let exp = document.get(token.id);
    if (exp !== undefined && exp - RENEWAL > call.at) {
      outcome.l2 += 1;
    } else {
      outcome.miss += 1;
      exp = call.at + lifetime();
      document.set(token.id, exp);
      if (document.size > MAX_ENTRIES) {
        const oldest = [...document].sort(([, a], [, b]) => a - b)[0];
        if (oldest !== undefined) document.delete(oldest[0]);
      }
      ru += estimatedWriteRu(BASE_BYTES + ENTRY_BYTES * document.size);
      itemRu += estimatedWriteRu(itemBytes);
    }
    outcome.ruDocument += ru;
    outcome.ruItem += itemRu;
    const hour = Math.min(23, Math.floor(call.at / 3600));
    outcome.hourlyRu[hour] = (outcome.hourlyRu[hour] ?? 0) + ru;
    cache.delete(token.id);
    cache.set(token.id, { setAt: call.at, exp });
    if (cache.size > l1Max) {
      const lru = cache.keys().next();
      if (lru.done !== true) cache.delete(lru.value);
    }
  }
  outcome.peakHourRu = Math.max(...outcome.hourlyRu);
  return outcome;
}

const calls = dayOfCalls(mulberry32(num('seed')));
const scale = POPULATION / SAMPLE;
const rows = (args.instances ?? '')
  .split(',')
  .map(Number)
  .filter((n) => Number.isInteger(n) && n > 0)
  .map((instances) => {
    const o = simulate(instances, calls, num('seed') + instances);
    const total = o.l1 + o.l2 + o.miss;
    const ruDay = o.ruDocument * scale;
    // Provisioned: the busiest hour's average rate x 2 for bursts within the hour, in steps of 100, at least 400.
    const provisioned = Math.max(
      COSMOS_PRICES.provisionedMinimumRuSecond,
      Math.ceil((((o.peakHourRu * scale) / 3600) * 2) / 100) * 100,
    );
    const autoscaleDay = o.hourlyRu.reduce((sum, hourRu) => {
      const needed = Math.max(((hourRu * scale) / 3600) * 2, provisioned / 10);
      return sum + Math.ceil(needed / 100) * COSMOS_PRICES.autoscalePer100RuSecondHour;
    }, 0);
    return {
      instances,
      'L1 %': ((100 * o.l1) / total).toFixed(1),
      'L2 %': ((100 * o.l2) / total).toFixed(1),
      'miss %': ((100 * o.miss) / total).toFixed(1),
      'Entra req/day': Math.round(o.miss * scale).toLocaleString('en-US'),
      'Cosmos reads/day': Math.round((o.l2 + o.miss) * scale).toLocaleString('en-US'),
      'writes/day': Math.round(o.miss * scale).toLocaleString('en-US'),
      'est. RU/day (doc)': Math.round(ruDay).toLocaleString('en-US'),
      'est. RU/day (item/entry)': Math.round(o.ruItem * scale).toLocaleString('en-US'),
      'serverless $/day': ((ruDay / 1e6) * COSMOS_PRICES.serverlessPerMillionRu).toFixed(2),
      'peak RU/s': Math.round(((o.peakHourRu * scale) / 3600) * 2).toLocaleString('en-US'),
      'provisioned $/day': ((provisioned / 100) * COSMOS_PRICES.provisionedPer100RuSecondHour * 24).toFixed(
        2,
      ),
      'autoscale $/day': autoscaleDay.toFixed(2),
    };
  });

console.log(
  `simulated: ${SAMPLE.toLocaleString('en-US')} users (scaled to ${POPULATION.toLocaleString('en-US')}) x ${CALLS_PER_DAY} calls/day over ${CLIENTS} clients, ${SESSIONS} sessions per client, calls ~${GAP} s apart within a session, in a ${ACTIVE_SECONDS / 3600} h day; L1 TTL ${TTL} s, ${L1_MAX} entries per instance; tokens live 60-90 min`,
);
console.table(rows);
console.log(
  `prices (USD, list, single region): serverless $${COSMOS_PRICES.serverlessPerMillionRu}/million RU; provisioned $${COSMOS_PRICES.provisionedPer100RuSecondHour}/100 RU/s/h (min ${COSMOS_PRICES.provisionedMinimumRuSecond} RU/s); autoscale $${COSMOS_PRICES.autoscalePer100RuSecondHour}/100 RU/s/h (billed at each hour's highest, at least 10% of max); storage not included`,
);
