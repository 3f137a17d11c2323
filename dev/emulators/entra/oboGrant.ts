// The on-behalf-of grant (jwt-bearer, requested_token_use=on_behalf_of) as Entra checks it: the API as a
// confidential client, the user's assertion, Graph scopes the administrator consented to.
import { randomBytes } from 'node:crypto';

import type { JWTPayload } from 'jose';
import { createLocalJWKSet, jwtVerify } from 'jose';

import { parseClaimsRequest } from './claimsRequest.js';
import { authenticateClient } from './clientAuthentication.js';
import { graphPermission } from './directory.js';
import type { EntraError, Outcome } from './errors.js';
import { consentRequired, fail, jwtProblemOf, missingParameter } from './errors.js';
import { CLOCK_SKEW_SECONDS } from './federation.js';
import {
  API_APP_ID_URI,
  API_CLIENT_ID,
  API_DISPLAY_NAME,
  API_TENANTS,
  CAE_TOKEN_LIFETIME_SECONDS,
  clientInfo,
  GRAPH_APP_ID,
  GRAPH_RESOURCE,
  HOME_TENANT,
  pairwiseSubject,
} from './fixtures.js';
import type { GrantContext, TokenGrant, TokenRequest } from './grants.js';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);

export const onBehalfOfGrant: TokenGrant = {
  kind: 'token.obo',
  matches: (form) =>
    form.get('grant_type') === JWT_BEARER && form.get('requested_token_use') === 'on_behalf_of',
  redeem: onBehalfOf,
};

