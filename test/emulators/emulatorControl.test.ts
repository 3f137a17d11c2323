// The emulators' pure parts: fault validation and matching, counters, request kinds, sandbox users.
import type { IncomingMessage } from 'node:http';

import { describe, expect, it } from '@jest/globals';

import { classifyCosmosRequest } from '../../dev/emulators/cosmos.js';
import { parseUserTokenOptions } from '../../dev/emulators/entra/control.js';
import { sandboxUser } from '../../dev/emulators/entra/fixtures.js';
import { RequestCounters } from '../../dev/emulators/kit/control.js';
import type { Fault, FaultContext } from '../../dev/emulators/kit/faults.js';
import { FaultQueue, parseFault } from '../../dev/emulators/kit/faults.js';

const options = {
  kinds: ['me', 'other'],
  presets: {
    throttled: {
      kind: 'me',
      status: 429,
      headers: { 'retry-after': '2' },
      body: () => ({ error: 'preset' }),
    },
  },
  errorBody: (status: number) => ({ defaultFor: status }),
};
const context: FaultContext = { kind: 'me', req: {} as IncomingMessage };

function parsed(input: unknown): Fault {
  const result = parseFault(input, options);
  if (!result.ok) throw new Error(result.message);
  return result.fault;
}

describe('parseFault', () => {
  it.each([
    ['a non-object body', [1]],
    ['an unknown field', { status: 500, extra: true }],
    ['an unknown kind', { kind: 'mee', status: 500 }],
    ['a status out of range', { status: 99 }],
    ['a fractional status', { status: 500.5 }],
    ['a negative delay', { delayMs: -1 }],
    ['a zero count', { status: 500, count: 0 }],
    ['headers that are not strings', { status: 500, headers: { 'retry-after': 2 } }],
    ['an unknown preset', { preset: 'nope' }],
    ['a body with a preset', { preset: 'throttled', body: {} }],
    ['a body without a status', { body: {} }],
    ['nothing to do', { kind: 'me' }],
    ['a zero duration', { status: 503, durationMs: 0 }],
    ['an empty path filter', { status: 503, pathIncludes: '' }],
    ['a relative redirect', { redirectTo: '/elsewhere' }],
    ['a redirect to another scheme', { redirectTo: 'file:///etc/passwd' }],
    ['a redirect with a status that is not a redirect', { redirectTo: 'https://x.test/', status: 200 }],
    ['a redirect with a body', { redirectTo: 'https://x.test/', status: 302, body: {} }],
    ['a redirect with a preset', { redirectTo: 'https://x.test/', preset: 'throttled' }],
  ])('rejects %s', (_name, input) => {
    expect(parseFault(input, options).ok).toBe(false);
  });

  it('defaults to any kind, one request and the emulator error body', () => {
    const fault = parsed({ status: 503 });
    expect(fault).toMatchObject({ kind: undefined, remaining: 1, delayMs: 0 });
    expect(fault.answer?.(context)).toEqual({ status: 503, headers: {}, body: { defaultFor: 503 } });
  });

  it('takes the kind, status and headers of a preset, overridable by the fault', () => {
    const fault = parsed({ preset: 'throttled', headers: { 'retry-after': '7' }, count: 3 });
    expect(fault).toMatchObject({ kind: 'me', remaining: 3 });
    expect(fault.answer?.(context)).toEqual({
      status: 429,
      headers: { 'retry-after': '7' },
      body: { error: 'preset' },
    });
  });

  it('answers a redirect with its Location, 302 unless another redirect status is given', () => {
    expect(parsed({ kind: 'me', redirectTo: 'https://elsewhere.test/x' }).answer?.(context)).toEqual({
      status: 302,
      headers: { location: 'https://elsewhere.test/x' },
      body: '',
    });
    expect(parsed({ redirectTo: 'http://127.0.0.1:1/', status: 307 }).answer?.(context)).toMatchObject({
      status: 307,
    });
  });

  it('accepts a delay alone, answered for real afterwards', () => {
    expect(parsed({ delayMs: 50 })).toMatchObject({ delayMs: 50, answer: undefined });
  });
});

