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
import { createSignInRoutes, type SignInRoutes } from './emulators/entra/signInRoutes.js';
import {
  MANAGED_IDENTITY_PATH,
  MANAGED_IDENTITY_PRINCIPAL_ID,
  managedIdentityErrorBody,
  managedIdentityTokenClaims,
  managedIdentityTokenResponse,
  parseManagedIdentityRequest,
  TOKEN_EXCHANGE_AUDIENCE,
} from './managedIdentity.js';

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
/** The Graph permissions an administrator has consented to for the API. */
export const CONSENTED_GRAPH_PERMISSIONS = ['User.Read'] as const;

export const ENTRA_KINDS = [
  'openid-configuration',
  'keys',
  'keys.graph',
  'instance-discovery',
  'token.obo',
  'token.other',
  'managed-identity',
  'authorize',
  'authorize.form',
  'logout',
  'token.authorization_code',
  'token.refresh_token',
  'token.preflight',
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
  if (!USER_NAME.test(name)) throw new Error(`user name must match ${String(USER_NAME)}`);
  const lower = name.toLowerCase();
  const bytes = createHash('sha256').update(`obo-graph-api sandbox user:${lower}`).digest().subarray(0, 16);
  bytes.writeUInt8(((bytes.readUInt8(6) & 0x0f) | 0x50) >>> 0, 6); // UUID version 5 (name-based, SHA)
  bytes.writeUInt8(((bytes.readUInt8(8) & 0x3f) | 0x80) >>> 0, 8); // RFC 4122 variant
  const hex = bytes.toString('hex');
  const oid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  const givenName = lower.charAt(0).toUpperCase() + lower.slice(1);
  return {
    oid,
    givenName,
    surname: 'Sandbox',
    displayName: `${givenName} Sandbox`,
    userPrincipalName: `${lower}@${TENANT_DOMAIN}`,
  };
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
  /** The SPA's sign-in: its redirect URIs, codes and refresh tokens, users who need MFA. */
  signIn: SignInRoutes;
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
  const signIn = createSignInRoutes({
    tenantId: TENANT_ID,
    baseUrl: () => baseUrl,
    issuer: () => issuerOf(TENANT_ID),
    sign,
    userOf: (name) => ({ name: name.toLowerCase(), ...sandboxUser(name) }),
    sendError: (req, res, failure, headers) => {
      const body = errorBody(failure, baseUrl, req);
      sendJson(res, failure.status, body, { ...headers, 'x-ms-request-id': body.trace_id });
    },
    sendJson,
    spa: { clientId: SPA_CLIENT_ID, displayName: 'obo-graph-api sample SPA' },
    api: {
      clientId: API_CLIENT_ID,
      appIdUri: API_APP_ID_URI,
      displayName: API_DISPLAY_NAME,
      scopes: [API_SCOPE],
    },
    downstreamPermissions: CONSENTED_GRAPH_PERMISSIONS,
  });
  const jwks = (): JSONWebKeySet => ({
    keys: keys.map(({ publicJwk }) => ({ ...publicJwk, use: 'sig', issuer: issuerOf(TENANT_ID) })),
  });

  async function mintUserToken(name: string, tokenOptions: UserTokenOptions = {}): Promise<IssuedUserToken> {
    const user = sandboxUser(name);
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = {
      aud: API_CLIENT_ID,
      iss: issuerOf(TENANT_ID),
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
      tid: TENANT_ID,
      uti: randomBytes(16).toString('base64url'),
      ver: '2.0',
      ...tokenOptions.set,
    };
    for (const claim of tokenOptions.unset ?? []) delete claims[claim];
    return { access_token: await sign(claims), oid: user.oid, tid: TENANT_ID };
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
    const issuerTenant = tenant.kind === 'own' ? TENANT_ID : '{tenantid}';
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
    const clientId = form.get('client_id') ?? basicCredentials(req)?.clientId;
    if (clientId === undefined) return missingParameter('client_id');
    if (clientId !== API_CLIENT_ID) {
      return fail(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${TENANT_DOMAIN}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      );
    }
    const client = await authenticateClient(req, form);
    if (!client.ok) return client;

    const assertion = form.get('assertion');
    if (assertion === null || assertion === '') return missingParameter('assertion');
    const scope = form.get('scope');
    if (scope === null || scope.trim() === '') return missingParameter('scope');

    const caller = await validateAssertion(assertion);
    if (!caller.ok) return caller;
    const stepUp = signIn.stepUpFailure(caller.value);
    if (stepUp !== undefined) return { ok: false, failure: stepUp };
    const requested = resolveGraphScopes(scope);
    if (!requested.ok) return requested;

    const claims = caller.value;
    const now = Math.floor(Date.now() / 1000);
    const lifetime = settings.oboTokenLifetimeSeconds;
    const oid = String(claims.oid);
    const name = typeof claims.name === 'string' ? claims.name : '';
    const upn = stringClaim(claims, 'preferred_username') ?? stringClaim(claims, 'upn') ?? '';
    const [givenName, ...rest] = name.split(' ');
    const graphToken = await sign({
      aud: GRAPH_RESOURCE,
      iss: `https://sts.windows.net/${TENANT_ID}/`,
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
      scp: CONSENTED_GRAPH_PERMISSIONS.join(' '),
      sub: pairwiseSubject(oid, GRAPH_APP_ID),
      tid: TENANT_ID,
      unique_name: upn,
      upn,
      uti: randomBytes(16).toString('base64url'),
      ver: '1.0',
    });

    const response: Record<string, unknown> = {
      token_type: 'Bearer',
      scope: CONSENTED_GRAPH_PERMISSIONS.map((permission) => `${GRAPH_RESOURCE}/${permission}`).join(' '),
      expires_in: lifetime,
      ext_expires_in: lifetime,
      access_token: graphToken,
    };
    if (requested.value.has('offline_access'))
      response.refresh_token = `1.A${randomBytes(96).toString('base64url')}`;
    if (requested.value.has('openid')) {
      response.id_token = await sign({
        aud: API_CLIENT_ID,
        iss: issuerOf(TENANT_ID),
        iat: now,
        nbf: now,
        exp: now + 3600,
        ...(requested.value.has('profile') ? { name, preferred_username: upn } : {}),
        oid,
        sub: pairwiseSubject(oid, API_CLIENT_ID),
        tid: TENANT_ID,
        uti: randomBytes(16).toString('base64url'),
        ver: '2.0',
      });
    }
    if (form.get('client_info') === '1') {
      response.client_info = Buffer.from(JSON.stringify({ uid: oid, utid: TENANT_ID })).toString('base64url');
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

  async function validateAssertion(assertion: string): Promise<Outcome<JWTPayload>> {
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
    const issuers = [issuerOf(TENANT_ID), `https://sts.windows.net/${TENANT_ID}/`];
    if (tid !== TENANT_ID || typeof claims.iss !== 'string' || !issuers.includes(claims.iss)) {
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

  async function handleEmulatorRequest(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    body: Buffer,
  ): Promise<void> {
    if (control.handleControlRequest(req, res, path, body)) return;
    const parsedBody = parseJsonBody(body);
    if (signIn.handleControl(req, res, path, parsedBody.ok ? parsedBody.value : undefined)) return;
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
    const [, tenantSegment = '', ...tailSegments] = url.pathname.split('/');
    const signInForm = isFormEncoded(req)
      ? new URLSearchParams(body.toString('utf8'))
      : new URLSearchParams();
    const signInKind = signIn.kindOf(req.method ?? '', tailSegments.join('/'), signInForm);
    if (signInKind !== undefined) {
      if (!(await control.admit(signInKind, req, res))) return;
      if (resolveTenant(safeDecode(tenantSegment)).kind !== 'own') {
        const failure: EntraError = {
          status: 400,
          error: 'invalid_tenant',
          code: 90002,
          description: `Tenant '${safeDecode(tenantSegment)}' not found: the sandbox's SPA signs in to its own tenant.`,
        };
        sendJson(res, 400, errorBody(failure, baseUrl, req));
        return;
      }
      await signIn.handle(req, res, tenantSegment, tailSegments.join('/'), url, body);
      return;
    }
    const route = matchRoute(req.method ?? '', url.pathname);
    const form =
      route?.name === 'token' && isFormEncoded(req)
        ? new URLSearchParams(body.toString('utf8'))
        : new URLSearchParams();
    const kind = route === undefined ? 'other' : kindOf(route.name, form, req);
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
    // Entra serves its metadata and keys to any origin: browsers (msal-browser) read them cross-origin.
    if (route.name === 'openid-configuration') {
      res.setHeader('access-control-allow-origin', '*');
      openIdConfiguration(res, tenant);
    } else if (route.name === 'keys') {
      res.setHeader('access-control-allow-origin', '*');
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
    signIn,
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
}

function resolveTenant(segment: string): TenantPath {
  const lower = segment.toLowerCase();
  if (lower === TENANT_ID || lower === TENANT_DOMAIN) return { kind: 'own', segment };
  if (lower === 'common' || lower === 'organizations') return { kind: 'multi', segment };
  return { kind: 'unknown', segment };
}

/** Graph permissions asked for in `scope`, checked against the consented ones; gives the OIDC scopes asked. */
function resolveGraphScopes(scope: string): Outcome<Set<string>> {
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
  const consented = CONSENTED_GRAPH_PERMISSIONS.map((p) => p.toLowerCase());
  const missing = usesDefault ? [] : permissions.filter((p) => !consented.includes(p.toLowerCase()));
  if (missing.length > 0) {
    return consentRequired();
  }
  return { ok: true, value: oidc };
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
