// Entra ID (v2 endpoints) emulator for one tenant: OIDC metadata, JWKS, the on-behalf-of token grant (client
// secret or a managed identity's federated credential) and Entra's error shapes, the App Service managed identity
// endpoint, plus /_emulator/ endpoints that issue user tokens and rotate keys.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';

import type { CryptoKey, JSONWebKeySet, JWK, JWTPayload } from 'jose';
import {
  CompactSign,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  exportJWK,
  generateKeyPair,
  jwtVerify,
} from 'jose';

import { isRecord } from '../shared/narrow.js';
import type { FaultContext, FaultPreset } from './control.js';
import { closeServer, EmulatorControl, listen, parseJsonBody, readBody, sendJson } from './control.js';
import {
  MANAGED_IDENTITY_PATH,
  MANAGED_IDENTITY_PRINCIPAL_ID,
  managedIdentityErrorBody,
  managedIdentityTokenClaims,
  managedIdentityTokenResponse,
  parseManagedIdentityRequest,
  TOKEN_EXCHANGE_AUDIENCE,
} from './managedIdentity.js';
import { parseClaimsRequest } from './pending-cae/claimsRequest.js';
import { ConsentStore, parseConsentChange, type ResourcePermission } from './pending-cae/consent.js';
import { SessionRevocations } from './pending-cae/revocations.js';
import { type DirectoryUser, directoryUser, type SandboxTenant } from './pending-cae/tenants.js';

export {
  MANAGED_IDENTITY_CLIENT_ID,
  MANAGED_IDENTITY_PRINCIPAL_ID,
  MANAGED_IDENTITY_RESOURCE_ID,
  TOKEN_EXCHANGE_AUDIENCE,
} from './managedIdentity.js';

export const TENANT_ID = '5b1c0d6e-8f3a-4c27-9d41-a2e6b7f08c13';
export const TENANT_DOMAIN = 'sandbox.onmicrosoft.com';
export const API_CLIENT_ID = '3f9c2a71-8d4e-4b6a-a5c2-71e0d94b6c38';
export const API_APP_ID_URI = `api://${API_CLIENT_ID}`;
export const API_SCOPE = 'access_as_user';
export const API_DISPLAY_NAME = 'obo-graph-api';
export const SPA_CLIENT_ID = '6a1e4c93-2b7d-4f05-8e19-c4d27a3b9f60';
export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
export const GRAPH_RESOURCE = 'https://graph.microsoft.com';
/** The Graph permissions an administrator has consented to for the API, in every tenant it is installed in. */
export const CONSENTED_GRAPH_PERMISSIONS = ['User.Read'] as const;
/** A second tenant where the API is installed and consented (a multi-tenant API's customer). */
export const PARTNER_TENANT_ID = '8e2d4f61-3c5a-4b7e-9f10-6a2b3c4d5e6f';
export const PARTNER_TENANT_DOMAIN = 'partner.onmicrosoft.com';
/** A tenant the API is not installed in (its users' tokens are not for the sandbox API's tenants). */
export const OTHER_TENANT_ID = 'c7a1e9b2-5d3f-4e68-8a0b-1f2e3d4c5b6a';
export const OTHER_TENANT_DOMAIN = 'elsewhere.onmicrosoft.com';
export const HOME_TENANT: SandboxTenant = { id: TENANT_ID, domain: TENANT_DOMAIN };
export const PARTNER_TENANT: SandboxTenant = { id: PARTNER_TENANT_ID, domain: PARTNER_TENANT_DOMAIN };
export const OTHER_TENANT: SandboxTenant = { id: OTHER_TENANT_ID, domain: OTHER_TENANT_DOMAIN };
export const SANDBOX_TENANTS: readonly SandboxTenant[] = [HOME_TENANT, PARTNER_TENANT, OTHER_TENANT];
/** Tenants with a service principal of the API (and the admin consent above). */
const API_TENANTS: ReadonlySet<string> = new Set([TENANT_ID, PARTNER_TENANT_ID]);
/** Lifetime of a token for a client that declared `cp1` (Entra: 20 to 28 hours). */
const CAE_TOKEN_LIFETIME_SECONDS = 24 * 3600;

export const ENTRA_KINDS = [
  'openid-configuration',
  'keys',
  'keys.graph',
  'instance-discovery',
  'token.obo',
  'token.other',
  'managed-identity',
  'other',
] as const;

/** Entra's tolerance for clock skew when it validates an assertion. */
const CLOCK_SKEW_SECONDS = 300;
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);
const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface SandboxUser {
  oid: string;
  displayName: string;
  givenName: string;
  surname: string;
  userPrincipalName: string;
}

/** The emulated user called `name`: the same name is always the same user (oid derived from the name). */
export function sandboxUser(name: string): SandboxUser {
  return directoryUser(name, HOME_TENANT, HOME_TENANT);
}

/** The tenant named by an id or a domain, if the sandbox knows it. */
export function sandboxTenant(idOrDomain: string): SandboxTenant | undefined {
  const lower = idOrDomain.toLowerCase();
  return SANDBOX_TENANTS.find((tenant) => tenant.id === lower || tenant.domain === lower);
}

/** The user `name` of `tenant`; with `guestOf`, a guest from that home tenant. */
export function tenantUser(name: string, tenant: SandboxTenant, guestOf?: SandboxTenant): DirectoryUser {
  return directoryUser(name, tenant, HOME_TENANT, guestOf);
}

