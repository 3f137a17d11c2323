// The Entra emulator's own /_emulator/ endpoints: user tokens, key rotation, settings.
import type { IncomingMessage, ServerResponse } from 'node:http';

import { isRecord } from '../../../shared/narrow.js';
import { parseJsonBody, safeDecode, sendJson } from '../kit/http.js';
import { USER_NAME } from './fixtures.js';
import type { EntraSettings } from './grants.js';
import type { SigningKeys, UserTokenOptions } from './keys.js';

type Answer = { status: number; body: unknown; headers?: Record<string, string> };

const invalidRequest = (message: string): Answer => ({
  status: 400,
  body: { error: 'invalid_request', message },
});

/** The emulator's extra endpoints by path; each takes the JSON object body. */
function entraControlRoutes(
  keys: SigningKeys,
  settings: EntraSettings,
): {
  match: RegExp;
  answer(input: Record<string, unknown>, match: RegExpExecArray): Promise<Answer> | Answer;
}[] {
  return [
    {
      match: /^\/_emulator\/users\/([^/]+)\/token$/,
      async answer(input, match) {
        const name = safeDecode(match[1] ?? '');
        const parsed = parseUserTokenOptions(name, input);
        if (typeof parsed === 'string') return invalidRequest(parsed);
        return {
          status: 200,
          body: await keys.mintUserToken(name, parsed),
          headers: { 'cache-control': 'no-store' },
        };
      },
    },
    {
      match: /^\/_emulator\/rotate-keys$/,
      async answer({ retireOld }) {
        if (retireOld !== undefined && typeof retireOld !== 'boolean') {
          return invalidRequest('"retireOld" must be a boolean');
        }
        const kid = await keys.rotate({ retireOld: retireOld ?? false });
        return { status: 200, body: { kid, kids: keys.kids } };
      },
    },
    {
      match: /^\/_emulator\/settings$/,
      answer({ oboTokenLifetimeSeconds, ...others }) {
        const unknownField = Object.keys(others)[0];
        if (unknownField !== undefined) return invalidRequest(`unknown setting "${unknownField}"`);
        if (oboTokenLifetimeSeconds !== undefined) {
          if (
            typeof oboTokenLifetimeSeconds !== 'number' ||
            !Number.isInteger(oboTokenLifetimeSeconds) ||
            oboTokenLifetimeSeconds < 1 ||
            oboTokenLifetimeSeconds > 86_400
          ) {
            return invalidRequest('"oboTokenLifetimeSeconds" must be an integer from 1 to 86400');
          }
          settings.oboTokenLifetimeSeconds = oboTokenLifetimeSeconds;
        }
        return { status: 200, body: settings };
      },
    },
  ];
}

/** Answers `POST /_emulator/...` (the shared counters and faults are answered before). */
export async function handleEntraControl(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  body: Buffer,
  state: { keys: SigningKeys; settings: EntraSettings },
): Promise<void> {
  const routes = entraControlRoutes(state.keys, state.settings);
  const found = routes
    .map((route) => ({ route, match: route.match.exec(path) }))
    .find((candidate) => candidate.match !== null);
  if (req.method !== 'POST' || found?.match === undefined || found.match === null) {
    sendJson(res, 404, { error: 'not_found', message: `no emulator endpoint ${req.method ?? ''} ${path}` });
    return;
  }
  const input = parseJsonBody(body);
  if (!input.ok || !isRecord(input.value)) {
    sendJson(res, 400, { error: 'invalid_request', message: 'the body must be a JSON object' });
    return;
  }
  const answer = await found.route.answer(input.value, found.match);
  sendJson(res, answer.status, answer.body, answer.headers);
}

/** Validates the body of `POST /_emulator/users/{name}/token`; a message when it is wrong. */
export function parseUserTokenOptions(
  name: string,
  input: Record<string, unknown>,
): UserTokenOptions | string {
  if (!USER_NAME.test(name)) return `the user name must match ${String(USER_NAME)}`;
  const { set, unset, lifetimeSeconds, client, ...others } = input;
  const unknownField = Object.keys(others)[0];
  if (unknownField !== undefined) return `unknown field "${unknownField}"`;
  if (set !== undefined && !isRecord(set)) return '"set" must be an object of claims';
  if (unset !== undefined && !(Array.isArray(unset) && unset.every((claim) => typeof claim === 'string'))) {
    return '"unset" must be an array of claim names';
  }
  if (
    lifetimeSeconds !== undefined &&
    !(
      typeof lifetimeSeconds === 'number' &&
      Number.isInteger(lifetimeSeconds) &&
      Math.abs(lifetimeSeconds) <= 10 * 365 * 86_400
    )
  ) {
    return '"lifetimeSeconds" must be an integer (negative: already expired)';
  }
  if (client !== undefined && (typeof client !== 'string' || client === ''))
    return '"client" must be a client id';
  return {
    ...(set === undefined ? {} : { set }),
    ...(unset === undefined ? {} : { unset }),
    ...(lifetimeSeconds === undefined ? {} : { lifetimeSeconds }),
    ...(client === undefined ? {} : { client }),
  };
}
