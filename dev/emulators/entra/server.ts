// Entra ID (v2 endpoints) emulator for one tenant: the HTTPS server and its one table of routes. What each
// route answers lives beside it: metadata.ts, keys.ts, grants.ts (one module per grant), errors.ts, control.ts.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';

import { EmulatorControl } from '../kit/control.js';
import {
  closeServer,
  headerValue,
  listen,
  parseJsonBody,
  readBody,
  safeDecode,
  sendJson,
} from '../kit/http.js';
import {
  MANAGED_IDENTITY_PATH,
  MANAGED_IDENTITY_PRINCIPAL_ID,
  managedIdentityErrorBody,
  managedIdentityTokenClaims,
  managedIdentityTokenResponse,
  parseManagedIdentityRequest,
  TOKEN_EXCHANGE_AUDIENCE,
} from '../managedIdentity.js';
import { handleEntraControl, handleEntraQuery } from './control.js';
import { EntraDirectory } from './directory.js';
import { defaultError, type EntraError, entraPresets, errorBody } from './errors.js';
import type { FederatedIdentityCredential } from './federation.js';
import {
  API_APP_ID_URI,
  API_CLIENT_ID,
  API_DISPLAY_NAME,
  API_SCOPE,
  CONSENTED_GRAPH_PERMISSIONS,
  resolveTenant,
  sandboxTenant,
  sandboxUser,
  SPA_CLIENT_ID,
  TENANT_ID,
  type TenantPath,
} from './fixtures.js';
import type { EntraSettings, GrantContext } from './grants.js';
import { OTHER_TOKEN_KIND, redeemToken, TOKEN_GRANTS, tokenKindOf } from './grants.js';
import type { IssuedUserToken, UserTokenOptions } from './keys.js';
import { SigningKeys } from './keys.js';
import { instanceDiscovery, openIdConfiguration } from './metadata.js';
import { createSignInRoutes, SIGN_IN_KINDS, type SignInRoutes } from './signInRoutes.js';

export type { EntraSettings } from './grants.js';
export type { IssuedUserToken, UserTokenOptions } from './keys.js';

export const ENTRA_KINDS = [
  'openid-configuration',
  'keys',
  'keys.graph',
  'instance-discovery',
  ...TOKEN_GRANTS.map((grant) => grant.kind),
  OTHER_TOKEN_KIND,
  ...SIGN_IN_KINDS,
  'managed-identity',
  'other',
];

export interface EntraEmulatorOptions {
  cert: string;
  key: string;
  /** 0 or absent: an ephemeral port. */
  port?: number;
  clientSecret: string;
  /** The secret the managed identity endpoint expects in `X-IDENTITY-HEADER` (App Service's IDENTITY_HEADER). */
  identityHeader: string;
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
  /** The SPA's sign-in: its redirect URIs, codes and refresh tokens, users who need MFA. */
  signIn: SignInRoutes;
  readonly settings: EntraSettings;
  /** A user access token for the API, as a single-page app obtains it. */
  mintUserToken(name: string, options?: UserTokenOptions): Promise<IssuedUserToken>;
  /** A new current signing key; the previous ones stay published unless retired. Gives the new kid. */
  rotateKeys(options?: { retireOld?: boolean }): Promise<string>;
  close(): Promise<void>;
}

/** A matched route's request: the URL, the raw body, the tenant path segment (decoded). */
interface RouteRequest {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  body: Buffer;
  tenant: string;
}

interface Route {
  method: 'GET' | 'POST' | 'OPTIONS';
  /** Matches the path after the tenant segment, or the whole path when `tenantless`. */
  path: string;
  tenantless?: boolean;
  /** The one tenant segment it answers under, when not any. */
  onlyTenant?: string;
  /** Routes that name a tenant answer 90002 for an unknown one. */
  needsTenant: boolean;
  /** The request kind counted (and faulted). */
  kindOf(request: RouteRequest): string;
  answer(request: RouteRequest, tenant: TenantPath): Promise<void> | void;
}

