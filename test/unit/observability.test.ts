import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, test } from '@jest/globals';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';

import { ConfigError } from '../../shared/errors.js';
import type { RequestCalls } from '../../shared/observability/calls.js';
import { describeCause } from '../../shared/observability/causes.js';
import { JsonLinesSpanExporter, startJsonLines } from '../../shared/observability/jsonLines.js';
import { ATTRIBUTE, METRIC, SPAN } from '../../shared/observability/names.js';
import {
  hostParentContext,
  noObservability,
  RequestTrace,
} from '../../shared/observability/observability.js';
import { readTelemetrySettings } from '../../shared/observability/settings.js';
import { startObservability } from '../../shared/observability/start.js';
import { type RequestFields, RequestTelemetry, requestTelemetry } from '../../shared/telemetry.js';
import { type InMemoryObservability, inMemoryObservability } from '../support/inMemoryObservability.js';

const CONNECTION_STRING =
  'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://example.invalid/';
const GRAPH_ME = (attempt: number) => ({
  resource: 'graph',
  method: 'GET',
  pathTemplate: '/v1.0/me',
  attempt,
});
const HOST_TRACE = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

function settingError(env: Record<string, string>): string | undefined {
  try {
    readTelemetrySettings(env);
    return undefined;
  } catch (error) {
    return error instanceof ConfigError ? error.setting : 'not a ConfigError';
  }
}

describe('host.json', () => {
  test('asks the Functions host for OpenTelemetry, so its spans and ours share traces', () => {
    const host: unknown = JSON.parse(readFileSync(new URL('../../host.json', import.meta.url), 'utf8'));
    expect(host).toHaveProperty('telemetryMode', 'OpenTelemetry');
  });
});

describe('readTelemetrySettings', () => {
  test('exports nothing without a setting or a connection string', () => {
    expect(readTelemetrySettings({}).export).toBe('none');
  });

  test('exports to Azure Monitor when the connection string is set, with the managed identity of the authentication string', () => {
    const settings = readTelemetrySettings({
      APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION_STRING,
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING:
        'Authorization=AAD;ClientId=11111111-2222-3333-4444-555555555555',
    });
    expect(settings.export).toBe('azure-monitor');
    expect(settings.entraAuthentication).toEqual({
      managedIdentityClientId: '11111111-2222-3333-4444-555555555555',
    });
  });

  test('accepts Authorization=AAD alone (system-assigned identity)', () => {
    const settings = readTelemetrySettings({
      APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION_STRING,
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD',
    });
    expect(settings.entraAuthentication).toEqual({ managedIdentityClientId: undefined });
  });

  test('a local setting wins over the connection string', () => {
    const settings = readTelemetrySettings({
      TELEMETRY_EXPORT: 'file',
      APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION_STRING,
    });
    expect(settings.export).toBe('file');
    expect(settings.file).toBe('.sandbox/telemetry.jsonl');
  });

  test('names the setting that is wrong', () => {
    expect(settingError({ TELEMETRY_EXPORT: 'stdout' })).toBe('TELEMETRY_EXPORT');
    expect(settingError({ TELEMETRY_EXPORT: 'azure-monitor' })).toBe('APPLICATIONINSIGHTS_CONNECTION_STRING');
    expect(
      settingError({ APPLICATIONINSIGHTS_CONNECTION_STRING: 'https://dc.services.visualstudio.com' }),
    ).toBe('APPLICATIONINSIGHTS_CONNECTION_STRING');
    expect(
      settingError({
        APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION_STRING,
        APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=Key',
      }),
    ).toBe('APPLICATIONINSIGHTS_AUTHENTICATION_STRING');
    expect(
      settingError({
        APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION_STRING,
        APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=alice',
      }),
    ).toBe('APPLICATIONINSIGHTS_AUTHENTICATION_STRING');
    expect(settingError({ TELEMETRY_METRIC_INTERVAL_SECONDS: '0' })).toBe(
      'TELEMETRY_METRIC_INTERVAL_SECONDS',
    );
  });
});

