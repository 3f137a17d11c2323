// The sample SPA's page: text shown in its `data-testid` hooks (index.html), the answers it shows, and buttons
// whose failures are shown as an error code rather than lost.
import { isRecord } from '../../../shared/narrow.js';

export function show(testId: string, text: string): void {
  const element = document.querySelector(`[data-testid="${testId}"]`);
  if (element !== null) element.textContent = text;
}

export function stringField(value: unknown, name: string): string {
  return isRecord(value) && typeof value[name] === 'string' ? value[name] : '';
}

export function showProfile(profile: unknown): void {
  show('profile', stringField(profile, 'displayName'));
  show('profile-upn', stringField(profile, 'userPrincipalName'));
}

export function showEvents(events: unknown): void {
  const count = isRecord(events) && Array.isArray(events.value) ? events.value.length : 0;
  show('events', `${count} events in the coming days`);
}

/** msal's error code of a failure, or ERR_UNEXPECTED. */
export function errorCode(error: unknown): string {
  return isRecord(error) && typeof error.errorCode === 'string' ? error.errorCode : 'ERR_UNEXPECTED';
}

/** Runs `handler` on each click of the page's element `testId`. */
export function on(testId: string, handler: () => Promise<void>): void {
  document.querySelector(`[data-testid="${testId}"]`)?.addEventListener('click', clicked(handler));
}

/** A new button that runs `handler` on each click. */
export function button(
  testId: string,
  label: string,
  handler: () => Promise<void>,
  disabled = false,
): HTMLButtonElement {
  const element = document.createElement('button');
  element.type = 'button';
  element.dataset.testid = testId;
  element.textContent = label;
  element.disabled = disabled;
  element.addEventListener('click', clicked(handler));
  return element;
}

/** A click handler that shows a failure's code on the page rather than losing it. */
function clicked(handler: () => Promise<void>): () => void {
  return () => {
    handler().catch((error: unknown) => show('error', errorCode(error)));
  };
}
