// The soak's callers: steady clients (users x clients per user) that sign in again before their token expires,
// sessions arriving over the run, each a new token, and the check of every answer (a 200 is the caller's own
// profile; a 401 only for a revoked session, which then signs in again).
import { decodeJwt } from 'jose';

import { userToken } from '../dev/sandbox/client.js';
import { isRecord } from '../shared/narrow.js';
import type { Generation, HostFleet } from './soakHosts.js';

export interface Session {
  id: number;
  user: string;
  token: string;
  oid: string;
  upn: string;
  /** Epoch seconds of the token's `iat` and `exp`. */
  iat: number;
  exp: number;
  /** Seconds from the start of the load. */
  startedAt: number;
  kind: 'steady' | 'arrival';
  /** Set once a call answered the revoked session's claims challenge. */
  challenged: boolean;
}

export interface CallRecord {
  seq: number;
  traceId: string;
  session: Session;
  generation: Generation;
  start: number;
  end: number;
  /** 0: no answer (the connection was cut). */
  status: number;
  retryAfter: string | null;
  code: string | undefined;
  /** Why the answer is wrong, when it is. */
  wrong: string | undefined;
}

export interface Revocation {
  user: string;
  /** Epoch seconds: tokens issued before this are refused. */
  validFrom: number;
  /** Seconds from the start of the load: when the revocation began (Entra), and when Graph had it too. */
  at: number;
  done: number;
}

export class SoakClients {
  readonly calls: CallRecord[] = [];
  readonly sessions: Session[] = [];
  readonly revocations = new Map<string, Revocation>();
  private seq = 0;
  private readonly running: Promise<void>[] = [];

  constructor(
    private readonly fleet: HostFleet,
    private readonly options: { thinkMs: number; renewBeforeSeconds: number },
    private readonly now: () => number,
    private readonly random: () => number,
  ) {}

  /** A client of `user` calling until `until` (seconds), signing in again as a SPA does. */
  startClient(user: string, until: number, kind: Session['kind'], firstDelayMs = 0): void {
    this.running.push(this.runClient(user, until, kind, firstDelayMs));
  }

  async finished(): Promise<void> {
    // Clients started while waiting are waited for too.
    for (let seen = 0; seen < this.running.length; seen = this.running.length) {
      await Promise.all(this.running.slice(seen));
    }
  }

  /** Whether the session's token was issued before its user's revocation. */
  isRevoked(session: Session): boolean {
    const revocation = this.revocations.get(session.user);
    return revocation !== undefined && session.iat < revocation.validFrom;
  }

  private async runClient(user: string, until: number, kind: Session['kind'], firstDelayMs: number) {
    await sleep(firstDelayMs);
    let session = await this.signIn(user, kind);
    while (this.now() < until) {
      if (session.exp - Date.now() / 1000 <= this.options.renewBeforeSeconds) {
        session = await this.signIn(user, kind);
      }
      const record = await this.call(session);
      if (record.status === 401 && this.isRevoked(session)) {
        session.challenged = true;
        // The SPA handles the claims challenge with a new sign-in: a new token.
        session = await this.signIn(user, kind);
        continue;
      }
      if (record.status === 0) continue;
      await sleep(this.options.thinkMs * (0.5 + this.random()));
    }
  }

  private async signIn(user: string, kind: Session['kind']): Promise<Session> {
    const token = await userToken(user);
    const claims = decodeJwt(token.accessToken);
    const session: Session = {
      id: this.sessions.length,
      user,
      token: token.accessToken,
      oid: token.oid,
      upn: typeof claims.preferred_username === 'string' ? claims.preferred_username : '',
      iat: claims.iat ?? 0,
      exp: claims.exp ?? 0,
      startedAt: this.now(),
      kind,
      challenged: false,
    };
    this.sessions.push(session);
    return session;
  }

  private async call(session: Session): Promise<CallRecord> {
    for (;;) {
      const generation = this.fleet.pick(this.random);
      if (generation !== undefined) return this.callHost(session, generation);
      await sleep(20);
    }
  }

  private async callHost(session: Session, generation: Generation): Promise<CallRecord> {
    this.seq += 1;
    // The call's own trace id: the host's request line carries it (W3C traceparent), so line and call meet.
    const traceId = this.seq.toString(16).padStart(32, '0');
    const start = this.now();
    const record: CallRecord = {
      seq: this.seq,
      traceId,
      session,
      generation,
      start,
      end: start,
      status: 0,
      retryAfter: null,
      code: undefined,
      wrong: undefined,
    };
    await this.fleet.track(generation, async () => {
      try {
        const response = await fetch(`${generation.url}/api/me`, {
          headers: {
            authorization: `Bearer ${session.token}`,
            traceparent: `00-${traceId}-00f067aa0ba902b7-00`,
          },
        });
        const body: unknown = await response.json().catch(() => undefined);
        record.status = response.status;
        record.retryAfter = response.headers.get('retry-after');
        record.code = isRecord(body) && typeof body.code === 'string' ? body.code : undefined;
        record.wrong = this.check(session, response.status, body, record.code);
      } catch {
        record.status = 0;
      }
    });
    record.end = this.now();
    this.calls.push(record);
    return record;
  }

  /** Why an answer is wrong for this caller, or undefined. */
  private check(
    session: Session,
    status: number,
    body: unknown,
    code: string | undefined,
  ): string | undefined {
    if (status === 200) {
      if (!isRecord(body)) return '200 without a JSON profile';
      if (body.id !== session.oid || body.userPrincipalName !== session.upn) {
        return `200 with another profile (id ${String(body.id)}) than the caller's`;
      }
      return undefined;
    }
    if (status === 401) {
      if (!this.isRevoked(session)) return `401 ${code ?? ''} for a session that was not revoked`;
      return code === 'ERR_CLAIMS_CHALLENGE' || code === 'ERR_ASSERTION_REJECTED'
        ? undefined
        : `401 ${code ?? ''} for a revoked session (a claims challenge was expected)`;
    }
    return undefined;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
