// The sample single-page app: signs the user in with msal-browser (authorization code + PKCE), calls the API with
// the user's access token, and answers the API's two interactive errors with one round trip each: a claims
// challenge (step-up, e.g. MFA) and consent. The same answer after that round trip is shown, never retried.
import { type AccountInfo, InteractionRequiredAuthError, PublicClientApplication } from '@azure/msal-browser';

import { isRecord } from '../../../shared/narrow.js';
import { parseSpaConfig } from './config.js';

/** What each button asks of the API. */
const ACTIONS = {
  'call-api': { path: 'me', method: 'GET' },
  'call-events': { path: 'me/events', method: 'GET' },
  'erase-cache': { path: 'me/token-cache', method: 'DELETE' },
} as const;
type Action = keyof typeof ACTIONS;
/** Carried through a redirect in msal's `state`: what to do on return, and what the round trip satisfied. */
interface Retry {
  action: Action;
  claims?: string;
  consented?: boolean;
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

async function tokenFor(action: Action): Promise<string | undefined> {
  const user = account();
  if (user === null) return undefined;
  try {
    return (await msal.acquireTokenSilent({ scopes, account: user })).accessToken;
  } catch (error) {
    if (!(error instanceof InteractionRequiredAuthError)) throw error;
    await msal.acquireTokenRedirect({ scopes, account: user, state: JSON.stringify({ action }) });
    return undefined;
  }
}

/** Calls the API; a claims challenge or a consent answer sends the user through Entra once, then retries. */
async function run(action: Action, retry?: Retry): Promise<void> {
  show('error', '');
  show('status', '');
  const token = await tokenFor(action);
  if (token === undefined) return;
  const response = await fetch(`${config.apiBaseUrl}/${ACTIONS[action].path}`, {
    method: ACTIONS[action].method,
    headers: { Authorization: `Bearer ${token}` },
  });
  if (response.ok) {
    if (action === 'erase-cache') show('status', 'The API erased your cached tokens.');
    else if (action === 'call-events') showEvents(await response.json());
    else showProfile(await response.json());
    return;
  }
  // The challenge is read from the problem+json body: Azure's platform CORS cannot expose WWW-Authenticate.
  const problem: unknown = await response.json().catch(() => undefined);
  const code =
    isRecord(problem) && typeof problem.code === 'string' ? problem.code : `HTTP ${response.status}`;
  // The claims come base64-encoded, as in WWW-Authenticate; msal takes their JSON.
  const claims = isRecord(problem) && typeof problem.claims === 'string' ? atob(problem.claims) : undefined;
  const user = account();
  if (user !== null && code === 'ERR_CLAIMS_CHALLENGE' && claims !== undefined && claims !== retry?.claims) {
    const state: Retry = { action, claims };
    await msal.acquireTokenRedirect({ scopes, account: user, claims, state: JSON.stringify(state) });
    return;
  }
  if (user !== null && code === 'ERR_CONSENT_REQUIRED' && retry?.consented !== true) {
    const state: Retry = { action, consented: true };
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

async function signOut(): Promise<void> {
  // The API forgets this user's cached tokens first; signing out goes on if it cannot.
  const token = await tokenFor('erase-cache').catch(() => undefined);
  if (token !== undefined) {
    await fetch(`${config.apiBaseUrl}/me/token-cache`, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${token}` },
    }).catch(() => undefined);
  }
  await msal.logoutRedirect({ account: account() });
}

function showProfile(profile: unknown): void {
  const field = (name: string): string =>
    isRecord(profile) && typeof profile[name] === 'string' ? profile[name] : '';
  show('profile', field('displayName'));
  show('profile-upn', field('userPrincipalName'));
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
    return isRecord(value) && typeof value.action === 'string' && value.action in ACTIONS
      ? (value as unknown as Retry)
      : undefined;
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
on('call-api', () => run('call-api'));
on('call-events', () => run('call-events'));
on('erase-cache', () => run('erase-cache'));
try {
  const result = await msal.handleRedirectPromise();
  if (result !== null) msal.setActiveAccount(result.account);
  render();
  const retry = retryOf(result?.state);
  if (retry !== undefined) await run(retry.action, retry);
} catch (error) {
  render();
  show('error', errorCode(error));
}
document.body.dataset.ready = 'true';
