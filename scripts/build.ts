/**
 * Builds the deployable bundle: one minified ES module (dist/main.js) with every dependency inlined,
 * so a cold start reads one file instead of resolving thousands in node_modules.
 */
import { rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

// A failed build must leave nothing that could be staged and deployed as if it were current.
await rm(`${root}dist`, { recursive: true, force: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: ['functions/index.ts'],
  outfile: 'dist/main.js',
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  minify: true,
  sourcemap: 'linked',
  metafile: true,
  legalComments: 'linked',
  // The Functions worker provides this module at run time; it is not on npm.
  external: ['@azure/functions-core'],
  // CommonJS dependencies inside an ES module bundle still call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
await writeFile(`${root}dist/meta.json`, JSON.stringify(result.metafile));
// The bundle alone: the source map and the legal comments file are outputs too, but never loaded at run time.
const bundle = result.metafile.outputs['dist/main.js'];
if (bundle === undefined) throw new Error('esbuild reported no dist/main.js');
console.log(`built dist/main.js (${(bundle.bytes / 1024).toFixed(0)} KiB) on Node ${process.version}`);