export interface UserTokenOptions {
  /** Claims to add or override. */
  set?: Record<string, unknown>;
  /** Claims to remove. */
  unset?: string[];
  /** Default 3600; negative gives an already expired token. */
  lifetimeSeconds?: number;
  /** The client (azp) the token was issued to; default the SPA. */
  client?: string;
  /** The issuing tenant (id or domain); default the API's home tenant. */
  tenant?: string;
  /** A guest: the user's home tenant (id or domain), which differs from the issuing tenant. */
  homeTenant?: string;
}

export interface IssuedUserToken {
  access_token: string;
  oid: string;
  tid: string;
}

export interface EntraSettings {
  oboTokenLifetimeSeconds: number;
}

export interface EntraEmulatorOptions {
  cert: string;
  key: string;
  /** 0 or absent: an ephemeral port. */
  port?: number;
  clientSecret: string;
  /** The secret the managed identity endpoint expects in `X-IDENTITY-HEADER` (App Service's IDENTITY_HEADER). */
  identityHeader: string;
}

/** A federated identity credential of the API app registration, matched exactly (case-sensitive) as Entra does. */
export interface FederatedIdentityCredential {
  name: string;
  issuer: string;
  subject: string;
  audiences: readonly string[];
}

export interface EntraEmulator {
  /** https://127.0.0.1:PORT */
  url: string;
  /** The v2 issuer of this tenant's tokens. */
  issuer: string;
  /** App Service's IDENTITY_ENDPOINT for the sandbox's user-assigned identity: `<url>/msi/token`. */
  identityEndpoint: string;
  /** The API app's one federated credential: the sandbox identity's tokens from this tenant. */
  federatedCredential: FederatedIdentityCredential;
  control: EmulatorControl;
  readonly settings: EntraSettings;
  /** A user access token for the API, as a single-page app obtains it. */
  mintUserToken(name: string, options?: UserTokenOptions): Promise<IssuedUserToken>;
  /** A new current signing key; the previous ones stay published unless retired. Gives the new kid. */
  rotateKeys(options?: { retireOld?: boolean }): Promise<string>;
  close(): Promise<void>;
}

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

interface EntraError {
  status: number;
  error: string;
  code: number;
  description: string;
  suberror?: string;
  claims?: string;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; failure: EntraError };

