// The soak's hosts: K local host processes (bench/loadHost.ts over the bench bundle), each slot run by one process
// generation after another (rolling restarts with a new TOKEN_CACHE_KEYS, a SIGKILL), every request line kept with
// the generation that wrote it.
import { randomBytes } from 'node:crypto';

import { type HostProcess, startHostProcess } from '../dev/host/hostProcess.js';

/** The request line's fields the soak reads (docs/observability.md). */
export interface RequestLine {
  traceId?: string;
  status: number;
  code?: string;
  cache?: string;
  oboExchange?: boolean;
  entraTokenRequests?: number;
  cosmosReads?: number;
  cosmosWrites?: number;
  conflictRetries?: number;
  cacheWriteLost?: boolean;
  cacheDocumentUnreadable?: boolean;
  cosmosDegraded?: boolean;
  cosmosFailure?: string;
  cacheWriteSkipped?: string;
}

export interface MemoryReading {
  rssMb: number;
  heapMb: number;
}

/** One process of a host slot, from its start to its end. */
export interface Generation {
  slot: number;
  index: number;
  /** The key ids of its TOKEN_CACHE_KEYS, the encrypting one first. */
  ring: string[];
  keyRing: KeyRing;
  startedAt: number;
  endedAt: number | undefined;
  killed: boolean;
  url: string;
  lines: RequestLine[];
  warnings: string[];
  atStart: MemoryReading | undefined;
  atEnd: MemoryReading | undefined;
  process: HostProcess;
}

interface Slot {
  current: Generation | undefined;
  available: boolean;
  inFlight: number;
  /** Restarts and kills of one slot run one after the other. */
  changing: Promise<unknown>;
}

/** A cache key ring value (`kid:base64key,...`) and its key ids. */
export interface KeyRing {
  value: string;
  ids: string[];
}

export function ringOf(value: string): KeyRing {
  return { value, ids: value.split(',').map((entry) => entry.split(':')[0] ?? '') };
}

/** A new 256-bit key staged right after the current one (`npm run keys -- add`): it decrypts, encrypts nowhere yet. */
export function withStagedKey(ring: KeyRing, id: string): KeyRing {
  const [current, ...older] = ring.value.split(',');
  return ringOf([current, `${id}:${randomBytes(32).toString('base64')}`, ...older].join(','));
}

/** The staged key made current (`npm run keys -- promote`), the previous current key right after it. */
export function withStagedKeyPromoted(ring: KeyRing): KeyRing {
  const [current, staged, ...older] = ring.value.split(',');
  if (current === undefined || staged === undefined) throw new Error('the ring holds no staged key');
  return ringOf([staged, current, ...older].join(','));
}

/** The ring without its last (oldest) key. */
export function withoutOldest(ring: KeyRing): KeyRing {
  return ringOf(ring.value.split(',').slice(0, -1).join(','));
}

export class HostFleet {
  readonly generations: Generation[] = [];
  private readonly slots: Slot[];

  constructor(
    count: number,
    private readonly env: Record<string, string>,
    private readonly now: () => number,
  ) {
    this.slots = Array.from({ length: count }, () => ({
      current: undefined,
      available: false,
      inFlight: 0,
      changing: Promise.resolve(),
    }));
  }

  get size(): number {
    return this.slots.length;
  }

  async startAll(ring: KeyRing): Promise<void> {
    await Promise.all(this.slots.map((_, slot) => this.start(slot, ring)));
  }

  /** A live host for the next call: uniformly among the available ones (no affinity, as Azure). */
  pick(random: () => number): Generation | undefined {
    const live = this.slots.filter((slot) => slot.available && slot.current !== undefined);
    return live[Math.floor(random() * live.length)]?.current;
  }

  /** Counts a call in flight on the generation's slot while `run` runs. */
  async track<T>(generation: Generation, run: () => Promise<T>): Promise<T> {
    const slot = this.slots[generation.slot];
    if (slot !== undefined && slot.current === generation) slot.inFlight += 1;
    try {
      return await run();
    } finally {
      // A killed generation's count was reset when it was killed: its cut calls, ending later, must not take
      // the count below its successor's calls in flight (a rolling restart would then stop a busy host).
      if (slot !== undefined && slot.current === generation && !generation.killed) slot.inFlight -= 1;
    }
  }

