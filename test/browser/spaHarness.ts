// Starts what the browser tests drive: the sample SPA on its own origin (registered as the SPA's redirect URI in
// the Entra emulator), a local host whose platform CORS allows that origin, and a Chromium-based browser
// (dev/spa/findBrowser.ts). Without one the browser tests are skipped (test/setup/browserNotice.cjs says so once
// per run), unless REQUIRE_BROWSER_TESTS=1 (CI sets it) makes them fail.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { test } from '@jest/globals';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

import { chromiumArgs, sandboxServerCertificate } from '../../dev/spa/chromium.js';
import { type FoundBrowser, locateBrowser } from '../../dev/spa/findBrowser.js';
import { sandboxSpaConfig, type SpaServer, startSpaServer } from '../../dev/spa/server.js';
import { isRecord } from '../../shared/narrow.js';
import { startHosts, type TestHost } from '../integration/hosts.js';
import { sandbox } from '../sandbox.js';

export const TEST_OUTPUT_DIR = join(process.cwd(), 'test-output');
/** Bound for one browser step (a navigation through Entra's pages and back); a failure, never a measurement. */
export const STEP_TIMEOUT_MS = 45_000;

/** What `npm test` found once for the run (BROWSER_FOR_TESTS), else looked for here. */
const browserForTests: FoundBrowser =
  parseFoundBrowser(process.env.BROWSER_FOR_TESTS) ?? (await locateBrowser());
const browserTestsRequired = process.env.REQUIRE_BROWSER_TESTS === '1';

/** jest's `test`, or `test.skip` when there is no browser to drive and REQUIRE_BROWSER_TESTS is not 1. */
export const testInBrowser = browserForTests.found || browserTestsRequired ? test : test.skip;

export interface SpaHarness {
  spa: SpaServer;
  host: TestHost;
  browser: BrowserContext;
  close(): Promise<void>;
}

export async function startSpaHarness(): Promise<SpaHarness> {
  if (!browserForTests.found) {
    throw new Error(
      `REQUIRE_BROWSER_TESTS=1 and no browser: ${browserForTests.reason} ` +
        '(install Chromium, Google Chrome or Microsoft Edge, or set CHROMIUM_PATH to its executable)',
    );
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
    executablePath: browserForTests.path,
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

function parseFoundBrowser(text: string | undefined): FoundBrowser | undefined {
  if (text === undefined || text === '') return undefined;
  const value: unknown = JSON.parse(text);
  if (
    isRecord(value) &&
    value.found === true &&
    typeof value.path === 'string' &&
    typeof value.source === 'string'
  ) {
    return { found: true, path: value.path, source: value.source };
  }
  if (isRecord(value) && value.found === false && typeof value.reason === 'string') {
    return { found: false, reason: value.reason };
  }
  throw new Error(`BROWSER_FOR_TESTS is not what dev/sandbox/runTests.ts writes: ${text}`);
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
