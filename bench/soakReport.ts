// The soak's report: per minute and in total, the Entra reconciliation, each host's memory, the failures, and the
// one summary line CI reads (last).
import { percentile } from './costModel.js';
import { type AccountedCall, REASONS, type Totals, totalsOf } from './soakAccount.js';
import type { HostFleet } from './soakHosts.js';

export interface SoakEvent {
  at: number;
  what: string;
}

export interface EmulatorCounts {
  entra: number;
  cosmosReads: number;
  cosmosWrites: number;
}

export interface ReportInput {
  accounted: readonly AccountedCall[];
  events: readonly SoakEvent[];
  fleet: HostFleet;
  sessions: number;
  seconds: number;
  emulator: EmulatorCounts;
}

function markdownTable(rows: readonly Record<string, string>[]): string {
  const first = rows[0];
  if (first === undefined) return '(none)';
  const columns = Object.keys(first);
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [
    line(columns),
    line(columns.map(() => '---')),
    ...rows.map((row) => line(columns.map((c) => row[c] ?? ''))),
  ].join('\n');
}

const statuses = (t: Totals): string =>
  Object.entries(t.byStatus)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([status, n]) => `${status}: ${n}`)
    .join(', ');

const named = (t: Totals): number =>
  REASONS.filter((r) => r !== 'lost').reduce((sum, r) => sum + t.entra[r], 0);

function row(label: string, t: Totals, events: string): Record<string, string> {
  return {
    minute: label,
    calls: String(t.calls),
    'answers by status': statuses(t),
    'p50 ms': percentile(t.latenciesMs, 0.5).toFixed(0),
    'p99 ms': percentile(t.latenciesMs, 0.99).toFixed(0),
    'Entra (sessions+renewals+revocations+other named)': `${t.entraOnLines} (${t.entra['new session']}+${t.entra.renewal}+${t.entra.revocation}+${t.entra['key-ring rotation'] + t.entra['Cosmos DB outage'] + t.entra['Cosmos DB error, no outage'] + t.entra['write not landed']})`,
    'Cosmos r/w': `${t.cosmosReads}/${t.cosmosWrites}`,
    'conflict retries': String(t.conflictRetries),
    'unreadable (rotation window / other)': `${t.unreadableDocumented}/${t.unreadableFailures}`,
    lost: String(t.entra.lost),
    events,
  };
}

