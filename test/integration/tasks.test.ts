// Issue 19 against the sandbox: the Tasks API routes (every method, ids in routes, pages), Graph's event write,
// CAE and consent on a second downstream API, and which client apps may call.

import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';

import { isRecord } from '../../shared/narrow.js';
import {
  assignAppRoles,
  counters,
  injectFault,
  requestRaw,
  resetEmulators,
  revokeSessions,
  sandbox,
  setConsent,
  userToken,
} from '../sandbox.js';
import { startHosts, type TestHost } from './hosts.js';

const OTHER_CLIENT_APP = '5b0c9e2d-7a41-4c3e-9f6d-2e8a1b4c7d90';
let host: TestHost;

beforeAll(async () => {
  [host] = (await startHosts(1)) as [TestHost];
}, 60_000);
afterAll(async () => {
  await host.stop();
  await resetEmulators();
});
beforeEach(async () => {
  await resetEmulators();
});

function tasksScope(): string {
  return `${sandbox().tasksApi.appIdUri}/Tasks.ReadWrite`;
}

/**
 * A user who consented to the Tasks API (the administrator consented to Graph's User.Read only) and holds the API's
 * Tasks.Admin app role (DELETE requires it), unless `roles` says otherwise.
 */
async function tasksUser(
  name: string,
  roles: readonly string[] = ['Tasks.Admin'],
): Promise<{ accessToken: string; oid: string; tid: string }> {
  await setConsent(name, [tasksScope()], true);
  await assignAppRoles(name, roles);
  return userToken(name);
}

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function call(
  token: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const response = await fetch(`${host.url}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
  };
}

/** A request to the API with its path exactly as given: fetch would resolve `%2e%2e` before sending. */
async function raw(
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const answer = await requestRaw(host.url, path, {
    method,
    headers: { Authorization: `Bearer ${token}` },
    body,
  });
  return { status: answer.status, body: isRecord(answer.body) ? answer.body : {} };
}

function total(byKind: Record<string, number>): number {
  return Object.values(byKind).reduce((sum, n) => sum + n, 0);
}

async function oboRequests(): Promise<number> {
  return (await counters('entra'))['token.obo'] ?? 0;
}

describe('the Tasks API routes', () => {
  test('POST 201 with the task and its Location; GET, PATCH, DELETE it; GET after DELETE is 404', async () => {
    const user = await tasksUser('tasks-crud');
    const created = await call(user.accessToken, 'POST', '/api/tasks', { title: 'Buy milk' });
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect(typeof id).toBe('string');
    expect(created.body).toMatchObject({ title: 'Buy milk', completed: false });
    expect(created.headers.get('location')).toBe(`/api/tasks/${encodeURIComponent(String(id))}`);
    const path = `/api/tasks/${encodeURIComponent(String(id))}`;

    expect(await call(user.accessToken, 'GET', path)).toMatchObject({
      status: 200,
      body: { id, title: 'Buy milk' },
    });
    expect(await call(user.accessToken, 'PATCH', path, { completed: true })).toMatchObject({
      status: 200,
      body: { id, completed: true },
    });
    const deleted = await call(user.accessToken, 'DELETE', path);
    expect(deleted.status).toBe(204);
    const gone = await call(user.accessToken, 'GET', path);
    expect(gone.status).toBe(404);
    expect(gone.body.code).toBe('ERR_DOWNSTREAM_NOT_FOUND');
    expect(gone.headers.get('content-type')).toBe('application/problem+json');
  });

  test.each([
    ['..%2F..%2Fv1.0%2Fme'],
    [encodeURIComponent('a/b')],
    [encodeURIComponent('%2e%2e')],
    [encodeURIComponent('..\\me')],
  ])('an id of %s is 400 ERR_PATH_PARAMETER_INVALID: no exchange, no request to any emulator', async (id) => {
    const user = await tasksUser('tasks-traversal');
    // Warm: the instance has the signing keys, so Entra sees nothing more from the refused requests.
    await call(user.accessToken, 'GET', '/api/tasks');
    await resetEmulators();
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      const body = method === 'PATCH' ? { completed: true } : undefined;
      const answer = await raw(user.accessToken, method, `/api/tasks/${id}`, body);
      expect(answer.status).toBe(400);
      expect(answer.body.code).toBe('ERR_PATH_PARAMETER_INVALID');
    }
    expect(total(await counters('tasks'))).toBe(0);
    expect(total(await counters('graph'))).toBe(0);
    expect(total(await counters('entra'))).toBe(0);
  });

  test('a raw %2e%2e segment is resolved by the host as `..` (as Kestrel does): 404 from the host, no request to any emulator', async () => {
    const user = await tasksUser('tasks-dot-segment');
    await call(user.accessToken, 'GET', '/api/tasks');
    await resetEmulators();
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      const answer = await raw(
        user.accessToken,
        method,
        '/api/tasks/%2e%2e',
        method === 'PATCH' ? {} : undefined,
      );
      expect(answer.status).toBe(404);
      expect(answer.body.code).toBe('ERR_NOT_FOUND');
    }
    expect(
      total(await counters('tasks')) + total(await counters('graph')) + total(await counters('entra')),
    ).toBe(0);
  });

  test('a body that is not JSON, too large, malformed or not a task is refused before any call', async () => {
    const user = await tasksUser('tasks-bodies');
    const plain = await call(user.accessToken, 'POST', '/api/tasks', 'title=milk', {
      'Content-Type': 'text/plain',
    });
    expect(plain).toMatchObject({ status: 415, body: { code: 'ERR_UNSUPPORTED_MEDIA_TYPE' } });
    const large = await call(user.accessToken, 'POST', '/api/tasks', { title: 'x'.repeat(70_000) });
    expect(large).toMatchObject({ status: 413, body: { code: 'ERR_BODY_TOO_LARGE' } });
    const malformed = await call(user.accessToken, 'POST', '/api/tasks', '{"title":');
    expect(malformed).toMatchObject({ status: 400, body: { code: 'ERR_BODY_INVALID' } });
    const wrong = await call(user.accessToken, 'POST', '/api/tasks', { title: 5 });
    expect(wrong).toMatchObject({ status: 400, body: { code: 'ERR_BODY_INVALID' } });
    const query = await call(user.accessToken, 'GET', '/api/tasks?$filter=x');
    expect(query).toMatchObject({ status: 400, body: { code: 'ERR_QUERY_PARAMETER_INVALID' } });
    expect(total(await counters('tasks'))).toBe(0);
    expect(await oboRequests()).toBe(0);
  });

  test("a downstream 400 is a 400 with the resource's code, never its message", async () => {
    const user = await tasksUser('tasks-downstream-400');
    await injectFault('tasks', { kind: 'tasks.create', status: 400 });
    const answer = await call(user.accessToken, 'POST', '/api/tasks', { title: 'a' });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: 'ERR_DOWNSTREAM_BAD_REQUEST', upstreamCode: 'BadRequest' });
    expect(JSON.stringify(answer.body)).not.toContain('The sandbox injected');
  });

  test('25 tasks come back in pages of at most 10 with a cursor; the last has no next; a tampered cursor is 400', async () => {
    const user = await tasksUser('tasks-pages');
    for (let i = 0; i < 25; i++) {
      expect((await call(user.accessToken, 'POST', '/api/tasks', { title: `task ${i}` })).status).toBe(201);
    }
    const seen: string[] = [];
    let path = '/api/tasks';
    const cursors: string[] = [];
    for (let page = 0; page < 5; page++) {
      const answer = await call(user.accessToken, 'GET', path);
      expect(answer.status).toBe(200);
      const value = answer.body.value as { id: string }[];
      expect(value.length).toBeLessThanOrEqual(10);
      seen.push(...value.map((task) => task.id));
      if (answer.body.next === undefined) break;
      const next = answer.body.next;
      if (typeof next !== 'string') throw new Error('next is not a string');
      expect(next).not.toContain('skiptoken');
      expect(next).not.toContain('127.0.0.1');
      cursors.push(next);
      path = `/api/tasks?cursor=${encodeURIComponent(next)}`;
    }
    expect(seen).toHaveLength(25);
    expect(new Set(seen).size).toBe(25);
    expect(cursors).toHaveLength(2);

    const [cursor = ''] = cursors;
    const tampered = `${cursor.slice(0, -6)}${cursor.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA'}`;
    const refused = await call(user.accessToken, 'GET', `/api/tasks?cursor=${encodeURIComponent(tampered)}`);
    expect(refused).toMatchObject({ status: 400, body: { code: 'ERR_CURSOR_INVALID' } });
    // Another caller's cursor, and a downstream URL in place of a cursor, are refused the same way.
    const other = await tasksUser('tasks-pages-other');
    const stolen = await call(other.accessToken, 'GET', `/api/tasks?cursor=${encodeURIComponent(cursor)}`);
    expect(stolen).toMatchObject({ status: 400, body: { code: 'ERR_CURSOR_INVALID' } });
    const url = `${sandbox().tasksApi.url}/tasks?$skiptoken=1`;
    const asUrl = await call(user.accessToken, 'GET', `/api/tasks?cursor=${encodeURIComponent(url)}`);
    expect(asUrl).toMatchObject({ status: 400, body: { code: 'ERR_CURSOR_INVALID' } });
    // A cursor of one list is not a cursor of another.
    const events = await call(user.accessToken, 'GET', `/api/me/events?cursor=${encodeURIComponent(cursor)}`);
    expect(events.status).toBe(400);
  });
});

