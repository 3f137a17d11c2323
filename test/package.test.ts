// The azd packaging step from a fresh copy of the sources, without azd: the steps of `npm run package:dry-run`, the
// prepackage hook (infra/scripts/azd-hook.mjs) and a zip of what azd would upload. A stale dist/ left in the copy must not survive.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { isRecord } from '../shared/narrow.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const copy = mkdtempSync(join(tmpdir(), 'obo-package-'));

/** Entries of a zip file (stored or deflated), read from its central directory. */
function readZip(zip: Buffer): Map<string, Buffer> {
  const end = zip.length - 22;
  expect(zip.readUInt32LE(end)).toBe(0x06054b50);
  const count = zip.readUInt16LE(end + 10);
  let position = zip.readUInt32LE(end + 16);
  const entries = new Map<string, Buffer>();
  for (let index = 0; index < count; index += 1) {
    expect(zip.readUInt32LE(position)).toBe(0x02014b50);
    const method = zip.readUInt16LE(position + 10);
    const size = zip.readUInt32LE(position + 20);
    const nameLength = zip.readUInt16LE(position + 28);
    const extraLength = zip.readUInt16LE(position + 30);
    const commentLength = zip.readUInt16LE(position + 32);
    const local = zip.readUInt32LE(position + 42);
    const name = zip.subarray(position + 46, position + 46 + nameLength).toString('utf8');
    expect(method).toBe(0);
    const data = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    entries.set(name, zip.subarray(data, data + size));
    position += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

let run: ReturnType<typeof spawnSync> | undefined;

beforeAll(() => {
  // What a clone has: the tracked files (and new ones not yet committed), with their timestamps.
  const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
    cwd: root,
    encoding: 'utf8',
  });
  for (const file of listed.split('\0').filter((name) => name !== '' && existsSync(join(root, name)))) {
    mkdirSync(dirname(join(copy, file)), { recursive: true });
    cpSync(join(root, file), join(copy, file), { preserveTimestamps: true });
  }
  // Installed dependencies, shared rather than installed again; the hook must find them current and not reinstall.
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'), 'junction');
  const installedAt = statSync(join(copy, 'node_modules', '.package-lock.json')).mtimeMs;
  expect(installedAt).toBeGreaterThanOrEqual(statSync(join(copy, 'package-lock.json')).mtimeMs);
  // A previous build that must not be deployed.
  mkdirSync(join(copy, 'dist'));
  writeFileSync(join(copy, 'dist', 'main.js'), '// stale build\n');
  writeFileSync(join(copy, 'dist', 'left-over.js'), '// stale chunk\n');
  // The steps of `npm run package:dry-run`: the prepackage hook as azd runs it, then the zip azd would make.
  run = spawnSync(process.execPath, ['infra/scripts/azd-hook.mjs', 'prepackage'], {
    cwd: copy,
    encoding: 'utf8',
  });
  if (run.status === 0) {
    run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/azd/package-dry-run.ts'], {
      cwd: copy,
      encoding: 'utf8',
    });
  }
}, 180_000);

afterAll(() => {
  rmSync(copy, { recursive: true, force: true });
});

describe('packaging for azd (dry run from a fresh copy)', () => {
  test('builds, stages and zips exactly the runtime files of the current build', () => {
    expect(run?.status).toBe(0);
    const entries = readZip(readFileSync(join(copy, 'infra', 'build', 'api.zip')));
    expect([...entries.keys()].sort()).toEqual([
      'dist/main.js',
      'dist/main.js.LEGAL.txt',
      'host.json',
      'package.json',
    ]);
    const bundle = entries.get('dist/main.js');
    expect(bundle?.equals(readFileSync(join(copy, 'dist', 'main.js')))).toBe(true);
    expect(bundle?.toString('utf8')).not.toContain('stale build');
    // The current sources' routes are in the bundle.
    expect(bundle?.toString('utf8')).toContain('me/token-cache');
    const manifest: unknown = JSON.parse(entries.get('package.json')?.toString('utf8') ?? '');
    expect(isRecord(manifest) ? manifest : {}).toEqual({
      name: 'obo-graph-api',
      version: expect.any(String),
      type: 'module',
      main: 'dist/main.js',
    });
    expect(entries.get('host.json')?.equals(readFileSync(join(root, 'host.json')))).toBe(true);
  });
});
