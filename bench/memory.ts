/**
 * `npm run bench -- --memory [--callers 100000] [--concurrency 24]`: distinct callers through one host.
 *
 * One local host process (dev/cli/serve.ts with bench/loadHost.ts over dist/main.js, default L1 bounds) gets
 * one call from each of `callers` distinct users (each a miss). At 0 and at 10k, 50k, 100k callers the
 * host reports its RSS and its heap after a full GC. L1's own accounting (tokenCache.ts sizeCalculation:
 * 2 x (cache JSON + key length) + 64 per entry) is computed from a real entry, decrypted from Cosmos DB,
 * and set against the heap the host grew while L1 filled: they should agree within 2x.
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

import { CosmosClient } from '@azure/cosmos';

import { startHostProcess } from '../dev/host/hostProcess.js';
import { decryptBlob } from '../shared/cache/encryption.js';
import { loadConfig } from '../shared/config.js';
import { isRecord } from '../shared/narrow.js';
import { assertionHashOf } from '../shared/obo/graphTokens.js';
import { sandbox, userToken } from '../test/sandbox.js';

const { values: args } = parseArgs({
  options: {
    memory: { type: 'boolean', default: false },
    callers: { type: 'string', default: '100000' },
    concurrency: { type: 'string', default: '24' },
    // A smaller L1 byte bound shows the plateau past it with fewer callers.
    'l1-max-bytes': { type: 'string' },
  },
});
const CALLERS = Number(args.callers);
const CONCURRENCY = Number(args.concurrency);
if (!Number.isInteger(CALLERS) || CALLERS < 1 || !Number.isInteger(CONCURRENCY) || CONCURRENCY < 1) {
  console.error('--callers and --concurrency must be whole numbers of at least 1');
  process.exit(2);
}

const state = sandbox();
const l1Settings: Record<string, string> =
  args['l1-max-bytes'] === undefined ? {} : { TOKEN_CACHE_L1_MAX_BYTES: args['l1-max-bytes'] };
const config = loadConfig({ ...state.settings, ...l1Settings });
const build = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/build.ts'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(1);

const host = await startHostProcess({
  port: 0,
  entry: 'bench/loadHost.ts',
  env: { ...state.settings, ...l1Settings, BENCH_TARGET: 'dist/main.js' },
});

interface Stats {
  rss: number;
  heapUsed: number;
  external: number;
}
const stats = async (): Promise<Stats> =>
  (await (await fetch(`${host.url}/api/bench/stats`)).json()) as Stats;
const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

let failed = 0;
const unexpected = new Map<string, number>();
async function callAs(index: number): Promise<{ token: string; accountId: string }> {
  const token = await userToken(`mem-u${index}`);
  const response = await fetch(`${host.url}/api/me`, {
    headers: { authorization: `Bearer ${token.accessToken}` },
  });
  const body = await response.text();
  if (response.status !== 200) {
    failed += 1;
    const code = /"code":"([A-Z_]+)"/.exec(body)?.[1] ?? '';
    const key = `${response.status} ${code}`;
    unexpected.set(key, (unexpected.get(key) ?? 0) + 1);
  }
  return { token: token.accessToken, accountId: `${token.oid}.${token.tid}` };
}

/** Bytes L1 charges for one entry, from a real entry of this run (decrypted from its Cosmos DB document). */
async function l1EntryBytes(sample: { token: string; accountId: string }): Promise<number> {
  const container = new CosmosClient({ endpoint: state.cosmos.endpoint, key: state.cosmos.key })
    .database(state.cosmos.database)
    .container(state.cosmos.container);
  const { resource } = await container
    .item(sample.accountId, sample.accountId)
    .read<Record<string, unknown>>();
  const hash = assertionHashOf(sample.token);
  const entries = isRecord(resource) && isRecord(resource.entries) ? resource.entries : {};
  const entry = entries[hash];
  const blob = isRecord(entry) && typeof entry.blob === 'string' ? entry.blob : '';
  const json = decryptBlob(blob, config.tokenCache.keys, `${sample.accountId}\n${hash}`) ?? '';
  const key = `${sample.accountId}\n${hash}`;
  return 2 * (json.length + key.length) + 64;
}

