// The folder rules of eslint.config.js (`project/folder-boundaries`), checked with the project's own config over
// files that exist only in memory, placed in each folder: every forbidden import fails `npm run lint`, at any
// depth and in every form; what the rules allow passes untouched.
import { fileURLToPath } from 'node:url';

import { describe, expect, test } from '@jest/globals';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RULE = 'project/folder-boundaries';

// TypeScript's project service knows only files on disk: the probes are linted without type information (the
// type-aware rules off, as for the project's .cjs files); the folder rule needs none.
const eslint = new ESLint({ cwd: ROOT, overrideConfig: tseslint.configs.disableTypeChecked });

/** Lints `code` as if it were the file `path` (relative to the project root). */
async function lint(path: string, code: string): Promise<ESLint.LintResult> {
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}${path}` });
  if (result === undefined) throw new Error(`ESLint returned no result for ${path}`);
  return result;
}

const boundaryErrors = (result: ESLint.LintResult) =>
  result.messages.filter((message) => message.ruleId === RULE);

// [the in-memory file, an import of an existing module of a folder it must not use]
const FORBIDDEN: readonly (readonly [string, string])[] = [
  ['shared/boundaryProbe.ts', '../functions/health.js'],
  ['shared/boundaryProbe.ts', '../dev/sandbox/sandbox.js'],
  ['shared/cache/boundaryProbe.ts', '../../dev/sandbox/sandbox.js'],
  ['shared/boundaryProbe.ts', '../bench/seededRandom.js'],
  ['shared/boundaryProbe.ts', '../test/sandbox.js'],
  ['shared/boundaryProbe.ts', '../scripts/build.js'],
  ['functions/boundaryProbe.ts', '../dev/sandbox/client.js'],
  ['functions/boundaryProbe.ts', '../bench/seededRandom.js'],
  ['functions/boundaryProbe.ts', '../test/sandbox.js'],
  ['bench/boundaryProbe.ts', '../test/sandbox.js'],
  ['bench/boundaryProbe.ts', '../test/fakes/upstreams.js'],
  ['scripts/boundaryProbe.ts', '../test/sandbox.js'],
  ['scripts/azd/boundaryProbe.ts', '../../test/sandbox.js'],
  // A detour that lands in a forbidden folder all the same.
  ['shared/auth/boundaryProbe.ts', './../../shared/../dev/sandbox/sandbox.js'],
];

const ALLOWED: readonly (readonly [string, string])[] = [
  ['shared/boundaryProbe.ts', './narrow.js'],
  ['shared/cache/boundaryProbe.ts', '../narrow.js'],
  ['functions/boundaryProbe.ts', '../shared/narrow.js'],
  ['bench/boundaryProbe.ts', '../dev/sandbox/client.js'],
  ['bench/boundaryProbe.ts', '../shared/narrow.js'],
  ['scripts/boundaryProbe.ts', '../dev/spa/build.js'],
  ['dev/boundaryProbe.ts', '../test/sandbox.js'],
  ['test/boundaryProbe.ts', '../bench/seededRandom.js'],
];

describe('folder boundaries (npm run lint)', () => {
  test.each(FORBIDDEN)('%s fails when it imports %s', async (path, specifier) => {
    const result = await lint(path, `import '${specifier}';\n`);
    expect(boundaryErrors(result)).toHaveLength(1);
    expect(result.errorCount).toBeGreaterThan(0);
  });

  test.each(ALLOWED)('%s passes when it imports %s', async (path, specifier) => {
    const result = await lint(path, `import '${specifier}';\n`);
    expect(result.messages).toEqual([]);
  });

  test('a type-only import, a re-export and a dynamic import are caught as a static import is', async () => {
    const result = await lint(
      'shared/boundaryProbe.ts',
      [
        "import type { SandboxState } from '../dev/sandbox/state.js';",
        '',
        "export { sandbox } from '../dev/sandbox/client.js';",
        "export * from '../test/sandbox.js';",
        'export type Probe = SandboxState;',
        "export const load = () => import('../bench/seededRandom.js');",
        "export type Lazy = typeof import('../functions/health.js');",
        '',
      ].join('\n'),
    );
    expect(boundaryErrors(result).map((message) => message.line)).toEqual([1, 3, 4, 6, 7]);
  });

  test('a package import is never a folder import', async () => {
    const result = await lint('shared/boundaryProbe.ts', "import 'jose';\n");
    expect(result.messages).toEqual([]);
  });
});
