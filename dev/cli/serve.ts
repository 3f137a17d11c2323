/**
 * `npm run serve`: only the local host, configured by environment variables named like the Function
 * App's settings (or local.settings.json's Values, as `func start` reads them), to point the same
 * code at the sandbox, at real Azure, or at other endpoints.
 *
 *   tsx dev/cli/serve.ts [--port 7071] [--entry dist/main.js] [--quiet]
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { loadConfig } from '../../shared/config.js';
import { ConfigError } from '../../shared/errors.js';
import { serveFunctionsCore, startLocalHost } from '../host/functionsHost.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '7071' },
    entry: { type: 'string', default: 'dist/main.js' },
    quiet: { type: 'boolean', default: false },
  },
});

applyLocalSettings('local.settings.json');
try {
  loadConfig(process.env);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`Cannot start: ${error.message}`);
    process.exit(1);
  }
  throw error;
}

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`Cannot start: --port must be a port number, not "${values.port}"`);
  process.exit(1);
}

const entry = resolve(values.entry);
if (!existsSync(entry)) {
  console.error(`Cannot start: ${values.entry} does not exist; run npm run build first`);
  process.exit(1);
}
const functions = serveFunctionsCore();
await import(pathToFileURL(entry).href);
if (functions.size === 0) {
  console.error(`Cannot start: ${values.entry} registered no HTTP function`);
  process.exit(1);
}
const host = await startLocalHost({
  functions,
  port,
  ...(values.quiet ? { log: () => undefined } : {}),
}).catch((error: unknown) => {
  const inUse = error instanceof Error && 'code' in error && error.code === 'EADDRINUSE';
  console.error(`Cannot start: ${inUse ? `port ${port} is already in use` : String(error)}`);
  process.exit(1);
});
console.log(`local host ready at ${host.url}/api (${[...functions.keys()].join(', ')})`);

const stop = (): void => {
  void host.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

/** Like `func start`: local.settings.json's Values fill in what the environment does not set. */
function applyLocalSettings(path: string): void {
  if (!existsSync(path)) return;
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (typeof parsed !== 'object' || parsed === null || !('Values' in parsed)) return;
  const settings = parsed.Values;
  if (typeof settings !== 'object' || settings === null) return;
  for (const [name, value] of Object.entries(settings)) {
    if (process.env[name] === undefined && typeof value === 'string') process.env[name] = value;
  }
}
