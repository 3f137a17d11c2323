// The Tasks API emulator over HTTPS, a second protected downstream API: tokens from the Entra emulator's OBO grant
// after consent, per-user CRUD, pages with next links, its errors, faults and CAE revocation.
import { afterAll, beforeEach, describe, expect, it } from '@jest/globals';
import { decodeJwt } from 'jose';

import { claimsFromChallenge } from '../../shared/graph/claimsChallenge.js';
import {
  apiMsalClient,
  counters,
  injectFault,
  pathCounters,
  requestObo,
  requestRawPath,
  resetEmulators,
  revokeSessions,
  sandbox,
  setConsent,
  userToken,
} from '../sandbox.js';

const tasksScope = (permission = 'Tasks.ReadWrite'): string => `${sandbox().tasksApi.appIdUri}/${permission}`;

interface TaskBody {
  id: string;
  title: string;
  completed: boolean;
}
interface ErrorBody {
  error: { code: string; message: string };
}

/** A Tasks API token for `user` by OBO, after the user's consent to `permission`. */
async function tasksToken(user = 'alice', permission = 'Tasks.ReadWrite'): Promise<string> {
  await setConsent(user, [tasksScope(permission)], true);
  const { accessToken } = await userToken(user);
  const response = await requestObo(accessToken, { scope: tasksScope(permission) });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

function tasks(token: string | undefined, path = '/tasks', init: RequestInit = {}): Promise<Response> {
  const url = path.startsWith('https://') ? path : `${sandbox().tasksApi.url}${path}`;
  return fetch(url, {
    ...init,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(init.headers as Record<string, string> | undefined),
    },
  });
}

async function createTask(token: string, title: string): Promise<TaskBody> {
  const response = await tasks(token, '/tasks', { method: 'POST', body: JSON.stringify({ title }) });
  expect(response.status).toBe(201);
  return (await response.json()) as TaskBody;
}

beforeEach(resetEmulators);
afterAll(resetEmulators);

describe('consent and tokens for the Tasks API', () => {
  it('refuses the OBO exchange for Tasks.ReadWrite until the user consented, then issues a v2 token for the API', async () => {
    const { accessToken, oid } = await userToken('tasks-consent');
    const refused = await requestObo(accessToken, { scope: tasksScope() });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'invalid_grant', suberror: 'consent_required' });

    await setConsent('tasks-consent', [tasksScope()], true);
    const granted = await requestObo(accessToken, { scope: tasksScope() });
    expect(granted.status).toBe(200);
    const body = (await granted.json()) as { access_token: string; scope: string };
    expect(body.scope).toBe(tasksScope());
    expect(decodeJwt(body.access_token)).toMatchObject({
      aud: sandbox().tasksApi.clientId,
      iss: `${sandbox().entraUrl}/${sandbox().tenantId}/v2.0`,
      azp: sandbox().api.clientId,
      scp: 'Tasks.ReadWrite',
      oid,
      ver: '2.0',
    });
  });

  it("grants every user of the tenant once an administrator consented (a user's own revocation still wins)", async () => {
    const { accessToken } = await userToken('tasks-admin-user');
    expect((await requestObo(accessToken, { scope: tasksScope() })).status).toBe(400);
    const consent = await fetch(`${sandbox().entraUrl}/_emulator/consent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ admin: true, scopes: [tasksScope()], granted: true }),
    });
    expect(consent.status).toBe(200);
    expect((await requestObo(accessToken, { scope: tasksScope() })).status).toBe(200);
    await setConsent('tasks-admin-user', [tasksScope()], false);
    expect((await requestObo(accessToken, { scope: tasksScope() })).status).toBe(400);
  });

  it.each([
    ['a scope the Tasks API does not expose', () => tasksScope('Tasks.Delete'), 70011],
    [
      'scopes of two resources in one request',
      () => `${tasksScope()} https://graph.microsoft.com/User.Read`,
      28000,
    ],
  ])('answers invalid_scope to %s', async (_name, scope, code) => {
    await setConsent('alice', [tasksScope()], true);
    const { accessToken } = await userToken('alice');
    const response = await requestObo(accessToken, { scope: scope() });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: string; error_codes: number[] };
    expect(body.error).toBe('invalid_scope');
    expect(body.error_codes).toEqual([code]);
  });
});

