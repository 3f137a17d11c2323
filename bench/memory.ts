/**
 * `npm run bench -- --memory [--callers 100000] [--concurrency 24]`: distinct callers through one host.
 *
 * One local host process (dev/cli/serve.ts with bench/loadHost.ts over dist/main.js, default L1 bounds) gets
 * one call from each of `callers` distinct users (each a miss). At 0 and at 10k, 50k, 100k callers the
 * host reports its RSS and its heap after a full GC, and its own L1 gauges (`obo.cache.l1.entries` and
 * `obo.cache.l1.bytes`, exported to a file every second) say what L1 holds and charges for it; the bytes L1
 * charges are set against the heap the host grew while L1 filled: they should agree within 2x.
 */
import { closeSync, mkdtempSync, openSync, readSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

import { startHostProcess } from '../dev/host/hostProcess.js';
import { sandbox, userToken } from '../dev/sandbox/client.js';
import { loadConfig } from '../shared/config.js';
import { isRecord } from '../shared/narrow.js';
import { METRIC } from '../shared/observability/names.js';
import { BENCH_BUNDLE, buildBenchBundle } from './bundle.js';

const { values: args } = parseArgs({
  options: {
    memory: { type: 'boolean', default: false },
    // bench/smoke.ts: a few callers say nothing about memory; only every answer being 200 is judged.
    smoke: { type: 'boolean', default: false },
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
buildBenchBundle();

// The host's telemetry as JSON lines: its L1 gauges every second (and its spans, which nothing here reads).
const telemetryFile = join(mkdtempSync(join(tmpdir(), 'bench-memory-')), 'telemetry.jsonl');
const METRIC_INTERVAL_MS = 1000;
const host = await startHostProcess({
  port: 0,
  entry: 'bench/loadHost.ts',
  env: {
    ...state.settings,
    ...l1Settings,
    BENCH_TARGET: BENCH_BUNDLE,
    TELEMETRY_EXPORT: 'file',
    TELEMETRY_FILE: telemetryFile,
    TELEMETRY_METRIC_INTERVAL_SECONDS: String(METRIC_INTERVAL_MS / 1000),
  },
});

interface Stats {
  rss: number;
  heapUsed: number;
  /** What V8 holds for its heap, used or not (part of RSS). */
  heapTotal: number;
  external: number;
}
const stats = async (): Promise<Stats> =>
  (await (await fetch(`${host.url}/api/bench/stats`)).json()) as Stats;
const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

let failed = 0;
const unexpected = new Map<string, number>();
async function callAs(index: number): Promise<void> {
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
}

/** The host's L1 gauges from the last export that follows now (the tail of the telemetry file). */
async function l1Gauges(): Promise<{ entries: number; bytes: number }> {
  await sleep(2 * METRIC_INTERVAL_MS);
  const size = statSync(telemetryFile).size;
  const tail = Buffer.alloc(Math.min(size, 256 * 1024));
  const fd = openSync(telemetryFile, 'r');
  try {
    readSync(fd, tail, 0, tail.length, size - tail.length);
  } finally {
    closeSync(fd);
  }
  const gauges = new Map<string, number>();
  for (const line of tail.toString('utf8').split('\n').reverse()) {
    if (!line.includes('"telemetry":"metric"')) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      continue; // the first line of the tail may be cut
    }
    if (isRecord(parsed) && typeof parsed.name === 'string' && typeof parsed.value === 'number')
      if (!gauges.has(parsed.name)) gauges.set(parsed.name, parsed.value);
  }
  const entries = gauges.get(METRIC.l1Entries.name);
  const bytes = gauges.get(METRIC.l1Bytes.name);
  if (entries === undefined || bytes === undefined) throw new Error(`no L1 gauges in ${telemetryFile}`);
  return { entries, bytes };
}

const checkpoints = [500, 1_000, 2_500, 5_000, 10_000, 50_000, 100_000].filter((n) => n <= CALLERS);
if (!checkpoints.includes(CALLERS)) checkpoints.push(CALLERS);
const started = performance.now();
const rows: Record<string, string>[] = [];

for (let i = 0; i < 50; i++) await callAs(-1 - i);
const base = await stats();
const baseL1 = await l1Gauges();
rows.push({
  callers: '50',
  'RSS MB': mb(base.rss),
  'heap MB (after GC)': mb(base.heapUsed),
  'V8 heap held MB': mb(base.heapTotal),
  'external MB': mb(base.external),
  'L1 entries': String(baseL1.entries),
  'L1 accounted MB': mb(baseL1.bytes),
});
console.log(`baseline: RSS ${mb(base.rss)} MB, heap ${mb(base.heapUsed)} MB`);

let next = 0;
let previous = { grown: 0, accounted: 0, entries: baseL1.entries };
let marginal = Number.NaN;
let bytesPerEntry = 0;
for (const checkpoint of checkpoints) {
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < checkpoint) await callAs(next++);
    }),
  );
  const l1 = await l1Gauges();
  const now = await stats();
  bytesPerEntry = l1.entries > 0 ? l1.bytes / l1.entries : 0;
  const accounted = l1.bytes - baseL1.bytes;
  const grown = now.heapUsed + now.external - (base.heapUsed + base.external);
  // Between checkpoints the fixed costs of a warm process are paid: what grows is what L1 holds (while it
  // fills; once full, entries replace entries and the accounted bytes only wander with token lengths).
  const sinceLast =
    previous.accounted > 0 && l1.entries > previous.entries
      ? (grown - previous.grown) / (accounted - previous.accounted)
      : Number.NaN;
  if (!Number.isNaN(sinceLast)) marginal = sinceLast;
  rows.push({
    callers: checkpoint.toLocaleString('en-US'),
    'RSS MB': mb(now.rss),
    'heap MB (after GC)': mb(now.heapUsed),
    'V8 heap held MB': mb(now.heapTotal),
    'external MB': mb(now.external),
    'L1 entries': String(l1.entries),
    'L1 accounted MB': mb(l1.bytes),
    'heap+external grown MB': mb(grown),
    'grown / accounted': (grown / accounted).toFixed(2),
    'since last checkpoint': Number.isNaN(sinceLast) ? '-' : sinceLast.toFixed(2),
    's so far': ((performance.now() - started) / 1000).toFixed(0),
  });
  console.log(JSON.stringify(rows.at(-1)));
  previous = { grown, accounted, entries: l1.entries };
}
await host.stop();

