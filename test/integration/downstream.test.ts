// Issue 10 against the sandbox: CAE revocation across instances, per-route scopes, consent, tenants.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';

import { accountIdOf } from '../../shared/auth/caller.js';
import { decodeClaims } from '../../shared/graph/claimsChallenge.js';
import { cacheEntryKeyOf } from '../../shared/obo/cacheEntryKey.js';
import {
  counters,
  resetEmulators,
  revokeSessions,
  sandbox,
  setConsent,
  tenantCounters,
  userToken,
} from '../sandbox.js';
import { entriesOf, readCacheDocument } from './cosmosDocuments.js';
import { startHosts, type TestHost } from './hosts.js';

// Consents name Graph by its public URI; the app asks for the sandbox Graph's own resource (GRAPH_RESOURCE_URI).
const CALENDARS_READ = 'https://graph.microsoft.com/Calendars.Read';
const appScope = (permission: string): string =>
  `${sandbox().settings.GRAPH_RESOURCE_URI ?? ''}/${permission}`;

let hosts: TestHost[] | undefined;

beforeAll(async () => {
  // One at a time: three processes compiling at once can outlast the start timeout on a loaded machine.
  hosts = [];
  for (let i = 0; i < 3; i++) hosts.push(...(await startHosts(1)));
}, 120_000);
afterAll(async () => {
  await Promise.all((hosts ?? []).map((host) => host.stop()));
  // Consents and revocations back to the defaults for the test files that follow.
  await resetEmulators();
});
beforeEach(async () => {
  await resetEmulators();
});

function host(index: number): TestHost {
  const found = hosts?.[index];
  if (found === undefined) throw new Error(`no host ${index}`);
  return found;
}

async function call(
  on: TestHost,
  token: string,
  path = '/api/me',
): Promise<{ status: number; code: unknown; body: Record<string, unknown>; challenge: string | null }> {
  const response = await fetch(`${on.url}${path}`, { headers: { Authorization: `Bearer ${token}` } });
  const body = (await response.json()) as Record<string, unknown>;
  return {
    status: response.status,
    code: body.code,
    body,
    challenge: response.headers.get('www-authenticate'),
  };
}

/** Graph requests for the profile since the last reset (each one presented a token). */
async function graphProfileRequests(): Promise<number> {
  return (await counters('graph')).me ?? 0;
}

async function oboRequests(): Promise<number> {
  return (await counters('entra'))['token.obo'] ?? 0;
}

function challengeClaims(challenge: string | null): unknown {
  const encoded = /claims="([^"]+)"/.exec(challenge ?? '')?.[1];
  return encoded === undefined ? undefined : JSON.parse(decodeClaims(encoded) ?? 'null');
}

describe('Continuous access evaluation', () => {
  test("after alice's sessions are revoked, each instance presents her cached token at most once, and L2 never serves it again", async () => {
    const alice = await userToken('alice');
    const account = accountIdOf(alice.oid, alice.tid);
    const entryKey = cacheEntryKeyOf(alice.accessToken, [appScope('User.Read')]);
    // Instances 0 and 1 hold her Graph token in memory (1 read it from Cosmos DB).
    expect((await call(host(0), alice.accessToken)).status).toBe(200);
    expect((await call(host(1), alice.accessToken)).status).toBe(200);
    expect(entriesOf(await readCacheDocument(account))[entryKey]).toBeDefined();
    expect(await oboRequests()).toBe(1);

    await revokeSessions({ name: 'alice', oid: alice.oid, tid: alice.tid }, 'both');
    const graphBefore = await graphProfileRequests();

    // Graph challenges the CAE token; the exchange with its claims fails (the assertion predates the revocation).
    const first = await call(host(0), alice.accessToken);
    expect(first.status).toBe(401);
    expect(first.code).toBe('ERR_CLAIMS_CHALLENGE');
    expect(first.challenge).toContain('error="insufficient_claims"');
    expect(challengeClaims(first.challenge)).toMatchObject({ access_token: { nbf: { essential: true } } });
    expect(first.body.claims).toEqual(expect.any(String));
    expect(await graphProfileRequests()).toBe(graphBefore + 1);
    expect(await oboRequests()).toBe(2);
    expect(entriesOf(await readCacheDocument(account))[entryKey]).toBeUndefined();

    // Instance 0 never presents it again; instance 2 (cold) never gets it from Cosmos DB.
    for (const on of [host(0), host(2)]) {
      const again = await call(on, alice.accessToken);
      expect(again.status).toBe(401);
      expect(again.status).not.toBe(502);
    }
    expect(await graphProfileRequests()).toBe(graphBefore + 1);

    // Instance 1 learns it from its own 401, once.
    const fromL1 = await call(host(1), alice.accessToken);
    expect(fromL1.status).toBe(401);
    expect(fromL1.code).toBe('ERR_CLAIMS_CHALLENGE');
    expect((await call(host(1), alice.accessToken)).status).toBe(401);
    expect(await graphProfileRequests()).toBe(graphBefore + 2);

    // Signing in again (a token issued after the revocation) works on every instance.
    const again = await userToken('alice');
    for (const index of [0, 1, 2]) expect((await call(host(index), again.accessToken)).status).toBe(200);
  });

  test('a challenge Entra can satisfy is answered by one exchange with the claims, and the new token is shared', async () => {
    const user = await userToken('cae-policy-user');
    expect((await call(host(0), user.accessToken)).status).toBe(200);
    expect((await call(host(1), user.accessToken)).status).toBe(200);
    // Graph alone learned of an event (for example a location policy): Entra still issues tokens.
    await revokeSessions({ name: 'cae-policy-user', oid: user.oid, tid: user.tid }, 'graph');
    const obo = await oboRequests();

    const retried = await call(host(0), user.accessToken);
    expect(retried.status).toBe(200);
    expect(retried.body.id).toBe(user.oid);
    expect(await oboRequests()).toBe(obo + 1);

    // Another cold instance gets the new token from Cosmos DB: no exchange, no challenge.
    const graphBefore = await graphProfileRequests();
    expect((await call(host(2), user.accessToken)).status).toBe(200);
    expect(await oboRequests()).toBe(obo + 1);
    expect(await graphProfileRequests()).toBe(graphBefore + 1);
  });
});