describe('tasks, per user', () => {
  it('creates, reads, updates and deletes a task; after the delete it is 404', async () => {
    const token = await tasksToken();
    const response = await tasks(token, '/tasks', {
      method: 'POST',
      body: JSON.stringify({ title: 'Buy milk' }),
    });
    expect(response.status).toBe(201);
    const created = (await response.json()) as TaskBody;
    expect(created).toMatchObject({ title: 'Buy milk', completed: false });
    // Ids hold `-` and `_`: a client must bind them as one encoded segment.
    expect(created.id).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(created.id).toMatch(/-/);
    expect(created.id).toMatch(/_/);
    expect(response.headers.get('location')).toBe(`${sandbox().tasksApi.url}/tasks/${created.id}`);

    expect(await (await tasks(token, `/tasks/${created.id}`)).json()).toEqual(created);
    const patched = await tasks(token, `/tasks/${created.id}`, {
      method: 'PATCH',
      body: JSON.stringify({ completed: true }),
    });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ id: created.id, title: 'Buy milk', completed: true });

    const deleted = await tasks(token, `/tasks/${created.id}`, { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    expect(await deleted.text()).toBe('');
    const gone = await tasks(token, `/tasks/${created.id}`);
    expect(gone.status).toBe(404);
    expect(((await gone.json()) as ErrorBody).error.code).toBe('NotFound');
    expect((await tasks(token, `/tasks/${created.id}`, { method: 'DELETE' })).status).toBe(404);
    expect(await counters('tasks')).toMatchObject({
      'tasks.create': 1,
      'tasks.read': 2,
      'tasks.update': 1,
      'tasks.delete': 2,
    });
  });

  it("keeps each user's tasks apart: another user gets 404 for them and an empty list", async () => {
    const alice = await tasksToken('alice');
    const bob = await tasksToken('bob');
    const task = await createTask(alice, 'private');
    expect((await tasks(bob, `/tasks/${task.id}`)).status).toBe(404);
    expect(await (await tasks(bob)).json()).toEqual({ value: [] });
  });

  it('answers 25 tasks in pages of 10 linked by an absolute @odata.nextLink, none after the last', async () => {
    const token = await tasksToken();
    const titles = Array.from({ length: 25 }, (_, i) => `task ${i}`);
    for (const title of titles) await createTask(token, title);
    const pages: TaskBody[][] = [];
    let link: string | undefined = '/tasks';
    while (link !== undefined) {
      const response = await tasks(token, link);
      expect(response.status).toBe(200);
      const page = (await response.json()) as { value: TaskBody[]; '@odata.nextLink'?: string };
      pages.push(page.value);
      link = page['@odata.nextLink'];
      if (link !== undefined) {
        expect(link.startsWith(`${sandbox().tasksApi.url}/tasks?`)).toBe(true);
        expect(new URL(link).searchParams.get('$skiptoken')).toMatch(/^[A-Za-z0-9_-]+$/);
      }
    }
    expect(pages.map((page) => page.length)).toEqual([10, 10, 5]);
    expect(pages.flat().map((task) => task.title)).toEqual(titles);
  });

  it('honours $top and refuses a $skiptoken it did not issue', async () => {
    const token = await tasksToken();
    for (const title of ['a', 'b', 'c']) await createTask(token, title);
    const first = (await (await tasks(token, '/tasks?$top=2')).json()) as {
      value: TaskBody[];
      '@odata.nextLink': string;
    };
    expect(first.value.map((task) => task.title)).toEqual(['a', 'b']);
    expect(new URL(first['@odata.nextLink']).searchParams.get('$top')).toBe('2');
    const tampered = await tasks(token, '/tasks?$skiptoken=bm90LW91cnM');
    expect(tampered.status).toBe(400);
    expect(((await tampered.json()) as ErrorBody).error.code).toBe('InvalidSkipToken');
    expect((await tasks(token, '/tasks?$top=0')).status).toBe(400);
  });

  it.each([
    ['no title', {}],
    ['a blank title', { title: '  ' }],
    ['a title that is not a string', { title: 7 }],
    ['an unknown property', { title: 'x', due: 'tomorrow' }],
    ['a read-only property', { title: 'x', id: 'mine' }],
    ['an array', ['x']],
  ])('answers 400 InvalidRequestBody to a new task with %s', async (_name, body) => {
    const token = await tasksToken();
    const response = await tasks(token, '/tasks', { method: 'POST', body: JSON.stringify(body) });
    expect(response.status).toBe(400);
    expect(((await response.json()) as ErrorBody).error.code).toBe('InvalidRequestBody');
    expect((await counters('tasks'))['tasks.create']).toBe(1);
  });

  it('answers 400 to a patch that changes nothing or is not JSON, and 415 to a body that is not JSON by its type', async () => {
    const token = await tasksToken();
    const task = await createTask(token, 'x');
    const patch = (body: string, type = 'application/json'): Promise<Response> =>
      tasks(token, `/tasks/${task.id}`, { method: 'PATCH', body, headers: { 'content-type': type } });
    expect((await patch('{}')).status).toBe(400);
    expect((await patch('{"completed":"yes"}')).status).toBe(400);
    expect((await patch('{not json')).status).toBe(400);
    const unsupported = await patch('completed=true', 'application/x-www-form-urlencoded');
    expect(unsupported.status).toBe(415);
    expect(((await unsupported.json()) as ErrorBody).error.code).toBe('UnsupportedMediaType');
  });
});

