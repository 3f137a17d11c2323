// `npm run -s token -- [--user NAME] [--set CLAIM=JSON] [--unset CLAIM] [--lifetime SECONDS]`:
// prints a user access token for the API from the running sandbox.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

import { isRecord } from '../../shared/narrow.js';
import { httpsJson } from '../emulators/kit/httpsClient.js';
import { DEFAULT_STATE_PATH, readSandboxState, SandboxNotRunningError } from '../sandbox/sandbox.js';

interface TokenRequest {
  user: string;
  set: Record<string, unknown>;
  unset: string[];
  lifetimeSeconds?: number;
}

function parseCommandLine(argv: string[]): TokenRequest {
  const { values } = parseArgs({
    args: argv,
    options: {
      user: { type: 'string', default: 'alice' },
      set: { type: 'string', multiple: true, default: [] },
      unset: { type: 'string', multiple: true, default: [] },
      lifetime: { type: 'string' },
    },
    strict: true,
  });
  const set: Record<string, unknown> = {};
  for (const assignment of values.set) {
    const equals = assignment.indexOf('=');
    if (equals < 1) throw new UsageError(`--set needs CLAIM=JSON, got "${assignment}"`);
    const raw = assignment.slice(equals + 1);
    set[assignment.slice(0, equals)] = parseClaimValue(raw);
  }
  const lifetimeSeconds = values.lifetime === undefined ? undefined : Number(values.lifetime);
  if (lifetimeSeconds !== undefined && !Number.isInteger(lifetimeSeconds)) {
    throw new UsageError('--lifetime needs a whole number of seconds');
  }
  return {
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

class UsageError extends Error {}

async function main(): Promise<void> {
  const request = parseCommandLine(process.argv.slice(2));
  const state = await readSandboxState(process.env.SANDBOX_STATE_PATH ?? DEFAULT_STATE_PATH);
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
    throw new UsageError(`the Entra emulator refused: ${message}`);
  }
  process.stdout.write(`${body.access_token}\n`);
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`token: ${message}\n`);
  process.exitCode = error instanceof UsageError || error instanceof TypeError ? 2 : 1;
});