describe('two downstream resources', () => {
  test('a caller using Graph and the Tasks API costs 2 exchanges, 0 on repeat', async () => {
    const user = await tasksUser('two-resources');
    expect((await call(user.accessToken, 'GET', '/api/me')).status).toBe(200);
    expect((await call(user.accessToken, 'GET', '/api/tasks')).status).toBe(200);
    expect(await oboRequests()).toBe(2);
    expect((await call(user.accessToken, 'GET', '/api/me')).status).toBe(200);
    expect((await call(user.accessToken, 'GET', '/api/tasks')).status).toBe(200);
    expect(await oboRequests()).toBe(2);
  });
});

describe('consent and CAE on the Tasks API, as on Graph', () => {
  test('403 ERR_CONSENT_REQUIRED naming the Tasks scope before consent, 200 after', async () => {
    const user = await userToken('tasks-consent');
    const before = await call(user.accessToken, 'GET', '/api/tasks');
    expect(before.status).toBe(403);
    expect(before.body).toMatchObject({
      code: 'ERR_CONSENT_REQUIRED',
      consent: { clientId: sandbox().api.clientId, scopes: [tasksScope()] },
    });
    expect(total(await counters('tasks'))).toBe(0);
    await setConsent('tasks-consent', [tasksScope()], true);
    expect((await call(user.accessToken, 'GET', '/api/tasks')).status).toBe(200);
  });

  test('a claims challenge Entra can satisfy is answered by one exchange with the claims', async () => {
    const user = await tasksUser('tasks-cae-policy');
    expect((await call(user.accessToken, 'GET', '/api/tasks')).status).toBe(200);
    await revokeSessions({ name: 'tasks-cae-policy', oid: user.oid, tid: user.tid }, 'graph');
    const obo = await oboRequests();
    expect((await call(user.accessToken, 'GET', '/api/tasks')).status).toBe(200);
    expect(await oboRequests()).toBe(obo + 1);
    expect((await call(user.accessToken, 'GET', '/api/tasks')).status).toBe(200);
    expect(await oboRequests()).toBe(obo + 1);
  });

  test('after the sessions are revoked everywhere: 401 ERR_CLAIMS_CHALLENGE, and the token is not presented again', async () => {
    const user = await tasksUser('tasks-cae-revoked');
    expect((await call(user.accessToken, 'GET', '/api/tasks')).status).toBe(200);
    await revokeSessions({ name: 'tasks-cae-revoked', oid: user.oid, tid: user.tid }, 'both');
    const first = await call(user.accessToken, 'GET', '/api/tasks');
    expect(first.status).toBe(401);
    expect(first.body.code).toBe('ERR_CLAIMS_CHALLENGE');
    expect(first.headers.get('www-authenticate')).toContain('error="insufficient_claims"');
    const listed = (await counters('tasks'))['tasks.list'] ?? 0;
    expect((await call(user.accessToken, 'GET', '/api/tasks')).status).toBe(401);
    expect((await counters('tasks'))['tasks.list'] ?? 0).toBe(listed);
    const fresh = await userToken('tasks-cae-revoked');
    expect((await call(fresh.accessToken, 'GET', '/api/tasks')).status).toBe(200);
  });
});

