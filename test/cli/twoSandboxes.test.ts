// Two `npm run dev` sandboxes side by side as the docs start them (`npm run dev` and `npm run dev -- --port 7500`,
// so they need ports 7071, 7080, 7500 and 7509 free): each writes its own state file and serves its own sample
// SPA that its own Entra and API know, `npm run -s token` asks which one when two run and finds each by its API
// port, and each API accepts only its own sandbox's tokens. Ctrl-C (SIGINT) removes the state files.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, expect, test } from '@jest/globals';

import { portIsFree } from '../../dev/cli/args.js';
import { httpsJson } from '../../dev/emulators/kit/httpsClient.js';
import { ensureLocalCa } from '../../dev/sandbox/localCa.js';
import { parseSandboxState, type SandboxState } from '../../dev/sandbox/state.js';
import { linesOf, runCli, startCli } from './run.js';

const SLOW = 240_000;

/** The ports the two documented commands take: API and sample SPA of each. */
const DOCUMENTED_PORTS = [7071, 7080, 7500, 7509];

interface Running {
  child: ChildProcess;
  apiUrl: string;
  spaUrl: string;
  exited: Promise<number | null>;
}

let dir: string;
let sandboxes: Running[] = [];

/**
 * `npm run dev [-- <args>]` serving `npm test`'s bundle or the sources (no build), resolved once it has printed
 * its SPA's URL, the last thing it prints.
 */
