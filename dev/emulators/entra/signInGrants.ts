// Sign-in for a single-page app as Entra ID answers it, the token side: the authorization code grant (single use,
// PKCE verifier) and the refresh token grant of a public client (fixed lifetime, step-up). Pure rules, no I/O:
// signInFlow.ts issues the codes, signInTokens.ts redeems them and keeps the refresh tokens.
import { createHash, randomBytes } from 'node:crypto';

import { fail, failed, mfaRequired, missingParameter, type Outcome } from './errors.js';
import {
  type ApiResource,
  type AuthorizationRequest,
  claimsRequireMfa,
  parseScopes,
  type SpaRegistration,
  unknownClient,
} from './signInAuthorize.js';

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

const PKCE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

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
  if (clientId === null || clientId === '') return missingParameter('client_id');
  if (clientId !== spa.clientId) {
    return failed({ ...unknownClient(clientId), error: 'unauthorized_client' });
  }
  if (form.has('client_secret') || form.has('client_assertion')) {
    return failed({
      status: 401,
      error: 'invalid_client',
      code: 700025,
      description: "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
    });
  }
  if (origin === undefined || origin === '') {
    return fail(
      400,
      'invalid_request',
      9002327,
      "Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests.",
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
  if (code === null || code === '') return missingParameter('code');
  if (record === undefined)
    return fail(400, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.');
  if (record.redeemed) {
    return fail(
      400,
      'invalid_grant',
      54005,
      'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.',
    );
  }
  if (record.expiresAt <= nowSeconds) {
    return fail(400, 'invalid_grant', 70008, 'The provided authorization code or refresh token has expired.');
  }
  if (record.clientId !== client.value) {
    return fail(400, 'invalid_grant', 70000, "The provided value for the 'code' parameter is not valid.");
  }
  const redirectUri = form.get('redirect_uri');
  if (redirectUri !== record.redirectUri) {
    return fail(
      400,
      'invalid_grant',
      50011,
      `The redirect URI '${redirectUri ?? ''}' specified in the request does not match the redirect URI '${record.redirectUri}' provided when requesting the authorization code.`,
    );
  }
  const verifier = form.get('code_verifier');
  if (verifier === null || verifier === '') return missingParameter('code_verifier');
  if (!verifyPkce(verifier, record.codeChallenge)) {
    return fail(
      400,
      'invalid_grant',
      501481,
      'The Code_Verifier does not match the code_challenge supplied in the authorization request.',
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
  if (refreshToken === null || refreshToken === '') return missingParameter('refresh_token');
  if (record === undefined)
    return fail(400, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.');
  if (record.clientId !== client.value) {
    return fail(400, 'invalid_grant', 70000, 'The provided refresh token was not issued to this client.');
  }
  if (record.expiresAt <= nowSeconds) {
    return fail(
      400,
      'invalid_grant',
      700084,
      'The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of 1.00:00:00, which cannot be extended.',
    );
  }
  const scope = form.get('scope');
  const scopes = scope === null || scope.trim() === '' ? undefined : parseScopes(scope, api);
  if (scopes !== undefined && !scopes.ok) return scopes;
  if (claimsRequireMfa(form.get('claims') ?? undefined) && !record.amr.includes('mfa')) {
    return failed({ ...mfaRequired(), suberror: 'basic_action' });
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