describe('RequestTrace', () => {
  test('makes the request span a child of the Functions host span, and calls its children', async () => {
    const memory = inMemoryObservability();
    const request = new RequestTrace(
      memory.observability.tracer,
      { [ATTRIBUTE.functionName]: 'getMe' },
      {
        traceParent: HOST_TRACE,
      },
    );
    await request.call(SPAN.cosmosRead, SpanKind.CLIENT, {}, () => Promise.resolve());
    request.end(200, undefined);

    const [cosmos, root] = memory.spans();
    expect(root?.name).toBe(SPAN.request);
    expect(root?.kind).toBe(SpanKind.INTERNAL);
    expect(root?.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(root?.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(cosmos?.parentSpanContext?.spanId).toBe(root?.spanContext().spanId);
    expect(root?.status.code).toBe(SpanStatusCode.UNSET);
  });

  test('starts a trace (a server span) without a usable host trace context', () => {
    expect(hostParentContext({ traceParent: 'garbage' })).toBe(hostParentContext(undefined));
    const memory = inMemoryObservability();
    new RequestTrace(memory.observability.tracer, {}, { traceParent: null }).end(204, undefined);
    expect(memory.spans()[0]?.kind).toBe(SpanKind.SERVER);
    expect(memory.spans()[0]?.parentSpanContext).toBeUndefined();
  });

  test('marks a call that throws as failed with its code, and a 5xx request as failed', async () => {
    const memory = inMemoryObservability();
    const request = new RequestTrace(memory.observability.tracer, {}, undefined);
    const failure = Object.assign(new Error('Graph said no'), { code: 'ERR_GRAPH_UNAVAILABLE' });
    await expect(request.call(SPAN.graph, SpanKind.CLIENT, {}, () => Promise.reject(failure))).rejects.toBe(
      failure,
    );
    request.end(503, 'ERR_GRAPH_UNAVAILABLE');
    const [graph, root] = memory.spans();
    expect(graph?.status.code).toBe(SpanStatusCode.ERROR);
    expect(graph?.attributes[ATTRIBUTE.errorType]).toBe('ERR_GRAPH_UNAVAILABLE');
    expect(root?.status.code).toBe(SpanStatusCode.ERROR);
    expect(root?.attributes[ATTRIBUTE.httpStatus]).toBe(503);
  });

  test('a 4xx answer is not a failure of the service', () => {
    const memory = inMemoryObservability();
    new RequestTrace(memory.observability.tracer, {}, undefined).end(401, 'ERR_TOKEN_INVALID');
    expect(memory.spans()[0]?.status.code).toBe(SpanStatusCode.UNSET);
    expect(memory.spans()[0]?.attributes[ATTRIBUTE.errorType]).toBe('ERR_TOKEN_INVALID');
  });

  test('records nothing without an exporter', async () => {
    const none = noObservability();
    const request = new RequestTrace(none.tracer, {}, { traceParent: HOST_TRACE });
    expect(await request.call(SPAN.entra, SpanKind.CLIENT, {}, () => Promise.resolve(7))).toBe(7);
    expect(request.span.isRecording()).toBe(false);
    request.end(200, undefined);
  });
});

describe('metrics', () => {
  test('count by the attributes of the names table', async () => {
    const memory = inMemoryObservability();
    const { metrics } = memory.observability;
    metrics.cacheLookup('miss');
    metrics.cacheLookup('l1-hit');
    metrics.cacheLookup('l1-hit');
    metrics.cosmosCharge('read', 1.5);
    metrics.cosmosCharge('read', 0);
    metrics.degraded('read', 'breaker-open');
    metrics.downstreamRetry('graph', 429);
    metrics.downstreamRetry('tasks', 503);
    expect(await memory.counter(METRIC.cacheLookups.name)).toEqual({
      [`${ATTRIBUTE.cacheOutcome}=miss`]: 1,
      [`${ATTRIBUTE.cacheOutcome}=l1-hit`]: 2,
    });
    expect(await memory.counter(METRIC.cosmosRequestUnits.name)).toEqual({
      [`${ATTRIBUTE.dbOperation}=read`]: 1.5,
    });
    expect(await memory.counter(METRIC.degradedOperations.name)).toEqual({
      [`${ATTRIBUTE.dbOperation}=read,${ATTRIBUTE.degradedReason}=breaker-open`]: 1,
    });
    expect(await memory.counter(METRIC.graphRetries.name)).toEqual({ [`${ATTRIBUTE.httpStatus}=429`]: 1 });
    expect(await memory.counter(METRIC.downstreamRetries.name)).toEqual({
      [`${ATTRIBUTE.httpStatus}=503,${ATTRIBUTE.downstreamResource}=tasks`]: 1,
    });
    expect(await memory.counter(METRIC.lostWrites.name)).toEqual({});
  });
});

describe('local export', () => {
  test('writes spans and metrics as JSON lines to the file the setting names', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'telemetry-')), 'nested', 'telemetry.jsonl');
    const observability = await startObservability(
      readTelemetrySettings({ TELEMETRY_EXPORT: 'file', TELEMETRY_FILE: file }),
    );
    const request = new RequestTrace(observability.tracer, { [ATTRIBUTE.functionName]: 'getMe' }, undefined);
    request.end(200, undefined);
    observability.metrics.lostWrite();
    await observability.shutdown();

    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((line): unknown => JSON.parse(line));
    expect(lines).toContainEqual(
      expect.objectContaining({ telemetry: 'span', name: SPAN.request, status: 'UNSET', kind: 'SERVER' }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({ telemetry: 'metric', name: METRIC.lostWrites.name, value: 1 }),
    );
  });

  test('a span line carries its parent, so a request can be followed', async () => {
    const lines: string[] = [];
    const memory = inMemoryObservability();
    const request = new RequestTrace(memory.observability.tracer, {}, undefined);
    await request.call(SPAN.entra, SpanKind.CLIENT, { [ATTRIBUTE.entraOperation]: 'token' }, () =>
      Promise.resolve(),
    );
    request.end(200, undefined);
    new JsonLinesSpanExporter((line) => lines.push(line)).export(memory.spans(), () => undefined);
    const [entra, root] = lines.map((line): unknown => JSON.parse(line));
    expect(entra).toMatchObject({
      name: SPAN.entra,
      kind: 'CLIENT',
      attributes: { [ATTRIBUTE.entraOperation]: 'token' },
    });
    expect(entra).toHaveProperty('parentSpanId', (root as { spanId: string }).spanId);
  });

  test('startJsonLines on the console needs no file', async () => {
    const observability = startJsonLines(readTelemetrySettings({ TELEMETRY_EXPORT: 'console' }));
    await observability.shutdown();
  });
});

