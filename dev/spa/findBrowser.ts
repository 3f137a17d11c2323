// Which Chromium-based browser drives the sample SPA (the browser tests, the command `npm run dev` prints):
// CHROMIUM_PATH when set, else the usual install locations of Chromium, Google Chrome and Microsoft Edge on
// Linux, macOS and Windows, else playwright-core's own browser if one was installed. Nothing is downloaded.
import { existsSync } from 'node:fs';
import { posix, win32 } from 'node:path';

export type FoundBrowser = { found: true; path: string; source: string } | { found: false; reason: string };

export interface BrowserSearch {
  platform: NodeJS.Platform;
  env: Readonly<Record<string, string | undefined>>;
  exists: (path: string) => boolean;
  /** playwright-core's `chromium.executablePath()`, where its own download would be; undefined when unknown. */
  playwrightExecutable?: string | undefined;
}

const LINUX_PATHS = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome-stable',
  '/usr/bin/google-chrome',
  '/usr/bin/microsoft-edge-stable',
  '/usr/bin/microsoft-edge',
  '/snap/bin/chromium',
];

const MACOS_APPS = [
  'Google Chrome.app/Contents/MacOS/Google Chrome',
  'Chromium.app/Contents/MacOS/Chromium',
  'Microsoft Edge.app/Contents/MacOS/Microsoft Edge',
];

const WINDOWS_ROOTS = ['ProgramFiles', 'ProgramFiles(x86)', 'LOCALAPPDATA'];
const WINDOWS_EXECUTABLES = [
  'Google\\Chrome\\Application\\chrome.exe',
  'Microsoft\\Edge\\Application\\msedge.exe',
  'Chromium\\Application\\chrome.exe',
];

/** The places a browser is looked for on `platform`, in order (CHROMIUM_PATH and playwright-core's apart). */
export function browserCandidates(
  platform: NodeJS.Platform,
  env: Readonly<Record<string, string | undefined>>,
): string[] {
  if (platform === 'darwin') {
    const home = env.HOME;
    const dirs = [
      '/Applications',
      ...(home === undefined || home === '' ? [] : [posix.join(home, 'Applications')]),
    ];
    return dirs.flatMap((dir) => MACOS_APPS.map((app) => posix.join(dir, app)));
  }
  if (platform === 'win32') {
    return WINDOWS_ROOTS.flatMap((name) => {
      const root = windowsVariable(env, name);
      return root === undefined ? [] : WINDOWS_EXECUTABLES.map((executable) => win32.join(root, executable));
    });
  }
  return LINUX_PATHS;
}

/**
 * The browser to use. A CHROMIUM_PATH that names no file means none (a chosen browser that is missing is
 * reported, not silently replaced by another one).
 */
export function findBrowser(search: BrowserSearch): FoundBrowser {
  const chosen = search.env.CHROMIUM_PATH;
  if (chosen !== undefined && chosen !== '') {
    return search.exists(chosen)
      ? { found: true, path: chosen, source: 'CHROMIUM_PATH' }
      : { found: false, reason: `CHROMIUM_PATH=${chosen} does not exist` };
  }
  const installed = browserCandidates(search.platform, search.env).find((path) => search.exists(path));
  if (installed !== undefined) return { found: true, path: installed, source: 'installed' };
  const own = search.playwrightExecutable;
  if (own !== undefined && own !== '' && search.exists(own)) {
    return { found: true, path: own, source: "playwright-core's browser" };
  }
  return {
    found: false,
    reason: 'no Chromium, Google Chrome or Microsoft Edge in the usual places: set CHROMIUM_PATH to one',
  };
}

/** findBrowser on this machine. */
export async function locateBrowser(env: NodeJS.ProcessEnv = process.env): Promise<FoundBrowser> {
  return findBrowser({
    platform: process.platform,
    env,
    exists: existsSync,
    playwrightExecutable: await playwrightExecutable(),
  });
}

/** Where playwright-core keeps its own Chromium when one was installed (it is a dev dependency: may be absent). */
async function playwrightExecutable(): Promise<string | undefined> {
  try {
    const { chromium } = await import('playwright-core');
    return chromium.executablePath();
  } catch {
    return undefined;
  }
}

/** Windows environment variables are case-insensitive (`ProgramFiles` is also seen as `PROGRAMFILES`). */
function windowsVariable(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
): string | undefined {
  const key = Object.keys(env).find((candidate) => candidate.toLowerCase() === name.toLowerCase());
  const value = key === undefined ? undefined : env[key];
  return value === undefined || value === '' ? undefined : value;
}
