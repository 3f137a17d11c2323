// Finding a Chromium-based browser for the SPA on each platform, with the file system given as a set of paths.
import { describe, expect, test } from '@jest/globals';

import { browserCandidates, findBrowser } from '../../dev/spa/findBrowser.js';

const PLAYWRIGHT = '/home/dev/.cache/ms-playwright/chromium-1255/chrome-linux64/chrome';

function find(
  platform: NodeJS.Platform,
  files: string[],
  env: Record<string, string | undefined> = {},
  playwrightExecutable?: string,
) {
  const present = new Set(files);
  return findBrowser({ platform, env, exists: (path) => present.has(path), playwrightExecutable });
}

describe('Linux', () => {
  test("finds Debian's Chromium", () => {
    expect(find('linux', ['/usr/bin/chromium'])).toEqual({
      found: true,
      path: '/usr/bin/chromium',
      source: 'installed',
    });
  });

  test.each([
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome-stable',
    '/usr/bin/google-chrome',
    '/usr/bin/microsoft-edge-stable',
    '/usr/bin/microsoft-edge',
    '/snap/bin/chromium',
  ])('finds %s when it is the only browser', (path) => {
    expect(find('linux', [path])).toMatchObject({ found: true, path });
  });

  test('prefers Chromium over Chrome over Edge', () => {
    expect(
      find('linux', ['/usr/bin/microsoft-edge', '/usr/bin/google-chrome', '/usr/bin/chromium']),
    ).toMatchObject({ path: '/usr/bin/chromium' });
    expect(find('linux', ['/usr/bin/microsoft-edge', '/usr/bin/google-chrome'])).toMatchObject({
      path: '/usr/bin/google-chrome',
    });
  });

  test("falls back to playwright-core's own browser only when its file exists", () => {
    expect(find('linux', [PLAYWRIGHT], {}, PLAYWRIGHT)).toEqual({
      found: true,
      path: PLAYWRIGHT,
      source: "playwright-core's browser",
    });
    expect(find('linux', [], {}, PLAYWRIGHT)).toMatchObject({ found: false });
  });

  test("an installed browser wins over playwright-core's", () => {
    expect(find('linux', ['/usr/bin/google-chrome', PLAYWRIGHT], {}, PLAYWRIGHT)).toMatchObject({
      path: '/usr/bin/google-chrome',
    });
  });

  test('finds none on a machine without a browser, and says to set CHROMIUM_PATH', () => {
    const none = find('linux', ['/usr/bin/firefox']);
    expect(none.found).toBe(false);
    expect(none.found ? '' : none.reason).toContain('CHROMIUM_PATH');
  });
});

describe('CHROMIUM_PATH', () => {
  test('wins over every installed browser', () => {
    expect(
      find('linux', ['/usr/bin/chromium', '/opt/custom/chrome'], { CHROMIUM_PATH: '/opt/custom/chrome' }),
    ).toEqual({ found: true, path: '/opt/custom/chrome', source: 'CHROMIUM_PATH' });
  });

  test('naming no file means no browser, not a search elsewhere', () => {
    const result = find('linux', ['/usr/bin/chromium'], { CHROMIUM_PATH: '/nonexistent' }, PLAYWRIGHT);
    expect(result).toEqual({ found: false, reason: 'CHROMIUM_PATH=/nonexistent does not exist' });
  });

  test('an empty CHROMIUM_PATH is as if unset', () => {
    expect(find('linux', ['/usr/bin/chromium'], { CHROMIUM_PATH: '' })).toMatchObject({
      path: '/usr/bin/chromium',
    });
  });
});

describe('macOS', () => {
  test.each([
    '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
    '/Applications/Chromium.app/Contents/MacOS/Chromium',
    '/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge',
    '/Users/dev/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  ])('finds %s', (path) => {
    expect(find('darwin', [path], { HOME: '/Users/dev' })).toMatchObject({ found: true, path });
  });

  test('never looks in Linux paths', () => {
    expect(find('darwin', ['/usr/bin/chromium'], { HOME: '/Users/dev' })).toMatchObject({ found: false });
    expect(browserCandidates('darwin', {}).every((path) => path.startsWith('/Applications/'))).toBe(true);
  });
});

describe('Windows', () => {
  const env = {
    ProgramFiles: 'C:\\Program Files',
    'ProgramFiles(x86)': 'C:\\Program Files (x86)',
    LOCALAPPDATA: 'C:\\Users\\dev\\AppData\\Local',
  };

  test.each([
    'C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe',
    'C:\\Program Files (x86)\\Google\\Chrome\\Application\\chrome.exe',
    'C:\\Users\\dev\\AppData\\Local\\Google\\Chrome\\Application\\chrome.exe',
    'C:\\Program Files\\Microsoft\\Edge\\Application\\msedge.exe',
    'C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe',
    'C:\\Users\\dev\\AppData\\Local\\Chromium\\Application\\chrome.exe',
  ])('finds %s', (path) => {
    expect(find('win32', [path], env)).toMatchObject({ found: true, path });
  });

  test('reads the folders from the environment whatever the case of its names', () => {
    expect(
      find('win32', ['D:\\Apps\\Microsoft\\Edge\\Application\\msedge.exe'], { PROGRAMFILES: 'D:\\Apps' }),
    ).toMatchObject({ path: 'D:\\Apps\\Microsoft\\Edge\\Application\\msedge.exe' });
  });

  test('looks nowhere when the environment names no program folder', () => {
    expect(browserCandidates('win32', {})).toEqual([]);
    expect(find('win32', ['C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe'])).toMatchObject({
      found: false,
    });
  });
});