  /** The slot with the most calls in flight now. */
  busiest(): number {
    let best = 0;
    this.slots.forEach((slot, index) => {
      if (slot.inFlight > (this.slots[best]?.inFlight ?? 0)) best = index;
    });
    return best;
  }

  /** A rolling restart: no new calls, the calls in flight finish, the host stops and starts with `ring`. */
  restart(slotIndex: number, ring: KeyRing): Promise<void> {
    return this.exclusive(slotIndex, () => this.restartNow(slotIndex, ring));
  }

  private async restartNow(slotIndex: number, ring: KeyRing): Promise<void> {
    const slot = this.slots[slotIndex];
    const generation = slot?.current;
    if (slot === undefined || generation === undefined) return;
    slot.available = false;
    while (slot.inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    generation.atEnd = await readMemory(generation);
    await generation.process.stop();
    generation.endedAt = this.now();
    await this.start(slotIndex, ring);
  }

  /** SIGKILL, as the platform kills an instance: what it had in flight is cut; then it starts again, same ring. */
  kill(slotIndex: number): Promise<Generation | undefined> {
    return this.exclusive(slotIndex, () => this.killNow(slotIndex));
  }

  private async killNow(slotIndex: number): Promise<Generation | undefined> {
    const slot = this.slots[slotIndex];
    const generation = slot?.current;
    if (slot === undefined || generation === undefined) return undefined;
    slot.available = false;
    generation.killed = true;
    await generation.process.kill();
    generation.endedAt = this.now();
    slot.inFlight = 0;
    await this.start(slotIndex, generation.keyRing);
    return generation;
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      this.slots.map(async (slot) => {
        const generation = slot.current;
        slot.available = false;
        if (generation === undefined) return;
        generation.atEnd ??= await readMemory(generation);
        await generation.process.stop();
        generation.endedAt ??= this.now();
      }),
    );
  }

  private exclusive<T>(slotIndex: number, change: () => Promise<T>): Promise<T> {
    const slot = this.slots[slotIndex];
    if (slot === undefined) return change();
    const result = slot.changing.then(change);
    slot.changing = result.catch(() => undefined);
    return result;
  }

  /** The generations alive at `at` (seconds). */
  aliveAt(at: number): Generation[] {
    return this.generations.filter((g) => g.startedAt <= at && (g.endedAt === undefined || g.endedAt >= at));
  }

  private async start(slotIndex: number, ring: KeyRing): Promise<void> {
    const slot = this.slots[slotIndex];
    if (slot === undefined) return;
    const lines: RequestLine[] = [];
    const warnings: string[] = [];
    const process = await startHostProcess({
      port: 0,
      entry: 'bench/loadHost.ts',
      env: { ...this.env, TOKEN_CACHE_KEYS: ring.value },
      startTimeoutMs: 60_000,
      onLine: (line) => {
        const start = line.indexOf('{"event":"request"');
        if (start >= 0) lines.push(JSON.parse(line.slice(start)) as RequestLine);
        else if (/\[(warning|warn|error)\]/.test(line)) warnings.push(line);
      },
    });
    const generation: Generation = {
      slot: slotIndex,
      index: this.generations.filter((g) => g.slot === slotIndex).length,
      ring: ring.ids,
      keyRing: ring,
      startedAt: this.now(),
      endedAt: undefined,
      killed: false,
      url: process.url,
      lines,
      warnings,
      atStart: undefined,
      atEnd: undefined,
      process,
    };
    generation.atStart = await readMemory(generation);
    this.generations.push(generation);
    slot.current = generation;
    slot.available = true;
  }
}

async function readMemory(generation: Generation): Promise<MemoryReading | undefined> {
  try {
    const stats = (await (await fetch(`${generation.url}/api/bench/stats`)).json()) as {
      rss: number;
      heapUsed: number;
    };
    return { rssMb: stats.rss / 2 ** 20, heapMb: stats.heapUsed / 2 ** 20 };
  } catch {
    return undefined;
  }
}
