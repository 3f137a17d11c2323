// The sample single-page app: signs the user in with msal-browser (authorization code + PKCE), calls the API with
// the user's access token (profile, calendar, a task list on the Tasks API, an event write), and answers the API's
// two interactive errors with one round trip each: a claims challenge (step-up, e.g. MFA) and consent. The same
// answer after that round trip is shown, never retried.
import { type AccountInfo, InteractionRequiredAuthError, PublicClientApplication } from '@azure/msal-browser';

import { isRecord } from '../../../shared/narrow.js';
import { parseSpaConfig } from './config.js';

/** What the user asked for: an action and, for the task actions, the task. */
const ACTIONS = [
  'call-api',
  'call-events',
  'erase-cache',
  'call-tasks',
  'task-add',
  'task-complete',
  'task-delete',
  'event-add',
] as const;
type Action = (typeof ACTIONS)[number];
interface Call {
  action: Action;
  /** task-complete, task-delete: the task's id. */
  id?: string;
  /** task-add: the new task's title. */
  title?: string;
}
/** Carried through a redirect in msal's `state`: what to do on return, and what the round trip satisfied. */
interface Retry {
  call: Call;
  claims?: string;
  consented?: boolean;
}
/** The most task pages the list follows (`next` cursors) in one go. */
const MAX_TASK_PAGES = 20;

/** The API request for a call: path under /api, method, JSON body. */
function requestOf(call: Call): { path: string; method: string; body?: unknown } {
  const task = `tasks/${encodeURIComponent(call.id ?? '')}`;
  switch (call.action) {
    case 'call-api':
      return { path: 'me', method: 'GET' };
    case 'call-events':
      return { path: 'me/events', method: 'GET' };
    case 'erase-cache':
      return { path: 'me/token-cache', method: 'DELETE' };
    case 'call-tasks':
      return { path: 'tasks', method: 'GET' };
    case 'task-add':
      return { path: 'tasks', method: 'POST', body: { title: call.title ?? '' } };
    case 'task-complete':
      return { path: task, method: 'PATCH', body: { completed: true } };
    case 'task-delete':
      return { path: task, method: 'DELETE' };
    case 'event-add':
      return { path: 'me/events', method: 'POST', body: sampleEvent(new Date()) };
  }
}

/** A small fixed event: half an hour, starting at the next full hour (UTC). */
function sampleEvent(now: Date): unknown {
  const start = new Date(Math.ceil(now.getTime() / 3_600_000) * 3_600_000);
  const end = new Date(start.getTime() + 30 * 60_000);
  const utc = (date: Date): string => date.toISOString().slice(0, 19);
  return {
    subject: 'Planned from the sample SPA',
    start: { dateTime: utc(start), timeZone: 'UTC' },
    end: { dateTime: utc(end), timeZone: 'UTC' },
  };
}

const config = parseSpaConfig(await (await fetch('config.json')).json());
const scopes = [config.apiScope];
const msal = new PublicClientApplication({
  auth: {
    clientId: config.clientId,
    authority: config.authority,
    // A host that is not Microsoft's (the sandbox) must be named, or msal asks Microsoft about it.
    knownAuthorities: [new URL(config.authority).host],
    redirectUri: `${location.origin}/`,
    postLogoutRedirectUri: `${location.origin}/`,
  },
});

function account(): AccountInfo | null {
  return msal.getActiveAccount() ?? msal.getAllAccounts()[0] ?? null;
}

async function tokenFor(call: Call): Promise<string | undefined> {
  const user = account();
  if (user === null) return undefined;
  try {
    return (await msal.acquireTokenSilent({ scopes, account: user })).accessToken;
  } catch (error) {
    if (!(error instanceof InteractionRequiredAuthError)) throw error;
    const state: Retry = { call };
    await msal.acquireTokenRedirect({ scopes, account: user, state: JSON.stringify(state) });
    return undefined;
  }
}

