import { dirname, isAbsolute, relative, resolve } from 'node:path';

import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import simpleImportSort from 'eslint-plugin-simple-import-sort';
import tseslint from 'typescript-eslint';

// The folders each top-level folder must not import from (issue 18): the product (shared/, functions/) never
// reaches into the sandbox, benchmarks, scripts or tests; benchmarks and scripts never into the tests.
const FORBIDDEN_IMPORTS = new Map([
  ['shared', ['functions', 'dev', 'bench', 'test', 'scripts']],
  ['functions', ['dev', 'bench', 'test']],
  ['bench', ['test']],
  ['scripts', ['test']],
]);

const PROJECT_ROOT = import.meta.dirname;

/** The top-level folder of an absolute path inside the project, or undefined (outside, or a root file). */
function topFolderOf(path) {
  const parts = relative(PROJECT_ROOT, path).split(/[\\/]/);
  return parts.length > 1 && parts[0] !== '..' && parts[0] !== '' ? parts[0] : undefined;
}

/** A module specifier that is a literal string: the source of an import, export-from or import(). */
function specifierOf(node) {
  if (node?.type === 'Literal' && typeof node.value === 'string') return node.value;
  if (node?.type === 'TemplateLiteral' && node.expressions.length === 0) return node.quasis[0]?.value.cooked;
  return undefined;
}

// Resolves each relative import against the importing file, so `../test/x`, `../../dev/x` and `./a/../../test/x`
// are judged by where they land, at any depth, static, type-only or dynamic alike.
const folderBoundaries = {
  meta: {
    type: 'problem',
    messages: {
      forbidden:
        "{{from}}/ must not import from {{to}}/ ('{{specifier}}'): the folder rules are FORBIDDEN_IMPORTS in eslint.config.js",
    },
    schema: [],
  },
  create(context) {
    const from = topFolderOf(context.filename);
    const forbidden = FORBIDDEN_IMPORTS.get(from);
    if (forbidden === undefined) return {};
    const check = (source) => {
      const specifier = specifierOf(source);
      if (specifier === undefined || !(specifier.startsWith('.') || isAbsolute(specifier))) return;
      const to = topFolderOf(resolve(dirname(context.filename), specifier));
      if (to !== undefined && forbidden.includes(to))
        context.report({ node: source, messageId: 'forbidden', data: { from, to, specifier } });
    };
    return {
      ImportDeclaration: (node) => check(node.source),
      ExportNamedDeclaration: (node) => check(node.source),
      ExportAllDeclaration: (node) => check(node.source),
      ImportExpression: (node) => check(node.source),
      TSImportType: (node) => check(node.source),
    };
  },
};

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      '.bench/**',
      'node_modules/**',
      '.sandbox/**',
      'infra/**',
      'coverage/**',
      '*.config.js',
      'eslint.config.js',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: {
      'simple-import-sort': simpleImportSort,
      project: { rules: { 'folder-boundaries': folderBoundaries } },
    },
    rules: {
      eqeqeq: ['error', 'always'],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      'simple-import-sort/imports': 'error',
      'simple-import-sort/exports': 'error',
      'project/folder-boundaries': 'error',
    },
  },
  {
    // Plain CommonJS preloads for child processes in tests: no type information to lint with.
    files: ['**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'commonjs',
      globals: { require: 'readonly', process: 'readonly' },
    },
    rules: { ...tseslint.configs.disableTypeChecked.rules, '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);