describe('paths the Tasks API does not serve', () => {
  it.each([
    '/tasks/..%2F..%2Fv1.0%2Fme',
    '/tasks/a%2Fb',
    '/tasks/%2e%2e',
    '/tasks/..',
    '/tasks/x/..',
    '/tasks/x/y',
    '/todo',
    '/',
  ])('answers 404 NotFound to GET %s with no task in it', async (path) => {
    const token = await tasksToken();
    await createTask(token, 'must not leak');
    const { status, body } = await requestRawPath('tasks', path, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(status).toBe(404);
    expect((body as ErrorBody).error.code).toBe('NotFound');
    expect(JSON.stringify(body)).not.toContain('must not leak');
    // Counted by the path as sent, not another path's.
    expect((await pathCounters('tasks'))[`GET ${path}`]).toBe(1);
    expect((await pathCounters('tasks'))['GET /tasks']).toBeUndefined();
  });

  it('answers 405 with Allow to a method a known path does not take', async () => {
    const token = await tasksToken();
    const response = await tasks(token, '/tasks', { method: 'DELETE' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, POST');
  });
});

describe('token checks', () => {
  it('answers 401 without a token, with a Bearer challenge naming the Tasks API', async () => {
    const response = await tasks(undefined);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain(`client_id="${sandbox().tasksApi.clientId}"`);
    expect(((await response.json()) as ErrorBody).error.code).toBe('Unauthorized');
  });

  it("answers 401 invalid_token to the API's own token and to a Graph token (another audience)", async () => {
    const { accessToken } = await userToken('alice');
    const graph = (await (await requestObo(accessToken)).json()) as { access_token: string };
    for (const token of [accessToken, graph.access_token, 'not-a-token']) {
      const response = await tasks(token);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"');
      expect(((await response.json()) as ErrorBody).error.code).toBe('InvalidAuthenticationToken');
    }
  });

  it('lets a Tasks.Read token list, and answers its write 403 insufficient_scope', async () => {
    const token = await tasksToken('reader', 'Tasks.Read');
    expect(decodeJwt(token).scp).toBe('Tasks.Read');
    expect((await tasks(token)).status).toBe(200);
    const response = await tasks(token, '/tasks', { method: 'POST', body: JSON.stringify({ title: 'x' }) });
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(response.headers.get('www-authenticate')).toContain(`scope="${tasksScope()}"`);
    expect(((await response.json()) as ErrorBody).error.code).toBe('Forbidden');
  });
});

describe('faults', () => {
  it('applies a queued preset to the next request of its kind, Retry-After included, then answers for real', async () => {
    const token = await tasksToken();
    await injectFault('tasks', { kind: 'tasks.create', preset: 'throttled' });
    const body = JSON.stringify({ title: 'x' });
    const throttled = await tasks(token, '/tasks', { method: 'POST', body });
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('2');
    expect(((await throttled.json()) as ErrorBody).error.code).toBe('TooManyRequests');
    expect((await tasks(token, '/tasks', { method: 'POST', body })).status).toBe(201);
  });

  it("answers a status-only fault with the Tasks API's error shape", async () => {
    const token = await tasksToken();
    await injectFault('tasks', { kind: 'tasks.list', status: 503 });
    const response = await tasks(token);
    expect(response.status).toBe(503);
    expect(((await response.json()) as ErrorBody).error.code).toBe('ServiceUnavailable');
    expect((await tasks(token)).status).toBe(200);
  });
});

describe('continuous access evaluation', () => {
  it("challenges a revoked user's CAE token with insufficient_claims; a token for those claims is accepted", async () => {
    await setConsent('tasks-cae', [tasksScope()], true);
    const user = await userToken('tasks-cae');
    const first = await apiMsalClient({ clientCapabilities: ['cp1'] }).acquireTokenOnBehalfOf({
      oboAssertion: user.accessToken,
      scopes: [tasksScope()],
    });
    if (first === null) throw new Error('no token');
    expect(decodeJwt(first.accessToken).xms_cc).toEqual(['cp1']);
    expect((await tasks(first.accessToken)).status).toBe(200);

    await revokeSessions({ name: 'tasks-cae', oid: user.oid, tid: user.tid }, 'graph');
    const challenged = await tasks(first.accessToken);
    expect(challenged.status).toBe(401);
    const header = challenged.headers.get('www-authenticate') ?? '';
    expect(header).toContain('error="insufficient_claims"');
    const claims = claimsFromChallenge(header);
    expect(claims).toBeDefined();

    const renewed = await apiMsalClient({ clientCapabilities: ['cp1'] }).acquireTokenOnBehalfOf({
      oboAssertion: user.accessToken,
      scopes: [tasksScope()],
      claims,
    });
    if (renewed === null) throw new Error('no token');
    expect((await tasks(renewed.accessToken)).status).toBe(200);
  });
});
