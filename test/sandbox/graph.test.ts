// The Microsoft Graph emulator over HTTPS: /v1.0/me with Graph tokens from the Entra emulator's OBO grant.
import { beforeEach, describe, expect, it } from '@jest/globals';

import {
  counters,
  pathCounters,
  requestObo,
  requestRawPath,
  resetEmulators,
  rotateKeys,
  sandbox,
  setConsent,
  userToken,
} from '../sandbox.js';

const CALENDARS_READ_WRITE = 'https://graph.microsoft.com/Calendars.ReadWrite';

/** A Graph token for `user` from the Entra emulator's on-behalf-of grant (User.Read, or `scope` once consented). */
async function graphToken(
  user = 'alice',
  scope = 'https://graph.microsoft.com/User.Read',
): Promise<{ token: string; oid: string }> {
  if (scope !== 'https://graph.microsoft.com/User.Read') await setConsent(user, [scope], true);
  const { accessToken, oid } = await userToken(user);
  const response = await requestObo(accessToken, { scope });
  const body = (await response.json()) as { access_token: string };
  return { token: body.access_token, oid };
}

function me(token?: string, query = ''): Promise<Response> {
  return fetch(`${sandbox().graphUrl}/v1.0/me${query}`, {
    headers:
      token === undefined ? {} : { authorization: `Bearer ${token}`, 'client-request-id': 'graph-test' },
  });
}

beforeEach(resetEmulators);

describe('GET /v1.0/me', () => {
  it('answers the profile of the user the token names, in Graph shape', async () => {
    const { token, oid } = await graphToken('alice');
    const response = await me(token);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json;odata\.metadata=minimal/);
    expect(response.headers.get('client-request-id')).toBe('graph-test');
    expect(await response.json()).toMatchObject({
      '@odata.context': `${sandbox().graphUrl}/v1.0/$metadata#users/$entity`,
      id: oid,
      displayName: 'Alice Sandbox',
      givenName: 'Alice',
      surname: 'Sandbox',
      userPrincipalName: 'alice@sandbox.onmicrosoft.com',
      mail: 'alice@sandbox.onmicrosoft.com',
      jobTitle: null,
    });
    expect((await counters('graph')).me).toBe(1);
  });

  it('answers only the selected properties with $select', async () => {
    const { token, oid } = await graphToken();
    const body = (await (await me(token, '?$select=id,displayName')).json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['@odata.context', 'displayName', 'id']);
    expect(body.id).toBe(oid);
  });

  it('answers 401 InvalidAuthenticationToken without a token', async () => {
    const response = await me();
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const body = (await response.json()) as { error: { code: string; innerError: Record<string, unknown> } };
    expect(body.error.code).toBe('InvalidAuthenticationToken');
    expect(body.error.innerError).toMatchObject({ 'request-id': response.headers.get('request-id') });
  });

  it('answers 401 to the API token (audience is not Graph)', async () => {
    const { accessToken } = await userToken('alice');
    const response = await me(accessToken);
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
      'InvalidAuthenticationToken',
    );
  });

  it('answers 401 to a token whose signature does not verify', async () => {
    const { token } = await graphToken();
    const [header, payload] = token.split('.');
    const forged = `${header ?? ''}.${payload ?? ''}.${Buffer.from('forged').toString('base64url')}`;
    expect((await me(forged)).status).toBe(401);
  });

  it('answers 401 to a malformed token', async () => {
    expect((await me('not-a-token')).status).toBe(401);
  });

  it('validates tokens signed by a new Entra key, fetching the keys again', async () => {
    await rotateKeys();
    const { token } = await graphToken();
    expect((await me(token)).status).toBe(200);
    expect((await counters('entra'))['keys.graph']).toBe(1);
  });
});

interface GraphErrorBody {
  error: { code: string; message: string };
}