export async function startEntraEmulator(options: EntraEmulatorOptions): Promise<EntraEmulator> {
  let baseUrl = '';
  const issuerOf = (tenant: string): string => `${baseUrl}/${tenant}/v2.0`;
  const keys = await SigningKeys.create(() => issuerOf(TENANT_ID));
  const settings: EntraSettings = { oboTokenLifetimeSeconds: 3600 };
  const directory = new EntraDirectory();
  const minting = { issuerOf, directory };
  // As the API's registration holds it: a managed identity of this tenant, for Entra's token exchange.
  const federatedCredential = (): FederatedIdentityCredential => ({
    name: 'obo-graph-api-managed-identity',
    issuer: issuerOf(TENANT_ID),
    subject: MANAGED_IDENTITY_PRINCIPAL_ID,
    audiences: [TOKEN_EXCHANGE_AUDIENCE],
  });
  const signIn = createSignInRoutes({
    tenantId: TENANT_ID,
    baseUrl: () => baseUrl,
    issuer: () => issuerOf(TENANT_ID),
    sign: (payload) => keys.sign(payload),
    userOf: (name) => ({ name: name.toLowerCase(), ...sandboxUser(name) }),
    sendError: (req, res, failure, headers) => {
      const answer = errorBody(failure, baseUrl, req);
      sendJson(res, failure.status, answer, { ...headers, 'x-ms-request-id': answer.trace_id });
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
  const grantContext = (): GrantContext => ({
    issuer: issuerOf(TENANT_ID),
    issuerOf,
    directory,
    keys,
    clientSecret: options.clientSecret,
    federatedCredentials: [federatedCredential()],
    settings,
    nowSeconds: () => Math.floor(Date.now() / 1000),
    stepUpFailure: (assertion) => signIn.stepUpFailure(assertion),
  });

  const control = new EmulatorControl({
    kinds: ENTRA_KINDS,
    presets: entraPresets(() => baseUrl),
    errorBody: (status, context) =>
      context.kind === 'managed-identity'
        ? managedIdentityErrorBody(status, 'The sandbox injected this failure.')
        : errorBody(defaultError(status), baseUrl, context.req),
  });

  /** `GET /msi/token`: App Service's managed identity endpoint, for the sandbox's user-assigned identity. */
  async function managedIdentityToken({ req, res, url }: RouteRequest): Promise<void> {
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
    const accessToken = await keys.sign(claims);
    sendJson(res, 200, managedIdentityTokenResponse(accessToken, request.resource, Number(claims.exp)), {
      'x-correlation-id': randomUUID(),
    });
  }

  async function token({ req, res, body }: RouteRequest, tenant: TenantPath): Promise<void> {
    const headers: Record<string, string> = { 'cache-control': 'no-store, no-cache', pragma: 'no-cache' };
    const clientRequestId = headerValue(req, 'client-request-id');
    if (clientRequestId !== undefined && headerValue(req, 'return-client-request-id') === 'true') {
      headers['client-request-id'] = clientRequestId;
    }
    const outcome = await redeemToken(
      { form: formOf(req, body), basic: basicCredentials(req), tenant },
      grantContext(),
    );
    if (outcome.ok) {
      sendJson(res, 200, outcome.value, { ...headers, 'x-ms-request-id': randomUUID() });
    } else {
      const answer = errorBody(outcome.failure, baseUrl, req);
      sendJson(res, outcome.failure.status, answer, { ...headers, 'x-ms-request-id': answer.trace_id });
    }
  }

  const routes: readonly Route[] = [
    {
      method: 'GET',
      path: MANAGED_IDENTITY_PATH,
      tenantless: true,
      needsTenant: false,
      kindOf: () => 'managed-identity',
      answer: managedIdentityToken,
    },
    {
      method: 'GET',
      path: 'discovery/instance',
      onlyTenant: 'common',
      needsTenant: false,
      kindOf: () => 'instance-discovery',
      answer: ({ res, url }) => sendJson(res, 200, instanceDiscovery(baseUrl, url.searchParams)),
    },
    {
      method: 'GET',
      path: 'v2.0/.well-known/openid-configuration',
      needsTenant: true,
      kindOf: () => 'openid-configuration',
      // Entra serves its metadata and keys to any origin: msal-browser reads them cross-origin.
      answer: ({ res }, tenant) =>
        sendJson(res, 200, openIdConfiguration(baseUrl, tenant), { 'access-control-allow-origin': '*' }),
    },
    {
      method: 'GET',
      path: 'discovery/v2.0/keys',
      needsTenant: true,
      // The Graph emulator's own key fetches are counted apart: `keys` counts only the app's.
      kindOf: ({ req }) => (headerValue(req, 'x-sandbox-client') === 'graph' ? 'keys.graph' : 'keys'),
      answer: ({ res }) => sendJson(res, 200, keys.jwks(), { 'access-control-allow-origin': '*' }),
    },
    {
      method: 'POST',
      path: 'oauth2/v2.0/token',
      needsTenant: true,
      kindOf: ({ req, body }) => signIn.grantKindOf(formOf(req, body)) ?? tokenKindOf(formOf(req, body)),
      answer: (request, tenant) => {
        const form = formOf(request.req, request.body);
        return signIn.grantKindOf(form) === undefined
          ? token(request, tenant)
          : signIn.token(request.req, request.res, form);
      },
    },
    // The SPA's sign-in (signInRoutes.ts): authorize with its pages, CORS on the token endpoint, end_session.
    {
      method: 'OPTIONS',
      path: 'oauth2/v2.0/token',
      needsTenant: true,
      kindOf: () => 'token.preflight',
      answer: ({ req, res }) => signIn.preflight(req, res),
    },
    {
      method: 'GET',
      path: 'oauth2/v2.0/authorize',
      needsTenant: true,
      kindOf: () => 'authorize',
      answer: ({ req, res, url, body, tenant }) => signIn.authorize(req, res, tenant, url, body),
    },
    {
      method: 'POST',
      path: 'oauth2/v2.0/authorize',
      needsTenant: true,
      // The sign-in pages' own form posts (user picked, second factor, consent), apart from apps' requests.
      kindOf: () => 'authorize.form',
      answer: ({ req, res, url, body, tenant }) => signIn.authorize(req, res, tenant, url, body),
    },
    {
      method: 'GET',
      path: 'oauth2/v2.0/logout',
      needsTenant: true,
      kindOf: () => 'logout',
      answer: ({ res, url }) => signIn.logout(res, url),
    },
  ];

  function matchRoute(method: string, path: string): { route: Route; tenant: string } | undefined {
    const [tenant = '', ...rest] = path.split('/').slice(1).map(safeDecode);
    const tail = rest.join('/');
    const route = routes.find(
      (candidate) =>
        candidate.method === method &&
        (candidate.tenantless === true
          ? candidate.path === path
          : candidate.path === tail && (candidate.onlyTenant ?? tenant) === tenant),
    );
    return route === undefined ? undefined : { route, tenant };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrl);
    const body = await readBody(req);
    if (url.pathname.startsWith('/_emulator/')) {
      if (url.pathname === '/_emulator/reset' && req.method === 'POST') directory.clear();
      if (control.handleControlRequest(req, res, url.pathname, body)) return;
      if (req.method === 'GET' && handleEntraQuery(res, url, directory)) return;
      const parsed = parseJsonBody(body);
      if (signIn.handleControl(req, res, url.pathname, parsed.ok ? parsed.value : undefined)) return;
      await handleEntraControl(req, res, url.pathname, body, { keys, settings, minting });
      return;
    }
    const matched = matchRoute(req.method ?? '', url.pathname);
    const request: RouteRequest = { req, res, url, body, tenant: matched?.tenant ?? '' };
    const kind = matched === undefined ? 'other' : matched.route.kindOf(request);
    const pathTenant = matched === undefined ? undefined : sandboxTenant(matched.tenant);
    if (pathTenant !== undefined) directory.countTenantRequest(pathTenant.id, kind);
    if (!(await control.admit(kind, req, res))) return;

    if (matched === undefined) {
      sendJson(res, 404, {
        error: 'not_found',
        error_description: `No such Entra endpoint: ${req.method ?? ''} ${url.pathname}`,
      });
      return;
    }
    const tenant = resolveTenant(matched.tenant);
    if (matched.route.needsTenant && tenant.kind === 'unknown') {
      const failure: EntraError = {
        status: 400,
        error: matched.route.method === 'POST' ? 'invalid_request' : 'invalid_tenant',
        code: 90002,
        description: `Tenant '${matched.tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
      };
      sendJson(res, 400, errorBody(failure, baseUrl, req));
      return;
    }
    await matched.route.answer(request, tenant);
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
    signIn,
    settings,
    mintUserToken: (name, tokenOptions) => keys.mintUserToken(name, tokenOptions, minting),
    rotateKeys: (rotateOptions) => keys.rotate(rotateOptions),
    async close() {
      control.close();
      await closeServer(server);
    },
  };
}

/** The form body of a token request; empty unless it is form-encoded. */
function formOf(req: IncomingMessage, body: Buffer): URLSearchParams {
  const form = (headerValue(req, 'content-type') ?? '')
    .toLowerCase()
    .startsWith('application/x-www-form-urlencoded');
  return form ? new URLSearchParams(body.toString('utf8')) : new URLSearchParams();
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
