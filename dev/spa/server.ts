// Builds the sample SPA (esbuild, in memory) and serves it on its own origin, http://localhost:PORT (a secure
// context, so WebCrypto and PKCE work), with config.json from the sandbox: no id is typed by hand.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

import { closeServer, listen } from '../emulators/kit/http.js';
import type { SpaConfig } from './browser/config.js';

export type { SpaConfig } from './browser/config.js';

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

/** The SPA's configuration from the sandbox's ids and URLs. */
export function sandboxSpaConfig(state: {
  spaClientId: string;
  entraUrl: string;
  tenantId: string;
  api: { appIdUri: string; scope: string };
  apiUrl: string;
}): SpaConfig {
  return {
    clientId: state.spaClientId,
    authority: `${state.entraUrl}/${state.tenantId}`,
    apiBaseUrl: `${state.apiUrl}/api`,
    apiScope: `${state.api.appIdUri}/${state.api.scope}`,
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

export interface SpaServer {
  /** http://localhost:PORT */
  origin: string;
  /** The SPA's redirect URI (its root): http://localhost:PORT/ */
  url: string;
  /** Sets config.json: the API's URL may be known only once this origin is (the API's CORS names it). */
  configure(config: SpaConfig): void;
  close(): Promise<void>;
}

export async function startSpaServer(
  options: {
    config?: SpaConfig;
    /** 0 or absent: an ephemeral port. */
    port?: number;
    files?: SpaFiles;
  } = {},
): Promise<SpaServer> {
  const files = options.files ?? (await buildSpa());
  let config = options.config;
  const types: Record<string, string> = {
    '/': 'text/html; charset=utf-8',
    '/index.html': 'text/html; charset=utf-8',
    '/app.css': 'text/css; charset=utf-8',
    '/app.js': 'text/javascript; charset=utf-8',
    '/config.json': 'application/json; charset=utf-8',
  };
  const body = (path: string, current: SpaConfig): string =>
    path === '/config.json'
      ? `${JSON.stringify(current, null, 2)}\n`
      : path === '/app.css'
        ? files['app.css']
        : path === '/app.js'
          ? files['app.js']
          : files['index.html'];
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const type = types[path];
    if (type === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found');
      return;
    }
    if (config === undefined) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '1' }).end('starting');
      return;
    }
    res
      .writeHead(200, {
        'content-type': type,
        'cache-control': 'no-store',
        'content-security-policy': contentSecurityPolicy(config),
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      })
      .end(req.method === 'HEAD' ? undefined : body(path, config));
  });
  const port = await listen(server, options.port ?? 0);
  const origin = `http://localhost:${port}`;
  return {
    origin,
    url: `${origin}/`,
    configure(next) {
      config = next;
    },
    close: () => closeServer(server),
  };
}
