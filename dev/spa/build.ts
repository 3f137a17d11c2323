// The sample SPA's static files, built in memory (esbuild), and the Content-Security-Policy it is served with: by
// the sandbox (server.ts) and for Azure Static Web Apps (scripts/build-spa.ts), which need nothing else of dev/.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

import type { SpaConfig } from './browser/config.js';

const BROWSER_DIR = fileURLToPath(new URL('browser/', import.meta.url));

export interface SpaFiles {
  'index.html': string;
  'app.css': string;
  'app.js': string;
}

/** The SPA's static files: the page, its style and its script bundled with msal-browser. */
export async function buildSpa(options: { minify?: boolean } = {}): Promise<SpaFiles> {
  const result = await build({
    entryPoints: [join(BROWSER_DIR, 'app.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: options.minify ?? false,
    write: false,
    logLevel: 'silent',
  });
  const script = result.outputFiles[0];
  if (script === undefined) throw new Error('esbuild produced no bundle for the SPA');
  return {
    'index.html': await readFile(join(BROWSER_DIR, 'index.html'), 'utf8'),
    'app.css': await readFile(join(BROWSER_DIR, 'app.css'), 'utf8'),
    'app.js': script.text,
  };
}

/** A Content-Security-Policy that lets the page talk to its own origin, Entra and the API only. */
export function contentSecurityPolicy(config: SpaConfig): string {
  const entra = new URL(config.authority).origin;
  const api = new URL(config.apiBaseUrl).origin;
  return [
    "default-src 'self'",
    `connect-src 'self' ${entra} ${api}`,
    `frame-src ${entra}`,
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