const checkpoints = [500, 1_000, 2_500, 5_000, 10_000, 50_000, 100_000].filter((n) => n <= CALLERS);
if (!checkpoints.includes(CALLERS)) checkpoints.push(CALLERS);
const started = performance.now();
const rows: Record<string, string>[] = [];

for (let i = 0; i < 50; i++) await callAs(-1 - i);
const base = await stats();
rows.push({
  callers: '50',
  'RSS MB': mb(base.rss),
  'heap MB (after GC)': mb(base.heapUsed),
  'external MB': mb(base.external),
});
console.log(`baseline: RSS ${mb(base.rss)} MB, heap ${mb(base.heapUsed)} MB`);

let next = 0;
let sample: { token: string; accountId: string } | undefined;
let entryBytes = 0;
let previous = { grown: 0, accounted: 0 };
let marginal = Number.NaN;
for (const checkpoint of checkpoints) {
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < checkpoint) {
        const index = next++;
        const done = await callAs(index);
        sample ??= done;
      }
    }),
  );
  if (entryBytes === 0 && sample !== undefined) entryBytes = await l1EntryBytes(sample);
  const now = await stats();
  const l1Entries = Math.min(
    checkpoint,
    config.tokenCache.l1MaxEntries,
    Math.floor(config.tokenCache.l1MaxBytes / entryBytes),
  );
  const accounted = l1Entries * entryBytes;
  const grown = now.heapUsed + now.external - (base.heapUsed + base.external);
  // Between checkpoints the fixed costs of a warm process are paid: what grows is what L1 holds.
  if (accounted > previous.accounted && previous.accounted > 0)
    marginal = (grown - previous.grown) / (accounted - previous.accounted);
  rows.push({
    callers: checkpoint.toLocaleString('en-US'),
    'RSS MB': mb(now.rss),
    'heap MB (after GC)': mb(now.heapUsed),
    'external MB': mb(now.external),
    'L1 entries (bound)': String(l1Entries),
    'L1 accounted MB': mb(accounted),
    'heap+external grown MB': mb(grown),
    'grown / accounted': (grown / accounted).toFixed(2),
    'since last checkpoint':
      previous.accounted > 0 && accounted > previous.accounted
        ? ((grown - previous.grown) / (accounted - previous.accounted)).toFixed(2)
        : '-',
    's so far': ((performance.now() - started) / 1000).toFixed(0),
  });
  console.log(JSON.stringify(rows.at(-1)));
  previous = { grown, accounted };
}
await host.stop();

console.log(
  `\n${CALLERS.toLocaleString('en-US')} distinct callers through one host (L1 bounds: ${config.tokenCache.l1MaxEntries} entries, ${mb(config.tokenCache.l1MaxBytes)} MB; one entry charged ${entryBytes} bytes):`,
);
console.table(rows);
const last = rows.at(-1);
// With every checkpoint past a small bound there is no 'between': the first checkpoint's ratio stands.
const ratio = Number.isNaN(marginal) ? Number(rows[1]?.['grown / accounted']) : marginal;
const rssGrowth = Number(last?.['RSS MB']) - Number(mb(base.rss));
const bounded = rssGrowth <= 2 * Number(mb(config.tokenCache.l1MaxBytes));
console.log(
  `  answers other than 200: ${failed} ${JSON.stringify(Object.fromEntries(unexpected))}; RSS grew ${rssGrowth.toFixed(0)} MB; heap growth per L1 byte accounted, between checkpoints while L1 filled: ${ratio.toFixed(2)}x (${ratio >= 0.5 && ratio <= 2 ? 'within 2x' : 'OUTSIDE 2x'}); RSS growth ${bounded ? 'within' : 'ABOVE'} 2 x L1 max bytes`,
);
process.exit(failed === 0 && ratio >= 0.5 && ratio <= 2 && bounded ? 0 : 1);
