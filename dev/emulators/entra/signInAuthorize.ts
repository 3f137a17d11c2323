// Sign-in for a single-page app as Entra ID answers it, the /authorize side: the request's checks in Entra's order
// (PKCE S256 only), the redirect back with a code or an error, and end_session's redirect check. Pure rules, no
// I/O: signInFlow.ts serves them; signInGrants.ts redeems the codes.
import { isRecord } from '../../../shared/narrow.js';
import { type EntraError, fail, type Failed, missingParameter, type Outcome } from './errors.js';
import { OIDC_SCOPES } from './metadata.js';

/** The SPA's app registration: a public client whose redirect URIs are of type "Single-page application". */
export interface SpaRegistration {
  clientId: string;
  displayName: string;
  redirectUris: readonly string[];
}

/** The one resource the sandbox issues SPA tokens for: the API, with its delegated scopes. */
export interface ApiResource {
  clientId: string;
  appIdUri: string;
  displayName: string;
  scopes: readonly string[];
}

export type ResponseMode = 'query' | 'fragment';

export interface AuthorizationRequest {
  clientId: string;
  redirectUri: string;
  responseMode: ResponseMode;
  state?: string;
  nonce?: string;
  /** The API's permissions asked for, without the resource prefix (`access_as_user`). */
  apiScopes: string[];
  /** `openid`, `profile`, `email`, `offline_access` as asked. */
  oidcScopes: string[];
  codeChallenge: string;
  /** The `claims` request parameter (JSON), e.g. a Conditional Access challenge handed back by an API. */
  claims?: string;
  prompt?: string;
  loginHint?: string;
}

/** Where an authorize failure goes: an error page (no trustworthy redirect URI yet) or back to the app. */
export type AuthorizeFailure =
  | { shown: true; failure: EntraError }
  | { shown: false; failure: EntraError; redirectUri: string; responseMode: ResponseMode; state?: string };

const PROMPTS = new Set(['login', 'none', 'consent', 'select_account', 'create']);
const PKCE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/** Checks an `/authorize` request in Entra's order: client, redirect URI (else an error page), then the rest. */
export function parseAuthorizationRequest(
  params: URLSearchParams,
  spa: SpaRegistration,
  api: ApiResource,
): { ok: true; value: AuthorizationRequest } | ({ ok: false } & AuthorizeFailure) {
  const clientId = params.get('client_id');
  if (clientId === null || clientId === '')
    return { ok: false, shown: true, failure: missingParameter('client_id').failure };
  if (clientId !== spa.clientId) return { ok: false, shown: true, failure: unknownClient(clientId) };
  const redirectUri = params.get('redirect_uri');
  if (redirectUri === null || !spa.redirectUris.includes(redirectUri)) {
    return { ok: false, shown: true, failure: redirectUriMismatch(redirectUri ?? '', spa.clientId) };
  }
  const responseModeParam = params.get('response_mode') ?? 'query';
  const responseMode: ResponseMode = responseModeParam === 'fragment' ? 'fragment' : 'query';
  const state = params.get('state') ?? undefined;
  const back = (failure: EntraError): { ok: false } & AuthorizeFailure => ({
    ok: false,
    shown: false,
    failure,
    redirectUri,
    responseMode,
    ...(state === undefined ? {} : { state }),
  });

  if (responseModeParam !== 'query' && responseModeParam !== 'fragment') {
    return back(
      invalidRequest(
        90014,
        `The response_mode '${responseModeParam}' is not supported for a single-page application.`,
      ),
    );
  }
  const responseType = params.get('response_type');
  if (responseType === null) return back(missingParameter('response_type').failure);
  if (responseType !== 'code') {
    return back({
      status: 400,
      error: 'unsupported_response_type',
      code: 70005,
      description: `response_type '${responseType}' is not enabled for the application.`,
    });
  }
  const codeChallenge = params.get('code_challenge');
  if (codeChallenge === null || params.get('code_challenge_method') !== 'S256') {
    return back(pkceRequired());
  }
  if (!PKCE_CHALLENGE.test(codeChallenge)) {
    return back(invalidRequest(90014, 'The code_challenge is not a base64url SHA-256 digest.'));
  }
  const scope = params.get('scope');
  if (scope === null || scope.trim() === '') return back(missingParameter('scope').failure);
  const scopes = parseScopes(scope, api);
  if (!scopes.ok) return back(scopes.failure);
  const claims = params.get('claims') ?? undefined;
  if (claims !== undefined && parseClaimsRequest(claims) === undefined) {
    return back(invalidRequest(90014, "The 'claims' parameter is not a JSON object."));
  }
  const prompt = params.get('prompt') ?? undefined;
  if (prompt !== undefined && !PROMPTS.has(prompt)) {
    return back(invalidRequest(90014, `The prompt '${prompt}' is not valid.`));
  }
  const nonce = params.get('nonce') ?? undefined;
  const loginHint = params.get('login_hint') ?? undefined;
  return {
    ok: true,
    value: {
      clientId,
      redirectUri,
      responseMode,
      codeChallenge,
      ...scopes.value,
      ...(state === undefined ? {} : { state }),
      ...(nonce === undefined ? {} : { nonce }),
      ...(claims === undefined ? {} : { claims }),
      ...(prompt === undefined ? {} : { prompt }),
      ...(loginHint === undefined ? {} : { loginHint }),
    },
  };
}

