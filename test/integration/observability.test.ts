// The telemetry of real requests: the getMe handler over the sandbox (msal-node and @azure/cosmos unmodified,
// over HTTPS), its spans and metrics kept by an in-memory exporter, every secret it handled recorded at the
// fetch it was given, so the test can say that none of them reached an attribute or a log line.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

import { createGetMe } from '../../functions/me.js';
import { loadConfig } from '../../shared/config.js';
import { HttpRequest, InvocationContext } from '../../shared/http/azureFunctions.js';
import { isRecord } from '../../shared/narrow.js';
import { ATTRIBUTE, METRIC, SPAN } from '../../shared/observability/names.js';
import { createServices } from '../../shared/runtime.js';
import { injectFault, resetEmulators, sandbox, type UserToken, userToken } from '../sandbox.js';
import { type InMemoryObservability, inMemoryObservability } from '../support/inMemoryObservability.js';
import { nextRequestLogs, requestLogs, startHosts, type TestHost } from './hosts.js';

/** The Functions host's span for the invocation (W3C traceparent), as the worker receives it. */
const HOST_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const HOST_SPAN_ID = '00f067aa0ba902b7';
const HOST_TRACEPARENT = `00-${HOST_TRACE_ID}-${HOST_SPAN_ID}-01`;

/** Every credential and token that crossed the injected fetch, in either direction. */
class SecretsSeen {
  readonly values = new Set<string>();

  add(value: unknown): void {
    if (typeof value === 'string' && value.length >= 8) this.values.add(value);
  }

  readonly fetch: typeof fetch = async (input, init) => {
    const authorization = new Headers(init?.headers).get('authorization');
    if (authorization !== null) {
      this.add(authorization.replace(/^(Bearer|Basic) /i, ''));
      this.add(authorization);
    }
    if (typeof init?.body === 'string') {
      const form = new URLSearchParams(init.body);
      for (const name of ['assertion', 'client_secret', 'client_assertion']) this.add(form.get(name));
    }
    const response = await fetch(input, init);
    const body: unknown = await response
      .clone()
      .json()
      .catch(() => undefined);
    if (isRecord(body)) {
      for (const name of ['access_token', 'id_token', 'refresh_token', 'client_info']) this.add(body[name]);
    }
    return response;
  };
}

interface Instance {
  memory: InMemoryObservability;
  secrets: SecretsSeen;
  lines: string[];
  call(user: UserToken): Promise<number>;
}

async function instance(): Promise<Instance> {
  const memory = inMemoryObservability();
  const secrets = new SecretsSeen();
  const services = await createServices(loadConfig(sandbox().settings), {
    fetch: secrets.fetch,
    observability: memory.observability,
    // Graph's Retry-After is honoured without waiting for it.
    sleep: () => Promise.resolve(),
  });
  const getMe = createGetMe(() => Promise.resolve(services));
  const lines: string[] = [];
  return {
    memory,
    secrets,
    lines,
    async call(user) {
      const response = await getMe(
        new HttpRequest({
          method: 'GET',
          url: 'http://127.0.0.1/api/me',
          headers: { authorization: `Bearer ${user.accessToken}` },
        }),
        new InvocationContext({
          invocationId: randomUUID(),
          functionName: 'getMe',
          traceContext: { traceParent: HOST_TRACEPARENT, traceState: '', attributes: {} },
          logHandler: (_level, ...args) => lines.push(args.map(String).join(' ')),
        }),
      );
      return response.status ?? 200;
    },
  };
}

function requestSpans(spans: ReadableSpan[]): ReadableSpan[] {
  return spans.filter((span) => span.name === SPAN.request);
}

/** The children of a request span, by name, in the order they ended. */
function childrenOf(request: ReadableSpan, spans: ReadableSpan[]): string[] {
  return spans
    .filter((span) => span.parentSpanContext?.spanId === request.spanContext().spanId)
    .map((span) => span.name);
}