/** Prints the report; true when the run had no failure. */
export function printReport(input: ReportInput): boolean {
  const { accounted, emulator } = input;
  const minutes = Math.max(1, Math.ceil(input.seconds / 60));
  const rows: Record<string, string>[] = [];
  for (let m = 0; m < minutes; m++) {
    const inMinute = accounted.filter((e) => Math.floor(e.call.start / 60) === m);
    if (inMinute.length === 0) continue;
    const events = input.events
      .filter((e) => Math.floor(e.at / 60) === m)
      .map((e) => `${e.at.toFixed(0)} s ${e.what}`)
      .join('; ');
    rows.push(row(String(m + 1), totalsOf(inMinute), events));
  }
  const total = totalsOf(accounted);
  rows.push(row('all', total, ''));
  console.log(
    "\nPer minute (calls by the minute they started in; Entra requests from the hosts' request lines):\n",
  );
  console.log(markdownTable(rows));

  // Entra: the emulator's count of token requests against what the bench can name. Calls cut by the kill have
  // no line: what they asked of Entra is the difference, at most one each.
  const withoutLine = emulator.entra - total.entraOnLines;
  const cutExchanges = Math.min(Math.max(withoutLine, 0), total.cutByKill);
  const expected = named(total) + cutExchanges;
  const entraMatches = withoutLine >= 0 && withoutLine <= total.cutByKill;
  console.log('\nEntra token requests, by the reason the bench names:\n');
  console.log(
    markdownTable([
      ...REASONS.map((reason) => ({ reason, requests: String(total.entra[reason]) })),
      { reason: `calls cut by the kill (no line; ${total.cutByKill} calls)`, requests: String(cutExchanges) },
      { reason: 'expected (all but lost)', requests: String(expected) },
      { reason: 'counted at the Entra emulator', requests: String(emulator.entra) },
    ]),
  );
  console.log(
    `\nCosmos DB at the emulator: ${emulator.cosmosReads} reads, ${emulator.cosmosWrites} writes (request lines: ${total.cosmosReads} / ${total.cosmosWrites}); conflict retries ${total.conflictRetries}; ${input.sessions} sessions; 200s past their renewal time served without an exchange: ${total.renewalsMissed}`,
  );

  console.log("\nHosts (each slot's first process at its start, its last at the end; MB):\n");
  const hostRows: Record<string, string>[] = [];
  let rssFirst = 0;
  let rssLast = 0;
  for (let slot = 0; slot < input.fleet.size; slot++) {
    const generations = input.fleet.generations.filter((g) => g.slot === slot);
    const first = generations[0];
    const last = generations.at(-1);
    rssFirst += first?.atStart?.rssMb ?? 0;
    rssLast += last?.atEnd?.rssMb ?? 0;
    hostRows.push({
      host: String(slot),
      processes: `${generations.length}${generations.some((g) => g.killed) ? ' (one killed)' : ''}`,
      'RSS start -> end': `${first?.atStart?.rssMb.toFixed(0) ?? '?'} -> ${last?.atEnd?.rssMb.toFixed(0) ?? '?'}`,
      'heap start -> end': `${first?.atStart?.heapMb.toFixed(1) ?? '?'} -> ${last?.atEnd?.heapMb.toFixed(1) ?? '?'}`,
      'last process ran s':
        last === undefined ? '?' : ((last.endedAt ?? input.seconds) - last.startedAt).toFixed(0),
      calls: String(generations.reduce((sum, g) => sum + g.lines.length, 0)),
      warnings: String(generations.reduce((sum, g) => sum + g.warnings.length, 0)),
    });
  }
  console.log(markdownTable(hostRows));
  const warnings = new Map<string, { n: number; first: string }>();
  for (const line of input.fleet.generations.flatMap((g) => g.warnings)) {
    const message = /"message":"([^"]+)"/.exec(line)?.[1] ?? line.slice(0, 100);
    const seen = warnings.get(message);
    warnings.set(message, { n: (seen?.n ?? 0) + 1, first: seen?.first ?? line });
  }
  for (const [message, { n, first }] of warnings) {
    console.log(`  host warnings: ${n} x ${message}\n    first: ${first.slice(0, 400)}`);
  }

  const failures: string[] = [];
  const fiveXx = accounted.filter((e) => e.call.status >= 500);
  const badFiveXx = fiveXx.filter((e) => !e.outage503).length;
  if (badFiveXx > 0) failures.push(`${badFiveXx} 5xx outside an outage (or without Retry-After)`);
  if (total.wrong > 0) failures.push(`${total.wrong} wrong answers`);
  if (total.entra.lost > 0)
    failures.push(`${total.entra.lost} tokens lost (exchanged again for no named reason)`);
  if (total.unreadableFailures > 0)
    failures.push(`${total.unreadableFailures} entries undecryptable outside the rotation window`);
  if (!entraMatches)
    failures.push(
      `Entra counted ${emulator.entra} token requests, the lines ${total.entraOnLines}, ${total.cutByKill} calls cut`,
    );
  const other = accounted.filter(
    (e) =>
      e.failure !== undefined &&
      e.call.status < 500 &&
      e.call.wrong === undefined &&
      e.unreadable !== 'failure',
  );
  if (other.length > 0) failures.push(`${other.length} other failed calls`);
  const examples = new Map<string, number>();
  for (const e of accounted) {
    if (e.failure !== undefined) examples.set(e.failure, (examples.get(e.failure) ?? 0) + 1);
    else if ((e.entra.lost ?? 0) > 0) {
      const what = `lost: ${e.line?.cache ?? '?'} on host ${e.call.generation.slot}.${e.call.generation.index} at ${e.call.start.toFixed(0)} s`;
      examples.set(what, (examples.get(what) ?? 0) + 1);
    }
  }
  for (const e of input.events.filter((event) => event.what.startsWith('FAILED'))) failures.push(e.what);
  if (failures.length > 0) {
    console.error(`\nFAILED:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
    for (const [what, n] of [...examples].slice(0, 20)) console.error(`    ${n} x ${what}`);
    printHistories(
      accounted.filter((e) => e.failure !== undefined || (e.entra.lost ?? 0) > 0).slice(0, 3),
      accounted,
    );
  }
  console.log(
    `\nsoak: ${total.calls} calls in ${input.seconds.toFixed(0)} s; 5xx ${fiveXx.length} (503 during outages ${total.outage503}); wrong answers ${total.wrong}; lost ${total.entra.lost}; undecryptable ${total.unreadableFailures}; Entra ${emulator.entra} of ${expected}; RSS ${rssFirst.toFixed(0)}->${rssLast.toFixed(0)} MB`,
  );
  return failures.length === 0;
}

/** The session of each failed call, call by call, with what its request lines said: what to debug from. */
function printHistories(failed: readonly AccountedCall[], accounted: readonly AccountedCall[]): void {
  for (const f of failed) {
    const session = f.call.session;
    console.error(
      `\n  session ${session.id} (${session.kind}, user ${session.user}, token iat ${session.iat} exp ${session.exp}, started ${session.startedAt.toFixed(1)} s):`,
    );
    for (const e of accounted.filter((a) => a.call.session === session)) {
      const line = e.line === undefined ? 'no line' : JSON.stringify({ ...e.line, traceId: undefined });
      const mark = e === f ? ' <==' : '';
      console.error(
        `    ${e.call.start.toFixed(2)}-${e.call.end.toFixed(2)} s host ${e.call.generation.slot}.${e.call.generation.index} ${e.call.status} ${JSON.stringify(e.entra)} ${line}${mark}`,
      );
    }
  }
}