describe("Graph's event write and the calendar's pages", () => {
  test('POST /api/me/events: consent round trip, then 201 with the event, and the calendar pages with a cursor', async () => {
    // Consents name Graph by its public URI; the app asks for the sandbox Graph's own resource (GRAPH_RESOURCE_URI).
    const write = 'https://graph.microsoft.com/Calendars.ReadWrite';
    const requested = `${sandbox().settings.GRAPH_RESOURCE_URI ?? ''}/Calendars.ReadWrite`;
    const user = await userToken('event-writer');
    const start = new Date(Math.ceil(Date.now() / 3_600_000) * 3_600_000 + 3_600_000);
    const event = (offsetMinutes: number) => ({
      subject: `Planned ${offsetMinutes}`,
      start: {
        dateTime: new Date(start.getTime() + offsetMinutes * 60_000).toISOString().slice(0, 19),
        timeZone: 'UTC',
      },
      end: {
        dateTime: new Date(start.getTime() + (offsetMinutes + 15) * 60_000).toISOString().slice(0, 19),
        timeZone: 'UTC',
      },
    });
    const before = await call(user.accessToken, 'POST', '/api/me/events', event(0));
    expect(before).toMatchObject({
      status: 403,
      body: { code: 'ERR_CONSENT_REQUIRED', consent: { scopes: [requested] } },
    });
    await setConsent('event-writer', [write, 'https://graph.microsoft.com/Calendars.Read'], true);
    const created = await call(user.accessToken, 'POST', '/api/me/events', event(0));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ subject: 'Planned 0', id: expect.any(String) });

    for (let i = 1; i < 12; i++)
      expect((await call(user.accessToken, 'POST', '/api/me/events', event(i * 20))).status).toBe(201);
    const first = await call(user.accessToken, 'GET', '/api/me/events');
    expect(first.status).toBe(200);
    expect(typeof first.body.next).toBe('string');
    expect(Object.keys(first.body).sort()).toEqual(['next', 'value']);
    const second = await call(
      user.accessToken,
      'GET',
      `/api/me/events?cursor=${encodeURIComponent(String(first.body.next))}`,
    );
    expect(second.status).toBe(200);
    expect((second.body.value as unknown[]).length).toBeGreaterThan(0);
  });
});