function graph(token: string, path: string, init: RequestInit = {}): Promise<Response> {
  const url = path.startsWith('https://') ? path : `${sandbox().graphUrl}${path}`;
  return fetch(url, {
    ...init,
    headers: {
      authorization: `Bearer ${token}`,
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
  });
}

describe('paths Graph does not serve here', () => {
  it.each([
    ['/v1.0/me/noSuchCollection', 400, 'BadRequest'],
    ['/v1.0/me/calendarView/..', 400, 'BadRequest'],
    ['/v1.0/me/x/..', 400, 'BadRequest'],
    ['/v1.0/me/%2e%2e', 400, 'BadRequest'],
    ['/v1.0/me%2FcalendarView', 400, 'BadRequest'],
    ['/v2.0/me', 400, 'BadRequest'],
    ['/v1.0/users/nobody', 404, 'Request_ResourceNotFound'],
  ])("answers GET %s with Graph's %i %s, never the profile", async (path, status, code) => {
    const { token } = await graphToken();
    const answer = await requestRawPath('graph', path, { headers: { authorization: `Bearer ${token}` } });
    expect(answer.status).toBe(status);
    expect((answer.body as GraphErrorBody).error.code).toBe(code);
    expect(JSON.stringify(answer.body)).not.toContain('Alice Sandbox');
    expect(await counters('graph')).toMatchObject({ me: 0, other: 1 });
    expect((await pathCounters('graph'))[`GET ${path}`]).toBe(1);
  });

  it('answers 405 to a method a served path does not take', async () => {
    const { token } = await graphToken();
    const response = await graph(token, '/v1.0/me', { method: 'POST', body: '{}' });
    expect(response.status).toBe(405);
    expect(((await response.json()) as GraphErrorBody).error.code).toBe('Request_BadRequest');
  });

  it('answers 401 to an unknown path without a token, as Graph checks the token first', async () => {
    expect((await fetch(`${sandbox().graphUrl}/v1.0/me/messages`)).status).toBe(401);
  });
});

describe('POST /v1.0/me/events', () => {
  const event = {
    subject: 'Sandbox review',
    start: { dateTime: '2030-01-07T10:00:00', timeZone: 'UTC' },
    end: { dateTime: '2030-01-07T10:30:00', timeZone: 'UTC' },
  };

  it("creates the event in the user's calendar: 201 with it, and calendarView shows it", async () => {
    const { token, oid } = await graphToken('eve', CALENDARS_READ_WRITE);
    const response = await graph(token, '/v1.0/me/events', { method: 'POST', body: JSON.stringify(event) });
    expect(response.status).toBe(201);
    const created = (await response.json()) as { id: string; subject: string; start: { dateTime: string } };
    expect(created).toMatchObject({
      subject: 'Sandbox review',
      start: { dateTime: '2030-01-07T10:00:00.0000000', timeZone: 'UTC' },
      organizer: { emailAddress: { address: 'eve@sandbox.onmicrosoft.com' } },
    });
    expect(response.headers.get('location')).toBe(
      `${sandbox().graphUrl}/v1.0/users('${oid}')/events('${created.id}')`,
    );
    expect(await counters('graph')).toMatchObject({ 'events.create': 1 });

    const view = await graph(
      token,
      '/v1.0/me/calendarView?startDateTime=2030-01-07T10:00:00Z&endDateTime=2030-01-07T11:00:00Z',
    );
    expect(((await view.json()) as { value: { id: string }[] }).value.map((e) => e.id)).toEqual([created.id]);
    // Another user's calendar does not show it.
    const other = await graphToken('frank', CALENDARS_READ_WRITE);
    const theirs = await graph(
      other.token,
      '/v1.0/me/calendarView?startDateTime=2030-01-07T10:00:00Z&endDateTime=2030-01-07T11:00:00Z',
    );
    expect(((await theirs.json()) as { value: unknown[] }).value).toEqual([]);
  });

  it('answers 403 ErrorAccessDenied with Calendars.Read only', async () => {
    const { token } = await graphToken('reader', 'https://graph.microsoft.com/Calendars.Read');
    const response = await graph(token, '/v1.0/me/events', { method: 'POST', body: JSON.stringify(event) });
    expect(response.status).toBe(403);
    expect(((await response.json()) as GraphErrorBody).error.code).toBe('ErrorAccessDenied');
  });

  it.each([
    ['an unknown property', { ...event, colour: 'red' }, 'RequestBodyRead'],
    ['no start', { subject: 'x', end: event.end }, 'ErrorInvalidRequest'],
    [
      'an end before the start',
      { ...event, end: { dateTime: '2030-01-07T09:00:00', timeZone: 'UTC' } },
      'ErrorInvalidRequest',
    ],
    ['a body that is not JSON', '{not json', 'BadRequest'],
  ])('answers 400 to an event with %s', async (_name, body, code) => {
    const { token } = await graphToken('eve', CALENDARS_READ_WRITE);
    const response = await graph(token, '/v1.0/me/events', {
      method: 'POST',
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as GraphErrorBody).error.code).toBe(code);
  });
});

describe('the lists of collections.ts (GET /v1.0/me/contacts)', () => {
  it('pages them with $top, $select and an absolute @odata.nextLink, counted under their own kind', async () => {
    const { token } = await graphToken('alice', 'https://graph.microsoft.com/Contacts.Read');
    const seen: Record<string, unknown>[] = [];
    let link: string | undefined = '/v1.0/me/contacts?$top=5&$select=displayName';
    while (link !== undefined) {
      const response = await graph(token, link);
      expect(response.status).toBe(200);
      const page = (await response.json()) as {
        value: Record<string, unknown>[];
        '@odata.nextLink'?: string;
      };
      expect(page.value.length).toBeLessThanOrEqual(5);
      seen.push(...page.value);
      link = page['@odata.nextLink'];
      if (link !== undefined) expect(link.startsWith(`${sandbox().graphUrl}/v1.0/me/contacts?`)).toBe(true);
    }
    expect(seen).toHaveLength(12);
    expect(Object.keys(seen[0] ?? {}).sort()).toEqual(['displayName', 'id']);
    expect(new Set(seen.map((contact) => contact.id)).size).toBe(12);
    expect(await counters('graph')).toMatchObject({ contacts: 3, me: 0, other: 0 });
  });

  it("answers 403 with Outlook's ErrorAccessDenied without the permission, and 400 to another list's $skiptoken", async () => {
    const { token } = await graphToken();
    const denied = await graph(token, '/v1.0/me/contacts');
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as GraphErrorBody).error.code).toBe('ErrorAccessDenied');
    const reader = await graphToken('alice', 'https://graph.microsoft.com/Contacts.Read');
    const calendarToken = Buffer.from('calendarView:5').toString('base64url');
    const foreign = await graph(reader.token, `/v1.0/me/contacts?$skiptoken=${calendarToken}`);
    expect(foreign.status).toBe(400);
  });
});

