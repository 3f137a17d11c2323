// The soak's accounting: each call meets its host's request line (by the trace id it sent), each Entra request on a
// line gets the reason the bench can name from what it did, and every answer is judged.
import type { CallRecord, Revocation, Session } from './soakClients.js';
import type { Generation, HostFleet, RequestLine } from './soakHosts.js';

/** Why a call's Entra requests happened; `lost` is a cached entry exchanged again for no reason the bench names. */
export const REASONS = [
  'new session',
  'renewal',
  'revocation',
  'key-ring rotation',
  'Cosmos DB outage',
  'Cosmos DB error, no outage',
  'write not landed',
  'lost',
] as const;
export type Reason = (typeof REASONS)[number];

/** msal-node renews this long before expiry (and so does the cache's L1). */
const RENEWAL_OFFSET_SECONDS = 300;
/** Clock slack around a renewal's due time: token times are whole seconds. */
const SLACK_SECONDS = 2;

export interface Window {
  name: string;
  from: number;
  to: number;
}

export interface AccountedCall {
  call: CallRecord;
  line: RequestLine | undefined;
  entra: Partial<Record<Reason, number>>;
  /** An entry this host could not decrypt; `documented` when it lacked a key another live host encrypted with. */
  unreadable: 'documented' | 'failure' | undefined;
  /** A 200 served while the token was past its renewal time (msal-node should have exchanged). */
  renewalMissed: boolean;
  /** A 503 with Retry-After while an upstream was down (Cosmos DB, Graph). */
  outage503: boolean;
  /** No answer: a call in flight on the host that was killed. */
  cutByKill: boolean;
  /** Why this call is a failure, when it is. */
  failure: string | undefined;
}

export interface AccountInput {
  calls: readonly CallRecord[];
  fleet: HostFleet;
  revocations: ReadonlyMap<string, Revocation>;
  isRevoked: (session: Session) => boolean;
  graphLifetime: number;
  callerLifetime: number;
  outages: readonly Window[];
}

export function accountCalls(input: AccountInput): AccountedCall[] {
  const lineOf = new Map<Generation, Map<string, RequestLine>>();
  for (const generation of input.fleet.generations) {
    lineOf.set(generation, new Map(generation.lines.map((line) => [line.traceId ?? '', line])));
  }
  const bySession = new Map<Session, CallRecord[]>();
  for (const call of input.calls) bySession.set(call.session, [...(bySession.get(call.session) ?? []), call]);

  const accounted: AccountedCall[] = [];
  for (const [session, calls] of bySession) {
    calls.sort((a, b) => a.start - b.start);
    let lastExchange: { start: number; end: number } | undefined;
    let notInL2 = false;
    for (const call of calls) {
      const line = lineOf.get(call.generation)?.get(call.traceId);
      const entry: AccountedCall = {
        call,
        line,
        entra: {},
        unreadable: undefined,
        renewalMissed: false,
        outage503: false,
        cutByKill: false,
        failure: call.wrong,
      };
      accounted.push(entry);
      if (line === undefined) {
        if (call.status === 0 && call.generation.killed) {
          entry.cutByKill = true;
          // It may have exchanged and never written: the next exchange elsewhere has that reason.
          notInL2 = true;
        } else entry.failure ??= `no request line for an answer ${call.status}`;
        continue;
      }
      if (line.cacheDocumentUnreadable === true) {
        entry.unreadable = lacksALiveKey(input.fleet, call, input.callerLifetime) ? 'documented' : 'failure';
        if (entry.unreadable === 'failure') entry.failure ??= 'an entry could not be decrypted';
      }
      const requests = line.entraTokenRequests ?? 0;
      const due =
        lastExchange !== undefined &&
        call.start >= lastExchange.start + input.graphLifetime - RENEWAL_OFFSET_SECONDS - SLACK_SECONDS;
      if (requests > 0) {
        const revocation = input.revocations.get(session.user);
        // A session of a revoked user signed in before Graph learnt of the revocation can hold a Graph token
        // Graph now challenges, even when Entra issued its own token after: its exchanges then are the revocation's.
        const revoked =
          revocation !== undefined &&
          call.end >= revocation.at &&
          (input.isRevoked(session) || session.startedAt <= revocation.done);
        const reason: Reason = revoked
          ? 'revocation'
          : entry.unreadable === 'documented'
            ? 'key-ring rotation'
            : line.cosmosDegraded === true || line.cosmosFailure !== undefined
              ? duringCosmosOutage(input.outages, call)
                ? 'Cosmos DB outage'
                : 'Cosmos DB error, no outage'
              : lastExchange === undefined
                ? 'new session'
                : notInL2
                  ? 'write not landed'
                  : due
                    ? 'renewal'
                    : 'lost';
        entry.entra[reason] = 1;
        // One exchange per call is what any reason explains; more is a loss.
        if (requests > 1 && reason !== 'revocation')
          entry.entra.lost = (entry.entra.lost ?? 0) + requests - 1;
        else if (requests > 1) entry.entra.revocation = requests;
        if (line.oboExchange === true) {
          lastExchange = { start: call.start, end: call.end };
          notInL2 =
            (line.cosmosWrites ?? 0) === 0 ||
            line.cosmosDegraded === true ||
            line.cacheWriteLost === true ||
            line.cacheWriteSkipped !== undefined;
        }
      } else if (
        call.status === 200 &&
        lastExchange !== undefined &&
        call.start > lastExchange.end + input.graphLifetime - RENEWAL_OFFSET_SECONDS + SLACK_SECONDS
      ) {
        entry.renewalMissed = true;
      }
      judgeStatus(entry, input.outages);
    }
  }
  return accounted.sort((a, b) => a.call.start - b.call.start);
}