describe('which client apps may call', () => {
  test('a token obtained by an app that is not allowed is 403 ERR_CLIENT_APP_NOT_ALLOWED, before any exchange', async () => {
    await setConsent('tasks-other-app', [tasksScope()], true);
    const token = await userToken('tasks-other-app', { client: OTHER_CLIENT_APP });
    const answer = await call(token.accessToken, 'GET', '/api/tasks');
    expect(answer).toMatchObject({ status: 403, body: { code: 'ERR_CLIENT_APP_NOT_ALLOWED' } });
    expect(await oboRequests()).toBe(0);
  });
});

describe('a route that requires an app role: DELETE /api/tasks/{id} needs Tasks.Admin', () => {
  test('a user without the role gets 403 ERR_ROLE_REQUIRED with insufficient_scope, and nothing is deleted', async () => {
    const user = await tasksUser('tasks-no-role', []);
    const created = await call(user.accessToken, 'POST', '/api/tasks', { title: 'Keep me' });
    expect(created.status).toBe(201);
    const path = `/api/tasks/${encodeURIComponent(String(created.body.id))}`;
    const exchangesBefore = await oboRequests();

    const refused = await call(user.accessToken, 'DELETE', path);

    expect(refused).toMatchObject({ status: 403, body: { code: 'ERR_ROLE_REQUIRED' } });
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer .*error="insufficient_scope"/);
    // Refused before any exchange or downstream call; the other routes stay open to the user.
    expect(await oboRequests()).toBe(exchangesBefore);
    expect((await counters('tasks'))['tasks.delete']).toBe(0);
    expect((await call(user.accessToken, 'GET', path)).status).toBe(200);
  });

  test("once an administrator assigns the role, the user's next token deletes (204)", async () => {
    const user = await tasksUser('tasks-role-later', []);
    const created = await call(user.accessToken, 'POST', '/api/tasks', { title: 'Delete me later' });
    const path = `/api/tasks/${encodeURIComponent(String(created.body.id))}`;
    expect((await call(user.accessToken, 'DELETE', path)).status).toBe(403);

    await assignAppRoles('tasks-role-later', ['Tasks.Admin']);
    const renewed = await userToken('tasks-role-later');

    expect((await call(renewed.accessToken, 'DELETE', path)).status).toBe(204);
    expect((await counters('tasks'))['tasks.delete']).toBe(1);
  });

  test('alice holds the role by default (the sample SPA deletes with her token)', async () => {
    await setConsent('alice', [tasksScope()], true);
    const alice = await userToken('alice');
    const created = await call(alice.accessToken, 'POST', '/api/tasks', { title: 'Sample' });

    const deleted = await call(
      alice.accessToken,
      'DELETE',
      `/api/tasks/${encodeURIComponent(String(created.body.id))}`,
    );

    expect(deleted.status).toBe(204);
  });
});