describe('calendarView pages', () => {
  it('pages with an absolute @odata.nextLink ($skiptoken) until the last page, soonest first', async () => {
    const { token } = await graphToken('pager', 'https://graph.microsoft.com/Calendars.Read');
    // Ten days: two events a day.
    let link: string | undefined =
      '/v1.0/me/calendarView?startDateTime=2030-02-01T00:00:00Z&endDateTime=2030-02-11T00:00:00Z&$top=6&$select=subject';
    const pages: { start?: unknown; subject: string; id: string }[][] = [];
    while (link !== undefined) {
      const response = await graph(token, link);
      expect(response.status).toBe(200);
      const page = (await response.json()) as {
        value: { subject: string; id: string }[];
        '@odata.nextLink'?: string;
      };
      pages.push(page.value);
      link = page['@odata.nextLink'];
      if (link !== undefined) {
        const next = new URL(link);
        expect(`${next.origin}${next.pathname}`).toBe(`${sandbox().graphUrl}/v1.0/me/calendarView`);
        expect(next.searchParams.get('$skiptoken')).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(next.searchParams.get('$select')).toBe('subject');
      }
    }
    expect(pages.map((page) => page.length)).toEqual([6, 6, 6, 2]);
    const ids = pages.flat().map((e) => e.id);
    expect(new Set(ids).size).toBe(20);
    expect(Object.keys(pages[0]?.[0] ?? {}).sort()).toEqual(['id', 'subject']);
  });

  it('answers no next link when the window fits one page, and 400 to a $skiptoken it did not issue', async () => {
    const { token } = await graphToken('pager', 'https://graph.microsoft.com/Calendars.Read');
    const window = 'startDateTime=2030-02-01T00:00:00Z&endDateTime=2030-02-02T00:00:00Z';
    const one = (await (await graph(token, `/v1.0/me/calendarView?${window}`)).json()) as Record<
      string,
      unknown
    >;
    expect(one['@odata.nextLink']).toBeUndefined();
    const tampered = await graph(token, `/v1.0/me/calendarView?${window}&$skiptoken=eyJ4IjoxfQ`);
    expect(tampered.status).toBe(400);
  });
});
