// Client of a running sandbox for the processes `npm test` and `npm run bench` start against it
// (sandbox/withSandbox.ts): its state comes in SANDBOX_STATE, and global fetch trusts its CA through
// NODE_EXTRA_CA_CERTS. Reads the state, mints users' tokens, reads counters, queues faults, resets the emulators.
// Only sandbox/state.ts from dev/: a test or benchmark should not load the emulators' modules.
import { accountIdOf, type CallerAccount } from '../../shared/auth/caller.js';
import { isRecord } from '../../shared/narrow.js';
import { parseSandboxState, type SandboxState } from './state.js';

export type { SandboxState } from './state.js';

export type Emulator = 'entra' | 'graph' | 'tasks' | 'cosmos';

export interface Fault {
  /** A request kind of that emulator (see dev/README.md); default any. */
  kind?: string;
  status?: number;
  delayMs?: number;
  /** How many matching requests it applies to; default 1. */
  count?: number;
  body?: unknown;
  headers?: Record<string, string>;
  preset?: string;
  /** Cosmos DB: only requests for this partition key (one caller's document, its id). */
  partitionKey?: string;
  /** Answer a redirect (302 unless `status` names another) to this absolute URL. */
  redirectTo?: string;
  /** Applies for this long from when it is queued (to every matching request unless `count` is given). */
  durationMs?: number;
  /** Only requests whose URL path contains this. */
  pathIncludes?: string;
}

export interface UserTokenOptions {
  set?: Readonly<Record<string, unknown>>;
  unset?: readonly string[];
  lifetimeSeconds?: number;
  /** The client id the token was issued to (azp); default the sandbox SPA. */
  client?: string;
  /** The issuing tenant (`sandbox().tenants`); default the API's own. */
  tenant?: string;
  /** A guest: the user's home tenant, other than the issuing tenant. */
  homeTenant?: string;
}

export interface UserToken {
  accessToken: string;
  oid: string;
  tid: string;
}

let cached: SandboxState | undefined;

/** The running sandbox's state; throws when this process was not started by `npm test` or `npm run bench`. */
export function sandbox(): SandboxState {
  if (cached !== undefined) return cached;
  const text = process.env.SANDBOX_STATE;
  if (text === undefined || text === '') {
    throw new Error(
      'SANDBOX_STATE is not set: run the tests with `npm test` (it starts the sandbox), e.g. npm test -- test/sandbox; the benchmarks with `npm run bench`',
    );
  }
  cached = parseSandboxState(text, 'SANDBOX_STATE');
  return cached;
}

export function emulatorUrl(emulator: Emulator): string {
  const state = sandbox();
  const urls: Record<Emulator, string> = {
    entra: state.entraUrl,
    graph: state.graphUrl,
    tasks: state.tasksApi.url,
    cosmos: state.cosmos.endpoint.replace(/\/$/, ''),
  };
  return urls[emulator];
}

/** A user access token for the API, as a single-page app obtains it. */
export async function userToken(name: string, options: UserTokenOptions = {}): Promise<UserToken> {
  const body = await control('entra', `/_emulator/users/${encodeURIComponent(name)}/token`, options);
  if (
    !isRecord(body) ||
    typeof body.access_token !== 'string' ||
    typeof body.oid !== 'string' ||
    typeof body.tid !== 'string'
  ) {
    throw new Error('the Entra emulator answered an unexpected token response');
  }
  return { accessToken: body.access_token, oid: body.oid, tid: body.tid };
}

/** Requests served by the emulator, by kind (every kind listed, from 0). */
export async function counters(emulator: Emulator): Promise<Record<string, number>> {
  const response = await fetch(`${emulatorUrl(emulator)}/_emulator/counters`);
  if (!response.ok) throw new Error(`counters of ${emulator}: HTTP ${response.status}`);
  return (await response.json()) as Record<string, number>;
}

/** Requests served by the emulator, by method and raw path (`GET /tasks/tk_...`), since the last reset. */
export async function pathCounters(emulator: Emulator): Promise<Record<string, number>> {
  const response = await fetch(`${emulatorUrl(emulator)}/_emulator/counters/paths`);
  if (!response.ok) throw new Error(`path counters of ${emulator}: HTTP ${response.status}`);
  return (await response.json()) as Record<string, number>;
}

/** Zeroes the counters and clears the queued faults (and the Graph and Tasks data) of all four emulators. */
export async function resetEmulators(): Promise<void> {
  await Promise.all(
    (['entra', 'graph', 'tasks', 'cosmos'] as const).map((emulator) =>
      control(emulator, '/_emulator/reset', {}),
    ),
  );
}

