// The Entra emulator's own /_emulator/ endpoints: user tokens, app role assignments, key rotation, settings.
import type { IncomingMessage, ServerResponse } from 'node:http';

import { isRecord } from '../../../shared/narrow.js';
import { parseJsonBody, safeDecode, sendJson } from '../kit/http.js';
import { parseConsentChange } from './consent.js';
import { type EntraDirectory, resourcePermissionOf, scopeOf } from './directory.js';
import {
  API_CLIENT_ID,
  DOWNSTREAM_APIS,
  HOME_TENANT,
  SANDBOX_TENANTS,
  sandboxTenant,
  tenantUser,
  USER_NAME,
} from './fixtures.js';
import { DEFAULT_ENTRA_SETTINGS, type EntraSettings } from './grants.js';
import type { KeyChange, MintingDirectory, SigningKeys, UserTokenOptions } from './keys.js';

type Answer = { status: number; body: unknown; headers?: Record<string, string> };

const invalidRequest = (message: string): Answer => ({
  status: 400,
  body: { error: 'invalid_request', message },
});

/** The emulator's extra endpoints by path; each takes the JSON object body. */
function entraControlRoutes(
  keys: SigningKeys,
  settings: EntraSettings,
  minting: MintingDirectory,
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
        const options = { lifetimeSeconds: settings.userTokenLifetimeSeconds, ...parsed };
        return {
          status: 200,
          body: await keys.mintUserToken(name, options, minting),
          headers: { 'cache-control': 'no-store' },
        };
      },
    },
    {
      match: /^\/_emulator\/users\/([^/]+)\/revoke-sessions$/,
      answer({ tenant: tenantName }, match) {
        const name = safeDecode(match[1] ?? '');
        const tenant = typeof tenantName === 'string' ? sandboxTenant(tenantName) : HOME_TENANT;
        if (tenant === undefined || !USER_NAME.test(name)) {
          return invalidRequest('a user name and a sandbox tenant are required');
        }
        const user = tenantUser(name, tenant);
        const revokedAt = minting.directory.revocations.revoke(
          tenant.id,
          user.oid,
          Math.floor(Date.now() / 1000),
        );
        return { status: 200, body: { oid: user.oid, tid: tenant.id, revokedAt, validFrom: revokedAt + 1 } };
      },
    },
    {
      // An administrator's app role assignments for the user (Enterprise applications > Users and groups).
      match: /^\/_emulator\/users\/([^/]+)\/roles$/,
      answer({ roles, tenant: tenantName, ...others }, match) {
        const name = safeDecode(match[1] ?? '');
        const tenant =
          tenantName === undefined
            ? HOME_TENANT
            : typeof tenantName === 'string'
              ? sandboxTenant(tenantName)
              : undefined;
        const unknownField = Object.keys(others)[0];
        if (unknownField !== undefined) return invalidRequest(`unknown field "${unknownField}"`);
        if (tenant === undefined || !USER_NAME.test(name)) {
          return invalidRequest('a user name and a sandbox tenant are required');
        }
        if (!Array.isArray(roles) || !roles.every((role): role is string => typeof role === 'string')) {
          return invalidRequest('"roles" must be an array of app role values');
        }
        const user = tenantUser(name, tenant);
        const refused = minting.directory.appRoles.assign(tenant.id, user.oid, roles);
        if (refused !== undefined) return invalidRequest(refused);
        return {
          status: 200,
          body: {
            oid: user.oid,
            tid: tenant.id,
            roles: minting.directory.appRoles.rolesOf(tenant.id, user.oid),
          },
        };
      },
    },
    {
      match: /^\/_emulator\/consent$/,
      answer(input) {
        const change = parseConsentChange(input);
        if (typeof change === 'string') return invalidRequest(change);
        const tenant = sandboxTenant(change.tenant ?? HOME_TENANT.id);
        const permissions = change.scopes.map(resourcePermissionOf);
        if (
          tenant === undefined ||
          (change.user !== undefined && !USER_NAME.test(change.user)) ||
          permissions.some((p) => p === undefined)
        ) {
          return invalidRequest(
            'the user, the tenant or a scope is unknown (scopes: <resource URI or app id>/<permission>)',
          );
        }
        const granted = permissions.filter((p) => p !== undefined);
        const client = change.client ?? API_CLIENT_ID;
        if (change.user === undefined) {
          // An administrator's consent on behalf of the organization: every user of the tenant.
          minting.directory.consents.setForTenant({ tenant: tenant.id, client }, granted, change.granted);
          return { status: 200, body: { tenant: tenant.id, client, admin: true } };
        }
        const subject = { tenant: tenant.id, oid: tenantUser(change.user, tenant).oid, client };
        minting.directory.consents.set(subject, granted, change.granted);
        return { status: 200, body: consentAnswer(minting.directory, subject) };
      },
    },
    {
      match: /^\/_emulator\/rotate-keys$/,
      async answer(input) {
        const change = parseKeyChange(input);
        if (typeof change === 'string') return invalidRequest(change);
        try {
          const kid = await keys.change(change);
          return { status: 200, body: { kid, kids: keys.kids, signingKid: keys.signingKid } };
        } catch (error) {
          return invalidRequest(error instanceof Error ? error.message : String(error));
        }
      },
    },
    {
      match: /^\/_emulator\/settings$/,
      answer(input) {
        const known = Object.keys(DEFAULT_ENTRA_SETTINGS) as (keyof EntraSettings)[];
        const unknownField = Object.keys(input).find((name) => !known.includes(name as keyof EntraSettings));
        if (unknownField !== undefined) return invalidRequest(`unknown setting "${unknownField}"`);
        for (const name of known) {
          const value = input[name];
          if (value === undefined) continue;
          if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 86_400 * 2) {
            return invalidRequest(`"${name}" must be an integer from 1 to 172800`);
          }
        }
        for (const name of known) {
          const value = input[name];
          if (typeof value === 'number') settings[name] = value;
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
  state: { keys: SigningKeys; settings: EntraSettings; minting: MintingDirectory },
): Promise<void> {
  const routes = entraControlRoutes(state.keys, state.settings, state.minting);
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

function consentAnswer(
  directory: EntraDirectory,
  subject: { tenant: string; oid: string; client: string },
): Record<string, unknown> {
  return {
    ...subject,
    // Every downstream API's permissions granted to the client for the user, as full scope strings.
    scopes: DOWNSTREAM_APIS.flatMap((api) =>
      directory.consents
        .granted(subject, api.appId)
        .map((permission) => scopeOf({ resourceAppId: api.appId, permission })),
    ),
  };
}

/**
 * Answers the emulator's GET queries: `/_emulator/consent?user=&tenant=&client=` and
 * `/_emulator/counters/tenants`. False when `url` is not one.
 */
export function handleEntraQuery(res: ServerResponse, url: URL, directory: EntraDirectory): boolean {
  if (url.pathname === '/_emulator/counters/tenants') {
    sendJson(res, 200, Object.fromEntries(directory.tenantCounters));
    return true;
  }
  if (url.pathname !== '/_emulator/consent') return false;
  const name = url.searchParams.get('user') ?? '';
  const tenant = sandboxTenant(url.searchParams.get('tenant') ?? HOME_TENANT.id);
  if (tenant === undefined || !USER_NAME.test(name)) {
    sendJson(res, 400, {
      error: 'invalid_request',
      message: 'a user name and a sandbox tenant are required',
    });
    return true;
  }
  const subject = {
    tenant: tenant.id,
    oid: tenantUser(name, tenant).oid,
    client: url.searchParams.get('client') ?? API_CLIENT_ID,
  };
  sendJson(res, 200, consentAnswer(directory, subject));
  return true;
}

/** Validates the body of `POST /_emulator/users/{name}/token`; a message when it is wrong. */
export function parseUserTokenOptions(
  name: string,
  input: Record<string, unknown>,
): UserTokenOptions | string {
  if (!USER_NAME.test(name)) return `the user name must match ${String(USER_NAME)}`;
  const { set, unset, lifetimeSeconds, client, tenant, homeTenant, ...others } = input;
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
  if (tenant !== undefined && (typeof tenant !== 'string' || sandboxTenant(tenant) === undefined))
    return `"tenant" must be a sandbox tenant: ${SANDBOX_TENANTS.map((t) => t.id).join(', ')}`;
  if (homeTenant !== undefined && (typeof homeTenant !== 'string' || sandboxTenant(homeTenant) === undefined))
    return '"homeTenant" must be a sandbox tenant';
  return {
    ...(set === undefined ? {} : { set }),
    ...(unset === undefined ? {} : { unset }),
    ...(lifetimeSeconds === undefined ? {} : { lifetimeSeconds }),
    ...(client === undefined ? {} : { client }),
    ...(typeof tenant === 'string' ? { tenant } : {}),
    ...(typeof homeTenant === 'string' ? { homeTenant } : {}),
  };
}

/** `POST /_emulator/rotate-keys`: one change of the signing keys per request. */
function parseKeyChange(input: Record<string, unknown>): KeyChange | string {
  const { retireOld, publishOnly, activate, retire, ...others } = input;
  const unknownField = Object.keys(others)[0];
  if (unknownField !== undefined) return `unknown field "${unknownField}"`;
  if (retireOld !== undefined && typeof retireOld !== 'boolean') return '"retireOld" must be a boolean';
  if (publishOnly !== undefined && typeof publishOnly !== 'boolean') return '"publishOnly" must be a boolean';
  for (const [name, kid] of [
    ['activate', activate],
    ['retire', retire],
  ] as const) {
    if (kid !== undefined && (typeof kid !== 'string' || kid === '')) return `"${name}" must be a key id`;
  }
  const actions = [retireOld === true || publishOnly === true, activate, retire].filter(
    (a) => a !== undefined && a !== false,
  );
  if (actions.length > 1)
    return 'one change at a time: a new key ("retireOld", "publishOnly"), "activate" or "retire"';
  if (retireOld === true && publishOnly === true) return '"retireOld" and "publishOnly" exclude each other';
  if (typeof activate === 'string') return { activate };
  if (typeof retire === 'string') return { retire };
  return { rotate: { retireOld: retireOld === true, publishOnly: publishOnly === true } };
}
