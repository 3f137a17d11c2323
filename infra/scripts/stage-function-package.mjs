#!/usr/bin/env node
// Second step of the azd prepackage hook (infra/scripts/azd-hook.mjs runs scripts/build.ts just before): stages exactly what the Flex Consumption app runs into infra/build/functionapp (azure.yaml
// `dist`), so the deployment zip holds no sources, tests, local settings or node_modules.
// The esbuild bundle (dist/main.js) carries every dependency, so no `npm install` runs on the server.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const stage = join(root, 'infra', 'build', 'functionapp');

const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const entry = join(root, manifest.main ?? '');
for (const required of [entry, join(root, 'host.json')]) {
  if (!existsSync(required)) {
    console.error(
      `stage-function-package: ${required} is missing; run \`node infra/scripts/azd-hook.mjs prepackage\`, which builds first`,
    );
    process.exit(1);
  }
}

rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
cpSync(join(root, 'host.json'), join(stage, 'host.json'));
// meta.json is esbuild's build report and main.js.map a 5 MB source map: the app loads neither.
cpSync(join(root, 'dist'), join(stage, 'dist'), {
  recursive: true,
  filter: (source) => !source.endsWith(join('dist', 'meta.json')) && !source.endsWith('.map'),
});
// The host reads `main` (entry point) and `type` (ES module) from package.json; nothing is installed from it.
const runtimeManifest = {
  name: manifest.name,
  version: manifest.version,
  type: manifest.type,
  main: manifest.main,
};
writeFileSync(join(stage, 'package.json'), `${JSON.stringify(runtimeManifest, null, 2)}\n`);
console.log(`stage-function-package: staged host.json, package.json and dist/ in ${stage}`);