/** AADSTS70011. */
function invalidScope(description: string): Failed {
  return fail(400, 'invalid_scope', 70011, description);
}

/** Splits `scope` into OIDC scopes and the API's permissions; any other resource is refused. */
export function parseScopes(
  scope: string,
  api: ApiResource,
): Outcome<{ apiScopes: string[]; oidcScopes: string[] }> {
  const oidcScopes: string[] = [];
  const apiScopes: string[] = [];
  for (const item of scope.split(/\s+/).filter((s) => s !== '')) {
    if (OIDC_SCOPES.has(item.toLowerCase())) {
      oidcScopes.push(item.toLowerCase());
      continue;
    }
    const prefix = [`${api.appIdUri}/`, `${api.clientId}/`].find((p) =>
      item.toLowerCase().startsWith(p.toLowerCase()),
    );
    const permission = prefix === undefined ? undefined : item.slice(prefix.length);
    if (permission === undefined || !(permission === '.default' || api.scopes.includes(permission))) {
      return invalidScope(
        `The provided value for the input parameter 'scope' is not valid. The scope '${item}' does not exist: the sandbox issues single-page app tokens for ${api.displayName} only.`,
      );
    }
    apiScopes.push(permission === '.default' ? (api.scopes[0] ?? permission) : permission);
  }
  if (apiScopes.length === 0) {
    return invalidScope(
      `The provided value for the input parameter 'scope' is not valid: it names no scope of ${api.displayName}.`,
    );
  }
  return { ok: true, value: { apiScopes: [...new Set(apiScopes)], oidcScopes: [...new Set(oidcScopes)] } };
}

/** The claims request as a JSON object, or undefined when it is not one. */
export function parseClaimsRequest(claims: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(claims);
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a claims request asks for more than a password: a Conditional Access policy (`capolids`) or an
 * authentication context (`acrs`) on the access token, as an API's claims challenge carries them.
 */
export function claimsRequireMfa(claims: string | undefined): boolean {
  if (claims === undefined) return false;
  const accessToken = parseClaimsRequest(claims)?.access_token;
  return isRecord(accessToken) && (accessToken.capolids !== undefined || accessToken.acrs !== undefined);
}

/** end_session: the post-logout redirect URI must be one of the app's redirect URIs, else Entra stays on its page. */
export function postLogoutRedirect(params: URLSearchParams, spa: SpaRegistration): string | undefined {
  const uri = params.get('post_logout_redirect_uri');
  return uri !== null && spa.redirectUris.includes(uri) ? uri : undefined;
}

/** The origins a SPA's redirect URIs give: the only ones the token endpoint answers cross-origin. */
export function spaOrigins(spa: SpaRegistration): Set<string> {
  return new Set(spa.redirectUris.flatMap((uri) => (URL.canParse(uri) ? [new URL(uri).origin] : [])));
}

/** The redirect back to the app with a code or an error, in the response mode the app asked for. */
export function authorizationResponseUrl(
  redirectUri: string,
  responseMode: ResponseMode,
  fields: Record<string, string | undefined>,
): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) params.set(name, value);
  const url = new URL(redirectUri);
  if (responseMode === 'fragment') {
    url.hash = params.toString();
  } else {
    for (const [name, value] of params) url.searchParams.set(name, value);
  }
  return url.href;
}

function pkceRequired(): EntraError {
  return invalidRequest(
    9002325,
    'Proof Key for Code Exchange is required for cross-origin authorization code redemption (code_challenge with code_challenge_method S256).',
  );
}

export function unknownClient(clientId: string): EntraError {
  return {
    status: 400,
    error: 'invalid_client',
    code: 700016,
    description: `Application with identifier '${clientId}' was not found in the directory. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
  };
}

function redirectUriMismatch(redirectUri: string, clientId: string): EntraError {
  return invalidRequest(
    50011,
    `The redirect URI '${redirectUri}' specified in the request does not match the redirect URIs configured for the application '${clientId}'.`,
  );
}

function invalidRequest(code: number, description: string): EntraError {
  return { status: 400, error: 'invalid_request', code, description };
}
