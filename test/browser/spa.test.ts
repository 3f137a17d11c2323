// The sample SPA in Debian's Chromium against the sandbox: sign-in with PKCE through the Entra emulator's pages,
// calls across origins under Azure-like platform CORS, step-up and consent round trips, erase and sign-out.
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';

import { afterAll, beforeAll, beforeEach, describe, expect, jest } from '@jest/globals';
import type { Page } from 'playwright-core';

import { isRecord } from '../../shared/narrow.js';
import { counters, injectFault, resetEmulators, sandbox, setConsent, userToken } from '../sandbox.js';
import {
  openSpa,
  pickUser,
  ready,
  signIn,
  type SpaHarness,
  startSpaHarness,
  TEST_OUTPUT_DIR,
  // Skipped, hooks included, when no browser is found (unless REQUIRE_BROWSER_TESTS=1).
  testInBrowser as test,
  textOf,
  waitForText,
} from './spaHarness.js';

jest.setTimeout(180_000);

let harness: SpaHarness;

beforeAll(async () => {
  harness = await startSpaHarness();
});
afterAll(async () => {
  await harness.close();
});
beforeEach(async () => {
  await resetEmulators();
  await requireMfa('alice', false);
});

async function requireMfa(user: string, required: boolean): Promise<void> {
  const response = await fetch(`${sandbox().entraUrl}/_emulator/users/${user}/mfa`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ required }),
  });
  expect(response.status).toBe(200);
}

describe('sign-in', () => {
  test('signs alice in with PKCE and shows her Graph profile fetched by the API', async () => {
    const page = await openSpa(harness);
    await signIn(page, 'alice');
    await page.getByTestId('call-api').click();

    expect(await waitForText(page, 'profile')).toBe('Alice Sandbox');
    expect(await textOf(page, 'error')).toBe('');
    expect(await counters('entra')).toMatchObject({
      authorize: 1,
      'token.authorization_code': 1,
      'token.obo': 1,
    });
    await mkdir(TEST_OUTPUT_DIR, { recursive: true });
    await page.screenshot({ path: join(TEST_OUTPUT_DIR, 'spa-signed-in.png'), fullPage: true });
  });

  test('signs out: the API erases her cached tokens, Entra ends the session, the SPA forgets her', async () => {
    const page = await openSpa(harness);
    await signIn(page, 'alice');
    await page.getByTestId('call-api').click();
    await waitForText(page, 'profile');

    await page.getByTestId('sign-out').click();
    await page.waitForURL(harness.spa.url);
    await ready(page);
    await page.getByTestId('sign-in').waitFor();

    expect(await textOf(page, 'account')).toBe('');
    expect(await counters('entra')).toMatchObject({ logout: 1 });
    // The erase leaves a tombstone: one unconditional upsert of the caller's document.
    expect((await counters('cosmos')).upsert).toBe(1);
  });
});

describe('step-up', () => {
  test('re-acquires with the claims the API hands back, then the retried call succeeds', async () => {
    await requireMfa('alice', true);
    const page = await openSpa(harness);
    await signIn(page, 'alice');
    await page.getByTestId('call-api').click();

    // The API's claims challenge sends alice back to Entra, which asks for the second factor.
    await pickUser(page, 'alice');
    await page.getByTestId('mfa-approve').click();

    expect(await waitForText(page, 'profile')).toBe('Alice Sandbox');
    expect(await textOf(page, 'error')).toBe('');
    expect(await counters('entra')).toMatchObject({ authorize: 2, 'token.obo': 2 });
  });

  test('shows a second challenge for the same claims as an error instead of looping', async () => {
    const page = await openSpa(harness);
    await signIn(page, 'alice');
    await injectFault('entra', { preset: 'mfa_required', count: 2 });
    await page.getByTestId('call-api').click();
    await pickUser(page, 'alice');
    await page.getByTestId('mfa-approve').click();

    expect(await waitForText(page, 'error')).toBe('ERR_CLAIMS_CHALLENGE');
    expect(await textOf(page, 'profile')).toBe('');
    expect(await counters('entra')).toMatchObject({ authorize: 2, 'token.obo': 2 });
  });
});