function duringCosmosOutage(outages: readonly Window[], call: CallRecord): boolean {
  return outages.some((w) => w.name === 'Cosmos DB' && call.start <= w.to && call.end >= w.from);
}

function judgeStatus(entry: AccountedCall, outages: readonly Window[]): void {
  const { call } = entry;
  if (call.status < 500) return;
  const during = outages.some((w) => call.start <= w.to && call.end >= w.from);
  if (call.status === 503 && call.retryAfter !== null && during) entry.outage503 = true;
  else
    entry.failure ??= `${call.status} ${call.code ?? ''}${call.retryAfter === null ? ' without Retry-After' : ''}${during ? '' : ' outside any outage'}`;
}

/**
 * The documented rotation window: the host lacked the encrypting key of a host alive within a caller token's
 * lifetime before (an entry lives no longer than its caller's token), so it could not read what that one wrote.
 */
function lacksALiveKey(fleet: HostFleet, call: CallRecord, callerLifetime: number): boolean {
  const from = call.start - callerLifetime - 5;
  const writers = fleet.generations.filter(
    (g) => g.startedAt <= call.end && (g.endedAt === undefined || g.endedAt >= from),
  );
  return writers.some((g) => g.ring[0] !== undefined && !call.generation.ring.includes(g.ring[0]));
}

export interface Totals {
  calls: number;
  byStatus: Record<string, number>;
  latenciesMs: number[];
  entra: Record<Reason, number>;
  entraOnLines: number;
  cosmosReads: number;
  cosmosWrites: number;
  conflictRetries: number;
  unreadableDocumented: number;
  unreadableFailures: number;
  renewalsMissed: number;
  outage503: number;
  cutByKill: number;
  failures: number;
  wrong: number;
}

export function totalsOf(entries: readonly AccountedCall[]): Totals {
  const totals: Totals = {
    calls: entries.length,
    byStatus: {},
    latenciesMs: [],
    entra: Object.fromEntries(REASONS.map((r) => [r, 0])) as Record<Reason, number>,
    entraOnLines: 0,
    cosmosReads: 0,
    cosmosWrites: 0,
    conflictRetries: 0,
    unreadableDocumented: 0,
    unreadableFailures: 0,
    renewalsMissed: 0,
    outage503: 0,
    cutByKill: 0,
    failures: 0,
    wrong: 0,
  };
  for (const e of entries) {
    const status = e.cutByKill ? 'cut' : String(e.call.status);
    totals.byStatus[status] = (totals.byStatus[status] ?? 0) + 1;
    totals.latenciesMs.push((e.call.end - e.call.start) * 1000);
    for (const reason of REASONS) totals.entra[reason] += e.entra[reason] ?? 0;
    totals.entraOnLines += e.line?.entraTokenRequests ?? 0;
    totals.cosmosReads += e.line?.cosmosReads ?? 0;
    totals.cosmosWrites += e.line?.cosmosWrites ?? 0;
    totals.conflictRetries += e.line?.conflictRetries ?? 0;
    if (e.unreadable === 'documented') totals.unreadableDocumented += 1;
    if (e.unreadable === 'failure') totals.unreadableFailures += 1;
    if (e.renewalMissed) totals.renewalsMissed += 1;
    if (e.outage503) totals.outage503 += 1;
    if (e.cutByKill) totals.cutByKill += 1;
    if (e.failure !== undefined) totals.failures += 1;
    if (e.call.wrong !== undefined) totals.wrong += 1;
  }
  totals.latenciesMs.sort((a, b) => a - b);
  return totals;
}
