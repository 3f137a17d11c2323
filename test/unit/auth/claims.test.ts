import { describe, expect, test } from '@jest/globals';

import { callerFromClaims, type Claims, tokenPolicyFrom } from '../../../shared/auth/claims.js';
import type { RouteAccess } from '../../../shared/auth/routeAccess.js';
import {
  answerFor,
  API_CLIENT_ID,
  APP_ID_URI,
  AUTHORITY_HOST,
  NOW_SECONDS,
  PARTNER_TENANT_ID,
  REALM,
  SPA_CLIENT_ID,
  STRANGER_TENANT_ID,
  TENANT_ID,
  testConfig,
  USER_OID,
  userClaims,
  v1UserClaims,
  v2Issuer,
} from './entraFixture.js';

const ASSERTION = 'header.payload.signature';
const singleTenant = tokenPolicyFrom(testConfig());
const multiTenant = tokenPolicyFrom(
  testConfig({ ENTRA_ALLOWED_TENANTS: `${TENANT_ID},${PARTNER_TENANT_ID}` }),
);
const acceptingV1 = tokenPolicyFrom(testConfig({ ENTRA_ACCEPT_V1_TOKENS: 'true' }));

function refusal(claims: Claims, policy = singleTenant, access?: RouteAccess) {
  try {
    callerFromClaims(claims, ASSERTION, policy, NOW_SECONDS, access);
  } catch (error) {
    return answerFor(error);
  }
  throw new Error('expected the claims to be refused');
}

describe('tokenPolicyFrom', () => {
  test('pins the v2 issuer of the configured tenant for a single-tenant app', () => {
    expect(singleTenant.issuers).toEqual([`${AUTHORITY_HOST}/${TENANT_ID}/v2.0`]);
    expect(singleTenant.audiences).toEqual([API_CLIENT_ID, APP_ID_URI]);
    expect(singleTenant.requiredScope).toBe('access_as_user');
  });

  test('pins one v2 issuer per allowed tenant, and the v1 issuer only when v1 tokens are accepted', () => {
    expect(multiTenant.issuers).toEqual([v2Issuer(TENANT_ID), v2Issuer(PARTNER_TENANT_ID)]);
    expect(acceptingV1.issuers).toEqual([v2Issuer(TENANT_ID), `https://sts.windows.net/${TENANT_ID}/`]);
  });

  test('builds issuers from an authority host given with a trailing slash or a port', () => {
    const policy = tokenPolicyFrom(testConfig({ ENTRA_AUTHORITY_HOST: 'https://127.0.0.1:8443/' }));
    expect(policy.issuers).toEqual([`https://127.0.0.1:8443/${TENANT_ID}/v2.0`]);
  });
});

