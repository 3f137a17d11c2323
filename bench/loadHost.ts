/**
 * The `--entry` that the load benchmark gives dev/cli/serve.ts: the app (dist/main.js) or a baseline
 * (bench/baseline.ts), named by BENCH_TARGET, plus bench-only routes measured inside the host process:
 *
 *   GET  /api/bench/stats    RSS, heap, process CPU and the CPU spent inside the app's handlers
 *   POST /api/bench/floor    CPU of { n } x (one RS256 verification + one Graph request), the warm call's floor
 *   POST /api/bench/profile  { action: 'start' | 'stop' }: a V8 CPU profile (stop answers it, by source file)
 */
import { existsSync, readFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createRequire, SourceMap, type SourceMapPayload } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { importJWK, type JWK, jwtVerify } from 'jose';

import { serveFunctionsCore } from '../dev/host/functionsHost.js';
import type { HttpFunctionDefinition } from '../shared/http/registry.js';
import { isRecord } from '../shared/narrow.js';

// A full GC before a memory reading, so the heap figure is what is live, not what is yet to be collected.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

interface FunctionsCore {
  registerFunction(metadata: unknown, handler: HttpHandler): unknown;
}
// dev/cli/serve.ts serves '@azure/functions-core' before importing this entry: keep its core to hand the
// (timed) functions on, and catch what the target registers with a core of our own in between.
const hostCore = createRequire(import.meta.url)('@azure/functions-core') as FunctionsCore;
const appFunctions = serveFunctionsCore();
const target = resolve(process.env.BENCH_TARGET ?? 'dist/main.js');
await import(pathToFileURL(target).href);

let handlerCpuMicros = 0;
let handlerCalls = 0;

/** The app's handlers, each timed in process CPU (exact only when calls do not overlap: concurrency 1). */
function timed(definition: HttpFunctionDefinition): HttpFunctionDefinition {
  return {
    ...definition,
    handler: async (request: HttpRequest, context: InvocationContext) => {
      const before = process.cpuUsage();
      try {
        return await definition.handler(request, context);
      } finally {
        const used = process.cpuUsage(before);
        handlerCpuMicros += used.user + used.system;
        handlerCalls += 1;
      }
    },
  };
}

function stats(): HttpResponseInit {
  collectGarbage();
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  return {
    status: 200,
    jsonBody: {
      pid: process.pid,
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      heapTotal: memory.heapTotal,
      external: memory.external,
      arrayBuffers: memory.arrayBuffers,
      cpuMicros: cpu.user + cpu.system,
      handlerCpuMicros,
      handlerCalls,
    },
  };
}

/** One RS256 verification of the caller's token and one Graph request with a Graph token, `n` times. */
async function floor(request: HttpRequest): Promise<HttpResponseInit> {
  const body: unknown = await request.json();
  if (
    !isRecord(body) ||
    typeof body.n !== 'number' ||
    typeof body.assertion !== 'string' ||
    typeof body.graphToken !== 'string' ||
    typeof body.issuer !== 'string' ||
    typeof body.audience !== 'string' ||
    typeof body.jwksUrl !== 'string' ||
    typeof body.graphUrl !== 'string'
  ) {
    return { status: 400 };
  }
  const jwks: unknown = await (await fetch(body.jwksUrl)).json();
  const first: unknown = isRecord(jwks) && Array.isArray(jwks.keys) ? jwks.keys[0] : undefined;
  if (!isRecord(first)) return { status: 502 };
  const key = await importJWK(first as JWK, 'RS256');
  const run = async (): Promise<void> => {
    await jwtVerify(body.assertion as string, key, {
      algorithms: ['RS256'],
      issuer: body.issuer as string,
      audience: body.audience as string,
    });
    const response = await fetch(body.graphUrl as string, {
      headers: { authorization: `Bearer ${body.graphToken as string}` },
    });
    await response.json();
  };
  for (let i = 0; i < 20; i++) await run();
  const before = process.cpuUsage();
  for (let i = 0; i < body.n; i++) await run();
  const used = process.cpuUsage(before);
  return { status: 200, jsonBody: { cpuMicrosPerCall: (used.user + used.system) / body.n } };
}

let session: Session | undefined;

/** Self time by source (files of the bundle resolved through its source map), in microseconds. */
async function profile(request: HttpRequest): Promise<HttpResponseInit> {
  const body: unknown = await request.json();
  const action = isRecord(body) ? body.action : undefined;
  if (action === 'start') {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
    return { status: 204 };
  }
  if (action !== 'stop' || session === undefined) return { status: 400 };
  const { profile: cpuProfile } = await session.post('Profiler.stop');
  session.disconnect();
  session = undefined;
  const selfMicros = new Map<string, number>();
  const byId = new Map(cpuProfile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of cpuProfile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const deltas = cpuProfile.timeDeltas ?? [];
  (cpuProfile.samples ?? []).forEach((id, index) => {
    const node = byId.get(id);
    if (node === undefined) return;
    const name = node.callFrame.functionName;
    let label = name.startsWith('(') ? name : '';
    // Native code (socket writes, crypto, JSON) is charged to the nearest JavaScript that called it.
    for (let at: number | undefined = id; label === '' && at !== undefined; at = parents.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (frame === undefined) break;
      const where = sourceOf(frame.url, frame.lineNumber, frame.columnNumber);
      if (where !== '') label = at === id ? where : `${where} (native)`;
    }
    if (label === '') label = `native ${name || '(anonymous)'}`;
    selfMicros.set(label, (selfMicros.get(label) ?? 0) + (deltas[index] ?? 0));
  });
  return { status: 200, jsonBody: Object.fromEntries(selfMicros) };
}

/** The original source of a profiled frame, grouped: a package, a folder of ours, or a Node internal. */
function sourceOf(url: string, line: number, column: number): string {
  if (url === '') return '';
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  const map = sourceMapOf(url.startsWith('file://') ? url.slice('file://'.length) : url);
  const original = map?.findEntry(line, column);
  const source = original !== undefined && 'originalSource' in original ? original.originalSource : url;
  const packageMatch = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(source);
  if (packageMatch?.[1] !== undefined) return packageMatch[1];
  const ours = /\/(shared\/[^/]+|functions|bench|dev)\//.exec(source);
  return ours?.[1] ?? source;
}

const sourceMaps = new Map<string, SourceMap | undefined>();

function sourceMapOf(path: string): SourceMap | undefined {
  if (!sourceMaps.has(path)) {
    const mapPath = `${path}.map`;
    sourceMaps.set(
      path,
      existsSync(mapPath)
        ? new SourceMap(JSON.parse(readFileSync(mapPath, 'utf8')) as SourceMapPayload)
        : undefined,
    );
  }
  return sourceMaps.get(path);
}

const functions = new Map<string, HttpFunctionDefinition>();
for (const [name, definition] of appFunctions) functions.set(name, timed(definition));
functions.set('benchStats', {
  route: 'bench/stats',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: stats,
});
functions.set('benchFloor', {
  route: 'bench/floor',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: floor,
});
functions.set('benchProfile', {
  route: 'bench/profile',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: profile,
});

for (const [name, { route, methods, authLevel, handler }] of functions) {
  hostCore.registerFunction(
    { name, bindings: { request: { type: 'httpTrigger', direction: 'in', route, methods, authLevel } } },
    handler,
  );
}
