import { describe, expect, test } from '@jest/globals';

import { parseClaimsRequest } from '../../dev/emulators/entra/claimsRequest.js';
import { ConsentStore, parseConsentChange } from '../../dev/emulators/entra/consent.js';
import { directoryUser } from '../../dev/emulators/entra/tenants.js';
import { caeChallengeFor } from '../../dev/emulators/graph/cae.js';
import { eventsBetween } from '../../dev/emulators/graph/calendar.js';
import { permits, ruleFor } from '../../dev/emulators/graph/permissions.js';
import { SessionRevocations } from '../../dev/emulators/kit/sessionRevocations.js';
import { claimsFromChallenge } from '../../shared/graph/claimsChallenge.js';

const GRAPH = '00000003-0000-0000-c000-000000000000';
const API = 'api-client';
const TENANT = 'tenant-a';
const alice = { tenant: TENANT, oid: 'alice-oid', client: API };
const userRead = { resourceAppId: GRAPH, permission: 'User.Read' };
const calendarsRead = { resourceAppId: GRAPH, permission: 'Calendars.Read' };

describe('ConsentStore', () => {
  const store = (): ConsentStore => new ConsentStore(() => ({ [API]: [userRead] }));

  test("starts from the tenant's admin consents, per client", () => {
    const consents = store();
    expect(consents.isGranted(alice, { ...userRead, permission: 'user.read' })).toBe(true);
    expect(consents.isGranted(alice, calendarsRead)).toBe(false);
    expect(consents.isGranted({ ...alice, client: 'another-app' }, userRead)).toBe(false);
  });

  test('grants and revokes per (tenant, user, client, scope)', () => {
    const consents = store();
    consents.set(alice, [calendarsRead], true);
    expect(consents.missing(alice, [userRead, calendarsRead])).toEqual([]);
    expect(consents.isGranted({ ...alice, oid: 'bob-oid' }, calendarsRead)).toBe(false);
    expect(consents.isGranted({ ...alice, tenant: 'tenant-b' }, calendarsRead)).toBe(false);
    expect(consents.granted(alice, GRAPH)).toEqual(['User.Read', 'Calendars.Read']);
    consents.set(alice, [calendarsRead, userRead], false);
    expect(consents.missing(alice, [userRead, calendarsRead])).toEqual([userRead, calendarsRead]);
    consents.clear();
    expect(consents.missing(alice, [userRead, calendarsRead])).toEqual([calendarsRead]);
  });

  test('validates a consent change', () => {
    expect(parseConsentChange({ user: 'alice', scopes: ['x/y'], granted: true })).toMatchObject({
      user: 'alice',
      granted: true,
    });
    for (const bad of [
      null,
      {},
      { user: 'alice', scopes: [], granted: true },
      { user: 'alice', scopes: ['x'] },
    ]) {
      expect(typeof parseConsentChange(bad)).toBe('string');
    }
  });
});

describe('parseClaimsRequest', () => {
  test("reads msal-node's client capabilities and a resource's nbf challenge", () => {
    const claims = JSON.stringify({
      access_token: { xms_cc: { values: ['cp1'] }, nbf: { essential: true, value: '1700000001' } },
      id_token: { login_hint: { essential: false } },
    });
    expect(parseClaimsRequest(claims)).toEqual({ capabilities: ['cp1'], notBefore: 1_700_000_001 });
  });

  test('gives nothing without claims, and a reason for claims that are not JSON', () => {
    expect(parseClaimsRequest(null)).toBeUndefined();
    expect(typeof parseClaimsRequest('{')).toBe('string');
    expect(typeof parseClaimsRequest('[]')).toBe('string');
    expect(parseClaimsRequest('{"id_token":{}}')).toEqual({ capabilities: [], notBefore: undefined });
  });
});

describe('caeChallengeFor', () => {
  const revoked = (): SessionRevocations => {
    const revocations = new SessionRevocations();
    revocations.revoke(TENANT, 'alice-oid', 1000);
    return revocations;
  };
  const token = (iat: number, xms_cc?: string[]) => ({
    tid: TENANT,
    oid: 'alice-oid',
    iat,
    ...(xms_cc ? { xms_cc } : {}),
  });

  test('challenges a CAE token issued before the revocation, asking for one issued after it', () => {
    const challenge = caeChallengeFor(token(1000, ['cp1']), revoked());
    expect(challenge?.code).toBe('InvalidAuthenticationToken');
    const claims = claimsFromChallenge(challenge?.wwwAuthenticate ?? null);
    expect(claims).toBe('{"access_token":{"nbf":{"essential":true,"value":"1001"}}}');
  });

  test('lets a token issued after the revocation through', () => {
    expect(caeChallengeFor(token(1001, ['cp1']), revoked())).toBeUndefined();
  });

  test('lets a token of a client without cp1 live out its lifetime', () => {
    expect(caeChallengeFor(token(900), revoked())).toBeUndefined();
  });

  test('leaves users without a revocation alone', () => {
    expect(caeChallengeFor(token(900, ['cp1']), new SessionRevocations())).toBeUndefined();
  });
});

describe('Graph path rules', () => {
  test('the profile needs User.Read, the calendar a Calendars permission', () => {
    const me = ruleFor('/v1.0/me/');
    const calendar = ruleFor('/v1.0/me/calendarView');
    expect(me?.kind).toBe('me');
    expect(calendar?.kind).toBe('calendar');
    expect(me && permits(me, 'User.Read')).toBe(true);
    expect(calendar && permits(calendar, 'User.Read')).toBe(false);
    expect(calendar && permits(calendar, 'User.Read Calendars.Read')).toBe(true);
    expect(calendar?.denied.code).toBe('ErrorAccessDenied');
    expect(me?.denied.code).toBe('Authorization_RequestDenied');
    expect(ruleFor('/v1.0/users')).toBeUndefined();
  });
});

describe('eventsBetween', () => {
  test("gives the user's events overlapping the window, soonest first", () => {
    const start = new Date('2026-11-29T10:00:00Z');
    const end = new Date('2026-12-01T10:00:00Z');
    const events = eventsBetween('o', { name: 'A', address: 'a@x' }, start, end);
    expect(events.map((e) => e.start.dateTime)).toEqual([
      '2026-11-29T14:00:00.0000000',
      '2026-11-30T09:00:00.0000000',
      '2026-11-30T14:00:00.0000000',
      '2026-12-01T09:00:00.0000000',
    ]);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  });
});

describe('directoryUser', () => {
  const home = { id: 'a', domain: 'a.example' };
  const partner = { id: 'b', domain: 'b.example' };

  test('keys a user by name and tenant', () => {
    expect(directoryUser('alice', home, home).oid).toBe(directoryUser('Alice', home, home).oid);
    expect(directoryUser('alice', partner, home).oid).not.toBe(directoryUser('alice', home, home).oid);
  });

  test("gives a guest an object id of their own, and their home tenant's identity", () => {
    const guest = directoryUser('gina', home, home, partner);
    const inHome = directoryUser('gina', partner, home);
    expect(guest.tenant.id).toBe('a');
    expect(guest.home).toEqual({ oid: inHome.oid, tenant: partner });
    expect(guest.oid).not.toBe(inHome.oid);
    expect(guest.userPrincipalName).toBe('gina_b.example#EXT#@a.example');
  });
});
