// Sign-in for a single-page app as Entra ID answers it: the authorization code grant with PKCE (S256 only), the
// refresh token grant for a public client, id tokens and end_session's redirect check. Pure rules, no I/O:
// signInRoutes.ts adapts them to HTTP and keeps the codes and refresh tokens they issue.
import { createHash, randomBytes } from 'node:crypto';

import { isRecord } from '../../../shared/narrow.js';
import type { EntraError, Failed, Outcome } from './errors.js';

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

/** What a user's sign-in established: who, how (`amr`), and which scopes. */
export interface SignInSession {
  userName: string;
  clientId: string;
  apiScopes: string[];
  oidcScopes: string[];
  /** Authentication methods: `pwd`, plus `mfa` after a second factor. */
  amr: string[];
}

export interface AuthorizationCodeRecord extends SignInSession {
  redirectUri: string;
  codeChallenge: string;
  nonce?: string;
  expiresAt: number;
  redeemed: boolean;
}

export interface RefreshTokenRecord extends SignInSession {
  /** A SPA's refresh token has a fixed lifetime: redeeming it never extends it. */
  expiresAt: number;
}

/** Entra's lifetime of an authorization code (10 minutes) and of a SPA's refresh token (24 hours). */
export const AUTHORIZATION_CODE_LIFETIME_SECONDS = 600;
export const SPA_REFRESH_TOKEN_LIFETIME_SECONDS = 86_400;

const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);
const PROMPTS = new Set(['login', 'none', 'consent', 'select_account', 'create']);
const PKCE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const PKCE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

