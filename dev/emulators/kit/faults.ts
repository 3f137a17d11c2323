// Fault injection shared by the sandbox's emulators: what a fault is, the body of `POST /_emulator/faults` that
// queues one, and the queue that applies them.
import type { IncomingMessage } from 'node:http';

import { isRecord } from '../../../shared/narrow.js';

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
  'redirectTo',
]);
/** The statuses a `redirectTo` fault may answer with (302 when none is given). */
const REDIRECT_STATUSES = [301, 302, 303, 307, 308];
/** The longest delay a fault or an added latency may ask for. */
export const MAX_DELAY_MS = 120_000;
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
    redirectTo,
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

  // A redirect elsewhere (a hijacked DNS name, a misbehaving proxy): the client must not follow it.
  if (redirectTo !== undefined) {
    if (typeof redirectTo !== 'string' || !/^https?:\/\//.test(redirectTo) || !URL.canParse(redirectTo)) {
      return invalid('"redirectTo" must be an absolute http(s) URL');
    }
    if (presetName !== undefined || body !== undefined) {
      return invalid('"redirectTo" cannot be combined with "preset" or "body"');
    }
    if (status !== undefined && !REDIRECT_STATUSES.includes(status)) {
      return invalid(`"status" with "redirectTo" must be one of ${REDIRECT_STATUSES.join(', ')}`);
    }
  }

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
  } else if (
    status === undefined &&
    redirectTo === undefined &&
    (body !== undefined || headers !== undefined)
  ) {
    return invalid('"body" and "headers" need a "status" (or a "preset")');
  } else if (status === undefined && delayMs === 0 && redirectTo === undefined) {
    return invalid('a fault needs a "status", a "preset", a "redirectTo" or a "delayMs"');
  }

  let answer: Fault['answer'];
  if (typeof redirectTo === 'string') {
    answer = () => ({
      status: typeof status === 'number' ? status : 302,
      headers: { ...extraHeaders, location: redirectTo },
      body: '',
    });
  } else if (preset !== undefined) {
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

function invalid(message: string): ParsedFault {
  return { ok: false, message };
}
