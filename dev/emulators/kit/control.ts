// Request counting (by kind and by path), added latency and the `/_emulator/{counters,reset,faults,latency}` endpoints shared by the
// sandbox's emulators; the faults themselves are in faults.ts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

import { isRecord } from '../../../shared/narrow.js';
import { type FaultContext, type FaultPreset, FaultQueue, MAX_DELAY_MS, parseFault } from './faults.js';
import { parseJsonBody, sendJson } from './http.js';

/** The most distinct paths counted; further ones are counted together under OTHER_PATHS. */
const MAX_PATHS = 1000;
const OTHER_PATHS = '(other paths)';

/** Requests by method and raw path (`GET /tasks/a-b_c`, no query), so a test can say which path was reached. */
export class PathCounters {
  readonly #counts = new Map<string, number>();

  count(method: string, path: string): void {
    let key = `${method} ${path}`;
    if (!this.#counts.has(key) && this.#counts.size >= MAX_PATHS) key = OTHER_PATHS;
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }

  reset(): void {
    this.#counts.clear();
  }
}

/** Requests served, by kind; every known kind is listed, from 0. */
export class RequestCounters {
  readonly #counts = new Map<string, number>();

  constructor(readonly kinds: readonly string[]) {
    this.reset();
  }

  count(kind: string): void {
    this.#counts.set(kind, (this.#counts.get(kind) ?? 0) + 1);
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }

  reset(): void {
    this.#counts.clear();
    for (const kind of this.kinds) this.#counts.set(kind, 0);
  }
}

export interface EmulatorControlOptions {
  kinds: readonly string[];
  presets?: Record<string, FaultPreset>;
  /** The emulator's error body for a fault that gives a status and no body. */
  errorBody: (status: number, context: FaultContext) => unknown;
}

/** Counters, the fault queue and the `/_emulator/{counters,reset,faults}` endpoints of one emulator. */
export class EmulatorControl {
  readonly counters: RequestCounters;
  readonly paths = new PathCounters();
  readonly faults = new FaultQueue();
  /** Added before every request of a kind ('' = every kind), as a real service's network and work would. */
  readonly #latencyMs = new Map<string, number>();
  readonly #options: Required<EmulatorControlOptions>;
  readonly #closing = new AbortController();

  constructor(options: EmulatorControlOptions) {
    this.#options = { presets: {}, ...options };
    this.counters = new RequestCounters(options.kinds);
  }

  reset(): void {
    this.counters.reset();
    this.paths.reset();
    this.faults.clear();
    this.#latencyMs.clear();
  }

  /** Ends pending fault delays (their requests get no answer). */
  close(): void {
    this.#closing.abort();
  }

  /** Answers a shared control request; false when `path` is not one. */
  handleControlRequest(req: IncomingMessage, res: ServerResponse, path: string, body: Buffer): boolean {
    if (path === '/_emulator/counters' && req.method === 'GET') {
      sendJson(res, 200, this.counters.snapshot());
    } else if (path === '/_emulator/counters/paths' && req.method === 'GET') {
      sendJson(res, 200, this.paths.snapshot());
    } else if (path === '/_emulator/reset' && req.method === 'POST') {
      this.reset();
      res.writeHead(204).end();
    } else if (path === '/_emulator/faults' && req.method === 'POST') {
      const input = parseJsonBody(body);
      const parsed = input.ok ? parseFault(input.value, this.#options) : input;
      if (!parsed.ok) {
        sendJson(res, 400, { error: 'invalid_fault', message: parsed.message });
        return true;
      }
      this.faults.enqueue(parsed.fault);
      res.writeHead(204).end();
    } else if (path === '/_emulator/latency' && req.method === 'POST') {
      const input = parseJsonBody(body);
      const latency = input.ok ? parseLatency(input.value, this.#options.kinds) : input;
      if (!latency.ok) {
        sendJson(res, 400, { error: 'invalid_latency', message: latency.message });
        return true;
      }
      if (latency.ms === 0) this.#latencyMs.delete(latency.kind);
      else this.#latencyMs.set(latency.kind, latency.ms);
      res.writeHead(204).end();
    } else {
      return false;
    }
    return true;
  }

  /**
   * Counts a request of `kind` and applies the next matching fault. Returns true when the emulator should
   * answer for real, false when the fault answered (or the client left during the delay).
   */
  async admit(
    kind: string,
    req: IncomingMessage,
    res: ServerResponse,
    partitionKey?: string,
  ): Promise<boolean> {
    this.counters.count(kind);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    this.paths.count(req.method ?? '', path);
    const latencyMs = this.#latencyMs.get(kind) ?? this.#latencyMs.get('') ?? 0;
    if (latencyMs > 0 && !(await this.#wait(latencyMs, req, res))) return false;
    const fault = this.faults.take(kind, path, partitionKey);
    if (fault === undefined) return true;
    if (fault.delayMs > 0 && !(await this.#wait(fault.delayMs, req, res))) return false;
    if (fault.answer === undefined) return true;
    const { status, headers, body } = fault.answer({ kind, req });
    if (typeof body === 'string') {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(body);
    } else {
      sendJson(res, status, body, headers);
    }
    return false;
  }

  /** Waits `ms` unless the emulator closes; false when the request is gone by then. */
  async #wait(ms: number, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    try {
      await sleep(ms, undefined, { signal: this.#closing.signal });
    } catch {
      res.destroy();
      return false;
    }
    return !(res.destroyed || req.socket.destroyed);
  }
}

/** The body of `POST /_emulator/latency`: `{ kind?, ms }`, ms 0 removes it. */
function parseLatency(
  input: unknown,
  kinds: readonly string[],
): { ok: true; kind: string; ms: number } | { ok: false; message: string } {
  if (!isRecord(input)) return { ok: false, message: 'the body must be a JSON object' };
  const unknownField = Object.keys(input).find((field) => field !== 'kind' && field !== 'ms');
  if (unknownField !== undefined) return { ok: false, message: `unknown field "${unknownField}"` };
  const { kind, ms } = input;
  if (kind !== undefined && (typeof kind !== 'string' || !kinds.includes(kind))) {
    return { ok: false, message: `"kind" must be one of ${kinds.join(', ')}` };
  }
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > MAX_DELAY_MS) {
    return { ok: false, message: `"ms" must be an integer from 0 to ${MAX_DELAY_MS}` };
  }
  return { ok: true, kind: typeof kind === 'string' ? kind : '', ms };
}