describe('Azure Monitor', () => {
  test('with a connection string, spans are recorded for the Azure Monitor exporter, authenticated by the managed identity', async () => {
    // The exporter's own usage reports (statsbeat) would start timers that outlive the test.
    process.env.APPLICATION_INSIGHTS_NO_STATSBEAT = 'true';
    const observability = await startObservability(
      readTelemetrySettings({
        APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION_STRING,
        APPLICATIONINSIGHTS_AUTHENTICATION_STRING:
          'Authorization=AAD;ClientId=11111111-2222-3333-4444-555555555555',
      }),
      { env: {} },
    );
    const request = new RequestTrace(observability.tracer, {}, { traceParent: HOST_TRACE });
    expect(request.span.isRecording()).toBe(true);
    expect(request.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    request.end(200, undefined);
    // Not flushed: nothing is sent from a test (the exporter would need the managed identity's token).
    delete process.env.APPLICATION_INSIGHTS_NO_STATSBEAT;
  });
});

describe('describeCause', () => {
  test('names a Cosmos DB failure by status, substatus, code and activity id, never by message', () => {
    const cosmosError = Object.assign(new Error('Message: {"Errors":["secret-ish request detail"]}'), {
      code: 503,
      substatus: 20003,
      body: { code: 'ServiceUnavailable' },
      activityId: '7f0e8a4c-1f7d-4a0e-9c8b-3f2a1d0e9b7c',
      headers: { 'x-ms-substatus': '20003' },
    });
    const cause = describeCause(cosmosError);
    expect(cause).toEqual({
      error: 'Error',
      status: 503,
      subStatus: 20003,
      code: 'ServiceUnavailable',
      activityId: '7f0e8a4c-1f7d-4a0e-9c8b-3f2a1d0e9b7c',
    });
    expect(JSON.stringify(cause)).not.toContain('secret-ish');
  });

  test('names a timeout and a socket error under a fetch failure', () => {
    expect(describeCause(new DOMException('timed out', 'TimeoutError'))).toEqual({ error: 'TimeoutError' });
    const socket = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(describeCause(new TypeError('fetch failed', { cause: socket }))).toEqual({
      error: 'TypeError',
      cause: { error: 'Error', code: 'ECONNREFUSED' },
    });
  });

  test('keeps msal-node error and suberror codes', () => {
    const msal = Object.assign(new Error('AADSTS50173: ...'), {
      name: 'InteractionRequiredAuthError',
      errorCode: 'invalid_grant',
      subError: 'bad_token',
    });
    expect(describeCause(msal)).toEqual({
      error: 'InteractionRequiredAuthError',
      code: 'invalid_grant',
      subError: 'bad_token',
    });
  });
});

describe('RequestCalls', () => {
  function calls(): {
    memory: InMemoryObservability;
    requestCalls: RequestCalls;
    request: RequestTrace;
    fields: RequestFields;
  } {
    const memory = inMemoryObservability();
    const request = new RequestTrace(memory.observability.tracer, {}, undefined);
    const telemetry = new RequestTelemetry(
      { warn: () => undefined },
      { trace: request, metrics: memory.observability.metrics },
    );
    return { memory, request, requestCalls: telemetry.calls, fields: telemetry.fields };
  }

  test('a Cosmos DB operation is a child span with its charge, and its request units are counted', async () => {
    const { memory, requestCalls, request } = calls();
    await requestCalls.cosmos('read', () => Promise.resolve({ requestCharge: 1.25 }));
    await requestCalls.cosmos('write', () => Promise.resolve({ requestCharge: 6 }));
    request.end(200, undefined);
    const [read, write] = memory.spans();
    expect(read?.name).toBe(SPAN.cosmosRead);
    expect(read?.attributes[ATTRIBUTE.requestCharge]).toBe(1.25);
    expect(write?.name).toBe(SPAN.cosmosWrite);
    expect(await memory.counter(METRIC.cosmosRequestUnits.name)).toEqual({
      [`${ATTRIBUTE.dbOperation}=read`]: 1.25,
      [`${ATTRIBUTE.dbOperation}=write`]: 6,
    });
  });

  test("each Cosmos DB operation that answers is one read or write and its charge on the request's line", async () => {
    const { requestCalls, fields } = calls();
    await requestCalls.cosmos('read', () => Promise.resolve({ requestCharge: 1 }));
    await requestCalls.cosmos('write', () => Promise.resolve({ requestCharge: 5, written: false }));
    await requestCalls.cosmos('delete', () => Promise.resolve({ requestCharge: 2 }));
    await expect(requestCalls.cosmos('read', () => Promise.reject(new Error('timeout')))).rejects.toThrow();
    expect(fields).toEqual({ cosmosReads: 1, cosmosWrites: 2, cosmosRequestCharge: 8 });
  });

  test('a failed Cosmos DB operation names its status and substatus on an ERROR span', async () => {
    const { memory, requestCalls } = calls();
    const failure = Object.assign(new Error('Message: ...'), { code: 429, substatus: 3200 });
    await expect(requestCalls.cosmos('read', () => Promise.reject(failure))).rejects.toBe(failure);
    const [read] = memory.spans();
    expect(read?.status.code).toBe(SpanStatusCode.ERROR);
    expect(read?.attributes).toMatchObject({ [ATTRIBUTE.dbStatus]: 429, [ATTRIBUTE.dbSubStatus]: 3200 });
  });

  test('an Entra token request is an exchange counted by result, without its URL', async () => {
    const { memory, requestCalls } = calls();
    const tenant = '72f988bf-86f1-41af-91ab-2d7cd011db47';
    await requestCalls.entra(`https://login.example/${tenant}/oauth2/v2.0/token`, 'POST', () =>
      Promise.resolve({ status: 200 }),
    );
    await requestCalls.entra(`https://login.example/${tenant}/oauth2/v2.0/token`, 'POST', () =>
      Promise.resolve({ status: 400 }),
    );
    await requestCalls.entra(
      `https://login.example/${tenant}/v2.0/.well-known/openid-configuration`,
      'GET',
      () => Promise.resolve({ status: 200 }),
    );
    const [ok, rejected, metadata] = memory.spans();
    expect(ok?.attributes).toMatchObject({
      [ATTRIBUTE.entraOperation]: 'token',
      [ATTRIBUTE.httpStatus]: 200,
    });
    expect(rejected?.status.code).toBe(SpanStatusCode.ERROR);
    expect(metadata?.attributes[ATTRIBUTE.entraOperation]).toBe('metadata');
    expect(JSON.stringify(memory.spans().map((span) => span.attributes))).not.toContain(tenant);
    expect(await memory.counter(METRIC.exchanges.name)).toEqual({
      [`${ATTRIBUTE.result}=success`]: 1,
      [`${ATTRIBUTE.result}=failure`]: 1,
    });
  });

  test('a Graph attempt answered 503 is an ERROR span with its attempt number', async () => {
    const { memory, requestCalls } = calls();
    await requestCalls.downstream(GRAPH_ME(1), () => Promise.resolve({ status: 503 }));
    const [graph] = memory.spans();
    expect(graph?.status.code).toBe(SpanStatusCode.ERROR);
    expect(graph?.attributes).toMatchObject({ [ATTRIBUTE.attempt]: 1, [ATTRIBUTE.httpStatus]: 503 });
  });

  test("each Entra call adds its time, and each Graph attempt, failed or not, counts with its time, on the request's line", async () => {
    const { requestCalls, fields } = calls();
    await requestCalls.entra('https://login.example/t/oauth2/v2.0/token', 'POST', () =>
      Promise.resolve({ status: 200 }),
    );
    await requestCalls.downstream(GRAPH_ME(0), () => Promise.resolve({ status: 503 }));
    await expect(
      requestCalls.downstream(GRAPH_ME(1), () => Promise.reject(new Error('unreachable'))),
    ).rejects.toThrow();
    expect(fields).toEqual({
      entraMs: expect.any(Number),
      entraTokenRequests: 1,
      graphMs: expect.any(Number),
      graphAttempts: 2,
    });
  });

  test("counts each request to Entra's token endpoint on the line, failed or not, and no metadata request", async () => {
    const { requestCalls, fields } = calls();
    await requestCalls.entra('https://login.example/t/v2.0/.well-known/openid-configuration', 'GET', () =>
      Promise.resolve({ status: 200 }),
    );
    await requestCalls.entra('https://login.example/t/oauth2/v2.0/token', 'POST', () =>
      Promise.resolve({ status: 400 }),
    );
    await expect(
      requestCalls.entra('https://login.example/t/oauth2/v2.0/token', 'POST', () =>
        Promise.reject(new Error('unreachable')),
      ),
    ).rejects.toThrow();
    expect(fields.entraTokenRequests).toBe(2);
  });

  test("another API's attempt is a downstream.request span naming the resource and the path template, with its own fields", async () => {
    const { memory, requestCalls, fields } = calls();
    const call = { resource: 'tasks', method: 'PATCH', pathTemplate: '/tasks/{id}', attempt: 0 };
    await requestCalls.downstream(call, () => Promise.resolve({ status: 200 }));
    const [span] = memory.spans();
    expect(span?.name).toBe(SPAN.downstream);
    expect(span?.attributes).toMatchObject({
      [ATTRIBUTE.downstreamResource]: 'tasks',
      [ATTRIBUTE.urlPath]: '/tasks/{id}',
      [ATTRIBUTE.httpMethod]: 'PATCH',
    });
    expect(fields).toEqual({ downstreamMs: expect.any(Number), downstreamAttempts: 1 });
  });
});

describe('RequestTelemetry', () => {
  function observed(): { memory: InMemoryObservability; telemetry: RequestTelemetry } {
    const memory = inMemoryObservability();
    const trace = new RequestTrace(memory.observability.tracer, {}, undefined);
    const telemetry = new RequestTelemetry(
      { warn: () => undefined },
      { trace, metrics: memory.observability.metrics },
    );
    return { memory, telemetry };
  }

  test('each domain event records its field of the line and its metric together', async () => {
    const { memory, telemetry } = observed();
    telemetry.cacheLookup('miss');
    telemetry.writeConflict();
    telemetry.conflictRetry();
    telemetry.writeLost();
    telemetry.degraded('write', 'failure');
    telemetry.downstreamRetry('graph', 429);
    telemetry.set('cacheWriteSkipped', 'stale');
    expect(telemetry.fields).toEqual({
      cache: 'miss',
      cacheWriteConflicts: 1,
      conflictRetries: 1,
      cacheWriteLost: true,
      cosmosDegraded: true,
      cacheWriteSkipped: 'stale',
    });
    expect(await memory.counter(METRIC.cacheLookups.name)).toEqual({ [`${ATTRIBUTE.cacheOutcome}=miss`]: 1 });
    expect(await memory.counter(METRIC.conflictRetries.name)).toEqual({ '': 1 });
    expect(await memory.counter(METRIC.lostWrites.name)).toEqual({ '': 1 });
    expect(await memory.counter(METRIC.degradedOperations.name)).toEqual({
      [`${ATTRIBUTE.dbOperation}=write,${ATTRIBUTE.degradedReason}=failure`]: 1,
    });
    expect(await memory.counter(METRIC.graphRetries.name)).toEqual({ [`${ATTRIBUTE.httpStatus}=429`]: 1 });
  });

  test("travels with the request: code run inside it, across awaits, records into that request's fields only", async () => {
    const [first, second] = [
      new RequestTelemetry({ warn: () => undefined }),
      new RequestTelemetry({ warn: () => undefined }),
    ];
    const record = async (outcome: 'miss' | 'l1-hit') => {
      await new Promise((resolve) => setImmediate(resolve));
      requestTelemetry().cacheLookup(outcome);
    };
    await Promise.all([first.run(() => record('miss')), second.run(() => record('l1-hit'))]);
    expect(first.fields).toEqual({ cache: 'miss' });
    expect(second.fields).toEqual({ cache: 'l1-hit' });
  });

  test('outside a request, what is recorded is dropped', async () => {
    const outside = requestTelemetry();
    outside.cacheLookup('miss');
    outside.set('oboExchange', true);
    await outside.calls.cosmos('read', () => Promise.resolve({ requestCharge: 1 }));
    expect(outside.fields).toEqual({});
    expect(requestTelemetry()).toBe(outside);
  });
});