/** Calls the API once with the user's token; undefined when msal redirected for a token instead. */
async function callApi(call: Call, path = requestOf(call).path): Promise<Response | undefined> {
  const token = await tokenFor(call);
  if (token === undefined) return undefined;
  const { method, body } = requestOf(call);
  return fetch(`${config.apiBaseUrl}/${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** Calls the API; a claims challenge or a consent answer sends the user through Entra once, then retries. */
async function run(call: Call, retry?: Retry): Promise<void> {
  show('error', '');
  show('status', '');
  const response = await callApi(call);
  if (response === undefined) return;
  if (response.ok) {
    await showAnswer(call, response);
    return;
  }
  await answerError(call, response, retry);
}

/** What the page shows for a successful answer; a task write shows the list again. */
async function showAnswer(call: Call, response: Response): Promise<void> {
  switch (call.action) {
    case 'erase-cache':
      show('status', 'The API erased your cached tokens.');
      return;
    case 'call-events':
      showEvents(await response.json());
      return;
    case 'call-api':
      showProfile(await response.json());
      return;
    case 'event-add':
      show('status', `Event added: ${stringField(await response.json(), 'subject')}`);
      return;
    case 'call-tasks':
      await showTasks(call, await response.json());
      return;
    case 'task-add':
    case 'task-complete':
    case 'task-delete':
      await run({ action: 'call-tasks' });
      return;
  }
}

/** An error answer: one round trip through Entra for a claims challenge or consent, else its code shown. */
async function answerError(call: Call, response: Response, retry: Retry | undefined): Promise<void> {
  // The challenge is read from the problem+json body: Azure's platform CORS cannot expose WWW-Authenticate.
  const problem: unknown = await response.json().catch(() => undefined);
  const code =
    isRecord(problem) && typeof problem.code === 'string' ? problem.code : `HTTP ${response.status}`;
  // The claims come base64-encoded, as in WWW-Authenticate; msal takes their JSON.
  const claims = isRecord(problem) && typeof problem.claims === 'string' ? atob(problem.claims) : undefined;
  const user = account();
  if (user !== null && code === 'ERR_CLAIMS_CHALLENGE' && claims !== undefined && claims !== retry?.claims) {
    const state: Retry = { call, claims };
    await msal.acquireTokenRedirect({ scopes, account: user, claims, state: JSON.stringify(state) });
    return;
  }
  if (user !== null && code === 'ERR_CONSENT_REQUIRED' && retry?.consented !== true) {
    const state: Retry = { call, consented: true };
    await msal.acquireTokenRedirect({
      scopes,
      account: user,
      prompt: 'consent',
      state: JSON.stringify(state),
    });
    return;
  }
  show('error', code);
}

/** Shows the first page of tasks, then follows each page's `next` cursor (`GET /api/tasks?cursor=`). */
async function showTasks(call: Call, firstPage: unknown): Promise<void> {
  const tasks: unknown[] = [];
  let page = firstPage;
  for (let pages = 1; ; pages += 1) {
    if (isRecord(page) && Array.isArray(page.value)) tasks.push(...(page.value as unknown[]));
    const next = isRecord(page) && typeof page.next === 'string' ? page.next : undefined;
    if (next === undefined || pages >= MAX_TASK_PAGES) break;
    const response = await callApi(call, `tasks?cursor=${encodeURIComponent(next)}`);
    if (response === undefined) return;
    if (!response.ok) {
      await answerError(call, response, undefined);
      return;
    }
    page = await response.json();
  }
  renderTasks(tasks);
}

function renderTasks(tasks: readonly unknown[]): void {
  const list = document.querySelector('[data-testid="tasks"]');
  if (list === null) return;
  list.replaceChildren(
    ...tasks.flatMap((task) => {
      const id = stringField(task, 'id');
      if (id === '') return [];
      const completed = isRecord(task) && task.completed === true;
      const item = document.createElement('li');
      item.dataset.testid = `task-${id}`;
      item.dataset.completed = String(completed);
      const title = document.createElement('span');
      title.textContent = stringField(task, 'title');
      item.append(
        title,
        button(`task-${id}-complete`, 'Done', { action: 'task-complete', id }, completed),
        button(`task-${id}-delete`, 'Delete', { action: 'task-delete', id }),
      );
      return [item];
    }),
  );
  show('tasks-count', `${tasks.length} tasks`);
}

function button(testId: string, label: string, call: Call, disabled = false): HTMLButtonElement {
  const element = document.createElement('button');
  element.type = 'button';
  element.dataset.testid = testId;
  element.textContent = label;
  element.disabled = disabled;
  element.addEventListener('click', () => {
    run(call).catch((error: unknown) => show('error', errorCode(error)));
  });
  return element;
}

function stringField(value: unknown, name: string): string {
  return isRecord(value) && typeof value[name] === 'string' ? value[name] : '';
}

async function signOut(): Promise<void> {
  // The API forgets this user's cached tokens first; signing out goes on if it cannot.
  const token = await tokenFor({ action: 'erase-cache' }).catch(() => undefined);
  if (token !== undefined) {
    await fetch(`${config.apiBaseUrl}/me/token-cache`, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${token}` },
    }).catch(() => undefined);
  }
  await msal.logoutRedirect({ account: account() });
}