/** Everything the telemetry could carry: span names, attributes, resources, and metric data point attributes. */
async function exportedText(memory: InMemoryObservability): Promise<string> {
  const spans = memory.spans().map((span) => ({
    name: span.name,
    attributes: span.attributes,
    resource: span.resource.attributes,
    events: span.events,
  }));
  const metrics = await Promise.all(Object.values(METRIC).map((metric) => memory.counter(metric.name)));
  return JSON.stringify({ spans, metrics });
}

beforeEach(async () => {
  await resetEmulators();
});

describe('telemetry of a miss then a hit', () => {
  test('spans: the request under the host span, its Entra, Cosmos DB and Graph calls as children', async () => {
    const app = await instance();
    const user = await userToken('otel-spans');
    expect(await app.call(user)).toBe(200);
    expect(await app.call(user)).toBe(200);

    const spans = app.memory.spans();
    const [miss, hit] = requestSpans(spans);
    if (miss === undefined || hit === undefined) throw new Error('expected two request spans');
    for (const request of [miss, hit]) {
      expect(request.kind).toBe(SpanKind.INTERNAL);
      expect(request.spanContext().traceId).toBe(HOST_TRACE_ID);
      expect(request.parentSpanContext?.spanId).toBe(HOST_SPAN_ID);
      expect(request.status.code).toBe(SpanStatusCode.UNSET);
      expect(request.attributes).toMatchObject({
        [ATTRIBUTE.functionName]: 'getMe',
        [ATTRIBUTE.httpStatus]: 200,
      });
    }
    // The miss: one exchange with Entra, a Cosmos DB point read and a write, then Graph.
    expect(childrenOf(miss, spans)).toEqual([SPAN.cosmosRead, SPAN.entra, SPAN.cosmosWrite, SPAN.graph]);
    // The hit is served from this instance's L1: only Graph.
    expect(childrenOf(hit, spans)).toEqual([SPAN.graph]);

    const entra = spans.find((span) => span.name === SPAN.entra);
    expect(entra?.kind).toBe(SpanKind.CLIENT);
    expect(entra?.attributes).toMatchObject({
      [ATTRIBUTE.entraOperation]: 'token',
      [ATTRIBUTE.httpStatus]: 200,
    });
    for (const child of spans.filter((span) => span.name !== SPAN.request)) {
      expect(child.status.code).toBe(SpanStatusCode.UNSET);
      expect(child.spanContext().traceId).toBe(HOST_TRACE_ID);
    }
  });

  test('metrics: one miss and one L1 hit, one exchange, request units for the read and the write', async () => {
    const app = await instance();
    const user = await userToken('otel-metrics');
    await app.call(user);
    await app.call(user);

    expect(await app.memory.counter(METRIC.cacheLookups.name)).toEqual({
      [`${ATTRIBUTE.cacheOutcome}=miss`]: 1,
      [`${ATTRIBUTE.cacheOutcome}=l1-hit`]: 1,
    });
    expect(await app.memory.counter(METRIC.exchanges.name)).toEqual({ [`${ATTRIBUTE.result}=success`]: 1 });
    const units = await app.memory.counter(METRIC.cosmosRequestUnits.name);
    expect(Object.keys(units).sort()).toEqual([
      `${ATTRIBUTE.dbOperation}=read`,
      `${ATTRIBUTE.dbOperation}=write`,
    ]);
    for (const value of Object.values(units)) expect(value).toBeGreaterThan(0);
    expect(await app.memory.counter(METRIC.l1Entries.name)).toEqual({ '': 1 });
    const l1Bytes = (await app.memory.counter(METRIC.l1Bytes.name))[''] ?? 0;
    // One Graph token (a JWT of a kilobyte or two) plus the entry's fixed overhead.
    expect(l1Bytes).toBeGreaterThan(user.accessToken.length / 2);
    expect(l1Bytes).toBeLessThan(8 * 1024);
    for (const metric of [
      METRIC.lostWrites,
      METRIC.degradedOperations,
      METRIC.graphRetries,
      METRIC.conflictRetries,
    ]) {
      expect(await app.memory.counter(metric.name)).toEqual({});
    }
  });

  test('no attribute and no log line holds a token, an assertion, a secret, a key or a claim value', async () => {
    const app = await instance();
    const user = await userToken('otel-secrets');
    await app.call(user);
    await app.call(user);

    const settings = sandbox().settings;
    const secrets = new Set([
      ...app.secrets.values,
      user.accessToken,
      user.oid,
      user.tid,
      sandbox().api.clientSecret,
      sandbox().cosmos.key,
      ...(settings.TOKEN_CACHE_KEYS ?? '').split(',').map((entry) => entry.split(':')[1] ?? ''),
    ]);
    secrets.delete('');
    // The fetch saw the user's assertion, the API's secret and the Graph token Entra issued.
    expect(app.secrets.values).toContain(user.accessToken);
    expect(app.secrets.values.size).toBeGreaterThanOrEqual(3);

    const exported = await exportedText(app.memory);
    const logged = app.lines.join('\n');
    for (const secret of secrets) {
      expect(exported).not.toContain(secret);
      expect(logged).not.toContain(secret);
    }
  });

  test('every line a request writes carries its request id and trace id', async () => {
    const app = await instance();
    await injectFault('cosmos', { kind: 'read', status: 503, count: 10 });
    const user = await userToken('otel-lines');
    expect(await app.call(user)).toBe(200);

    const parsed = app.lines.map((line): unknown => JSON.parse(line));
    expect(parsed.length).toBeGreaterThanOrEqual(2);
    const [requestId] = parsed.flatMap((line) =>
      isRecord(line) && line.event === 'request' ? [line.requestId] : [],
    );
    expect(typeof requestId).toBe('string');
    for (const line of parsed) expect(line).toMatchObject({ requestId, traceId: HOST_TRACE_ID });
  });
});

