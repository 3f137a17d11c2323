import { spawnSync } from 'node:child_process';

import { afterEach, describe, expect, test } from '@jest/globals';

import { getHealth } from '../../functions/health.js';
import { HttpRequest, InvocationContext } from '../../shared/http/azureFunctions.js';
import { sandbox } from '../sandbox.js';

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe('configuration at start', () => {
  test('the health endpoint answers 503, the log names the bad settings, and 200 once they are fixed', async () => {
    delete process.env.COSMOS_ENDPOINT;
    process.env.API_CLIENT_ID = 'not-a-guid';
    const logged: string[] = [];
    const call = () =>
      getHealth(
        new HttpRequest({ method: 'GET', url: 'http://localhost/api/health' }),
        new InvocationContext({
          functionName: 'getHealth',
          logHandler: (_level, ...args) => logged.push(args.join(' ')),
        }),
      );
    const broken = await call();
    expect(broken.status).toBe(503);
    expect(broken.jsonBody).toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    expect(JSON.stringify(broken.jsonBody)).not.toContain('not-a-guid');
    const log = logged.join('\n');
    expect(log).toContain('COSMOS_ENDPOINT');
    expect(log).toContain('API_CLIENT_ID');

    process.env = { ...saved };
    expect((await call()).status).toBe(200);
  });

  test('the local host refuses to start and names the missing setting', () => {
    const env: Record<string, string> = { ...sandbox().settings, PATH: process.env.PATH ?? '' };
    delete env.TOKEN_CACHE_KEYS;
    const started = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'dev/cli/serve.ts', '--port', '0', '--entry', 'functions/index.ts'],
      {
        env,
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
    expect(started.status).toBe(1);
    expect(started.stderr).toContain('TOKEN_CACHE_KEYS');
  });
});
