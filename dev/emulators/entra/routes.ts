// The Entra emulator's one table of routes: every endpoint, the request kind it counts (and faults) as, and what
// answers it. What each route answers lives beside it: metadata.ts, keys.ts, grants.ts, signInRoutes.ts.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { SANDBOX_CLIENT_HEADER } from '../kit/entraSigningKeys.js';
import { headerValue, safeDecode, sendJson } from '../kit/http.js';
import {
  MANAGED_IDENTITY_PATH,
  managedIdentityErrorBody,
  managedIdentityTokenClaims,
  managedIdentityTokenResponse,
  parseManagedIdentityRequest,
} from '../managedIdentity.js';
import { sendTokenError } from './errors.js';
import { TENANT_ID, type TenantPath } from './fixtures.js';
import { type GrantContext, redeemToken, tokenKindOf } from './grants.js';
import type { SigningKeys } from './keys.js';
import { instanceDiscovery, openIdConfiguration } from './metadata.js';
import type { SignInRoutes } from './signInRoutes.js';

/** A matched route's request: the URL, the raw body, the tenant path segment (decoded). */
export interface RouteRequest {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  body: Buffer;
  tenant: string;
}

export interface Route {
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

/** What the routes answer from: the emulator's state, known once it listens. */
export interface EntraRouteState {
  /** https://127.0.0.1:PORT */
  baseUrl: () => string;
  issuerOf: (tenant: string) => string;
  keys: SigningKeys;
  signIn: SignInRoutes;
  grantContext: () => GrantContext;
  /** The secret the managed identity endpoint expects in `X-IDENTITY-HEADER`. */
  identityHeader: string;
}

export function entraRoutes(state: EntraRouteState): readonly Route[] {
  const { issuerOf, keys, signIn } = state;

  /** `GET /msi/token`: App Service's managed identity endpoint, for the sandbox's user-assigned identity. */
  async function managedIdentityToken({ req, res, url }: RouteRequest): Promise<void> {
    const request = parseManagedIdentityRequest(
      url.searchParams,
      headerValue(req, 'x-identity-header'),
      state.identityHeader,
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
      state.grantContext(),
    );
    if (outcome.ok) {
      sendJson(res, 200, outcome.value, { ...headers, 'x-ms-request-id': randomUUID() });
    } else {
      sendTokenError(req, res, outcome.failure, state.baseUrl(), headers);
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
      answer: ({ res, url }) => sendJson(res, 200, instanceDiscovery(state.baseUrl(), url.searchParams)),
    },
    {
      method: 'GET',
      path: 'v2.0/.well-known/openid-configuration',
      needsTenant: true,
      kindOf: () => 'openid-configuration',
      // Entra serves its metadata and keys to any origin: msal-browser reads them cross-origin.
      answer: ({ res }, tenant) =>
        sendJson(res, 200, openIdConfiguration(state.baseUrl(), tenant), {
          'access-control-allow-origin': '*',
        }),
    },
    {
      method: 'GET',
      path: 'discovery/v2.0/keys',
      needsTenant: true,
      // The resource emulators' own key fetches are counted apart: `keys` counts only the app's.
      kindOf: ({ req }) => {
        const client = headerValue(req, SANDBOX_CLIENT_HEADER);
        return client === 'graph' || client === 'tasks' ? `keys.${client}` : 'keys';
      },
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

  return routes;
}

/** The route for `method` and `path`, and the path's tenant segment (decoded). */
export function matchRoute(
  routes: readonly Route[],
  method: string,
  path: string,
): { route: Route; tenant: string } | undefined {
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