export async function injectFault(emulator: Emulator, fault: Fault): Promise<void> {
  await control(emulator, '/_emulator/faults', fault);
}

/**
 * A new Entra signing key, used at once (the old ones are removed from the JWKS when `retireOld`), or only
 * published (`publishOnly`: the current key keeps signing). Gives the new kid.
 */
export async function rotateKeys(
  options: { retireOld?: boolean; publishOnly?: boolean } = {},
): Promise<string> {
  const body = await control('entra', '/_emulator/rotate-keys', options);
  if (!isRecord(body) || typeof body.kid !== 'string') throw new Error('the Entra emulator answered no kid');
  return body.kid;
}

/** Entra signs with a key it published earlier (`rotateKeys({ publishOnly: true })`). */
export async function activateKey(kid: string): Promise<void> {
  await control('entra', '/_emulator/rotate-keys', { activate: kid });
}

/** Entra withdraws a key from its JWKS (never the one that signs). */
export async function retireKey(kid: string): Promise<void> {
  await control('entra', '/_emulator/rotate-keys', { retire: kid });
}

/** Token lifetimes in seconds: OBO tokens, CAE-capable OBO tokens (cp1), users' tokens for the API. */
export interface EntraSettings {
  oboTokenLifetimeSeconds?: number;
  caeTokenLifetimeSeconds?: number;
  userTokenLifetimeSeconds?: number;
}

/** Changes the Entra emulator's settings; gives them all as they are now. */
export async function setEntraSettings(settings: EntraSettings): Promise<Required<EntraSettings>> {
  return (await control('entra', '/_emulator/settings', settings)) as Required<EntraSettings>;
}

/**
 * Revokes the user's sessions: at Entra (tokens issued before are refused for OBO, AADSTS50173), and the
 * critical event at the resources, Graph and the Tasks API (CAE tokens issued before get a claims challenge).
 * `where` picks Entra or the resources alone. Gives Entra's `validFrom` (epoch s): tokens issued before it are refused.
 */
export async function revokeSessions(
  user: { name: string; oid: string; tid: string },
  where: 'entra' | 'graph' | 'both' = 'both',
): Promise<{ validFrom: number | undefined }> {
  let validFrom: number | undefined;
  if (where !== 'graph') {
    const body = await control('entra', `/_emulator/users/${encodeURIComponent(user.name)}/revoke-sessions`, {
      tenant: user.tid,
    });
    if (isRecord(body) && typeof body.validFrom === 'number') validFrom = body.validFrom;
  }
  if (where !== 'entra') {
    for (const resource of ['graph', 'tasks'] as const)
      await control(resource, '/_emulator/revoke-sessions', { oid: user.oid, tid: user.tid });
  }
  return { validFrom };
}

/** Grants (or revokes) the user's consent for the API to call Graph or the Tasks API with `scopes` (full scopes). */
export async function setConsent(
  user: string,
  scopes: readonly string[],
  granted: boolean,
  tenant?: string,
): Promise<void> {
  await control('entra', '/_emulator/consent', {
    user,
    scopes,
    granted,
    ...(tenant === undefined ? {} : { tenant }),
  });
}

/** Assigns the API's app roles to the user (replacing theirs): their next access tokens carry them in `roles`. */
export async function assignAppRoles(user: string, roles: readonly string[], tenant?: string): Promise<void> {
  await control('entra', `/_emulator/users/${encodeURIComponent(user)}/roles`, {
    roles,
    ...(tenant === undefined ? {} : { tenant }),
  });
}

/** Entra requests by tenant (the tenant in the path) and kind, since the last reset. */
export async function tenantCounters(): Promise<Record<string, Record<string, number>>> {
  const response = await fetch(`${emulatorUrl('entra')}/_emulator/counters/tenants`);
  if (!response.ok) throw new Error(`tenant counters: HTTP ${response.status}`);
  return (await response.json()) as Record<string, Record<string, number>>;
}

async function control(emulator: Emulator, path: string, body: unknown): Promise<unknown> {
  const response = await fetch(`${emulatorUrl(emulator)}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${emulator} ${path}: HTTP ${response.status} ${text}`);
  return text === '' ? undefined : (JSON.parse(text) as unknown);
}

/** A caller as the authenticator would produce it from a fresh sandbox token for `name`. */
export async function callerAccount(name: string): Promise<CallerAccount> {
  const token = await userToken(name);
  return {
    oid: token.oid,
    tid: token.tid,
    accountId: accountIdOf(token.oid, token.tid),
    scopes: ['access_as_user'],
    assertion: token.accessToken,
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
  };
}
