// Request counting and fault injection shared by the sandbox's emulators.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

import { isRecord } from '../../../shared/narrow.js';
import { parseJsonBody, sendJson } from './http.js';

/** What a fault's answer is built from, at the time it answers. */
export interface FaultContext {
  kind: string;
  req: IncomingMessage;
}

export interface FaultAnswer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** A named, realistic failure of one emulator (e.g. Entra's AADSTS50076 MFA challenge). */
export interface FaultPreset {
  /** The kind it applies to when the fault names none. */
  kind?: string;
  status: number;
  headers?: Record<string, string>;
  body: (context: FaultContext) => unknown;
}

export interface Fault {
  /** undefined: any kind. */
  kind: string | undefined;
  delayMs: number;
  remaining: number;
  /** Epoch ms after which the fault no longer applies (`durationMs`); undefined: until its count is used up. */
  expiresAt: number | undefined;
  /** Applies only to requests whose URL path contains this (`pathIncludes`), e.g. one hot document's id. */
  pathIncludes: string | undefined;
  /** Only requests for this partition key (Cosmos DB: one caller's document); undefined: any. */
  partitionKey: string | undefined;
  /** undefined: delay only, then the real answer. */
  answer: ((context: FaultContext) => FaultAnswer) | undefined;
}

export type ParsedFault = { ok: true; fault: Fault } | { ok: false; message: string };

const FAULT_FIELDS = new Set([
  'kind',
  'status',
  'delayMs',
  'count',
  'body',
  'headers',
  'preset',
  'durationMs',
  'pathIncludes',
  'partitionKey',
]);
const MAX_DELAY_MS = 120_000;
const MAX_COUNT = 1_000_000;
const MAX_DURATION_MS = 3_600_000;

/**
 * Validates the body of `POST /_emulator/faults`. `errorBody` gives the emulator's own error shape for a
 * status given without a body.
 */
export function parseFault(
  input: unknown,
  options: {
    kinds: readonly string[];
    presets: Readonly<Record<string, FaultPreset>>;
    errorBody: (status: number, context: FaultContext) => unknown;
  },
): ParsedFault {
  if (!isRecord(input)) return invalid('the body must be a JSON object');
  const unknownField = Object.keys(input).find((field) => !FAULT_FIELDS.has(field));
  if (unknownField !== undefined) return invalid(`unknown field "${unknownField}"`);

  const {
    kind,
    status,
    delayMs = 0,
    body,
    headers,
    preset: presetName,
    durationMs,
    pathIncludes,
    partitionKey,
  } = input;
  if (partitionKey !== undefined && typeof partitionKey !== 'string') {
    return invalid('"partitionKey" must be a string');
  }
  // A fault bounded in time applies to every matching request in its window unless a count is given too.
  const count = input.count ?? (durationMs === undefined ? 1 : MAX_COUNT);
  if (kind !== undefined && (typeof kind !== 'string' || !options.kinds.includes(kind))) {
    return invalid(`"kind" must be one of ${options.kinds.join(', ')}`);
  }
  if (
    status !== undefined &&
    !(Number.isInteger(status) && typeof status === 'number' && status >= 200 && status <= 599)
  ) {
    return invalid('"status" must be an integer from 200 to 599');
  }
  if (typeof delayMs !== 'number' || !Number.isInteger(delayMs) || delayMs < 0 || delayMs > MAX_DELAY_MS) {
    return invalid(`"delayMs" must be an integer from 0 to ${MAX_DELAY_MS}`);
  }
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_COUNT) {
    return invalid(`"count" must be an integer from 1 to ${MAX_COUNT}`);
  }
  if (
    durationMs !== undefined &&
    (typeof durationMs !== 'number' ||
      !Number.isInteger(durationMs) ||
      durationMs < 1 ||
      durationMs > MAX_DURATION_MS)
  ) {
    return invalid(`"durationMs" must be an integer from 1 to ${MAX_DURATION_MS}`);
  }
  if (pathIncludes !== undefined && (typeof pathIncludes !== 'string' || pathIncludes === '')) {
    return invalid('"pathIncludes" must be a non-empty string');
  }
  if (
    headers !== undefined &&
    !(isRecord(headers) && Object.values(headers).every((v) => typeof v === 'string'))
  ) {
    return invalid('"headers" must be an object of strings');
  }
  const extraHeaders = (headers ?? {}) as Record<string, string>;

  let preset: FaultPreset | undefined;
  if (presetName !== undefined) {
    preset =
      typeof presetName === 'string' && Object.hasOwn(options.presets, presetName)
        ? options.presets[presetName]
        : undefined;
    if (preset === undefined) {
      const names = Object.keys(options.presets);
      return invalid(
        `"preset" must be one of ${names.length > 0 ? names.join(', ') : '(none for this emulator)'}`,
      );
    }
    if (body !== undefined) return invalid('"body" cannot be combined with "preset"');
  } else if (status === undefined && (body !== undefined || headers !== undefined)) {
    return invalid('"body" and "headers" need a "status" (or a "preset")');
  } else if (status === undefined && delayMs === 0) {
    return invalid('a fault needs a "status", a "preset" or a "delayMs"');
  }

  let answer: Fault['answer'];
  if (preset !== undefined) {
    const { status: presetStatus, headers: presetHeaders = {}, body: presetBody } = preset;
    answer = (context) => ({
      status: typeof status === 'number' ? status : presetStatus,
      headers: { ...presetHeaders, ...extraHeaders },
      body: presetBody(context),
    });
  } else if (typeof status === 'number') {
    answer = (context) => ({
      status,
      headers: extraHeaders,
      body: body === undefined ? options.errorBody(status, context) : body,
    });
  }

  return {
    ok: true,
    fault: {
      kind: typeof kind === 'string' ? kind : preset?.kind,
      delayMs,
      remaining: count,
      expiresAt: typeof durationMs === 'number' ? Date.now() + durationMs : undefined,
      pathIncludes: typeof pathIncludes === 'string' ? pathIncludes : undefined,
      partitionKey,
      answer,
    },
  };
}

/** Faults applied in the order they were queued, each to the next `count` requests of its kind. */
export class FaultQueue {
  #faults: Fault[] = [];

  enqueue(fault: Fault): void {
    this.#faults.push(fault);
  }

  /**
   * The first queued fault matching `kind` (and `path`, and `partitionKey` when the fault names one),
   * used up by one; expired faults are dropped.
   */
  take(kind: string, path = '', partitionKey?: string): Fault | undefined {
    const now = Date.now();
    this.#faults = this.#faults.filter((fault) => fault.expiresAt === undefined || fault.expiresAt > now);
    const index = this.#faults.findIndex(
      (fault) =>
        (fault.kind === undefined || fault.kind === kind) &&
        (fault.pathIncludes === undefined || path.includes(fault.pathIncludes)) &&
        (fault.partitionKey === undefined || fault.partitionKey === partitionKey),
    );
    const fault = this.#faults[index];
    if (fault === undefined) return undefined;
    fault.remaining -= 1;
    if (fault.remaining === 0) this.#faults.splice(index, 1);
    return fault;
  }

  get size(): number {
    return this.#faults.length;
  }

  clear(): void {
    this.#faults = [];
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
    const latencyMs = this.#latencyMs.get(kind) ?? this.#latencyMs.get('') ?? 0;
    if (latencyMs > 0 && !(await this.#wait(latencyMs, req, res))) return false;
    const fault = this.faults.take(kind, (req.url ?? '/').split('?')[0], partitionKey);
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

function invalid(message: string): ParsedFault {
  return { ok: false, message };
}