function showProfile(profile: unknown): void {
  show('profile', stringField(profile, 'displayName'));
  show('profile-upn', stringField(profile, 'userPrincipalName'));
}

function showEvents(events: unknown): void {
  const count = isRecord(events) && Array.isArray(events.value) ? events.value.length : 0;
  show('events', `${count} events in the coming days`);
}

function show(testId: string, text: string): void {
  const element = document.querySelector(`[data-testid="${testId}"]`);
  if (element !== null) element.textContent = text;
}

function render(): void {
  const user = account();
  document.body.classList.toggle('is-signed-in', user !== null);
  show('account', user?.name ?? '');
}

function retryOf(state: string | undefined): Retry | undefined {
  try {
    const value: unknown = state === undefined ? undefined : JSON.parse(state);
    if (!isRecord(value) || !isRecord(value.call)) return undefined;
    const { action, id, title } = value.call;
    const known = ACTIONS.find((candidate) => candidate === action);
    if (known === undefined || (id !== undefined && typeof id !== 'string')) return undefined;
    if (title !== undefined && typeof title !== 'string') return undefined;
    return {
      call: { action: known, ...(id === undefined ? {} : { id }), ...(title === undefined ? {} : { title }) },
      ...(typeof value.claims === 'string' ? { claims: value.claims } : {}),
      ...(value.consented === true ? { consented: true } : {}),
    };
  } catch {
    return undefined;
  }
}

function errorCode(error: unknown): string {
  return isRecord(error) && typeof error.errorCode === 'string' ? error.errorCode : 'ERR_UNEXPECTED';
}

function on(testId: string, handler: () => Promise<void>): void {
  document.querySelector(`[data-testid="${testId}"]`)?.addEventListener('click', () => {
    handler().catch((error: unknown) => show('error', errorCode(error)));
  });
}

await msal.initialize();
on('sign-in', () => msal.loginRedirect({ scopes }));
on('sign-out', signOut);
on('call-api', () => run({ action: 'call-api' }));
on('call-events', () => run({ action: 'call-events' }));
on('erase-cache', () => run({ action: 'erase-cache' }));
on('call-tasks', () => run({ action: 'call-tasks' }));
on('event-add', () => run({ action: 'event-add' }));
on('task-add', async () => {
  const input = document.querySelector<HTMLInputElement>('[data-testid="task-title"]');
  const title = input?.value.trim() ?? '';
  if (title === '') return;
  if (input !== null) input.value = '';
  await run({ action: 'task-add', title });
});
try {
  const result = await msal.handleRedirectPromise();
  if (result !== null) msal.setActiveAccount(result.account);
  render();
  const retry = retryOf(result?.state);
  if (retry !== undefined) await run(retry.call, retry);
} catch (error) {
  render();
  show('error', errorCode(error));
}
document.body.dataset.ready = 'true';