async function onBehalfOf(
  request: TokenRequest,
  context: GrantContext,
): Promise<Outcome<Record<string, unknown>>> {
  const { form, tenant } = request;
  if (tenant.kind === 'multi') {
    return fail(
      400,
      'invalid_request',
      50194,
      `Application '${API_CLIENT_ID}'(${API_DISPLAY_NAME}) is not configured as a multi-tenant application. Usage of the /${tenant.segment} endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant.`,
    );
  }
  const directory = tenant.tenant ?? HOME_TENANT;
  const clientId = form.get('client_id') ?? request.basic?.clientId;
  if (clientId === undefined) return missingParameter('client_id');
  if (clientId !== API_CLIENT_ID || !API_TENANTS.has(directory.id)) {
    return fail(
      400,
      'unauthorized_client',
      700016,
      `Application with identifier '${clientId}' was not found in the directory '${directory.domain}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
    );
  }
  const client = await authenticateClient(request, context);
  if (!client.ok) return client;

  const assertion = form.get('assertion');
  if (assertion === null || assertion === '') return missingParameter('assertion');
  const scope = form.get('scope');
  if (scope === null || scope.trim() === '') return missingParameter('scope');

  const claimsRequest = parseClaimsRequest(form.get('claims'));
  if (typeof claimsRequest === 'string') {
    return fail(400, 'invalid_request', 90100, `Invalid request: ${claimsRequest}.`);
  }
  const caller = await validateAssertion(assertion, directory.id, context);
  if (!caller.ok) return caller;
  const stepUp = context.stepUpFailure?.(caller.value);
  if (stepUp !== undefined) return { ok: false, failure: stepUp };
  const requested = resolveGraphScopes(scope);
  if (!requested.ok) return requested;

  const claims = caller.value;
  const oid = String(claims.oid);
  const { consents, revocations, guestHomes } = context.directory;
  const issuedAt = typeof claims.iat === 'number' ? claims.iat : 0;
  if (revocations.predates(directory.id, oid, issuedAt)) {
    return revokedGrant(issuedAt, revocations.validFrom(directory.id, oid) ?? issuedAt);
  }
  const subject = { tenant: directory.id, oid, client: API_CLIENT_ID };
  const missingConsent = requested.value.usesDefault
    ? consents.granted(subject, GRAPH_APP_ID).length === 0
    : consents.missing(subject, requested.value.permissions.map(graphPermission)).length > 0;
  if (missingConsent) return consentRequired();
  const granted = consents.granted(subject, GRAPH_APP_ID);

  const caeCapable = claimsRequest?.capabilities.includes('cp1') === true;
  // A claims challenge's `nbf` is satisfied by issuing at (or after) that time.
  const now = Math.max(context.nowSeconds(), claimsRequest?.notBefore ?? 0);
  const lifetime = caeCapable ? CAE_TOKEN_LIFETIME_SECONDS : context.settings.oboTokenLifetimeSeconds;
  const home = guestHomes.get(oid);
  const name = typeof claims.name === 'string' ? claims.name : '';
  const upn = stringClaim(claims, 'preferred_username') ?? stringClaim(claims, 'upn') ?? '';
  const [givenName, ...rest] = name.split(' ');
  const graphToken = await context.keys.sign({
    aud: GRAPH_RESOURCE,
    iss: `https://sts.windows.net/${directory.id}/`,
    iat: now,
    nbf: now,
    exp: now + lifetime,
    acr: '1',
    amr: ['pwd'],
    app_displayname: API_DISPLAY_NAME,
    appid: API_CLIENT_ID,
    appidacr: client.value === 'secret' ? '1' : '2',
    family_name: rest.join(' '),
    given_name: givenName ?? '',
    idtyp: 'user',
    name,
    oid,
    // Entra puts every permission the user granted the client for the resource, not only those asked.
    scp: granted.join(' '),
    sub: pairwiseSubject(oid, GRAPH_APP_ID),
    tid: directory.id,
    unique_name: upn,
    upn,
    uti: randomBytes(16).toString('base64url'),
    ver: '1.0',
    ...(caeCapable ? { xms_cc: ['cp1'] } : {}),
    ...(home === undefined ? {} : { idp: `https://sts.windows.net/${home.tenant}/` }),
  });

  const response: Record<string, unknown> = {
    token_type: 'Bearer',
    scope: granted.map((permission) => `${GRAPH_RESOURCE}/${permission}`).join(' '),
    expires_in: lifetime,
    ext_expires_in: lifetime,
    access_token: graphToken,
  };
  if (requested.value.oidc.has('offline_access'))
    response.refresh_token = `1.A${randomBytes(96).toString('base64url')}`;
  if (requested.value.oidc.has('openid')) {
    response.id_token = await context.keys.sign({
      aud: API_CLIENT_ID,
      iss: context.issuerOf(directory.id),
      iat: now,
      nbf: now,
      exp: now + 3600,
      ...(requested.value.oidc.has('profile') ? { name, preferred_username: upn } : {}),
      oid,
      sub: pairwiseSubject(oid, API_CLIENT_ID),
      tid: directory.id,
      uti: randomBytes(16).toString('base64url'),
      ver: '2.0',
    });
  }
  if (form.get('client_info') === '1') {
    // A guest's client_info names their home account, not the inviting tenant's object.
    response.client_info =
      home === undefined ? clientInfo(oid, directory.id) : clientInfo(home.oid, home.tenant);
  }
  return { ok: true, value: response };
}

async function validateAssertion(
  assertion: string,
  tenantId: string,
  context: GrantContext,
): Promise<Outcome<JWTPayload>> {
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(assertion, createLocalJWKSet(context.keys.jwks()), {
      algorithms: ['RS256'],
      clockTolerance: CLOCK_SKEW_SECONDS,
      requiredClaims: ['exp', 'nbf', 'iat'],
    }));
  } catch (error) {
    return { ok: false, failure: assertionFailure(error) };
  }
  const issuers = [context.issuerOf(tenantId), `https://sts.windows.net/${tenantId}/`];
  if (claims.tid !== tenantId || typeof claims.iss !== 'string' || !issuers.includes(claims.iss)) {
    return invalidAssertion("Assertion failed validation: its issuer or 'tid' is not this tenant.");
  }
  // Entra's v2 access tokens carry one audience, a string: an array is not a token Entra issued.
  if (typeof claims.aud !== 'string') {
    return invalidAssertion("Assertion failed validation of the 'aud' claim: it must be a single string.");
  }
  if (claims.aud !== API_CLIENT_ID && claims.aud !== API_APP_ID_URI) {
    return invalidAssertion(
      `Assertion audience does not match the Client app presenting the assertion. The audience in the assertion was '${claims.aud}' and the expected audience is '${API_CLIENT_ID}' or one of the Application Id URIs of this web API.`,
    );
  }
  if (typeof claims.scp !== 'string' || claims.scp.trim() === '') {
    return invalidAssertion(
      "Assertion is not a delegated user token: it has no 'scp' claim. An app-only token cannot be used on behalf of a user.",
    );
  }
  if (typeof claims.oid !== 'string' || claims.oid === '') {
    return invalidAssertion("Assertion is missing the 'oid' claim.");
  }
  return { ok: true, value: claims };
}