export async function startEntraEmulator(options: EntraEmulatorOptions): Promise<EntraEmulator> {
  const keys: SigningKey[] = [await createSigningKey()];
  const settings: EntraSettings = { oboTokenLifetimeSeconds: 3600 };
  // Every tenant's administrator consented to the API's User.Read; users grant the rest one by one.
  const adminConsent = { [API_CLIENT_ID]: CONSENTED_GRAPH_PERMISSIONS.map(graphPermission) };
  const consents = new ConsentStore((tenant) => (API_TENANTS.has(tenant) ? adminConsent : {}));
  const revocations = new SessionRevocations();
  /** Guests minted so far: object id in the inviting tenant -> their home identity (Entra's client_info). */
  const guestHomes = new Map<string, { oid: string; tenant: string }>();
  const tenantCounters = new Map<string, Record<string, number>>();
  let baseUrl = '';
  const issuerOf = (tenant: string): string => `${baseUrl}/${tenant}/v2.0`;
  // As the API's registration holds it: a managed identity of this tenant, for Entra's token exchange.
  const federatedCredential = (): FederatedIdentityCredential => ({
    name: 'obo-graph-api-managed-identity',
    issuer: issuerOf(TENANT_ID),
    subject: MANAGED_IDENTITY_PRINCIPAL_ID,
    audiences: [TOKEN_EXCHANGE_AUDIENCE],
  });

  const control = new EmulatorControl({
    kinds: ENTRA_KINDS,
    presets: entraPresets(() => baseUrl),
    errorBody: (status, context) =>
      context.kind === 'managed-identity'
        ? managedIdentityErrorBody(status, 'The sandbox injected this failure.')
        : errorBody(defaultError(status), baseUrl, context.req),
  });

  const currentKey = (): SigningKey => {
    const key = keys.at(-1);
    if (key === undefined) throw new Error('no signing key');
    return key;
  };
  const sign = (payload: Record<string, unknown>): Promise<string> => {
    const { kid, privateKey } = currentKey();
    return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid })
      .sign(privateKey);
  };
  const jwks = (): JSONWebKeySet => ({
    keys: keys.map(({ publicJwk }) => ({ ...publicJwk, use: 'sig', issuer: issuerOf(TENANT_ID) })),
  });

  async function mintUserToken(name: string, tokenOptions: UserTokenOptions = {}): Promise<IssuedUserToken> {
    const tenant = sandboxTenant(tokenOptions.tenant ?? TENANT_ID) ?? HOME_TENANT;
    const homeTenant =
      tokenOptions.homeTenant === undefined ? undefined : sandboxTenant(tokenOptions.homeTenant);
    const user = tenantUser(name, tenant, homeTenant);
    if (user.home !== undefined)
      guestHomes.set(user.oid, { oid: user.home.oid, tenant: user.home.tenant.id });
    // A sign-in after a revocation gets a token from the revocation's next second on.
    const now = Math.max(Math.floor(Date.now() / 1000), revocations.validFrom(tenant.id, user.oid) ?? 0);
    const claims: Record<string, unknown> = {
      aud: API_CLIENT_ID,
      iss: issuerOf(tenant.id),
      iat: now,
      nbf: now,
      exp: now + (tokenOptions.lifetimeSeconds ?? 3600),
      azp: tokenOptions.client ?? SPA_CLIENT_ID,
      azpacr: '0',
      name: user.displayName,
      oid: user.oid,
      preferred_username: user.userPrincipalName,
      scp: API_SCOPE,
      sub: pairwiseSubject(user.oid, API_CLIENT_ID),
      tid: tenant.id,
      uti: randomBytes(16).toString('base64url'),
      ver: '2.0',
      ...(user.home === undefined ? {} : { idp: `https://sts.windows.net/${user.home.tenant.id}/` }),
      ...tokenOptions.set,
    };
    for (const claim of tokenOptions.unset ?? []) delete claims[claim];
    return { access_token: await sign(claims), oid: user.oid, tid: tenant.id };
  }

  async function rotateKeys({ retireOld = false } = {}): Promise<string> {
    const key = await createSigningKey();
    if (retireOld) keys.splice(0, keys.length);
    keys.push(key);
    return key.kid;
  }

  /** `GET /msi/token`: App Service's managed identity endpoint, for the sandbox's user-assigned identity. */
  async function managedIdentityToken(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const request = parseManagedIdentityRequest(
      url.searchParams,
      headerValue(req, 'x-identity-header'),
      options.identityHeader,
    );
    if (!request.ok) {
      const body = managedIdentityErrorBody(request.failure.status, request.failure.message);
      sendJson(res, request.failure.status, body, { 'x-correlation-id': body.correlationId });
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    const claims = managedIdentityTokenClaims(
      request.resource,
      { id: TENANT_ID, issuer: issuerOf(TENANT_ID) },
      now,
    );
    const accessToken = await sign(claims);
    sendJson(res, 200, managedIdentityTokenResponse(accessToken, request.resource, Number(claims.exp)), {
      'x-correlation-id': randomUUID(),
    });
  }

  function openIdConfiguration(res: ServerResponse, tenant: TenantPath): void {
    const segment = tenant.segment;
    const issuerTenant = tenant.tenant?.id ?? '{tenantid}';
    const oauth = `${baseUrl}/${segment}/oauth2/v2.0`;
    sendJson(res, 200, {
      token_endpoint: `${oauth}/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${baseUrl}/${segment}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: issuerOf(issuerTenant),
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${GRAPH_RESOURCE}/oidc/userinfo`,
      authorization_endpoint: `${oauth}/authorize`,
      device_authorization_endpoint: `${oauth}/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${oauth}/logout`,
      claims_supported: [
        'sub',
        'iss',
        'cloud_instance_name',
        'cloud_instance_host_name',
        'cloud_graph_host_name',
        'msgraph_host',
        'aud',
        'exp',
        'iat',
        'auth_time',
        'acr',
        'nonce',
        'preferred_username',
        'name',
        'tid',
        'ver',
        'at_hash',
        'c_hash',
        'email',
      ],
      kerberos_endpoint: `${baseUrl}/${segment}/kerberos`,
      tenant_region_scope: 'EU',
      cloud_instance_name: 'microsoftonline.com',
      cloud_graph_host_name: 'graph.windows.net',
      msgraph_host: 'graph.microsoft.com',
      rbac_url: 'https://pas.windows.net',
    });
  }

  function instanceDiscovery(res: ServerResponse, url: URL): void {
    const host = new URL(baseUrl).host;
    const authorizationEndpoint = url.searchParams.get('authorization_endpoint');
    let tenant = 'common';
    if (authorizationEndpoint !== null && URL.canParse(authorizationEndpoint)) {
      tenant = new URL(authorizationEndpoint).pathname.split('/')[1] || tenant;
    }
    sendJson(res, 200, {
      tenant_discovery_endpoint: `${baseUrl}/${tenant}/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
    });
  }

  async function onBehalfOf(
    req: IncomingMessage,
    form: URLSearchParams,
    tenant: TenantPath,
  ): Promise<Outcome<object>> {
    if (tenant.kind === 'multi') {
      return fail(
        400,
        'invalid_request',
        50194,
        `Application '${API_CLIENT_ID}'(${API_DISPLAY_NAME}) is not configured as a multi-tenant application. Usage of the /${tenant.segment} endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant.`,
      );
    }
    const directory = tenant.tenant ?? HOME_TENANT;
    const clientId = form.get('client_id') ?? basicCredentials(req)?.clientId;
    if (clientId === undefined) return missingParameter('client_id');
    if (clientId !== API_CLIENT_ID || !API_TENANTS.has(directory.id)) {
      return fail(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${directory.domain}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      );
    }
    const client = await authenticateClient(req, form);
    if (!client.ok) return client;

    const assertion = form.get('assertion');
    if (assertion === null || assertion === '') return missingParameter('assertion');
    const scope = form.get('scope');
    if (scope === null || scope.trim() === '') return missingParameter('scope');

    const claimsRequest = parseClaimsRequest(form.get('claims'));
    if (typeof claimsRequest === 'string') {
      return fail(400, 'invalid_request', 90100, `Invalid request: ${claimsRequest}.`);
    }
    const caller = await validateAssertion(assertion, directory.id);
    if (!caller.ok) return caller;
    const requested = resolveGraphScopes(scope);
    if (!requested.ok) return requested;

    const claims = caller.value;
    const oid = String(claims.oid);
    const issuedAt = typeof claims.iat === 'number' ? claims.iat : 0;
    if (revocations.predates(directory.id, oid, issuedAt)) {
      const validFrom = revocations.validFrom(directory.id, oid) ?? issuedAt;
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
    const subject = { tenant: directory.id, oid, client: API_CLIENT_ID };
    const missingConsent = requested.value.usesDefault
      ? consents.granted(subject, GRAPH_APP_ID).length === 0
      : consents.missing(subject, requested.value.permissions.map(graphPermission)).length > 0;
    if (missingConsent) return consentRequired();
    const granted = consents.granted(subject, GRAPH_APP_ID);

    const caeCapable = claimsRequest?.capabilities.includes('cp1') === true;
    // A claims challenge's `nbf` is satisfied by issuing at (or after) that time.
    const now = Math.max(Math.floor(Date.now() / 1000), claimsRequest?.notBefore ?? 0);
    const lifetime = caeCapable ? CAE_TOKEN_LIFETIME_SECONDS : settings.oboTokenLifetimeSeconds;
    const home = guestHomes.get(oid);
    const name = typeof claims.name === 'string' ? claims.name : '';
    const upn = stringClaim(claims, 'preferred_username') ?? stringClaim(claims, 'upn') ?? '';
    const [givenName, ...rest] = name.split(' ');
    const graphToken = await sign({
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
      response.id_token = await sign({
        aud: API_CLIENT_ID,
        iss: issuerOf(directory.id),
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
      const clientInfo =
        home === undefined ? { uid: oid, utid: directory.id } : { uid: home.oid, utid: home.tenant };
      response.client_info = Buffer.from(JSON.stringify(clientInfo)).toString('base64url');
    }
    return { ok: true, value: response };
  }

  async function authenticateClient(
    req: IncomingMessage,
    form: URLSearchParams,
  ): Promise<Outcome<'secret' | 'assertion'>> {
    const secret = form.get('client_secret') ?? basicCredentials(req)?.secret;
    const clientAssertion = form.get('client_assertion');
    if (secret !== undefined && clientAssertion !== null) {
      return fail(
        400,
        'invalid_request',
        90023,
        'Invalid client authentication: both client_secret and client_assertion were presented.',
      );
    }
    if (secret !== undefined) {
      return sameSecret(secret, options.clientSecret)
        ? { ok: true, value: 'secret' }
        : fail(
            401,
            'invalid_client',
            7000215,
            `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${API_CLIENT_ID}'.`,
          );
    }
    if (clientAssertion === null) {
      return fail(
        401,
        'invalid_client',
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      );
    }
    if (form.get('client_assertion_type') !== CLIENT_ASSERTION_TYPE) {
      return fail(
        400,
        'invalid_request',
        90014,
        "The required field 'client_assertion_type' is missing or is not 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.",
      );
    }
    const verified = await verifyClientAssertion(clientAssertion, [federatedCredential()], jwks());
    return verified.ok ? { ok: true, value: 'assertion' } : verified;
  }

  async function validateAssertion(assertion: string, tenantId: string): Promise<Outcome<JWTPayload>> {
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(assertion, createLocalJWKSet(jwks()), {
        algorithms: ['RS256'],
        clockTolerance: CLOCK_SKEW_SECONDS,
        requiredClaims: ['exp', 'nbf', 'iat'],
      }));
    } catch (error) {
      return { ok: false, failure: assertionFailure(error) };
    }
    const tid = claims.tid;
    const issuers = [issuerOf(tenantId), `https://sts.windows.net/${tenantId}/`];
    if (tid !== tenantId || typeof claims.iss !== 'string' || !issuers.includes(claims.iss)) {
      return fail(
        400,
        'invalid_grant',
        50013,
        "Assertion failed validation: its issuer or 'tid' is not this tenant.",
      );
    }
    // Entra's v2 access tokens carry one audience, a string: an array is not a token Entra issued.
    if (typeof claims.aud !== 'string') {
      return fail(
        400,
        'invalid_grant',
        50013,
        "Assertion failed validation of the 'aud' claim: it must be a single string.",
      );
    }
    if (claims.aud !== API_CLIENT_ID && claims.aud !== API_APP_ID_URI) {
      return fail(
        400,
        'invalid_grant',
        50013,
        `Assertion audience does not match the Client app presenting the assertion. The audience in the assertion was '${claims.aud}' and the expected audience is '${API_CLIENT_ID}' or one of the Application Id URIs of this web API.`,
      );
    }
    if (typeof claims.scp !== 'string' || claims.scp.trim() === '') {
      return fail(
        400,
        'invalid_grant',
        50013,
        "Assertion is not a delegated user token: it has no 'scp' claim. An app-only token cannot be used on behalf of a user.",
      );
    }
    if (typeof claims.oid !== 'string' || claims.oid === '') {
      return fail(400, 'invalid_grant', 50013, "Assertion is missing the 'oid' claim.");
    }
    return { ok: true, value: claims };
  }

  async function handleToken(
    req: IncomingMessage,
    res: ServerResponse,
    kind: string,
    form: URLSearchParams,
    tenant: TenantPath,
  ): Promise<void> {
    const headers: Record<string, string> = {
      'cache-control': 'no-store, no-cache',
      pragma: 'no-cache',
    };
    const clientRequestId = headerValue(req, 'client-request-id');
    if (clientRequestId !== undefined && headerValue(req, 'return-client-request-id') === 'true') {
      headers['client-request-id'] = clientRequestId;
    }
    let outcome: Outcome<object>;
    if (kind === 'token.obo') {
      outcome = await onBehalfOf(req, form, tenant);
    } else if (form.get('grant_type') === null) {
      outcome = missingParameter('grant_type');
    } else {
      outcome = fail(
        400,
        'unsupported_grant_type',
        70003,
        'The app requested an unsupported grant type. The sandbox supports only the on-behalf-of grant.',
      );
    }
    if (outcome.ok) {
      sendJson(res, 200, outcome.value, { ...headers, 'x-ms-request-id': randomUUID() });
    } else {
      const body = errorBody(outcome.failure, baseUrl, req);
      sendJson(res, outcome.failure.status, body, { ...headers, 'x-ms-request-id': body.trace_id });
    }
  }

  /** `POST /_emulator/consent` grants or revokes; `GET ?user=&tenant=&client=` lists the granted Graph permissions. */
  function handleConsent(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    if (req.method === 'GET') {
      const url = new URL(req.url ?? '/', baseUrl);
      const name = url.searchParams.get('user') ?? '';
      const tenant = sandboxTenant(url.searchParams.get('tenant') ?? TENANT_ID);
      if (tenant === undefined || !USER_NAME.test(name)) {
        sendJson(res, 400, {
          error: 'invalid_request',
          message: 'a user name and a sandbox tenant are required',
        });
        return;
      }
      const subject = {
        tenant: tenant.id,
        oid: tenantUser(name, tenant).oid,
        client: url.searchParams.get('client') ?? API_CLIENT_ID,
      };
      sendJson(res, 200, {
        ...subject,
        scopes: consents.granted(subject, GRAPH_APP_ID).map((p) => `${GRAPH_RESOURCE}/${p}`),
      });
      return;
    }
    if (req.method !== 'POST') {
      sendJson(res, 405, { error: 'method_not_allowed', message: 'GET or POST /_emulator/consent' });
      return;
    }
    const input = parseJsonBody(body);
    const change = input.ok ? parseConsentChange(input.value) : input.message;
    if (typeof change === 'string') {
      sendJson(res, 400, { error: 'invalid_request', message: change });
      return;
    }
    const tenant = sandboxTenant(change.tenant ?? TENANT_ID);
    const permissions = change.scopes.map(resourcePermissionOf);
    if (tenant === undefined || !USER_NAME.test(change.user) || permissions.some((p) => p === undefined)) {
      sendJson(res, 400, {
        error: 'invalid_request',
        message: 'the user, the tenant or a scope is unknown (scopes: <resource URI or app id>/<permission>)',
      });
      return;
    }
    const subject = {
      tenant: tenant.id,
      oid: tenantUser(change.user, tenant).oid,
      client: change.client ?? API_CLIENT_ID,
    };
    consents.set(
      subject,
      permissions.filter((p): p is ResourcePermission => p !== undefined),
      change.granted,
    );
    sendJson(res, 200, {
      ...subject,
      scopes: consents.granted(subject, GRAPH_APP_ID).map((p) => `${GRAPH_RESOURCE}/${p}`),
    });
  }

  async function handleEmulatorRequest(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    body: Buffer,
  ): Promise<void> {
    if (path === '/_emulator/reset' && req.method === 'POST') {
      consents.clear();
      revocations.clear();
      tenantCounters.clear();
    }
    if (control.handleControlRequest(req, res, path, body)) return;
    if (path === '/_emulator/counters/tenants' && req.method === 'GET') {
      sendJson(res, 200, Object.fromEntries(tenantCounters));
      return;
    }
    if (path === '/_emulator/consent') {
      handleConsent(req, res, body);
      return;
    }
    const revoke = /^\/_emulator\/users\/([^/]+)\/revoke-sessions$/.exec(path);
    if (revoke !== null && req.method === 'POST') {
      const input = parseJsonBody(body);
      const tenantName = input.ok && isRecord(input.value) ? input.value.tenant : undefined;
      const tenant = typeof tenantName === 'string' ? sandboxTenant(tenantName) : HOME_TENANT;
      const name = safeDecode(revoke[1] ?? '');
      if (tenant === undefined || !USER_NAME.test(name)) {
        sendJson(res, 400, {
          error: 'invalid_request',
          message: 'a user name and a sandbox tenant are required',
        });
        return;
      }
      const user = tenantUser(name, tenant);
      const revokedAt = revocations.revoke(tenant.id, user.oid, Math.floor(Date.now() / 1000));
      sendJson(res, 200, { oid: user.oid, tid: tenant.id, revokedAt, validFrom: revokedAt + 1 });
      return;
    }
    const userToken = /^\/_emulator\/users\/([^/]+)\/token$/.exec(path);
    if (
      req.method !== 'POST' ||
      (userToken === null && !['/_emulator/rotate-keys', '/_emulator/settings'].includes(path))
    ) {
      sendJson(res, 404, { error: 'not_found', message: `no emulator endpoint ${req.method ?? ''} ${path}` });
      return;
    }
    const input = parseJsonBody(body);
    if (!input.ok || !isRecord(input.value)) {
      sendJson(res, 400, { error: 'invalid_request', message: 'the body must be a JSON object' });
      return;
    }
    if (userToken !== null) {
      const name = safeDecode(userToken[1] ?? '');
      const parsed = parseUserTokenOptions(name, input.value);
      if (typeof parsed === 'string') {
        sendJson(res, 400, { error: 'invalid_request', message: parsed });
      } else {
        sendJson(res, 200, await mintUserToken(name, parsed), { 'cache-control': 'no-store' });
      }
    } else if (path === '/_emulator/rotate-keys') {
      const { retireOld } = input.value;
      if (retireOld !== undefined && typeof retireOld !== 'boolean') {
        sendJson(res, 400, { error: 'invalid_request', message: '"retireOld" must be a boolean' });
        return;
      }
      const kid = await rotateKeys({ retireOld: retireOld ?? false });
      sendJson(res, 200, { kid, kids: keys.map((key) => key.kid) });
    } else {
      const { oboTokenLifetimeSeconds, ...others } = input.value;
      const unknownField = Object.keys(others)[0];
      if (unknownField !== undefined) {
        sendJson(res, 400, { error: 'invalid_request', message: `unknown setting "${unknownField}"` });
        return;
      }
      if (oboTokenLifetimeSeconds !== undefined) {
        if (
          typeof oboTokenLifetimeSeconds !== 'number' ||
          !Number.isInteger(oboTokenLifetimeSeconds) ||
          oboTokenLifetimeSeconds < 1 ||
          oboTokenLifetimeSeconds > 86_400
        ) {
          sendJson(res, 400, {
            error: 'invalid_request',
            message: '"oboTokenLifetimeSeconds" must be an integer from 1 to 86400',
          });
          return;
        }
        settings.oboTokenLifetimeSeconds = oboTokenLifetimeSeconds;
      }
      sendJson(res, 200, settings);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrl);
    const body = await readBody(req);
    if (url.pathname.startsWith('/_emulator/')) {
      await handleEmulatorRequest(req, res, url.pathname, body);
      return;
    }
    const route = matchRoute(req.method ?? '', url.pathname);
    const form =
      route?.name === 'token' && isFormEncoded(req)
        ? new URLSearchParams(body.toString('utf8'))
        : new URLSearchParams();
    const kind = route === undefined ? 'other' : kindOf(route.name, form, req);
    const countedTenant = route === undefined ? undefined : sandboxTenant(route.tenant);
    if (countedTenant !== undefined) {
      const counts = tenantCounters.get(countedTenant.id) ?? {};
      counts[kind] = (counts[kind] ?? 0) + 1;
      tenantCounters.set(countedTenant.id, counts);
    }
    if (!(await control.admit(kind, req, res))) return;

    if (route === undefined) {
      sendJson(res, 404, {
        error: 'not_found',
        error_description: `No such Entra endpoint: ${req.method ?? ''} ${url.pathname}`,
      });
      return;
    }
    if (route.name === 'instance-discovery') {
      instanceDiscovery(res, url);
      return;
    }
    if (route.name === 'managed-identity') {
      await managedIdentityToken(req, res, url);
      return;
    }
    const tenant = resolveTenant(route.tenant);
    if (tenant.kind === 'unknown') {
      const failure: EntraError = {
        status: 400,
        error: route.name === 'token' ? 'invalid_request' : 'invalid_tenant',
        code: 90002,
        description: `Tenant '${route.tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
      };
      sendJson(res, 400, errorBody(failure, baseUrl, req));
      return;
    }
    if (route.name === 'openid-configuration') {
      openIdConfiguration(res, tenant);
    } else if (route.name === 'keys') {
      sendJson(res, 200, jwks());
    } else {
      await handleToken(req, res, kind, form, tenant);
    }
  }

  const server = createServer({ cert: options.cert, key: options.key }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const failure: EntraError = {
        status: 500,
        error: 'server_error',
        code: 90100,
        description: `The sandbox failed: ${error instanceof Error ? error.message : 'unknown error'}`,
      };
      sendJson(res, 500, errorBody(failure, baseUrl, req));
    });
  });
  const port = await listen(server, options.port ?? 0);
  baseUrl = `https://127.0.0.1:${port}`;

  return {
    url: baseUrl,
    issuer: issuerOf(TENANT_ID),
    identityEndpoint: `${baseUrl}${MANAGED_IDENTITY_PATH}`,
    federatedCredential: federatedCredential(),
    control,
    settings,
    mintUserToken,
    rotateKeys,
    async close() {
      control.close();
      await closeServer(server);
    },
  };
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

type RouteName = 'openid-configuration' | 'keys' | 'instance-discovery' | 'token' | 'managed-identity';

function matchRoute(method: string, path: string): { name: RouteName; tenant: string } | undefined {
  if (method === 'GET' && path === MANAGED_IDENTITY_PATH) return { name: 'managed-identity', tenant: '' };
  const segments = path.split('/').slice(1).map(safeDecode);
  const [tenant = '', ...rest] = segments;
  const tail = rest.join('/');
  if (method === 'GET' && tenant === 'common' && tail === 'discovery/instance')
    return { name: 'instance-discovery', tenant };
  if (method === 'GET' && tail === 'v2.0/.well-known/openid-configuration')
    return { name: 'openid-configuration', tenant };
  if (method === 'GET' && tail === 'discovery/v2.0/keys') return { name: 'keys', tenant };
  if (method === 'POST' && tail === 'oauth2/v2.0/token') return { name: 'token', tenant };
  return undefined;
}

function kindOf(route: RouteName, form: URLSearchParams, req: IncomingMessage): string {
  // The Graph emulator's own key fetches are counted apart: `keys` counts only the app's.
  if (route === 'keys' && headerValue(req, 'x-sandbox-client') === 'graph') return 'keys.graph';
  if (route !== 'token') return route;
  const onBehalfOf =
    form.get('grant_type') === JWT_BEARER && form.get('requested_token_use') === 'on_behalf_of';
  return onBehalfOf ? 'token.obo' : 'token.other';
}

interface TenantPath {
  kind: 'own' | 'multi' | 'unknown';
  segment: string;
  /** The sandbox tenant the path names (`own`). */
  tenant?: SandboxTenant;
}

function resolveTenant(segment: string): TenantPath {
  const lower = segment.toLowerCase();
  const known = sandboxTenant(lower);
  if (known !== undefined) return { kind: 'own', segment, tenant: known };
  if (lower === 'common' || lower === 'organizations') return { kind: 'multi', segment };
  return { kind: 'unknown', segment };
}

interface RequestedScopes {
  oidc: Set<string>;
  /** Graph permission names (`Calendars.Read`), without `.default`. */
  permissions: string[];
  usesDefault: boolean;
}

function graphPermission(permission: string): ResourcePermission {
  return { resourceAppId: GRAPH_APP_ID, permission };
}

/** `https://graph.microsoft.com/Calendars.Read` (or Graph's app id form) as a Graph permission. */
function resourcePermissionOf(scope: string): ResourcePermission | undefined {
  for (const prefix of [`${GRAPH_RESOURCE}/`, `${GRAPH_APP_ID}/`]) {
    if (scope.toLowerCase().startsWith(prefix)) {
      const permission = scope.slice(prefix.length);
      return /^[A-Za-z][A-Za-z0-9.]*$/.test(permission) ? graphPermission(permission) : undefined;
    }
  }
  return undefined;
}

/** The Graph permissions and OIDC scopes asked for in `scope` (consent is checked per user by the grant). */
function resolveGraphScopes(scope: string): Outcome<RequestedScopes> {
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
      return fail(
        400,
        'invalid_scope',
        70011,
        `The provided value for the input parameter 'scope' is not valid. The scope '${item}' is not for Microsoft Graph, the only resource the sandbox issues tokens for.`,
      );
    }
    permissions.push(permission);
  }
  if (permissions.length === 0) {
    return fail(
      400,
      'invalid_scope',
      70011,
      "The provided value for the input parameter 'scope' is not valid: it names no resource.",
    );
  }
  const usesDefault = permissions.some((p) => p === '.default');
  if (usesDefault && permissions.length > 1) {
    return fail(
      400,
      'invalid_scope',
      70011,
      "The provided value for the input parameter 'scope' is not valid: '.default' cannot be combined with other scopes of the resource.",
    );
  }
  return { ok: true, value: { oidc, permissions: usesDefault ? [] : permissions, usesDefault } };
}

function consentRequired(): { ok: false; failure: EntraError } {
  return {
    ok: false,
    failure: {
      status: 400,
      error: 'invalid_grant',
      code: 65001,
      description: `The user or administrator has not consented to use the application with ID '${API_CLIENT_ID}' named '${API_DISPLAY_NAME}'. Send an interactive authorization request for this user and resource.`,
      suberror: 'consent_required',
    },
  };
}

function assertionFailure(error: unknown): EntraError {
  const invalidGrant = (code: number, description: string): EntraError => ({
    status: 400,
    error: 'invalid_grant',
    code,
    description,
  });
  if (
    error instanceof errors.JWTExpired ||
    (error instanceof errors.JWTClaimValidationFailed &&
      error.claim === 'nbf' &&
      error.reason === 'check_failed')
  ) {
    return invalidGrant(
      500133,
      `Assertion is not within its valid time range. Ensure that the access token is not expired before using it for user assertion, or request a new token. Current time: ${new Date().toISOString()}.`,
    );
  }
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return invalidGrant(50013, 'Assertion failed signature validation. [Reason - The key was not found.]');
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return invalidGrant(
      50013,
      'Assertion failed signature validation. [Reason - Key was found, but use of the key to verify the signature failed.]',
    );
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return invalidGrant(
      50013,
      'Assertion failed signature validation. [Reason - The signing algorithm is not allowed.]',
    );
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    return invalidGrant(50013, `Assertion failed validation of the '${error.claim}' claim.`);
  }
  return {
    status: 400,
    error: 'invalid_request',
    code: 50027,
    description: 'JWT token is invalid or malformed.',
  };
}

