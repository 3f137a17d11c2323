// Serves the sample SPA (built in memory, build.ts) on its own origin, http://localhost:PORT (a secure context, so
// WebCrypto and PKCE work), with config.json from the sandbox: no id is typed by hand.
import { createServer } from 'node:http';

import { closeServer, listen } from '../emulators/kit/http.js';
import type { SpaConfig } from './browser/config.js';
import { buildSpa, contentSecurityPolicy, type SpaFiles } from './build.js';

export type { SpaConfig } from './browser/config.js';

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