describe('consent', () => {
  test('sends the user through consent when the API needs it, then the retried call succeeds', async () => {
    const page = await openSpa(harness);
    await signIn(page, 'alice');
    await injectFault('entra', { preset: 'consent_required', count: 1 });
    await page.getByTestId('call-api').click();
    await pickUser(page, 'alice');
    await page.getByTestId('consent-accept').click();

    expect(await waitForText(page, 'profile')).toBe('Alice Sandbox');
    expect(await counters('entra')).toMatchObject({ authorize: 2, 'token.obo': 2 });
  });

  test('asks for the calendar the user never consented to, records the consent, then shows the events', async () => {
    const page = await openSpa(harness);
    await signIn(page, 'alice');
    // No fault: Calendars.Read is not consented for alice in the sandbox's directory.
    await page.getByTestId('call-events').click();
    await pickUser(page, 'alice');
    await page.getByTestId('consent-accept').click();

    expect(await waitForText(page, 'events')).toMatch(/^\d+ events in the coming days$/);
    expect(await textOf(page, 'error')).toBe('');
    // One refused exchange before the consent and one after.
    expect(await counters('entra')).toMatchObject({ authorize: 2, 'token.obo': 2 });
    // The directory now holds alice's consent for the API, as Entra would after the consent page.
    const consent = await fetch(`${sandbox().entraUrl}/_emulator/consent?user=alice`);
    expect(((await consent.json()) as { scopes: string[] }).scopes).toContain(
      'https://graph.microsoft.com/Calendars.Read',
    );
  });

  test('shows consent still missing after the consent round trip as an error', async () => {
    const page = await openSpa(harness);
    await signIn(page, 'alice');
    await injectFault('entra', { preset: 'consent_required', count: 2 });
    await page.getByTestId('call-api').click();
    await pickUser(page, 'alice');
    await page.getByTestId('consent-accept').click();

    expect(await waitForText(page, 'error')).toBe('ERR_CONSENT_REQUIRED');
    expect(await counters('entra')).toMatchObject({ authorize: 2, 'token.obo': 2 });
  });
});

describe('cross-origin access', () => {
  let foreign: Server;
  let foreignOrigin = '';

  beforeAll(async () => {
    foreign = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>elsewhere</title>');
    });
    await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
    const address = foreign.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    foreignOrigin = `http://127.0.0.1:${address.port}`;
  });
  afterAll(async () => {
    const closed = new Promise<void>((resolve) => foreign.close(() => resolve()));
    foreign.closeAllConnections();
    await closed;
  });

  test("a page on a foreign origin cannot read the API's answers, with or without a token", async () => {
    const { accessToken } = await userToken('alice');
    const page = await harness.browser.newPage();
    await page.goto(`${foreignOrigin}/`);
    const attempt = (withToken: boolean): Promise<string> =>
      page.evaluate(
        async ({ url, token }) => {
          try {
            const response = await fetch(
              url,
              token === '' ? {} : { headers: { Authorization: `Bearer ${token}` } },
            );
            return `read ${response.status}`;
          } catch {
            return 'blocked';
          }
        },
        { url: `${harness.host.url}/api/me`, token: withToken ? accessToken : '' },
      );

    expect(await attempt(true)).toBe('blocked');
    expect(await attempt(false)).toBe('blocked');
    // The token's preflight never reached the function: the platform refused it.
    expect((await counters('entra'))['token.obo']).toBe(0);
    await page.close();
  });

  test('the platform answers preflights for the SPA origin only and never exposes WWW-Authenticate', async () => {
    const preflight = (origin: string): Promise<Response> =>
      fetch(`${harness.host.url}/api/me`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'authorization',
        },
      });
    const allowed = await preflight(harness.spa.origin);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(harness.spa.origin);
    expect(allowed.headers.get('access-control-allow-headers')).toBe('authorization');

    const refused = await preflight(foreignOrigin);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();

    const unauthenticated = await fetch(`${harness.host.url}/api/me`, {
      headers: { origin: harness.spa.origin },
    });
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get('access-control-allow-origin')).toBe(harness.spa.origin);
    expect(unauthenticated.headers.get('access-control-expose-headers')).toBeNull();
  });
});