/**
 * Authenticates the API with a client assertion as Entra does. The API app has no certificate, so an assertion
 * it signed itself (`iss` = `sub` = client id) names an unknown key. Any other assertion must match a federated
 * identity credential exactly (issuer, then subject, then audience, case-sensitive) and verify: RS256 against the
 * issuer's keys (the emulator's own JWKS: the only issuer it trusts is itself), `exp` required, 5-minute skew.
 */
async function verifyClientAssertion(
  assertion: string,
  credentials: readonly FederatedIdentityCredential[],
  issuerKeys: JSONWebKeySet,
): Promise<Outcome<FederatedIdentityCredential>> {
  let claims: JWTPayload;
  try {
    claims = decodeJwt(assertion);
    decodeProtectedHeader(assertion);
  } catch {
    return fail(400, 'invalid_request', 50027, 'JWT token is invalid or malformed.');
  }
  const invalidClient = (code: number, description: string): { ok: false; failure: EntraError } =>
    fail(401, 'invalid_client', code, description);
  if (claims.iss === API_CLIENT_ID && claims.sub === API_CLIENT_ID) {
    return invalidClient(
      700027,
      `Client assertion contains an invalid signature. [Reason - The key was not found. Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${API_CLIENT_ID}'.]`,
    );
  }
  const federationHelp =
    'Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation';
  const byIssuer = credentials.filter((credential) => credential.issuer === claims.iss);
  if (byIssuer.length === 0) {
    return invalidClient(
      700211,
      `No matching federated identity record found for presented assertion issuer '${String(claims.iss)}'. ${federationHelp}`,
    );
  }
  const bySubject = byIssuer.filter((credential) => credential.subject === claims.sub);
  if (bySubject.length === 0) {
    return invalidClient(
      700213,
      `No matching federated identity record found for presented assertion subject '${String(claims.sub)}'. ${federationHelp}`,
    );
  }
  // One audience: a string, or a one-element array as some issuers (Kubernetes) send it.
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  const audience = audiences.length === 1 ? audiences[0] : undefined;
  const credential = bySubject.find((c) => audience !== undefined && c.audiences.includes(audience));
  if (credential === undefined) {
    return invalidClient(
      700212,
      `No matching federated identity record found for presented assertion audience '${audiences.map(String).join(',')}'. ${federationHelp}`,
    );
  }
  try {
    await jwtVerify(assertion, createLocalJWKSet(issuerKeys), {
      algorithms: ['RS256'],
      clockTolerance: CLOCK_SKEW_SECONDS,
      requiredClaims: ['exp'],
    });
  } catch (error) {
    return { ok: false, failure: clientAssertionFailure(error, claims) };
  }
  return { ok: true, value: credential };
}

