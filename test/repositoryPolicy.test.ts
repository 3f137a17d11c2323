// A company can adopt the template only with a license and a security policy: both present, the policy with its
// reporting channel and the threat model's three attackers.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, test } from '@jest/globals';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

describe('license and security policy', () => {
  test('LICENSE is the MIT license of the obo-graph-api contributors', () => {
    const path = join(root, 'LICENSE');
    expect(existsSync(path)).toBe(true);
    const license = readFileSync(path, 'utf8');
    expect(license).toMatch(/^MIT License$/m);
    expect(license).toContain('Copyright (c) 2026 The obo-graph-api contributors');
  });

  test('SECURITY.md says how to report, what is in scope, and what each of the three attackers can and cannot do', () => {
    const path = join(root, 'SECURITY.md');
    expect(existsSync(path)).toBe(true);
    const policy = readFileSync(path, 'utf8');
    const headings = [...policy.matchAll(/^#{2,3} (.+)$/gm)].map((match) => match[1] ?? '');
    expect(headings).toEqual(
      expect.arrayContaining([
        'Reporting a vulnerability',
        'In scope',
        'Threat model',
        expect.stringMatching(/stolen SPA token/),
        expect.stringMatching(/Cosmos reader/),
        expect.stringMatching(/Contributor on the resource group/),
      ]),
    );
    // Each attacker's section says both sides.
    for (const section of policy.split(/^### /m).slice(1, 4)) {
      expect(section).toMatch(/^Can\b|\nCan\b|Is an administrator/);
      expect(section).toMatch(/\nCannot:/);
    }
    expect(policy).toMatch(/private vulnerability reporting/);
  });
});
