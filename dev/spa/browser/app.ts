// The sample single-page app: signs the user in with msal-browser (authorization code + PKCE), calls the API with
// the user's access token (profile, calendar, a task list on the Tasks API, an event write), and answers the API's
// two interactive errors with one round trip each: a claims challenge (step-up, e.g. MFA) and consent. The same
// answer after that round trip is shown, never retried.
// What a call asks of the API is calls.ts's; what the page shows, page.ts's; the task list, tasks.ts's.
import { type AccountInfo, InteractionRequiredAuthError, PublicClientApplication } from '@azure/msal-browser';

import { isRecord } from '../../../shared/narrow.js';
import { type Call, requestOf, type Retry, retryOf } from './calls.js';
import { parseSpaConfig } from './config.js';
import { errorCode, on, show, showEvents, showProfile, stringField } from './page.js';
import { showTasks } from './tasks.js';

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
      await showTasks(await response.json(), (cursor) => nextTaskPage(call, cursor), run);
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

/** The tasks page after `cursor` (`GET /api/tasks?cursor=`); undefined once msal redirected or the error is shown. */
async function nextTaskPage(call: Call, cursor: string): Promise<{ page: unknown } | undefined> {
  const response = await callApi(call, `tasks?cursor=${encodeURIComponent(cursor)}`);
  if (response === undefined) return undefined;
  if (!response.ok) {
    await answerError(call, response, undefined);
    return undefined;
  }
  return { page: await response.json() };
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

function render(): void {
  const user = account();
  document.body.classList.toggle('is-signed-in', user !== null);
  show('account', user?.name ?? '');
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