function clientAssertionFailure(error: unknown, claims: JWTPayload): EntraError {
  const invalidClient = (code: number, description: string): EntraError => ({
    status: 401,
    error: 'invalid_client',
    code,
    description,
  });
  if (
    error instanceof errors.JWTExpired ||
    (error instanceof errors.JWTClaimValidationFailed && (error.claim === 'nbf' || error.claim === 'exp'))
  ) {
    const time = (claim: unknown): string =>
      typeof claim === 'number' ? new Date(claim * 1000).toISOString() : 'none';
    return invalidClient(
      700024,
      `Client assertion is not within its valid time range. Current time: ${new Date().toISOString()}, assertion valid from ${time(claims.nbf)}, expiry time of assertion ${time(claims.exp)}.`,
    );
  }
  const invalidSignature = (reason: string): EntraError =>
    invalidClient(700027, `Client assertion contains an invalid signature. [Reason - ${reason}]`);
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return invalidSignature('The key was not found.');
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return invalidSignature('Key was found, but use of the key to verify the signature failed.');
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return invalidSignature('The signing algorithm is not allowed.');
  }
  return {
    status: 400,
    error: 'invalid_request',
    code: 50027,
    description: 'JWT token is invalid or malformed.',
  };
}

function missingParameter(name: string): { ok: false; failure: EntraError } {
  return fail(
    400,
    'invalid_request',
    900144,
    `The request body must contain the following parameter: '${name}'.`,
  );
}

