// Entra ID (v2 endpoints) emulator for one tenant: the HTTPS server, its state, and the dispatch of a request to
// the control endpoints (control.ts, signInRoutes.ts) or to its one table of routes (routes.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';

import { EmulatorControl } from '../kit/control.js';
import { closeServer, listen, parseJsonBody, readBody, sendJson } from '../kit/http.js';
import {
  MANAGED_IDENTITY_PATH,
  MANAGED_IDENTITY_PRINCIPAL_ID,
  managedIdentityErrorBody,
  TOKEN_EXCHANGE_AUDIENCE,
} from '../managedIdentity.js';
import type { ResourcePermission } from './consent.js';
import { handleEntraControl, handleEntraQuery } from './control.js';
import { downstreamScopeOf, EntraDirectory, resourcePermissionOf } from './directory.js';
import { defaultError, type EntraError, entraPresets, errorBody, sendTokenError } from './errors.js';
import type { FederatedIdentityCredential } from './federation.js';
import {
  API_APP_ID_URI,
  API_CLIENT_ID,
  API_DECLARED_PERMISSIONS,
  API_DISPLAY_NAME,
  API_SCOPE,
  GRAPH_RESOURCE,
  resolveTenant,
  sandboxTenant,
  sandboxUser,
  SPA_CLIENT_ID,
  TENANT_ID,
} from './fixtures.js';
import type { EntraSettings, GrantContext } from './grants.js';
import { DEFAULT_ENTRA_SETTINGS, OTHER_TOKEN_KIND, TOKEN_GRANTS } from './grants.js';
import type { IssuedUserToken, UserTokenOptions } from './keys.js';
import { SigningKeys } from './keys.js';
import { entraRoutes, matchRoute, type RouteRequest } from './routes.js';
import { createSignInRoutes, SIGN_IN_KINDS, type SignInRoutes } from './signInRoutes.js';

export type { EntraSettings } from './grants.js';
export type { IssuedUserToken, UserTokenOptions } from './keys.js';

export const ENTRA_KINDS = [
  'openid-configuration',
  'keys',
  'keys.graph',
  'keys.tasks',
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
  /**
   * The downstream permissions the API's registration declares (`requiredResourceAccess`), as full scopes
   * (`https://graph.microsoft.com/User.Read`, `api://<tasks>/Tasks.ReadWrite`): what the consent page lists and
   * records. Default API_DECLARED_PERMISSIONS.
   */
  declaredPermissions?: readonly string[];
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
  /**
   * Adds an identifier URI of Microsoft Graph's service principal besides https://graph.microsoft.com: the
   * sandbox's Graph emulator, which the app calls on its own host, as each national cloud's Graph has its own.
   */
  addGraphResourceUri(uri: string): void;
  /** A user access token for the API, as a single-page app obtains it. */
  mintUserToken(name: string, options?: UserTokenOptions): Promise<IssuedUserToken>;
  /** A new current signing key; the previous ones stay published unless retired. Gives the new kid. */
  rotateKeys(options?: { retireOld?: boolean }): Promise<string>;
  close(): Promise<void>;
}

export async function startEntraEmulator(options: EntraEmulatorOptions): Promise<EntraEmulator> {
  let baseUrl = '';
  const issuerOf = (tenant: string): string => `${baseUrl}/${tenant}/v2.0`;
  const keys = await SigningKeys.create(() => issuerOf(TENANT_ID));
  const settings: EntraSettings = { ...DEFAULT_ENTRA_SETTINGS };
  const directory = new EntraDirectory();
  const graphResources: string[] = [GRAPH_RESOURCE];
  const minting = { issuerOf, directory };
  // As the API's registration holds it: a managed identity of this tenant, for Entra's token exchange.
  const federatedCredential = (): FederatedIdentityCredential => ({
    name: 'obo-graph-api-managed-identity',
    issuer: issuerOf(TENANT_ID),
    subject: MANAGED_IDENTITY_PRINCIPAL_ID,
    audiences: [TOKEN_EXCHANGE_AUDIENCE],
  });
  const declared = declaredPermissionsOf(options.declaredPermissions ?? API_DECLARED_PERMISSIONS);
  const signIn = createSignInRoutes({
    tenantId: TENANT_ID,
    baseUrl: () => baseUrl,
    issuer: () => issuerOf(TENANT_ID),
    sign: (payload) => keys.sign(payload),
    userTokenLifetimeSeconds: () => settings.userTokenLifetimeSeconds,
    userOf: (name) => ({ name: name.toLowerCase(), ...sandboxUser(name) }),
    appRolesOf: (user) => directory.appRoles.rolesOf(TENANT_ID, user.oid),
    sendError: (req, res, failure, headers) => sendTokenError(req, res, failure, baseUrl, headers),
    sendJson,
    spa: { clientId: SPA_CLIENT_ID, displayName: 'obo-graph-api sample SPA' },
    api: {
      clientId: API_CLIENT_ID,
      appIdUri: API_APP_ID_URI,
      displayName: API_DISPLAY_NAME,
      scopes: [API_SCOPE],
    },
    downstreamPermissions: declared.map(({ label }) => label),
    // What the user accepted on the consent page is recorded as Entra does: the API's OBO exchanges for
    // these permissions succeed for this user from now on (until the sandbox's reset).
    onConsent: (user) =>
      directory.consents.set(
        { tenant: TENANT_ID, oid: user.oid, client: API_CLIENT_ID },
        declared.map(({ permission }) => permission),
        true,
      ),
  });
  const grantContext = (): GrantContext => ({
    issuer: issuerOf(TENANT_ID),
    issuerOf,
    directory,
    keys,
    clientSecret: options.clientSecret,
    federatedCredentials: [federatedCredential()],
    settings,
    graphResources,
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

  const routes = entraRoutes({
    baseUrl: () => baseUrl,
    issuerOf,
    keys,
    signIn,
    grantContext,
    identityHeader: options.identityHeader,
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrl);
    const body = await readBody(req);
    if (url.pathname.startsWith('/_emulator/')) {
      if (url.pathname === '/_emulator/reset' && req.method === 'POST') {
        directory.clear();
        signIn.reset();
      }
      if (control.handleControlRequest(req, res, url.pathname, body)) return;
      if (req.method === 'GET' && handleEntraQuery(res, url, directory)) return;
      const parsed = parseJsonBody(body);
      if (signIn.handleControl(req, res, url.pathname, parsed.ok ? parsed.value : undefined)) return;
      await handleEntraControl(req, res, url.pathname, body, { keys, settings, minting });
      return;
    }
    const matched = matchRoute(routes, req.method ?? '', url.pathname);
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
    addGraphResourceUri: (uri) => {
      if (!graphResources.includes(uri)) graphResources.push(uri);
    },
    mintUserToken: (name, tokenOptions) => keys.mintUserToken(name, tokenOptions, minting),
    rotateKeys: (rotateOptions) => keys.rotate(rotateOptions),
    async close() {
      control.close();
      await closeServer(server);
    },
  };
}

/** The declared permissions checked once, at start: each must name a permission of a downstream API the emulator knows. */
function declaredPermissionsOf(
  scopes: readonly string[],
): { permission: ResourcePermission; label: string }[] {
  return scopes.map((scope) => {
    const permission = resourcePermissionOf(scope);
    const api = downstreamScopeOf(scope)?.api;
    if (permission === undefined || api === undefined) {
      throw new Error(
        `declared permission "${scope}" is not a permission of Microsoft Graph or the Tasks API (<app ID URI>/<permission>)`,
      );
    }
    return { permission, label: `${api.displayName}: ${permission.permission}` };
  });
}
