// The SPA's grants at the token endpoint over HTTP (the rules are in signInGrants.ts): codes and refresh tokens
// redeemed for an access token of the API, an id token and a refresh token, answered with CORS for the SPA's
// registered origins only, and the token endpoint's CORS preflight.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { headerValue } from '../kit/http.js';
import type { EntraError } from './errors.js';
import { clientInfo, pairwiseSubject } from './fixtures.js';
import { spaOrigins, type SpaRegistration } from './signInAuthorize.js';
import {
  redeemAuthorizationCode,
  redeemRefreshToken,
  type RefreshTokenRecord,
  type SignInSession,
  SPA_REFRESH_TOKEN_LIFETIME_SECONDS,
} from './signInGrants.js';
import type { SignInRoutes, SignInState } from './signInRoutes.js';

/** The token endpoint's answers to the SPA, over the refresh tokens issued so far. */
export function createSignInTokenEndpoint(state: SignInState): Pick<SignInRoutes, 'token' | 'preflight'> {
  const { context, registration, codes, now } = state;
  const refreshTokens = new Map<string, RefreshTokenRecord>();

  async function issueTokens(
    session: SignInSession,
    refreshExpiresAt: number,
    options: { nonce?: string; clientInfo: boolean },
  ): Promise<Record<string, unknown>> {
    const user = context.userOf(session.userName);
    const roles = context.appRolesOf(user);
    const issuedAt = now();
    const lifetime = context.userTokenLifetimeSeconds();
    const accessToken = await context.sign({
      aud: context.api.clientId,
      iss: context.issuer(),
      iat: issuedAt,
      nbf: issuedAt,
      exp: issuedAt + lifetime,
      amr: session.amr,
      azp: session.clientId,
      azpacr: '0',
      name: user.displayName,
      oid: user.oid,
      preferred_username: user.userPrincipalName,
      ...(roles.length === 0 ? {} : { roles }),
      scp: session.apiScopes.join(' '),
      sub: pairwiseSubject(user.oid, context.api.clientId),
      tid: context.tenantId,
      uti: randomBytes(16).toString('base64url'),
      ver: '2.0',
    });
    const response: Record<string, unknown> = {
      token_type: 'Bearer',
      scope: session.apiScopes.map((scope) => `${context.api.appIdUri}/${scope}`).join(' '),
      expires_in: lifetime,
      ext_expires_in: lifetime,
      access_token: accessToken,
    };
    if (session.oidcScopes.includes('offline_access')) {
      const refreshToken = `1.A${randomBytes(96).toString('base64url')}`;
      refreshTokens.set(refreshToken, { ...session, expiresAt: refreshExpiresAt });
      response.refresh_token = refreshToken;
      response.refresh_token_expires_in = refreshExpiresAt - issuedAt;
    }
    if (session.oidcScopes.includes('openid')) {
      const { nonce } = options;
      response.id_token = await context.sign({
        aud: session.clientId,
        iss: context.issuer(),
        iat: issuedAt,
        nbf: issuedAt,
        exp: issuedAt + lifetime,
        ...(nonce === undefined ? {} : { nonce }),
        ...(session.oidcScopes.includes('profile')
          ? { name: user.displayName, preferred_username: user.userPrincipalName }
          : {}),
        oid: user.oid,
        sub: pairwiseSubject(user.oid, session.clientId),
        tid: context.tenantId,
        ver: '2.0',
      });
    }
    if (options.clientInfo) response.client_info = clientInfo(user.oid, context.tenantId);
    return response;
  }

  async function token(req: IncomingMessage, res: ServerResponse, form: URLSearchParams): Promise<void> {
    const headers = {
      ...corsHeaders(req, registration),
      'cache-control': 'no-store, no-cache',
      pragma: 'no-cache',
    };
    const origin = headerValue(req, 'origin');
    const grantType = form.get('grant_type');
    let outcome:
      { ok: true; value: SignInSession; refreshExpiresAt: number } | { ok: false; failure: EntraError };
    if (grantType === 'authorization_code') {
      const code = form.get('code') ?? '';
      const record = codes.get(code);
      const redeemed = redeemAuthorizationCode(form, origin, record, registration, now());
      if (redeemed.ok && record !== undefined) record.redeemed = true;
      outcome = redeemed.ok
        ? { ...redeemed, refreshExpiresAt: now() + SPA_REFRESH_TOKEN_LIFETIME_SECONDS }
        : redeemed;
    } else {
      const record = refreshTokens.get(form.get('refresh_token') ?? '');
      const redeemed = redeemRefreshToken(form, origin, record, registration, context.api, now());
      outcome = redeemed.ok ? { ...redeemed, refreshExpiresAt: record?.expiresAt ?? now() } : redeemed;
    }
    if (!outcome.ok) {
      context.sendError(req, res, outcome.failure, headers);
      return;
    }
    // An id token carries the nonce of the authorize request, kept with the code.
    const nonce = grantType === 'authorization_code' ? codes.get(form.get('code') ?? '')?.nonce : undefined;
    const tokens = await issueTokens(outcome.value, outcome.refreshExpiresAt, {
      ...(nonce === undefined ? {} : { nonce }),
      clientInfo: form.get('client_info') === '1',
    });
    context.sendJson(res, 200, tokens, headers);
  }

  function preflight(req: IncomingMessage, res: ServerResponse): void {
    const headers = corsHeaders(req, registration);
    if (headers['access-control-allow-origin'] !== undefined) {
      headers['access-control-allow-methods'] = 'POST, OPTIONS';
      const requested = headerValue(req, 'access-control-request-headers');
      if (requested !== undefined) headers['access-control-allow-headers'] = requested;
      headers['access-control-max-age'] = '86400';
    }
    res.writeHead(204, headers).end();
  }

  return { token, preflight };
}

/** `Access-Control-Allow-Origin` for an origin of the SPA's redirect URIs only. */
function corsHeaders(req: IncomingMessage, registration: SpaRegistration): Record<string, string> {
  const origin = headerValue(req, 'origin');
  return origin !== undefined && spaOrigins(registration).has(origin)
    ? { 'access-control-allow-origin': origin, vary: 'Origin' }
    : { vary: 'Origin' };
}
