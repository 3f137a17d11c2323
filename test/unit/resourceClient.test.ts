// The generic resource client over an injected fetch: methods, bodies, answers in their meaning, retries.
import { describe, expect, test } from '@jest/globals';

import { type DownstreamRequest, HttpResourceClient } from '../../shared/downstream/resourceClient.js';
import { apiFailure } from '../support/apiFailure.js';

interface Seen {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
  redirect: string | undefined;
}

function client(
  answers: Response[],
  baseUrl = 'https://tasks.example/api',
  resource: 'tasks' | 'graph' = 'tasks',
) {
  const seen: Seen[] = [];
  let clock = 0;
  const fetchImpl: typeof fetch = (input, init) => {
    seen.push({
      url: input instanceof Request ? input.url : input instanceof URL ? input.href : input,
      method: init?.method ?? 'GET',
      headers: init?.headers as Record<string, string>,
      body: typeof init?.body === 'string' ? init.body : undefined,
      redirect: init?.redirect,
    });
    const next = answers.shift();
    return next === undefined ? Promise.reject(new Error('no more answers')) : Promise.resolve(next);
  };
  const http = new HttpResourceClient(resource, {
    endpoint: { baseUrl: new URL(baseUrl), scopePrefix: 'api://tasks', timeoutMs: 1000, retryBudgetMs: 8000 },
    fetch: fetchImpl,
    now: () => clock,
    sleep: (ms) => {
      clock += ms;
      return Promise.resolve();
    },
  });
  return { http, seen };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

const request = (method: DownstreamRequest['method'], target: string, body?: Record<string, unknown>) => ({
  method,
  target,
  pathTemplate: target,
  ...(body === undefined ? {} : { body }),
});

describe('HttpResourceClient', () => {
  test('POSTs a JSON body under the base URL path and answers 201 with the new item; no redirect followed', async () => {
    const { http, seen } = client([json(201, { id: 'tk_1', title: 'Milk' })]);
    const answer = await http.send(request('POST', '/tasks', { title: 'Milk' }), 'token-1');
    expect(answer).toEqual({ status: 201, body: { id: 'tk_1', title: 'Milk' } });
    expect(seen[0]).toMatchObject({
      url: 'https://tasks.example/api/tasks',
      method: 'POST',
      body: '{"title":"Milk"}',
      redirect: 'error',
      headers: { Authorization: 'Bearer token-1', 'Content-Type': 'application/json' },
    });
  });

  test('answers 204 without a body, and sends no Content-Type without one', async () => {
    const { http, seen } = client([new Response(null, { status: 204 })]);
    expect(await http.send(request('DELETE', '/tasks/tk_1'), 't')).toEqual({ status: 204, body: undefined });
    expect(seen[0]?.headers['Content-Type']).toBeUndefined();
  });

  test('keeps 404, 400 (with its safe code) and 409 in their meaning', async () => {
    const { http } = client([
      json(404, { error: { code: 'NotFound' } }),
      json(400, { error: { code: 'InvalidRequestBody', message: 'title <script>' } }),
      json(409, { error: { code: 'Conflict' } }),
    ]);
    expect((await apiFailure(http.send(request('GET', '/tasks/x'), 't'))).code).toBe(
      'ERR_DOWNSTREAM_NOT_FOUND',
    );
    const bad = await apiFailure(http.send(request('PATCH', '/tasks/x', {}), 't'));
    expect(bad.code).toBe('ERR_DOWNSTREAM_BAD_REQUEST');
    expect(bad.details.upstreamCode).toBe('InvalidRequestBody');
    expect(bad.message).not.toContain('script');
    expect((await apiFailure(http.send(request('POST', '/tasks', {}), 't'))).code).toBe(
      'ERR_DOWNSTREAM_CONFLICT',
    );
  });

  test('retries a GET after a 503, but never a POST (it may have been applied)', async () => {
    const down = () => json(503, { error: { code: 'ServiceUnavailable' } }, { 'retry-after': '1' });
    const get = client([down(), json(200, { value: [] })]);
    expect((await get.http.send(request('GET', '/tasks'), 't')).status).toBe(200);
    expect(get.seen).toHaveLength(2);
    const post = client([down()]);
    expect((await apiFailure(post.http.send(request('POST', '/tasks', { title: 'a' }), 't'))).code).toBe(
      'ERR_DOWNSTREAM_UNAVAILABLE',
    );
    expect(post.seen).toHaveLength(1);
  });

  test('retries a POST after a 429 (not applied), within the budget', async () => {
    const { http, seen } = client([json(429, {}, { 'retry-after': '1' }), json(201, { id: 'tk_1' })]);
    expect((await http.send(request('POST', '/tasks', { title: 'a' }), 't')).status).toBe(201);
    expect(seen).toHaveLength(2);
  });

  test("a 401 with a claims challenge carries the claims, under the resource's own code", async () => {
    const claims = '{"access_token":{"nbf":{"essential":true,"value":"1"}}}';
    const challenge = `Bearer error="insufficient_claims", claims="${Buffer.from(claims).toString('base64')}"`;
    const tasks = client([json(401, {}, { 'www-authenticate': challenge })]);
    const error = await apiFailure(tasks.http.send(request('GET', '/tasks'), 't'));
    expect(error.code).toBe('ERR_DOWNSTREAM_TOKEN_REJECTED');
    expect(error.details.claims).toBe(claims);
    const graph = client([json(401, {})], 'https://graph.microsoft.com', 'graph');
    expect((await apiFailure(graph.http.send(request('GET', '/v1.0/me'), 't'))).code).toBe(
      'ERR_GRAPH_TOKEN_REJECTED',
    );
  });

  test('a 2xx that is not a JSON object is a failed call, not a crash', async () => {
    const { http } = client([new Response('<html>', { status: 200 })]);
    expect((await apiFailure(http.send(request('GET', '/tasks'), 't'))).code).toBe('ERR_DOWNSTREAM_FAILED');
  });
});