describe('callerFromClaims', () => {
  test('returns the caller named by good claims', () => {
    expect(callerFromClaims(userClaims(), ASSERTION, singleTenant, NOW_SECONDS)).toEqual({
      oid: USER_OID,
      tid: TENANT_ID,
      accountId: `${USER_OID}.${TENANT_ID}`,
      scopes: ['access_as_user'],
      assertion: ASSERTION,
      expiresAt: NOW_SECONDS + 3600,
    });
  });

  test('lowercases oid and tid so that one account has one cache document', () => {
    const caller = callerFromClaims(
      userClaims({ oid: USER_OID.toUpperCase(), tid: TENANT_ID.toUpperCase() }),
      ASSERTION,
      singleTenant,
      NOW_SECONDS,
    );
    expect(caller.accountId).toBe(`${USER_OID}.${TENANT_ID}`);
  });

  test('returns every scope of scp, ignoring repeated spaces', () => {
    const caller = callerFromClaims(
      userClaims({ scp: 'User.Read  access_as_user ' }),
      ASSERTION,
      singleTenant,
      NOW_SECONDS,
    );
    expect(caller.scopes).toEqual(['User.Read', 'access_as_user']);
  });

  test('accepts the App ID URI as audience', () => {
    expect(callerFromClaims(userClaims({ aud: APP_ID_URI }), ASSERTION, singleTenant, NOW_SECONDS).oid).toBe(
      USER_OID,
    );
  });

  test('accepts a partner tenant of the allow-list with its own issuer', () => {
    const claims = userClaims({ tid: PARTNER_TENANT_ID, iss: v2Issuer(PARTNER_TENANT_ID) });
    expect(callerFromClaims(claims, ASSERTION, multiTenant, NOW_SECONDS).tid).toBe(PARTNER_TENANT_ID);
  });

  test('accepts a v1 token when v1 tokens are accepted', () => {
    const claims = v1UserClaims();
    expect(callerFromClaims(claims, ASSERTION, acceptingV1, NOW_SECONDS).tid).toBe(TENANT_ID);
  });

  test('accepts lifetimes within the clock tolerance', () => {
    const claims = userClaims({ exp: NOW_SECONDS - 59, nbf: NOW_SECONDS + 60, iat: NOW_SECONDS + 60 });
    expect(callerFromClaims(claims, ASSERTION, singleTenant, NOW_SECONDS).expiresAt).toBe(NOW_SECONDS - 59);
  });

  test.each<[string, Record<string, unknown>, typeof singleTenant?]>([
    ['tid is missing', { tid: undefined }],
    ['tid is not a GUID', { tid: 'contoso.onmicrosoft.com' }],
    ['oid is missing', { oid: undefined }],
    ['oid is not a GUID', { oid: '../other-user' }],
    ['oid is a number', { oid: 42 }],
    ['the tenant is not allowed', { tid: STRANGER_TENANT_ID, iss: v2Issuer(STRANGER_TENANT_ID) }],
    ['the issuer is of another allowed tenant', { iss: v2Issuer(PARTNER_TENANT_ID) }, multiTenant],
    ['the issuer is another host', { iss: `https://login.evil.example/${TENANT_ID}/v2.0` }],
    ['the issuer is missing', { iss: undefined }],
    ['a v2 issuer comes with ver 1.0', { ver: '1.0' }],
    ['ver is missing', { ver: undefined }],
    [
      'a v1 token arrives when only v2 is accepted',
      { iss: `https://sts.windows.net/${TENANT_ID}/`, ver: '1.0' },
    ],
    [
      'a v1 issuer comes with ver 2.0',
      { iss: `https://sts.windows.net/${TENANT_ID}/`, ver: '2.0' },
      acceptingV1,
    ],
    ['the audience is another API', { aud: 'api://another-api' }],
    ['the audience is an array', { aud: [API_CLIENT_ID, 'api://another-api'] }],
    ['the token expired beyond the tolerance', { exp: NOW_SECONDS - 60 }],
    ['exp is a string', { exp: String(NOW_SECONDS + 3600) }],
    ['exp is missing', { exp: undefined }],
    ['the token is not valid yet', { nbf: NOW_SECONDS + 61 }],
    ['the token was issued in the future', { iat: NOW_SECONDS + 61 }],
    ['iat is missing', { iat: undefined }],
    ['scp is not a string', { scp: ['access_as_user'] }],
    ['there is neither scp nor roles', { scp: undefined }],
  ])('answers 401 invalid_token when %s', (_name, overrides, policy = singleTenant) => {
    const answer = refusal(userClaims(overrides), policy);
    expect(answer.status).toBe(401);
    expect(answer.challenge).toMatch(
      new RegExp(`^Bearer realm="${REALM}", error="invalid_token", error_description="`),
    );
    expect(answer.code).toBe('ERR_TOKEN_INVALID');
    expect(answer.text).not.toContain(USER_OID);
  });

  test.each(['access_as_user_admin', 'xaccess_as_user', 'access_as_user2 User.Read', 'ACCESS_AS_USER', ''])(
    'answers 403 insufficient_scope when scp is "%s"',
    (scp) => {
      const answer = refusal(userClaims({ scp }));
      expect(answer.status).toBe(403);
      expect(answer.challenge).toMatch(/error="insufficient_scope"/);
      expect(answer.challenge).toMatch(/, scope="access_as_user"$/);
      expect(answer.code).toBe('ERR_SCOPE_INSUFFICIENT');
    },
  );

  test.each([
    ['roles', { scp: undefined, roles: ['Mail.Read'] }],
    ['idtyp app', { scp: undefined, idtyp: 'app' }],
    ['neither roles nor idtyp, sub = oid', { scp: undefined, sub: userClaims().oid }],
  ])('answers 403 with ERR_APP_ONLY_TOKEN for an app-only token (%s)', (_name, overrides) => {
    const answer = refusal(userClaims(overrides));
    expect(answer.status).toBe(403);
    expect(answer.challenge).toMatch(/error="insufficient_scope"/);
    expect(answer.code).toBe('ERR_APP_ONLY_TOKEN');
  });
});