describe('one cache entry per (assertion, scope set)', () => {
  test('two routes with different scopes called alternately: one Entra request per scope set, both entries kept', async () => {
    await setConsent('calendar-user', [CALENDARS_READ], true);
    const user = await userToken('calendar-user');
    for (let i = 0; i < 6; i++) {
      const path = i % 2 === 0 ? '/api/me' : '/api/me/events';
      const answer = await call(host(i % 2), user.accessToken, path);
      expect(answer.status).toBe(200);
    }
    expect(await oboRequests()).toBe(2);
    const entries = entriesOf(await readCacheDocument(accountIdOf(user.oid, user.tid)));
    expect(Object.keys(entries).sort()).toEqual(
      [
        cacheEntryKeyOf(user.accessToken, [appScope('User.Read')]),
        cacheEntryKeyOf(user.accessToken, [appScope('Calendars.Read')]),
      ].sort(),
    );
  });

  test('the events route answers the calendar of the coming days', async () => {
    await setConsent('calendar-reader', [CALENDARS_READ], true);
    const user = await userToken('calendar-reader');
    const answer = await call(host(0), user.accessToken, '/api/me/events');
    expect(answer.status).toBe(200);
    const events = answer.body.value as { start: { dateTime: string } }[];
    expect(events.length).toBeGreaterThan(0);
    const starts = events.map((event) => Date.parse(`${event.start.dateTime}Z`));
    expect([...starts].sort((a, b) => a - b)).toEqual(starts);
  });
});

describe('consent', () => {
  test('403 ERR_CONSENT_REQUIRED with the scopes to consent to before consent, 200 after', async () => {
    const user = await userToken('consent-user');
    const before = await call(host(0), user.accessToken, '/api/me/events');
    expect(before.status).toBe(403);
    expect(before.body).toMatchObject({
      code: 'ERR_CONSENT_REQUIRED',
      upstreamCode: 'AADSTS65001',
      consent: { clientId: sandbox().api.clientId, scopes: [appScope('Calendars.Read')] },
    });
    // The profile, whose permission the administrator consented to, is not affected.
    expect((await call(host(0), user.accessToken, '/api/me')).status).toBe(200);

    await setConsent('consent-user', [CALENDARS_READ], true);
    expect((await call(host(0), user.accessToken, '/api/me/events')).status).toBe(200);

    // Revoked again: new exchanges are refused (the cached token lives on until it expires, as in Entra).
    await setConsent('consent-user', [CALENDARS_READ], false);
    const fresh = await userToken('consent-user');
    expect((await call(host(1), fresh.accessToken, '/api/me/events')).code).toBe('ERR_CONSENT_REQUIRED');
  });
});

describe('more than one tenant', () => {
  test("a user of a second allowed tenant: 200 with one exchange at that tenant's authority, its metadata fetched once", async () => {
    const { partner, home } = sandbox().tenants;
    const first = await userToken('pat', { tenant: partner });
    const second = await userToken('pat', { tenant: partner });
    expect(first.tid).toBe(partner);
    const answer = await call(host(0), first.accessToken);
    expect(answer.status).toBe(200);
    expect(answer.body.id).toBe(first.oid);
    expect((await call(host(0), second.accessToken)).status).toBe(200);

    const byTenant = await tenantCounters();
    expect(byTenant[partner]?.['token.obo']).toBe(2);
    expect(byTenant[partner]?.['openid-configuration']).toBe(1);
    expect(byTenant[home]?.['token.obo'] ?? 0).toBe(0);
    expect(await readCacheDocument(accountIdOf(first.oid, partner))).toBeDefined();
  });

  test('a user of a tenant that is not allowed gets 401 without any call to Entra', async () => {
    // Warm: the instance has the signing keys.
    expect((await call(host(0), (await userToken('warm')).accessToken)).status).toBe(200);
    await resetEmulators();
    const stranger = await userToken('sam', { tenant: sandbox().tenants.other });
    const answer = await call(host(0), stranger.accessToken);
    expect(answer.status).toBe(401);
    expect(answer.code).toBe('ERR_TOKEN_INVALID');
    const entra = await counters('entra');
    expect(Object.values(entra).reduce((sum, n) => sum + n, 0)).toBe(0);
  });

  test("a guest is keyed by the token's oid and tid, not by their home account", async () => {
    const { partner, home } = sandbox().tenants;
    const guest = await userToken('gina', { tenant: home, homeTenant: partner });
    const member = await userToken('gina', { tenant: partner });
    expect(guest.oid).not.toBe(member.oid);
    const answer = await call(host(0), guest.accessToken);
    expect(answer.status).toBe(200);
    expect(answer.body.id).toBe(guest.oid);
    expect(await readCacheDocument(accountIdOf(guest.oid, home))).toBeDefined();
    expect(await readCacheDocument(accountIdOf(member.oid, partner))).toBeUndefined();
    // A second instance finds the guest's token in the guest's document.
    expect((await call(host(1), guest.accessToken)).status).toBe(200);
    expect(await oboRequests()).toBe(1);
  });
});