describe('erase', () => {
  test("erases the signed-in user's cached tokens from the SPA", async () => {
    const page = await openSpa(harness);
    await signIn(page, 'alice');
    await page.getByTestId('call-api').click();
    await waitForText(page, 'profile');
    const { create = 0, replace = 0 } = await counters('cosmos');
    expect(create + replace).toBe(1);

    await page.getByTestId('erase-cache').click();

    expect(await waitForText(page, 'status')).not.toBe('');
    expect(await textOf(page, 'error')).toBe('');
    // The erase leaves a tombstone: one unconditional upsert of the caller's document.
    expect((await counters('cosmos')).upsert).toBe(1);
  });
});

describe('task list', () => {
  /** The ids of the tasks the list shows, in its order. */
  async function shownTaskIds(page: Page): Promise<string[]> {
    const items = await page.getByTestId('tasks').locator('li').all();
    return Promise.all(items.map(async (item) => (await item.getAttribute('data-testid')) ?? ''));
  }

  async function addTask(page: Page, title: string, expectedCount: number): Promise<void> {
    await page.getByTestId('task-title').fill(title);
    await page.getByTestId('task-add').click();
    await page
      .getByTestId('tasks-count')
      .filter({ hasText: `${expectedCount} tasks` })
      .waitFor();
  }

  test('adds two tasks after the Tasks API consent round trip, completes one, deletes the other, reloads the list', async () => {
    const page = await openSpa(harness);
    await signIn(page, 'alice');
    // No fault: Tasks.ReadWrite is not consented for alice in the sandbox's directory.
    await page.getByTestId('task-title').fill('Buy milk');
    await page.getByTestId('task-add').click();
    await pickUser(page, 'alice');
    await page.getByTestId('consent-accept').click();
    await ready(page);
    await page.getByTestId('tasks-count').filter({ hasText: '1 tasks' }).waitFor();
    expect(await textOf(page, 'error')).toBe('');
    // The add survived the redirect: it ran once, after the consent.
    expect(await counters('tasks')).toMatchObject({ 'tasks.create': 1 });
    expect(await counters('entra')).toMatchObject({ authorize: 2, 'token.obo': 2 });

    await addTask(page, 'Water the plants', 2);
    const ids = await shownTaskIds(page);
    expect(ids).toHaveLength(2);
    const titles = await page.getByTestId('tasks').locator('li > span').allTextContents();
    expect(titles.sort()).toEqual(['Buy milk', 'Water the plants']);
    const [first, second] = ids.map((testId) => testId.replace(/^task-/, ''));
    if (first === undefined || second === undefined) throw new Error('two tasks expected');

    await page.getByTestId(`task-${first}-complete`).click();
    await page.locator(`[data-testid="task-${first}"][data-completed="true"]`).waitFor();
    expect(await page.getByTestId(`task-${first}-complete`).isDisabled()).toBe(true);
    expect(await page.getByTestId(`task-${second}`).getAttribute('data-completed')).toBe('false');

    await page.getByTestId(`task-${second}-delete`).click();
    await page.getByTestId('tasks-count').filter({ hasText: '1 tasks' }).waitFor();

    await page.getByTestId('call-tasks').click();
    // The list already shows one task: wait for the reload itself to reach the Tasks API, not for the text.
    for (let i = 0; i < 200 && ((await counters('tasks'))['tasks.list'] ?? 0) < 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await page.getByTestId('tasks-count').filter({ hasText: '1 tasks' }).waitFor();
    expect(await shownTaskIds(page)).toEqual([`task-${first}`]);
    expect(await page.getByTestId(`task-${first}`).getAttribute('data-completed')).toBe('true');
    expect(await textOf(page, 'error')).toBe('');
    // Each write shows the list again, then the reload: five lists.
    expect(await counters('tasks')).toMatchObject({
      'tasks.list': 5,
      'tasks.create': 2,
      'tasks.update': 1,
      'tasks.delete': 1,
      other: 0,
    });
    // One exchange refused before the consent and one after; the Tasks API token is then served from the cache.
    expect((await counters('entra'))['token.obo']).toBe(2);
  });

  test('shows the tasks already there without a consent round trip once the user has consented', async () => {
    await setConsent('alice', [`${sandbox().tasksApi.appIdUri}/Tasks.ReadWrite`], true);
    const { accessToken } = await userToken('alice');
    const created = await fetch(`${harness.host.url}/api/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Already there' }),
    });
    expect(created.status).toBe(201);
    const page = await openSpa(harness);
    await signIn(page, 'alice');

    await page.getByTestId('call-tasks').click();

    await page.getByTestId('tasks-count').filter({ hasText: '1 tasks' }).waitFor();
    expect(await page.getByTestId('tasks').locator('li > span').allTextContents()).toEqual(['Already there']);
    expect(await counters('entra')).toMatchObject({ authorize: 1 });
  });
});

describe('add an event', () => {
  test('asks for Calendars.ReadWrite, adds the event, then the calendar through the API shows it', async () => {
    const page = await openSpa(harness);
    await signIn(page, 'alice');
    // No fault: Calendars.ReadWrite is not consented for alice in the sandbox's directory.
    await page.getByTestId('event-add').click();
    await pickUser(page, 'alice');
    await page.getByTestId('consent-accept').click();
    await ready(page);

    expect(await waitForText(page, 'status')).toBe('Event added: Planned from the sample SPA');
    expect(await textOf(page, 'error')).toBe('');
    expect(await counters('graph')).toMatchObject({ 'events.create': 1 });
    expect(await counters('entra')).toMatchObject({ authorize: 2, 'token.obo': 2 });
    const consent = await fetch(`${sandbox().entraUrl}/_emulator/consent?user=alice`);
    expect(((await consent.json()) as { scopes: string[] }).scopes).toContain(
      'https://graph.microsoft.com/Calendars.ReadWrite',
    );

    // The SPA's calendar view and the API itself both see the new event.
    // The consent page granted the API's declared permissions together (combined consent), Calendars.Read too.
    await page.getByTestId('call-events').click();
    expect(await waitForText(page, 'events')).toMatch(/^\d+ events in the coming days$/);
    const { accessToken } = await userToken('alice');
    const events = await fetch(`${harness.host.url}/api/me/events`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(events.status).toBe(200);
    const subjects = await allEventSubjects(events, accessToken);
    expect(subjects).toContain('Planned from the sample SPA');
  });
});

/** Every event subject of `GET /api/me/events`, following `next` cursors. */
async function allEventSubjects(first: Response, accessToken: string): Promise<string[]> {
  const subjects: string[] = [];
  let page: unknown = await first.json();
  for (let pages = 0; pages < 20; pages += 1) {
    if (!isRecord(page) || !Array.isArray(page.value)) throw new Error('not a page');
    for (const event of page.value as unknown[]) {
      if (isRecord(event) && typeof event.subject === 'string') subjects.push(event.subject);
    }
    if (typeof page.next !== 'string') return subjects;
    const response = await fetch(
      `${harness.host.url}/api/me/events?cursor=${encodeURIComponent(page.next)}`,
      {
        headers: { authorization: `Bearer ${accessToken}` },
      },
    );
    expect(response.status).toBe(200);
    page = await response.json();
  }
  throw new Error('more than 20 pages of events');
}