describe('callerFromClaims: which client apps may call', () => {
  const OTHER_APP = 'c0ffee00-1234-4abc-8def-0123456789ab';
  const anyApp = tokenPolicyFrom(testConfig({ API_ALLOWED_CLIENT_APPS: '*' }));
  const twoApps = tokenPolicyFrom(testConfig({ API_ALLOWED_CLIENT_APPS: `${OTHER_APP}, ${SPA_CLIENT_ID}` }));

  test('accepts a v2 token whose azp is an allowed app, in any letter case', () => {
    const claims = userClaims({ azp: SPA_CLIENT_ID.toUpperCase() });
    expect(callerFromClaims(claims, ASSERTION, twoApps, NOW_SECONDS).oid).toBe(USER_OID);
  });

  test('answers 403 with ERR_CLIENT_APP_NOT_ALLOWED for a v2 token from another app (azp)', () => {
    const answer = refusal(userClaims({ azp: OTHER_APP }));
    expect(answer.status).toBe(403);
    expect(answer.code).toBe('ERR_CLIENT_APP_NOT_ALLOWED');
    expect(answer.challenge).toBeUndefined();
    expect(answer.text).not.toContain(OTHER_APP);
  });

  test('checks appid, not azp, in a v1 token', () => {
    const policy = tokenPolicyFrom(testConfig({ ENTRA_ACCEPT_V1_TOKENS: 'true' }));
    expect(callerFromClaims(v1UserClaims(), ASSERTION, policy, NOW_SECONDS).oid).toBe(USER_OID);
    expect(refusal(v1UserClaims({ appid: OTHER_APP, azp: SPA_CLIENT_ID }), policy).code).toBe(
      'ERR_CLIENT_APP_NOT_ALLOWED',
    );
  });

  test.each([
    ['azp is missing', { azp: undefined }],
    ['azp is not a client id', { azp: 'spa' }],
  ])('answers 401 invalid_token when %s', (_name, overrides) => {
    const answer = refusal(userClaims(overrides), anyApp);
    expect(answer.status).toBe(401);
    expect(answer.code).toBe('ERR_TOKEN_INVALID');
  });

  test('accepts any app when the setting is *', () => {
    expect(callerFromClaims(userClaims({ azp: OTHER_APP }), ASSERTION, anyApp, NOW_SECONDS).oid).toBe(
      USER_OID,
    );
  });
});

describe('callerFromClaims: what a route requires beyond the API scope', () => {
  test('passes when the token holds every scope and one of the roles the route requires', () => {
    const claims = userClaims({ scp: 'access_as_user Tasks.Admin Reports.Read', roles: ['Auditor'] });
    const access: RouteAccess = { scopes: ['Tasks.Admin', 'Reports.Read'], anyRole: ['Admin', 'Auditor'] };
    expect(callerFromClaims(claims, ASSERTION, singleTenant, NOW_SECONDS, access).oid).toBe(USER_OID);
  });

  test('answers 403 insufficient_scope naming the missing scopes', () => {
    const answer = refusal(userClaims({ scp: 'access_as_user Tasks.Admin' }), singleTenant, {
      scopes: ['Tasks.Admin', 'Reports.Read'],
    });
    expect(answer.status).toBe(403);
    expect(answer.code).toBe('ERR_SCOPE_INSUFFICIENT');
    expect(answer.challenge).toMatch(/error="insufficient_scope"/);
    expect(answer.challenge).toMatch(/, scope="Reports.Read"$/);
  });

  test.each([
    ['no roles claim', {}],
    ['other roles', { roles: ['Reader'] }],
    ['a roles claim that is not a list', { roles: 'Admin' }],
  ])('answers 403 ERR_ROLE_REQUIRED with insufficient_scope for %s', (_name, overrides) => {
    const answer = refusal(userClaims(overrides), singleTenant, { anyRole: ['Admin'] });
    expect(answer.status).toBe(403);
    expect(answer.code).toBe('ERR_ROLE_REQUIRED');
    expect(answer.challenge).toMatch(/error="insufficient_scope"/);
  });
});