console.log(
  `\n${CALLERS.toLocaleString('en-US')} distinct callers through one host (L1 bounds: ${config.tokenCache.l1MaxEntries} entries, ${mb(config.tokenCache.l1MaxBytes)} MB; an entry charged ${bytesPerEntry.toFixed(0)} bytes on average):`,
);
console.table(rows);
const last = rows.at(-1);
// With every checkpoint past a small bound there is no 'between': the first checkpoint's ratio stands.
const ratio = Number.isNaN(marginal) ? Number(rows[1]?.['grown / accounted']) : marginal;
const rssGrowth = Number(last?.['RSS MB']) - Number(mb(base.rss));
const heldGrowth = Number(last?.['V8 heap held MB']) - Number(mb(base.heapTotal));
const liveGrowth = Number(last?.['heap+external grown MB']);
// What the host keeps alive is bounded by L1; RSS also holds what V8 keeps for its heap (reported, not judged).
const bounded = liveGrowth <= 2 * Number(mb(config.tokenCache.l1MaxBytes));
console.log(
  `  answers other than 200: ${failed} ${JSON.stringify(Object.fromEntries(unexpected))}; live heap+external grew ${liveGrowth.toFixed(0)} MB (${bounded ? 'within' : 'ABOVE'} 2 x L1 max bytes); RSS grew ${rssGrowth.toFixed(0)} MB, of which V8's held heap ${heldGrowth.toFixed(0)} MB; heap growth per L1 byte accounted, between checkpoints while L1 filled: ${ratio.toFixed(2)}x (${ratio >= 0.5 && ratio <= 2 ? 'within 2x' : 'OUTSIDE 2x'})`,
);
process.exit(failed === 0 && (args.smoke || (ratio >= 0.5 && ratio <= 2 && bounded)) ? 0 : 1);
