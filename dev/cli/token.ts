// `npm run -s token -- [--port P | --state FILE] [--user NAME] [--set CLAIM=JSON] [--unset CLAIM] [--lifetime S]`:
// prints a user access token for the API from the running sandbox (the only one, or the one whose API is on P).
import { readFile } from 'node:fs/promises';

import { isRecord } from '../../shared/narrow.js';
import { httpsJson } from '../emulators/kit/httpsClient.js';
import {
  DEFAULT_SANDBOX_DIR,
  locateSandboxState,
  readSandboxState,
  SandboxChoiceError,
  SandboxNotRunningError,
} from '../sandbox/state.js';
import { integerOption, parseCommandLine, portOption, reportUsageError, UsageError } from './args.js';

const USAGE =
  'npm run -s token -- [--port P | --state FILE] [--user NAME] [--set CLAIM=JSON] [--unset CLAIM] [--lifetime SECONDS]';

interface TokenRequest {
  /** The sandbox: its API port, or its state file. */
  apiPort?: number;
  statePath?: string;
  user: string;
  set: Record<string, unknown>;
  unset: string[];
  lifetimeSeconds?: number;
}

function parseTokenCommandLine(argv: string[]): TokenRequest {
  const values = parseCommandLine(argv, {
    port: { type: 'string' },
    state: { type: 'string' },
    user: { type: 'string', default: 'alice' },
    set: { type: 'string', multiple: true, default: [] },
    unset: { type: 'string', multiple: true, default: [] },
    lifetime: { type: 'string' },
  });
  if (values.port !== undefined && values.state !== undefined) {
    throw new UsageError('give --port or --state, not both');
  }
  const set: Record<string, unknown> = {};
  for (const assignment of values.set) {
    const equals = assignment.indexOf('=');
    if (equals < 1) throw new UsageError(`--set needs CLAIM=JSON, got "${assignment}"`);
    const raw = assignment.slice(equals + 1);
    set[assignment.slice(0, equals)] = parseClaimValue(raw);
  }
  // Negative and zero lifetimes make expired tokens on purpose; a day is beyond anything Entra issues.
  const lifetimeSeconds =
    values.lifetime === undefined ? undefined : integerOption('lifetime', values.lifetime, -86_400, 86_400);
  return {
    ...(values.port === undefined ? {} : { apiPort: portOption('port', values.port) }),
    ...(values.state === undefined ? {} : { statePath: values.state }),
    user: values.user,
    set,
    unset: values.unset,
    ...(lifetimeSeconds === undefined ? {} : { lifetimeSeconds }),
  };
}

/** JSON when it parses (numbers, arrays, quoted strings), else the text itself. */
function parseClaimValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

async function main(): Promise<void> {
  const request = parseTokenCommandLine(process.argv.slice(2));
  const statePath = await locateSandboxState({
    dir: DEFAULT_SANDBOX_DIR,
    path: request.statePath ?? (request.apiPort === undefined ? process.env.SANDBOX_STATE_PATH : undefined),
    apiPort: request.apiPort,
  });
  const state = await readSandboxState(statePath);
  const ca = await readFile(state.caCertPath, 'utf8');
  let answer: { status: number; body: unknown };
  try {
    answer = await httpsJson(`${state.entraUrl}/_emulator/users/${encodeURIComponent(request.user)}/token`, {
      ca,
      body: {
        set: request.set,
        unset: request.unset,
        ...(request.lifetimeSeconds === undefined ? {} : { lifetimeSeconds: request.lifetimeSeconds }),
      },
    });
  } catch (error) {
    throw new SandboxNotRunningError(
      `the sandbox at ${state.entraUrl} does not answer: start it with npm run dev`,
      { cause: error },
    );
  }
  const { status, body } = answer;
  if (status !== 200 || !isRecord(body) || typeof body.access_token !== 'string') {
    const message = isRecord(body) && typeof body.message === 'string' ? body.message : `status ${status}`;
    throw new Error(`the Entra emulator refused: ${message}`);
  }
  process.stdout.write(`${body.access_token}\n`);
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    reportUsageError('token', error, USAGE);
    return;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(
    `token: ${message}${error instanceof SandboxChoiceError ? ': pass --port N (its API port)' : ''}\n`,
  );
  process.exitCode = error instanceof SandboxChoiceError ? 2 : 1;
});