function fail(
  status: number,
  error: string,
  code: number,
  description: string,
): { ok: false; failure: EntraError } {
  return { ok: false, failure: { status, error, code, description } };
}

function defaultError(status: number): EntraError {
  if (status >= 500 || status === 429) {
    return {
      status,
      error: 'temporarily_unavailable',
      code: 90033,
      description: 'A transient error has occurred. Please try again.',
    };
  }
  if (status === 401) {
    return { status, error: 'invalid_client', code: 7000215, description: 'Invalid client secret provided.' };
  }
  return { status, error: 'invalid_request', code: 90014, description: 'The request is not valid.' };
}

interface EntraErrorBody {
  error: string;
  error_description: string;
  error_codes: number[];
  timestamp: string;
  trace_id: string;
  correlation_id: string;
  error_uri: string;
  suberror?: string;
  claims?: string;
}

/** Entra's error body: the AADSTS code leads the description, trace and correlation ids close it. */
function errorBody(failure: EntraError, baseUrl: string, req: IncomingMessage): EntraErrorBody {
  const traceId = randomUUID();
  const correlationId = headerValue(req, 'client-request-id') ?? randomUUID();
  const timestamp = new Date()
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  return {
    error: failure.error,
    error_description: `AADSTS${failure.code}: ${failure.description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: [failure.code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `${baseUrl}/error?code=${failure.code}`,
    ...(failure.suberror === undefined ? {} : { suberror: failure.suberror }),
    ...(failure.claims === undefined ? {} : { claims: failure.claims }),
  };
}

/**
 * Failures Entra sends to an on-behalf-of request. msal-node throws InteractionRequiredAuthError for
 * `mfa_required` (suberror basic_action) and `consent_required` (suberror consent_required), ServerError for
 * the others (msal-common `isInteractionRequiredError`).
 */
function entraPresets(baseUrl: () => string): Record<string, FaultPreset> {
  const preset = (failure: EntraError): FaultPreset => ({
    kind: 'token.obo',
    status: failure.status,
    body: (context: FaultContext) => errorBody(failure, baseUrl(), context.req),
  });
  return {
    mfa_required: preset({
      status: 400,
      error: 'invalid_grant',
      code: 50076,
      description: `Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '${GRAPH_APP_ID}'.`,
      suberror: 'basic_action',
      claims: JSON.stringify({ access_token: { capolids: { essential: true, values: [randomUUID()] } } }),
    }),
    consent_required: preset(consentRequired().failure),
    invalid_assertion: preset({
      status: 400,
      error: 'invalid_grant',
      code: 50013,
      description: 'Assertion failed signature validation. [Reason - The key was not found.]',
    }),
    temporarily_unavailable: preset({
      status: 503,
      error: 'temporarily_unavailable',
      code: 90033,
      description: 'A transient error has occurred. Please try again.',
    }),
  };
}

async function createSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', {
    modulusLength: 2048,
    extractable: true,
  });
  const kid = randomBytes(20).toString('base64url');
  const { kty, n, e } = await exportJWK(publicKey);
  return { kid, privateKey, publicJwk: { kty, use: 'sig', kid, n, e } };
}

/** Entra's `sub` is pairwise: the same user has a different subject in each application. */
function pairwiseSubject(oid: string, clientId: string): string {
  return createHash('sha256').update(`${oid}:${clientId}`).digest('base64url').slice(0, 43);
}

function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function basicCredentials(req: IncomingMessage): { clientId: string; secret: string } | undefined {
  const header = headerValue(req, 'authorization');
  const match = header === undefined ? null : /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
  if (match?.[1] === undefined) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { clientId: safeDecode(decoded.slice(0, colon)), secret: safeDecode(decoded.slice(colon + 1)) };
}

/** A malformed escape stays as it is: it then matches nothing. */
function safeDecode(component: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    return component;
  }
}

function isFormEncoded(req: IncomingMessage): boolean {
  return (headerValue(req, 'content-type') ?? '')
    .toLowerCase()
    .startsWith('application/x-www-form-urlencoded');
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function stringClaim(claims: JWTPayload, name: string): string | undefined {
  const value = claims[name];
  return typeof value === 'string' ? value : undefined;
}
