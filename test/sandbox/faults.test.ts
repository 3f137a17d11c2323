// The control endpoints every emulator serves: counters, reset, and faults (status, delay, count, presets).
import { setTimeout } from 'node:timers/promises';

import { beforeEach, describe, expect, it } from '@jest/globals';

import { GRAPH_KINDS } from '../../dev/emulators/graph/permissions.js';
import type { Emulator } from '../sandbox.js';
import { counters, emulatorUrl, injectFault, resetEmulators, sandbox } from '../sandbox.js';

/** Waits until the Entra emulator has received one request of `kind`. */
async function countedOnce(kind: string): Promise<void> {
  while ((await counters('entra'))[kind] !== 1) await setTimeout(10);
}

function openIdConfiguration(): Promise<Response> {
  const { entraUrl, tenantId } = sandbox();
  return fetch(`${entraUrl}/${tenantId}/v2.0/.well-known/openid-configuration`);
}

function postFault(emulator: Emulator, body: unknown): Promise<Response> {
  return fetch(`${emulatorUrl(emulator)}/_emulator/faults`, { method: 'POST', body: JSON.stringify(body) });
}

beforeEach(resetEmulators);

describe('faults', () => {
  it('answers the injected status for the next count requests of the kind, then the real answer', async () => {
    await injectFault('entra', { kind: 'openid-configuration', status: 503, count: 2 });
    expect((await openIdConfiguration()).status).toBe(503);
    expect((await openIdConfiguration()).status).toBe(503);
    expect((await openIdConfiguration()).status).toBe(200);
    expect((await counters('entra'))['openid-configuration']).toBe(3);
  });

  it('answers a faulted Entra request in the Entra error shape', async () => {
    await injectFault('entra', { status: 500 });
    const response = await openIdConfiguration();
    const body = (await response.json()) as Record<string, unknown>;
    expect(response.status).toBe(500);
    expect(body).toMatchObject({ error: 'temporarily_unavailable', error_codes: [90033] });
  });

  it('leaves requests of other kinds alone', async () => {
    await injectFault('entra', { kind: 'token.obo', status: 500 });
    expect((await openIdConfiguration()).status).toBe(200);
  });

  it('sends the given body and headers', async () => {
    await injectFault('graph', {
      kind: 'me',
      status: 429,
      headers: { 'Retry-After': '3' },
      body: { error: { code: 'TooManyRequests' } },
    });
    const response = await fetch(`${sandbox().graphUrl}/v1.0/me`);
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('3');
    expect(await response.json()).toEqual({ error: { code: 'TooManyRequests' } });
  });

  it('answers Graph presets in Graph shape', async () => {
    await injectFault('graph', { preset: 'forbidden' });
    const response = await fetch(`${sandbox().graphUrl}/v1.0/me`);
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
      'Authorization_RequestDenied',
    );
  });

  it('delays a request and then answers it for real when no status is given', async () => {
    await injectFault('entra', { kind: 'openid-configuration', delayMs: 2000 });
    const finished: string[] = [];
    const delayed = openIdConfiguration().then((response) => {
      finished.push('delayed');
      return response;
    });
    await countedOnce('openid-configuration');
    // Order, not time: a request sent while the first one waits overtakes it, and is not delayed itself.
    const next = await openIdConfiguration();
    finished.push('next');
    expect(next.status).toBe(200);
    expect((await delayed).status).toBe(200);
    expect(finished).toEqual(['next', 'delayed']);
  });

  it.each([
    ['an unknown kind', { kind: 'nope', status: 500 }],
    ['an unknown preset', { preset: 'nope' }],
    ['a status out of range', { status: 700 }],
    ['a body that is not JSON', 'not json'],
  ])('answers 400 to %s', async (_name, body) => {
    const response = await fetch(`${emulatorUrl('graph')}/_emulator/faults`, {
      method: 'POST',
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_fault', message: expect.any(String) });
  });

  it('is forgotten on reset', async () => {
    expect((await postFault('entra', { status: 500, count: 5 })).status).toBe(204);
    await resetEmulators();
    expect((await openIdConfiguration()).status).toBe(200);
  });
});

describe('counters', () => {
  it('lists every kind of each emulator and does not count control requests', async () => {
    await counters('entra');
    expect(Object.keys(await counters('entra')).sort()).toEqual(
      [
        'authorize',
        'authorize.form',
        'instance-discovery',
        'keys',
        'keys.graph',
        'keys.tasks',
        'managed-identity',
        'openid-configuration',
        'logout',
        'other',
        'token.authorization_code',
        'token.obo',
        'token.other',
        'token.preflight',
        'token.refresh_token',
      ].sort(),
    );
    // Graph's kinds follow its route table (one per route, each data-driven list its own): nothing to list here.
    expect(await counters('graph')).toEqual(Object.fromEntries(GRAPH_KINDS.map((kind) => [kind, 0])));
    expect(GRAPH_KINDS).toEqual(
      expect.arrayContaining(['me', 'calendar', 'events.create', 'contacts', 'other']),
    );
    expect(await counters('tasks')).toEqual({
      'tasks.list': 0,
      'tasks.create': 0,
      'tasks.read': 0,
      'tasks.update': 0,
      'tasks.delete': 0,
      other: 0,
    });
    expect(Object.values(await counters('cosmos')).every((count) => count === 0)).toBe(true);
  });

  it('counts unknown paths as other', async () => {
    const response = await fetch(`${sandbox().entraUrl}/nowhere`);
    expect(response.status).toBe(404);
    expect((await counters('entra')).other).toBe(1);
  });
});