/** AADSTS50173: the assertion was issued before the user's sessions were revoked (msal-node: interaction required). */
function revokedGrant(issuedAt: number, validFrom: number): { ok: false; failure: EntraError } {
  return {
    ok: false,
    failure: {
      status: 400,
      error: 'invalid_grant',
      code: 50173,
      description: `The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '${new Date(issuedAt * 1000).toISOString()}' and the TokensValidFrom date (before which tokens are not valid) for this user is '${new Date(validFrom * 1000).toISOString()}'.`,
      suberror: 'bad_token',
    },
  };
}

/** AADSTS50013 stands for every assertion-content failure. */
function invalidAssertion(description: string): { ok: false; failure: EntraError } {
  return fail(400, 'invalid_grant', 50013, description);
}

function assertionFailure(error: unknown): EntraError {
  const problem = jwtProblemOf(error);
  if (
    problem.kind === 'expired' ||
    (problem.kind === 'claim' && problem.claim === 'nbf' && problem.reason === 'check_failed')
  ) {
    return fail(
      400,
      'invalid_grant',
      500133,
      `Assertion is not within its valid time range. Ensure that the access token is not expired before using it for user assertion, or request a new token. Current time: ${new Date().toISOString()}.`,
    ).failure;
  }
  if (problem.kind === 'signature') {
    return invalidAssertion(`Assertion failed signature validation. [Reason - ${problem.reason}]`).failure;
  }
  if (problem.kind === 'claim') {
    return invalidAssertion(`Assertion failed validation of the '${problem.claim}' claim.`).failure;
  }
  return fail(400, 'invalid_request', 50027, 'JWT token is invalid or malformed.').failure;
}

export interface RequestedScopes {
  oidc: Set<string>;
  /** Graph permission names (`Calendars.Read`), without `.default`. */
  permissions: string[];
  usesDefault: boolean;
}

/** The Graph permissions and OIDC scopes asked for in `scope` (the grant checks consent per user). */
export function resolveGraphScopes(scope: string): Outcome<RequestedScopes> {
  const oidc = new Set<string>();
  const permissions: string[] = [];
  for (const item of scope.split(/\s+/).filter((s) => s !== '')) {
    if (OIDC_SCOPES.has(item.toLowerCase())) {
      oidc.add(item.toLowerCase());
      continue;
    }
    const permission = [`${GRAPH_RESOURCE}/`, `${GRAPH_APP_ID}/`].reduce(
      (rest, prefix) => (rest.toLowerCase().startsWith(prefix) ? rest.slice(prefix.length) : rest),
      item,
    );
    if (permission.includes('/') || permission.includes(':')) {
      return invalidScope(
        `The provided value for the input parameter 'scope' is not valid. The scope '${item}' is not for Microsoft Graph, the only resource the sandbox issues tokens for.`,
      );
    }
    permissions.push(permission);
  }
  if (permissions.length === 0) {
    return invalidScope(
      "The provided value for the input parameter 'scope' is not valid: it names no resource.",
    );
  }
  const usesDefault = permissions.some((p) => p === '.default');
  if (usesDefault && permissions.length > 1) {
    return invalidScope(
      "The provided value for the input parameter 'scope' is not valid: '.default' cannot be combined with other scopes of the resource.",
    );
  }
  return { ok: true, value: { oidc, permissions: usesDefault ? [] : permissions, usesDefault } };
}

function invalidScope(description: string): { ok: false; failure: EntraError } {
  return fail(400, 'invalid_scope', 70011, description);
}

function stringClaim(claims: JWTPayload, name: string): string | undefined {
  const value = claims[name];
  return typeof value === 'string' ? value : undefined;
}