describe('telemetry of failures', () => {
  test('a failing Cosmos DB read is an ERROR span naming its status, a degraded operation, and a warning with the cause', async () => {
    const app = await instance();
    await injectFault('cosmos', { kind: 'read', status: 503, count: 10 });
    const user = await userToken('otel-cosmos-down');
    expect(await app.call(user)).toBe(200);

    const read = app.memory.spans().find((span) => span.name === SPAN.cosmosRead);
    expect(read?.status.code).toBe(SpanStatusCode.ERROR);
    expect(read?.attributes[ATTRIBUTE.dbStatus]).toBe(503);
    expect(await app.memory.counter(METRIC.degradedOperations.name)).toEqual({
      [`${ATTRIBUTE.dbOperation}=read,${ATTRIBUTE.degradedReason}=failure`]: 1,
    });
    const warning = app.lines
      .map((line): unknown => JSON.parse(line))
      .find(
        (line) =>
          isRecord(line) && typeof line.message === 'string' && line.message.startsWith('token cache read'),
      );
    expect(warning).toMatchObject({ cause: { status: 503 } });
  });

  test('Graph failing past its retries: ERROR spans per attempt, retries counted, the request span failed', async () => {
    const app = await instance();
    await injectFault('graph', { kind: 'me', preset: 'unavailable', count: 20 });
    const user = await userToken('otel-graph-down');
    expect(await app.call(user)).toBe(503);

    const spans = app.memory.spans();
    const attempts = spans.filter((span) => span.name === SPAN.graph);
    expect(attempts.length).toBeGreaterThan(1);
    for (const attempt of attempts) {
      expect(attempt.status.code).toBe(SpanStatusCode.ERROR);
      expect(attempt.attributes[ATTRIBUTE.httpStatus]).toBe(503);
    }
    const [request] = requestSpans(spans);
    expect(request?.status.code).toBe(SpanStatusCode.ERROR);
    expect(request?.attributes[ATTRIBUTE.errorType]).toBe('ERR_GRAPH_UNAVAILABLE');
    expect(await app.memory.counter(METRIC.graphRetries.name)).toEqual({
      [`${ATTRIBUTE.httpStatus}=503`]: attempts.length - 1,
    });
    const failure = app.lines
      .map((line): unknown => JSON.parse(line))
      .find((line) => isRecord(line) && line.message === 'upstream failure');
    expect(failure).toMatchObject({ code: 'ERR_GRAPH_UNAVAILABLE', traceId: HOST_TRACE_ID });
  });
});