/** Checks an `/authorize` request in Entra's order: client, redirect URI (else an error page), then the rest. */
export function parseAuthorizationRequest(
  params: URLSearchParams,
  spa: SpaRegistration,
  api: ApiResource,
): { ok: true; value: AuthorizationRequest } | ({ ok: false } & AuthorizeFailure) {
  const clientId = params.get('client_id');
  if (clientId === null || clientId === '') return { ok: false, shown: true, failure: missing('client_id') };
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
  if (responseType === null) return back(missing('response_type'));
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
  if (scope === null || scope.trim() === '') return back(missing('scope'));
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
      return {
        ok: false,
        failure: {
          status: 400,
          error: 'invalid_scope',
          code: 70011,
          description: `The provided value for the input parameter 'scope' is not valid. The scope '${item}' does not exist: the sandbox issues single-page app tokens for ${api.displayName} only.`,
        },
      };
    }
    apiScopes.push(permission === '.default' ? (api.scopes[0] ?? permission) : permission);
  }
  if (apiScopes.length === 0) {
    return {
      ok: false,
      failure: {
        status: 400,
        error: 'invalid_scope',
        code: 70011,
        description: `The provided value for the input parameter 'scope' is not valid: it names no scope of ${api.displayName}.`,
      },
    };
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

/** RFC 7636 S256: BASE64URL(SHA256(ASCII(code_verifier))) equals the challenge. */
export function verifyPkce(verifier: string, challenge: string): boolean {
  return (
    PKCE_VERIFIER.test(verifier) && createHash('sha256').update(verifier).digest('base64url') === challenge
  );
}

/** A code for a completed sign-in, valid 10 minutes, redeemable once. */
export function issueAuthorizationCode(
  request: AuthorizationRequest,
  session: SignInSession,
  nowSeconds: number,
): { code: string; record: AuthorizationCodeRecord } {
  return {
    code: `1.A${randomBytes(48).toString('base64url')}`,
    record: {
      ...session,
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      ...(request.nonce === undefined ? {} : { nonce: request.nonce }),
      expiresAt: nowSeconds + AUTHORIZATION_CODE_LIFETIME_SECONDS,
      redeemed: false,
    },
  };
}

/** What every SPA token request must be: the registered public client, no secret, cross-origin (an Origin). */
export function checkPublicClient(
  form: URLSearchParams,
  origin: string | undefined,
  spa: SpaRegistration,
): Outcome<string> {
  const clientId = form.get('client_id');
  if (clientId === null || clientId === '') return fail(missing('client_id'));
  if (clientId !== spa.clientId) {
    return fail({ ...unknownClient(clientId), error: 'unauthorized_client' });
  }
  if (form.has('client_secret') || form.has('client_assertion')) {
    return fail({
      status: 401,
      error: 'invalid_client',
      code: 700025,
      description: "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
    });
  }
  if (origin === undefined || origin === '') {
    return fail(
      invalidRequest(
        9002327,
        "Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests.",
      ),
    );
  }
  return { ok: true, value: clientId };
}

/** The `authorization_code` grant: the code's client, redirect URI, lifetime, single use and PKCE verifier. */
export function redeemAuthorizationCode(
  form: URLSearchParams,
  origin: string | undefined,
  record: AuthorizationCodeRecord | undefined,
  spa: SpaRegistration,
  nowSeconds: number,
): Outcome<SignInSession> {
  const client = checkPublicClient(form, origin, spa);
  if (!client.ok) return client;
  const code = form.get('code');
  if (code === null || code === '') return fail(missing('code'));
  if (record === undefined)
    return fail(invalidGrant(9002313, 'Invalid request. Request is malformed or invalid.'));
  if (record.redeemed) {
    return fail(
      invalidGrant(
        54005,
        'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.',
      ),
    );
  }
  if (record.expiresAt <= nowSeconds) {
    return fail(invalidGrant(70008, 'The provided authorization code or refresh token has expired.'));
  }
  if (record.clientId !== client.value) {
    return fail(invalidGrant(70000, "The provided value for the 'code' parameter is not valid."));
  }
  const redirectUri = form.get('redirect_uri');
  if (redirectUri !== record.redirectUri) {
    return fail(
      invalidGrant(
        50011,
        `The redirect URI '${redirectUri ?? ''}' specified in the request does not match the redirect URI '${record.redirectUri}' provided when requesting the authorization code.`,
      ),
    );
  }
  const verifier = form.get('code_verifier');
  if (verifier === null || verifier === '') return fail(missing('code_verifier'));
  if (!verifyPkce(verifier, record.codeChallenge)) {
    return fail(
      invalidGrant(
        501481,
        'The Code_Verifier does not match the code_challenge supplied in the authorization request.',
      ),
    );
  }
  const { userName, clientId, apiScopes, oidcScopes, amr } = record;
  return { ok: true, value: { userName, clientId, apiScopes, oidcScopes, amr } };
}

/**
 * The `refresh_token` grant for a SPA: fixed 24-hour lifetime, scopes of the API only, and a claims request that
 * asks for MFA the session never did needs the user (interaction_required), as Entra answers it.
 */
export function redeemRefreshToken(
  form: URLSearchParams,
  origin: string | undefined,
  record: RefreshTokenRecord | undefined,
  spa: SpaRegistration,
  api: ApiResource,
  nowSeconds: number,
): Outcome<SignInSession> {
  const client = checkPublicClient(form, origin, spa);
  if (!client.ok) return client;
  const refreshToken = form.get('refresh_token');
  if (refreshToken === null || refreshToken === '') return fail(missing('refresh_token'));
  if (record === undefined)
    return fail(invalidGrant(9002313, 'Invalid request. Request is malformed or invalid.'));
  if (record.clientId !== client.value) {
    return fail(invalidGrant(70000, 'The provided refresh token was not issued to this client.'));
  }
  if (record.expiresAt <= nowSeconds) {
    return fail(
      invalidGrant(
        700084,
        'The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of 1.00:00:00, which cannot be extended.',
      ),
    );
  }
  const scope = form.get('scope');
  const scopes = scope === null || scope.trim() === '' ? undefined : parseScopes(scope, api);
  if (scopes !== undefined && !scopes.ok) return scopes;
  if (claimsRequireMfa(form.get('claims') ?? undefined) && !record.amr.includes('mfa')) {
    return fail({ ...mfaRequired(), suberror: 'basic_action' });
  }
  return {
    ok: true,
    value: {
      userName: record.userName,
      clientId: record.clientId,
      apiScopes: scopes?.value.apiScopes ?? record.apiScopes,
      oidcScopes: scopes?.value.oidcScopes ?? record.oidcScopes,
      amr: record.amr,
    },
  };
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

/** The OBO answer when a Conditional Access policy on the downstream API needs MFA the assertion lacks. */
export function mfaRequired(policyId = 'c0a1d3b2-5e4f-4a6b-8c7d-9e0f1a2b3c4d'): EntraError {
  return {
    status: 400,
    error: 'invalid_grant',
    code: 50076,
    description:
      "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000003-0000-0000-c000-000000000000'.",
    suberror: 'basic_action',
    claims: JSON.stringify({ access_token: { capolids: { essential: true, values: [policyId] } } }),
  };
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

export function missing(name: string): EntraError {
  return invalidRequest(900144, `The request body must contain the following parameter: '${name}'.`);
}

function pkceRequired(): EntraError {
  return invalidRequest(
    9002325,
    'Proof Key for Code Exchange is required for cross-origin authorization code redemption (code_challenge with code_challenge_method S256).',
  );
}

function unknownClient(clientId: string): EntraError {
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

function invalidGrant(code: number, description: string): EntraError {
  return { status: 400, error: 'invalid_grant', code, description };
}

function fail(failure: EntraError): Failed {
  return { ok: false, failure };
}