function startDev(args: readonly string[]): Promise<Running> {
  const child = startCli(
    'dev/cli/dev.ts',
    [...args, '--entry', process.env.TEST_HOST_ENTRY ?? 'functions/index.ts'],
    { SANDBOX_DIR: dir },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let output = '';
  return new Promise((resolve, reject) => {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const api = /API ready on (http:\/\/\S+\/api)/.exec(output)?.[1];
      const spa = /Sample SPA ready on (http:\/\/\S+)/.exec(output)?.[1];
      if (api !== undefined && spa !== undefined) resolve({ child, apiUrl: api, spaUrl: spa, exited });
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    void exited.then((code) => reject(new Error(`npm run dev exited (${code}):\n${output}`)));
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'two-sandboxes-'));
  // The sandboxes of one directory share its CA: made once here, as it is after the first `npm run dev`.
  await ensureLocalCa(dir);
  for (const port of DOCUMENTED_PORTS) {
    if (!(await portIsFree(port))) {
      throw new Error(`port ${port} is in use (a sandbox of your own?): this test starts two as the docs do`);
    }
  }
  const started = await Promise.allSettled([startDev([]), startDev(['--port', '7500'])]);
  sandboxes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failed = started.find((result) => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}, SLOW);

afterAll(async () => {
  for (const { child } of sandboxes) child.kill('SIGINT');
  await Promise.all(sandboxes.map(({ exited }) => exited));
  await rm(dir, { recursive: true, force: true });
}, SLOW);

test(
  'each sandbox has its own ports and state file; the token CLI serves each by API port',
  async () => {
    const [first, second] = sandboxes;
    if (first === undefined || second === undefined) throw new Error('two sandboxes did not start');
    const states = await Promise.all(
      (await readdir(dir))
        .filter((name) => /^state-\d+\.json$/.test(name))
        .map(async (name) => parseSandboxState(await readFile(join(dir, name), 'utf8'), name)),
    );
    expect(states).toHaveLength(2);
    const [a, b] = states;
    expect(a?.entraUrl).not.toBe(b?.entraUrl);
    expect(a?.cosmos.endpoint).not.toBe(b?.cosmos.endpoint);
    expect(states.flatMap((state) => state.apiUrls ?? []).sort()).toEqual(
      [first.apiUrl, second.apiUrl].sort(),
    );

    // Two running, none named: one line asking which.
    const ambiguous = await runCli('dev/cli/token.ts', [], { SANDBOX_DIR: dir });
    expect(ambiguous.code).toBe(2);
    expect(linesOf(ambiguous.stderr)).toHaveLength(1);
    expect(ambiguous.stderr).toContain('--port');

    const portOf = (url: string): string => new URL(url).port;
    const [tokenA, tokenB] = await Promise.all(
      [first, second].map((sandbox) =>
        runCli('dev/cli/token.ts', ['--port', portOf(sandbox.apiUrl)], { SANDBOX_DIR: dir }),
      ),
    );
    expect(tokenA?.code).toBe(0);
    expect(tokenB?.code).toBe(0);
    const me = (apiUrl: string, token: string | undefined): Promise<Response> =>
      fetch(`${apiUrl}/me`, { headers: { Authorization: `Bearer ${(token ?? '').trim()}` } });

    expect((await me(first.apiUrl, tokenA?.stdout)).status).toBe(200);
    expect((await me(second.apiUrl, tokenB?.stdout)).status).toBe(200);
    // Separate emulators, separate signing keys: a token of one sandbox is foreign to the other.
    expect((await me(second.apiUrl, tokenA?.stdout)).status).toBe(401);
  },
  SLOW,
);

test(
  'each serves its own sample SPA, on 7080 beside 7071 and 7509 beside 7500, which its own Entra and API know',
  async () => {
    const [first, second] = sandboxes;
    if (first === undefined || second === undefined) throw new Error('two sandboxes did not start');
    expect([first.apiUrl, first.spaUrl]).toEqual(['http://127.0.0.1:7071/api', 'http://localhost:7080/']);
    expect([second.apiUrl, second.spaUrl]).toEqual(['http://127.0.0.1:7500/api', 'http://localhost:7509/']);

    for (const [own, other] of [
      [first, second],
      [second, first],
    ] as const) {
      const state = await stateOf(own);
      const page = await fetch(own.spaUrl);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      const config = (await (await fetch(new URL('config.json', own.spaUrl))).json()) as Record<
        string,
        unknown
      >;
      expect(config).toMatchObject({
        apiBaseUrl: own.apiUrl,
        authority: `${state.entraUrl}/${state.tenantId}`,
        clientId: state.spaClientId,
      });

      // Its Entra emulator takes the SPA's URL as a redirect URI, and not the other sandbox's SPA.
      expect(await authorizeStatus(state, own.spaUrl)).toBeLessThan(400);
      expect(await authorizeStatus(state, other.spaUrl)).toBe(400);
      // Its API's platform CORS allows the SPA's origin, and not the other sandbox's SPA.
      expect(await allowedOrigin(own.apiUrl, new URL(own.spaUrl).origin)).toBe(new URL(own.spaUrl).origin);
      expect(await allowedOrigin(own.apiUrl, new URL(other.spaUrl).origin)).toBeNull();
    }
  },
  SLOW,
);

test(
  'Ctrl-C stops a sandbox and removes its state file; with one left, the token CLI needs no --port',
  async () => {
    const [first] = sandboxes;
    if (first === undefined) throw new Error('no sandbox started');
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    const left = (await readdir(dir)).filter((name) => name.startsWith('state-'));
    expect(left).toHaveLength(1);
    expect(left).not.toContain(`state-${new URL(first.apiUrl).port}.json`);

    // One left: the token CLI needs no --port.
    const only = await runCli('dev/cli/token.ts', [], { SANDBOX_DIR: dir });
    expect(only.code).toBe(0);
    expect(linesOf(only.stdout)).toHaveLength(1);
  },
  SLOW,
);

/** The state file `npm run dev` wrote for the sandbox whose first host serves `apiUrl`. */
async function stateOf(sandbox: Running): Promise<SandboxState> {
  const name = `state-${new URL(sandbox.apiUrl).port}.json`;
  return parseSandboxState(await readFile(join(dir, name), 'utf8'), name);
}

/** The status of the SPA's sign-in request at the sandbox's Entra emulator: its pages, or its error page (400). */
async function authorizeStatus(state: SandboxState, redirectUri: string): Promise<number> {
  const params = new URLSearchParams({
    client_id: state.spaClientId,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: 'openid profile offline_access',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  });
  const url = `${state.entraUrl}/${state.tenantId}/oauth2/v2.0/authorize?${params.toString()}`;
  return (await httpsJson(url, { ca: readFileSync(state.caCertPath, 'utf8') })).status;
}

/** What the API's platform CORS answers a preflight from `origin` with (null: refused). */
async function allowedOrigin(apiUrl: string, origin: string): Promise<string | null> {
  const preflight = await fetch(`${apiUrl}/me`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'authorization',
    },
  });
  return preflight.headers.get('access-control-allow-origin');
}
