/**
 * Builds the deployable bundle: one minified ES module (dist/main.js) with every dependency inlined,
 * so a cold start reads one file instead of resolving thousands in node_modules.
 */
import { rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
// `--outdir DIR`: somewhere other than dist/ (npm test builds the bundle its local hosts run into a temporary folder).
const { values } = parseArgs({ options: { outdir: { type: 'string', default: 'dist' } } });
const outdir = isAbsolute(values.outdir) ? values.outdir : join(root, values.outdir);
const outfile = join(outdir, 'main.js');
if (!relative(outdir, root).startsWith('..')) {
  console.error(
    `--outdir ${values.outdir}: the project or a folder above it; the build empties its folder first`,
  );
  process.exit(2);
}

// A failed build must leave nothing that could be staged and deployed as if it were current.
await rm(outdir, { recursive: true, force: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: ['functions/index.ts'],
  outfile,
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
await writeFile(join(outdir, 'meta.json'), JSON.stringify(result.metafile));
// The bundle alone: the source map and the legal comments file are outputs too, but never loaded at run time.
const name = relative(root, outfile).split('\\').join('/');
const bundle = result.metafile.outputs[name];
if (bundle === undefined) throw new Error(`esbuild reported no ${name}`);
console.log(`built ${name} (${(bundle.bytes / 1024).toFixed(0)} KiB) on Node ${process.version}`);
