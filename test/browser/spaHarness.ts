// Starts what the browser tests drive: the sample SPA on its own origin (registered as the SPA's redirect URI in
// the Entra emulator), a local host whose platform CORS allows that origin, and Debian's Chromium.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type BrowserContext, chromium, type Page } from 'playwright-core';

import { CHROMIUM_PATH, chromiumArgs, sandboxServerCertificate } from '../../dev/spa/chromium.js';
import { sandboxSpaConfig, type SpaServer, startSpaServer } from '../../dev/spa/server.js';
import { startHosts, type TestHost } from '../integration/hosts.js';
import { sandbox } from '../sandbox.js';

export const TEST_OUTPUT_DIR = join(process.cwd(), 'test-output');
/** Bound for one browser step (a navigation through Entra's pages and back); a failure, never a measurement. */
export const STEP_TIMEOUT_MS = 45_000;

export interface SpaHarness {
  spa: SpaServer;
  host: TestHost;
  browser: BrowserContext;
  close(): Promise<void>;
}

export async function startSpaHarness(): Promise<SpaHarness> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`no Chromium at ${CHROMIUM_PATH}: apt-get install -y chromium (bash .ci/run does it)`);
  }
  const state = sandbox();
  const spa = await startSpaServer();
  const registered = await fetch(`${state.entraUrl}/_emulator/spa/redirect-uris`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirectUris: [spa.url] }),
  });
  if (!registered.ok) throw new Error(`registering the SPA's redirect URI: HTTP ${registered.status}`);
  const [host] = await startHosts(1, { CORS_ALLOWED_ORIGINS: spa.origin });
  if (host === undefined) throw new Error('no local host started');
  spa.configure(sandboxSpaConfig({ ...state, apiUrl: host.url }));
  const userDataDir = await mkdtemp(join(tmpdir(), 'obo-spa-chromium-'));
  const browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: chromiumArgs(await sandboxServerCertificate(state.caCertPath)),
  });
  browser.setDefaultTimeout(STEP_TIMEOUT_MS);
  return {
    spa,
    host,
    browser,
    async close() {
      await browser.close();
      await Promise.allSettled([host.stop(), spa.close(), rm(userDataDir, { recursive: true, force: true })]);
    },
  };
}

/** A new tab on the SPA with nothing remembered from an earlier test. */
export async function openSpa(harness: SpaHarness): Promise<Page> {
  for (const page of harness.browser.pages()) await page.close();
  await harness.browser.clearCookies();
  const page = await harness.browser.newPage();
  await page.goto(harness.spa.url);
  await page.evaluate('localStorage.clear(); sessionStorage.clear();');
  await page.reload();
  await ready(page);
  return page;
}

/** Waits until the SPA has handled any redirect response and its retries. */
export async function ready(page: Page): Promise<void> {
  await page.waitForSelector('body[data-ready="true"]');
}

/** Picks `user` on the Entra emulator's picker page, which the SPA has just navigated to. */
export async function pickUser(page: Page, user: string): Promise<void> {
  await page.getByTestId(`user-${user}`).click();
}

export async function signIn(page: Page, user = 'alice'): Promise<void> {
  await page.getByTestId('sign-in').click();
  await pickUser(page, user);
  await ready(page);
  const error = await textOf(page, 'error');
  if (error !== '') throw new Error(`sign-in failed: the SPA shows ${error}`);
  await page.locator('[data-testid="account"]').filter({ hasText: /\S/ }).waitFor();
}

export async function textOf(page: Page, testId: string): Promise<string> {
  return (await page.getByTestId(testId).textContent()) ?? '';
}

/** Waits for a non-empty text in `testId` and gives it. */
export async function waitForText(page: Page, testId: string): Promise<string> {
  await page.locator(`[data-testid="${testId}"]`).filter({ hasText: /\S/ }).waitFor();
  return textOf(page, testId);
}