describe('FaultQueue', () => {
  it('applies faults in order, each to its count of matching requests', () => {
    const queue = new FaultQueue();
    queue.enqueue(parsed({ kind: 'me', status: 500, count: 2 }));
    queue.enqueue(parsed({ status: 503 }));
    expect(queue.take('other')?.answer?.(context).status).toBe(503);
    expect(queue.take('me')?.answer?.(context).status).toBe(500);
    expect(queue.take('me')?.answer?.(context).status).toBe(500);
    expect(queue.take('me')).toBeUndefined();
    expect(queue.size).toBe(0);
  });

  it('applies a fault with a path filter only to requests whose path contains it', () => {
    const queue = new FaultQueue();
    queue.enqueue(parsed({ status: 429, pathIncludes: '/docs/hot', count: 2 }));
    expect(queue.take('me', '/dbs/obo/colls/c/docs/cold')).toBeUndefined();
    expect(queue.take('me', '/dbs/obo/colls/c/docs/hot')?.answer?.(context).status).toBe(429);
  });

  it('applies a fault with a duration to every matching request, and drops it once expired', () => {
    expect(parsed({ status: 503, durationMs: 10_000 })).toMatchObject({ remaining: 1_000_000 });
    const queue = new FaultQueue();
    queue.enqueue({ ...parsed({ status: 503, durationMs: 10_000 }), expiresAt: Date.now() - 1 });
    expect(queue.take('me')).toBeUndefined();
    expect(queue.size).toBe(0);
  });

  it('forgets every fault on clear', () => {
    const queue = new FaultQueue();
    queue.enqueue(parsed({ status: 500, count: 10 }));
    queue.clear();
    expect(queue.take('me')).toBeUndefined();
  });
});

describe('RequestCounters', () => {
  it('lists every kind from zero and counts by kind until reset', () => {
    const counters = new RequestCounters(['me', 'other']);
    counters.count('me');
    counters.count('me');
    expect(counters.snapshot()).toEqual({ me: 2, other: 0 });
    counters.reset();
    expect(counters.snapshot()).toEqual({ me: 0, other: 0 });
  });
});

describe('classifyCosmosRequest', () => {
  const docs = '//dbs/obo/colls/tokenCache/docs';
  it.each([
    ['GET', `${docs}/a.b`, {}, 'read'],
    ['PUT', `${docs}/a.b/`, {}, 'replace'],
    ['DELETE', `${docs}/a.b`, {}, 'delete'],
    ['PATCH', `${docs}/a.b`, {}, 'patch'],
    ['POST', docs, {}, 'create'],
    ['POST', docs, { 'x-ms-documentdb-is-upsert': 'True' }, 'upsert'],
    ['POST', docs, { 'x-ms-documentdb-isquery': 'True' }, 'query'],
    ['POST', docs, { 'content-type': 'application/query+json' }, 'query'],
    ['POST', docs, { 'x-ms-cosmos-is-batch-request': 'True' }, 'batch'],
    ['GET', '/', {}, 'metadata'],
    ['GET', '/dbs/obo/colls/tokenCache/pkranges', {}, 'metadata'],
    ['POST', '/dbs', {}, 'metadata'],
  ])('classifies %s %s %j as %s', (method, path, headers, kind) => {
    expect(classifyCosmosRequest(method, path, headers)).toBe(kind);
  });
});

describe('sandboxUser', () => {
  it('gives the same user for the same name, whatever its case, and another for another name', () => {
    expect(sandboxUser('Alice')).toEqual(sandboxUser('alice'));
    expect(sandboxUser('alice').oid).not.toBe(sandboxUser('bob').oid);
    expect(sandboxUser('alice').oid).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});

describe('parseUserTokenOptions', () => {
  it.each([
    ['a name with a slash', 'a/b', {}],
    ['an unknown field', 'alice', { scope: 'x' }],
    ['unset that is not a list of names', 'alice', { unset: 'scp' }],
    ['a fractional lifetime', 'alice', { lifetimeSeconds: 1.5 }],
  ])('rejects %s', (_name, user, input) => {
    expect(typeof parseUserTokenOptions(user, input)).toBe('string');
  });
});