describe('the local host', () => {
  let host: TestHost;
  const telemetryFile = join(mkdtempSync(join(tmpdir(), 'obo-telemetry-')), 'telemetry.jsonl');

  beforeAll(async () => {
    [host] = (await startHosts(1, { TELEMETRY_EXPORT: 'file', TELEMETRY_FILE: telemetryFile })) as [TestHost];
  });
  afterAll(async () => {
    await host.stop();
  });

  test('stamps every line of a request with the time and the request id', async () => {
    const user = await userToken('otel-host');
    const seen = requestLogs(host).length;
    expect(
      (await fetch(`${host.url}/api/me`, { headers: { Authorization: `Bearer ${user.accessToken}` } }))
        .status,
    ).toBe(200);
    const line = (await nextRequestLogs(host, seen)).at(-1);
    const requestId = line?.requestId;
    expect(typeof requestId).toBe('string');
    const written = host.lines.filter((text) => text.includes(String(requestId)));
    expect(written.length).toBeGreaterThanOrEqual(1);
    for (const text of written)
      expect(text).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[\w+\] [0-9a-f-]{36} /);
  });

  test("carries the caller's W3C traceparent into the invocation, as the Functions host does", async () => {
    const user = await userToken('otel-host-trace');
    const seen = requestLogs(host).length;
    const response = await fetch(`${host.url}/api/me`, {
      headers: { Authorization: `Bearer ${user.accessToken}`, traceparent: HOST_TRACEPARENT },
    });
    expect(response.status).toBe(200);
    expect((await nextRequestLogs(host, seen)).at(-1)).toMatchObject({ traceId: HOST_TRACE_ID });
  });

  test('logs the 404 and 405 it answers itself', async () => {
    const seen = requestLogs(host).length;
    expect((await fetch(`${host.url}/api/nowhere?token=abc`)).status).toBe(404);
    expect((await fetch(`${host.url}/api/me`, { method: 'PUT' })).status).toBe(405);
    const [notFound, notAllowed] = (await nextRequestLogs(host, seen, 2)).slice(-2);
    expect(notFound).toMatchObject({
      status: 404,
      code: 'ERR_NOT_FOUND',
      method: 'GET',
      path: '/api/nowhere',
    });
    expect(notAllowed).toMatchObject({ status: 405, code: 'ERR_METHOD_NOT_ALLOWED', method: 'PUT' });
    expect(typeof notFound?.requestId).toBe('string');
    expect(JSON.stringify(notFound)).not.toContain('token=abc');
  });

  test('writes the spans to the file TELEMETRY_FILE names', async () => {
    const user = await userToken('otel-host-file');
    await fetch(`${host.url}/api/me`, { headers: { Authorization: `Bearer ${user.accessToken}` } });
    const spans = readFileSync(telemetryFile, 'utf8')
      .trim()
      .split('\n')
      .map((text): unknown => JSON.parse(text))
      .filter((entry) => isRecord(entry) && entry.telemetry === 'span');
    expect(spans).toContainEqual(
      expect.objectContaining({ name: SPAN.request, kind: 'SERVER', status: 'UNSET' }),
    );
    expect(spans).toContainEqual(expect.objectContaining({ name: SPAN.graph, kind: 'CLIENT' }));
  });
});
