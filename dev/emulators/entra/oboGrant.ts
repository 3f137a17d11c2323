// The on-behalf-of grant (jwt-bearer, requested_token_use=on_behalf_of) as Entra checks it: the API as a
// confidential client, the user's assertion (oboAssertion.ts), scopes of one downstream API (Graph or the Tasks
// API) the user or an administrator consented to.
import { randomBytes } from 'node:crypto';

import type { JWTPayload } from 'jose';

import { parseClaimsRequest } from './claimsRequest.js';
import { authenticateClient } from './clientAuthentication.js';
import { downstreamScopeOf, exposedPermission } from './directory.js';
import type { EntraError, Outcome } from './errors.js';
import { consentRequired, fail, missingParameter } from './errors.js';
import {
  API_CLIENT_ID,
  API_DISPLAY_NAME,
  API_TENANTS,
  clientInfo,
  type DownstreamApi,
  GRAPH_API,
  GRAPH_RESOURCE,
  HOME_TENANT,
  pairwiseSubject,
} from './fixtures.js';
import type { GrantContext, TokenGrant, TokenRequest } from './grants.js';
import { OIDC_SCOPES } from './metadata.js';
import { revokedGrant, validateAssertion } from './oboAssertion.js';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

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
  const requested = resolveScopes(scope, context.graphResources);
  if (!requested.ok) return requested;
  const { api } = requested.value;

  const claims = caller.value;
  const oid = String(claims.oid);
  const { consents, revocations, guestHomes } = context.directory;
  const issuedAt = typeof claims.iat === 'number' ? claims.iat : 0;
  if (revocations.predates(directory.id, oid, issuedAt)) {
    return revokedGrant(issuedAt, revocations.validFrom(directory.id, oid) ?? issuedAt);
  }
  const subject = { tenant: directory.id, oid, client: API_CLIENT_ID };
  const missingConsent = requested.value.usesDefault
    ? consents.granted(subject, api.appId).length === 0
    : consents.missing(
        subject,
        requested.value.permissions.map((permission) => ({ resourceAppId: api.appId, permission })),
      ).length > 0;
  if (missingConsent) return consentRequired();
  const granted = consents.granted(subject, api.appId);

  const caeCapable = claimsRequest?.capabilities.includes('cp1') === true;
  // A claims challenge's `nbf` is satisfied by issuing at (or after) that time.
  const now = Math.max(context.nowSeconds(), claimsRequest?.notBefore ?? 0);
  const lifetime = caeCapable
    ? context.settings.caeTokenLifetimeSeconds
    : context.settings.oboTokenLifetimeSeconds;
  const home = guestHomes.get(oid);
  const name = typeof claims.name === 'string' ? claims.name : '';
  const upn = stringClaim(claims, 'preferred_username') ?? stringClaim(claims, 'upn') ?? '';
  const [givenName, ...rest] = name.split(' ');
  const common = {
    iat: now,
    nbf: now,
    exp: now + lifetime,
    name,
    oid,
    // Entra puts every permission the user granted the client for the resource, not only those asked.
    scp: granted.join(' '),
    sub: pairwiseSubject(oid, api.appId),
    tid: directory.id,
    uti: randomBytes(16).toString('base64url'),
    ...(caeCapable ? { xms_cc: ['cp1'] } : {}),
  };
  const credentialKind = client.value === 'secret' ? '1' : '2';
  // A v1 token (Graph): `aud` its URI, sts.windows.net, `appid`; a v2 token (the Tasks API): `aud` its client id,
  // the v2 issuer, `azp`.
  const accessToken = await context.keys.sign(
    api.tokenVersion === 1
      ? {
          ...common,
          // Entra names the resource as it was asked for: the cloud's own Graph URI.
          aud: requested.value.resource,
          iss: `https://sts.windows.net/${directory.id}/`,
          acr: '1',
          amr: ['pwd'],
          app_displayname: API_DISPLAY_NAME,
          appid: API_CLIENT_ID,
          appidacr: credentialKind,
          family_name: rest.join(' '),
          given_name: givenName ?? '',
          idtyp: 'user',
          unique_name: upn,
          upn,
          ver: '1.0',
          ...(home === undefined ? {} : { idp: `https://sts.windows.net/${home.tenant}/` }),
        }
      : {
          ...common,
          aud: api.appId,
          iss: context.issuerOf(directory.id),
          azp: API_CLIENT_ID,
          azpacr: credentialKind,
          preferred_username: upn,
          ver: '2.0',
          ...(home === undefined ? {} : { idp: `https://sts.windows.net/${home.tenant}/` }),
        },
  );

  const response: Record<string, unknown> = {
    token_type: 'Bearer',
    scope: granted.map((permission) => `${requested.value.resource}/${permission}`).join(' '),
    expires_in: lifetime,
    ext_expires_in: lifetime,
    access_token: accessToken,
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

export interface RequestedScopes {
  oidc: Set<string>;
  /** The one downstream API the scopes are for (Entra issues a token for one resource at a time). */
  api: DownstreamApi;
  /** Its permission names (`Calendars.Read`), as it declares them, without `.default`. */
  permissions: string[];
  usesDefault: boolean;
  /** The identifier URI the scopes named the API by (one of Graph's, the first one for a bare name). */
  resource: string;
}

/** The downstream permissions and OIDC scopes asked for in `scope` (the grant checks consent per user). */
export function resolveScopes(
  scope: string,
  /** Graph's identifier URIs: https://graph.microsoft.com and, in the sandbox, the Graph emulator's own URL. */
  graphResources: readonly string[] = [GRAPH_RESOURCE],
): Outcome<RequestedScopes> {
  const oidc = new Set<string>();
  const permissions: string[] = [];
  const resources = new Set<string>();
  let api: DownstreamApi | undefined;
  for (const asked of scope.split(/\s+/).filter((s) => s !== '')) {
    if (OIDC_SCOPES.has(asked.toLowerCase())) {
      oidc.add(asked.toLowerCase());
      continue;
    }
    // Another of Graph's identifier URIs reads as Graph's; the token then names the one asked for.
    const graphUri = graphResources.find((uri) => asked.toLowerCase().startsWith(`${uri.toLowerCase()}/`));
    if (graphUri !== undefined) resources.add(graphUri);
    const item = graphUri === undefined ? asked : `${GRAPH_RESOURCE}/${asked.slice(graphUri.length + 1)}`;
    // A bare permission name (`User.Read`) is Graph's, as Entra reads it.
    const found =
      downstreamScopeOf(item) ?? (/[/:]/.test(item) ? undefined : { api: GRAPH_API, permission: item });
    if (found === undefined || found.permission.includes('/')) {
      return invalidScope(
        `The provided value for the input parameter 'scope' is not valid. The scope '${item}' is not for a resource the sandbox issues tokens for (Microsoft Graph, the Tasks API).`,
      );
    }
    if ((api !== undefined && api !== found.api) || resources.size > 1) {
      return fail(
        400,
        'invalid_scope',
        28000,
        `Provided value for the input parameter scope is not valid because it contains more than one resource. Scope ${scope} is not valid.`,
      );
    }
    api = found.api;
    const permission =
      found.permission === '.default' ? found.permission : exposedPermission(found.api, found.permission);
    if (permission === undefined) {
      return invalidScope(
        `The provided value for the input parameter 'scope' is not valid. The scope '${item}' does not exist on the resource '${found.api.appId}'.`,
      );
    }
    permissions.push(permission);
  }
  if (api === undefined || permissions.length === 0) {
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
  const [resource = api.identifierUris[0] ?? api.appId] = api === GRAPH_API ? resources : [];
  return {
    ok: true,
    value: { oidc, api, permissions: usesDefault ? [] : permissions, usesDefault, resource },
  };
}

function invalidScope(description: string): { ok: false; failure: EntraError } {
  return fail(400, 'invalid_scope', 70011, description);
}

function stringClaim(claims: JWTPayload, name: string): string | undefined {
  const value = claims[name];
  return typeof value === 'string' ? value : undefined;
}
