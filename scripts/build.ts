/**
 * Builds the deployable bundle: one minified ES module (dist/main.js) with every dependency inlined,
 * so a cold start reads one file instead of resolving thousands in node_modules.
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

const result = await build({
  absWorkingDir: root,
  entryPoints: ['functions/index.ts'],
  outfile: 'dist/main.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
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
const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
console.log(`built dist/main.js (${(bytes / 1024).toFixed(0)} KiB with source map)`);
