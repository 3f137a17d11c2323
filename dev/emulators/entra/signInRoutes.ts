// HTTP adapter of the Entra emulator's sign-in (signIn.ts): /authorize with its pages, the authorization_code and
// refresh_token grants for the SPA with CORS for its registered origins only, end_session, and the control
// endpoints that register the SPA's redirect URIs and make a user need MFA for the API's downstream calls.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { isRecord } from '../../../shared/narrow.js';
import type { EntraError } from './errors.js';
import { pairwiseSubject } from './fixtures.js';
import {
  type ApiResource,
  type AuthorizationCodeRecord,
  type AuthorizationRequest,
  authorizationResponseUrl,
  claimsRequireMfa,
  issueAuthorizationCode,
  mfaRequired,
  parseAuthorizationRequest,
  postLogoutRedirect,
  redeemAuthorizationCode,
  redeemRefreshToken,
  type RefreshTokenRecord,
  type SignInSession,
  SPA_REFRESH_TOKEN_LIFETIME_SECONDS,
  spaOrigins,
  type SpaRegistration,
} from './signIn.js';
import {
  consentPage,
  errorPage,
  type PickerUser,
  secondFactorPage,
  signedOutPage,
  userPickerPage,
} from './signInPages.js';

/** The request kinds (counters, faults) of the SPA's sign-in routes. */
export const SIGN_IN_KINDS = [
  'authorize',
  'authorize.form',
  'logout',
  'token.authorization_code',
  'token.refresh_token',
  'token.preflight',
] as const;

/** The users the picker offers; any name works with the token control endpoint. */
export const PICKER_USERS = ['alice', 'bob', 'carol'] as const;
/** How long a user may take on the sign-in pages. */
const FLOW_LIFETIME_SECONDS = 600;
const ACCESS_TOKEN_LIFETIME_SECONDS = 3600;

export interface SignInUser extends PickerUser {
  oid: string;
  givenName: string;
  surname: string;
}

export interface SignInContext {
  tenantId: string;
  /** The emulator's https://127.0.0.1:PORT, known once it listens. */
  baseUrl(): string;
  /** The v2 issuer of the tenant's tokens. */
  issuer(): string;
  sign(payload: Record<string, unknown>): Promise<string>;
  /** The sandbox user called `name` (throws on a name that is not one). */
  userOf(name: string): SignInUser;
  /** Entra's JSON error body with `status`, plus `headers`. */
  sendError(
    req: IncomingMessage,
    res: ServerResponse,
    failure: EntraError,
    headers: Record<string, string>,
  ): void;
  sendJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void;
  spa: { clientId: string; displayName: string };
  api: ApiResource;
  /** The API's downstream permissions a user consents to through the SPA (combined consent). */
  downstreamPermissions: readonly string[];
  /** Called when a user accepts the consent prompt. */
  onConsent?(user: SignInUser): void;
}

interface PendingSignIn {
  request: AuthorizationRequest;
  tenantSegment: string;
  userName?: string;
  secondFactorDone: boolean;
  consentDone: boolean;
  expiresAt: number;
}

export interface SignInRoutes {
  /** The token request kind of a SPA grant (`token.authorization_code`, `token.refresh_token`), else undefined. */
  grantKindOf(form: URLSearchParams): string | undefined;
  /** `GET` (an app's request) and `POST` (the pages' own forms) `/{tenant}/oauth2/v2.0/authorize`. */
  authorize(req: IncomingMessage, res: ServerResponse, tenantSegment: string, url: URL, body: Buffer): void;
  /** The SPA's grants at the token endpoint, answered with CORS for its registered origins. */
  token(req: IncomingMessage, res: ServerResponse, form: URLSearchParams): Promise<void>;
  /** `OPTIONS` on the token endpoint: CORS for the registered SPA origins only. */
  preflight(req: IncomingMessage, res: ServerResponse): void;
  /** `GET /{tenant}/oauth2/v2.0/logout`: end_session. */
  logout(res: ServerResponse, url: URL): void;
  /** `/_emulator/spa/redirect-uris` and `/_emulator/users/{name}/mfa`; false for other paths. */
  handleControl(req: IncomingMessage, res: ServerResponse, path: string, body: unknown): boolean;
  /** An OBO failure when the user must do MFA for the downstream API and the assertion shows none. */
  stepUpFailure(assertion: Record<string, unknown>): EntraError | undefined;
  registerRedirectUris(uris: readonly string[]): void;
  readonly registration: SpaRegistration;
}

export function createSignInRoutes(context: SignInContext): SignInRoutes {
  const registration: SpaRegistration & { redirectUris: string[] } = { ...context.spa, redirectUris: [] };
  const pending = new Map<string, PendingSignIn>();
  const codes = new Map<string, AuthorizationCodeRecord>();
  const refreshTokens = new Map<string, RefreshTokenRecord>();
  const mfaUsers = new Set<string>();
  const now = (): number => Math.floor(Date.now() / 1000);

  const pickerUser = (name: string): SignInUser | undefined => {
    try {
      return context.userOf(name);
    } catch {
      return undefined;
    }
  };

  function corsHeaders(req: IncomingMessage): Record<string, string> {
    const origin = header(req, 'origin');
    return origin !== undefined && spaOrigins(registration).has(origin)
      ? { 'access-control-allow-origin': origin, vary: 'Origin' }
      : { vary: 'Origin' };
  }

  function html(res: ServerResponse, status: number, body: string): void {
    res
      .writeHead(status, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        // Entra's pages must not be framed by another site (clickjacking).
        'x-frame-options': 'DENY',
      })
      .end(body);
  }

  function redirect(res: ServerResponse, location: string): void {
    res.writeHead(302, { location, 'cache-control': 'no-store' }).end();
  }

  function redirectError(
    res: ServerResponse,
    request: Pick<AuthorizationRequest, 'redirectUri' | 'responseMode' | 'state'>,
    failure: EntraError,
    extra: Record<string, string> = {},
  ): void {
    redirect(
      res,
      authorizationResponseUrl(request.redirectUri, request.responseMode, {
        error: failure.error,
        error_description: `AADSTS${failure.code}: ${failure.description}`,
        ...extra,
        state: request.state,
      }),
    );
  }

  /** Shows the next page the sign-in needs, or completes it with a code. */
  function continueSignIn(res: ServerResponse, flowId: string, flow: PendingSignIn): void {
    const frame = { action: `/${flow.tenantSegment}/oauth2/v2.0/authorize`, flow: flowId };
    const user = flow.userName === undefined ? undefined : pickerUser(flow.userName);
    if (user === undefined) {
      const users = PICKER_USERS.flatMap((name) => pickerUser(name) ?? []);
      html(res, 200, userPickerPage(frame, registration.displayName, users));
      return;
    }
    if (claimsRequireMfa(flow.request.claims) && !flow.secondFactorDone) {
      html(res, 200, secondFactorPage(frame, user));
      return;
    }
    if (flow.request.prompt === 'consent' && !flow.consentDone) {
      const permissions = [
        ...flow.request.apiScopes.map((scope) => `${context.api.displayName}: ${scope}`),
        ...context.downstreamPermissions.map((permission) => `Microsoft Graph: ${permission}`),
      ];
      html(res, 200, consentPage(frame, user, registration.displayName, permissions));
      return;
    }
    pending.delete(flowId);
    const session: SignInSession = {
      userName: user.name,
      clientId: flow.request.clientId,
      apiScopes: flow.request.apiScopes,
      oidcScopes: flow.request.oidcScopes,
      amr: flow.secondFactorDone ? ['pwd', 'mfa'] : ['pwd'],
    };
    const { code, record } = issueAuthorizationCode(flow.request, session, now());
    for (const [old, oldRecord] of codes) if (oldRecord.expiresAt <= now()) codes.delete(old);
    codes.set(code, record);
    redirect(
      res,
      authorizationResponseUrl(flow.request.redirectUri, flow.request.responseMode, {
        code,
        state: flow.request.state,
        client_info: clientInfo(user.oid, context.tenantId),
      }),
    );
  }

  function authorize(
    req: IncomingMessage,
    res: ServerResponse,
    tenantSegment: string,
    url: URL,
    body: Buffer,
  ): void {
    if (req.method === 'POST') {
      const form = new URLSearchParams(body.toString('utf8'));
      const flowId = form.get('flow') ?? '';
      const flow = pending.get(flowId);
      if (flow === undefined || flow.expiresAt <= now()) {
        pending.delete(flowId);
        html(
          res,
          400,
          errorPage(50089, 'invalid_request', 'Authentication failed due to flow token expired.'),
        );
        return;
      }
      const userName = form.get('user');
      const step = form.get('step');
      if (userName !== null) {
        if (pickerUser(userName) === undefined) {
          html(
            res,
            400,
            errorPage(50034, 'invalid_request', 'The user account does not exist in the directory.'),
          );
          return;
        }
        flow.userName = userName;
      } else if (step === 'mfa' && flow.userName !== undefined) {
        flow.secondFactorDone = true;
      } else if (step === 'consent' && flow.userName !== undefined) {
        flow.consentDone = true;
        const user = pickerUser(flow.userName);
        if (user !== undefined) context.onConsent?.(user);
      } else if (step === 'decline') {
        pending.delete(flowId);
        redirectError(res, flow.request, {
          status: 400,
          error: 'access_denied',
          code: 65004,
          description: 'User declined to consent to access the app.',
        });
        return;
      }
      continueSignIn(res, flowId, flow);
      return;
    }
    const parsed = parseAuthorizationRequest(url.searchParams, registration, context.api);
    if (!parsed.ok) {
      if (parsed.shown) {
        html(
          res,
          parsed.failure.status,
          errorPage(parsed.failure.code, parsed.failure.error, parsed.failure.description),
        );
      } else {
        redirectError(res, parsed, parsed.failure);
      }
      return;
    }
    if (parsed.value.prompt === 'none') {
      // The emulator keeps no browser session: a silent request always needs the user.
      redirectError(res, parsed.value, {
        status: 400,
        error: 'login_required',
        code: 50058,
        description: 'A silent sign-in request was sent but no user is signed in.',
      });
      return;
    }
    const flowId = randomBytes(24).toString('base64url');
    const flow: PendingSignIn = {
      request: parsed.value,
      tenantSegment,
      secondFactorDone: false,
      consentDone: false,
      expiresAt: now() + FLOW_LIFETIME_SECONDS,
    };
    for (const [id, old] of pending) if (old.expiresAt <= now()) pending.delete(id);
    pending.set(flowId, flow);
    continueSignIn(res, flowId, flow);
  }

  async function issueTokens(
    session: SignInSession,
    refreshExpiresAt: number,
    options: { nonce?: string; clientInfo: boolean },
  ): Promise<Record<string, unknown>> {
    const user = context.userOf(session.userName);
    const issuedAt = now();
    const accessToken = await context.sign({
      aud: context.api.clientId,
      iss: context.issuer(),
      iat: issuedAt,
      nbf: issuedAt,
      exp: issuedAt + ACCESS_TOKEN_LIFETIME_SECONDS,
      amr: session.amr,
      azp: session.clientId,
      azpacr: '0',
      name: user.displayName,
      oid: user.oid,
      preferred_username: user.userPrincipalName,
      scp: session.apiScopes.join(' '),
      sub: pairwiseSubject(user.oid, context.api.clientId),
      tid: context.tenantId,
      uti: randomBytes(16).toString('base64url'),
      ver: '2.0',
    });
    const response: Record<string, unknown> = {
      token_type: 'Bearer',
      scope: session.apiScopes.map((scope) => `${context.api.appIdUri}/${scope}`).join(' '),
      expires_in: ACCESS_TOKEN_LIFETIME_SECONDS,
      ext_expires_in: ACCESS_TOKEN_LIFETIME_SECONDS,
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
        exp: issuedAt + ACCESS_TOKEN_LIFETIME_SECONDS,
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
    const headers = { ...corsHeaders(req), 'cache-control': 'no-store, no-cache', pragma: 'no-cache' };
    const origin = header(req, 'origin');
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
    const headers = corsHeaders(req);
    if (headers['access-control-allow-origin'] !== undefined) {
      headers['access-control-allow-methods'] = 'POST, OPTIONS';
      const requested = header(req, 'access-control-request-headers');
      if (requested !== undefined) headers['access-control-allow-headers'] = requested;
      headers['access-control-max-age'] = '86400';
    }
    res.writeHead(204, headers).end();
  }

  function logout(res: ServerResponse, url: URL): void {
    const target = postLogoutRedirect(url.searchParams, registration);
    if (target === undefined) html(res, 200, signedOutPage());
    else redirect(res, target);
  }

  return {
    registration,
    registerRedirectUris(uris) {
      for (const uri of uris)
        if (!registration.redirectUris.includes(uri)) registration.redirectUris.push(uri);
    },
    grantKindOf(form) {
      const grant = form.get('grant_type');
      return grant === 'authorization_code' || grant === 'refresh_token' ? `token.${grant}` : undefined;
    },
    authorize,
    token,
    preflight,
    logout,
    handleControl(req, res, path, body) {
      if (req.method !== 'POST') return false;
      if (path === '/_emulator/spa/redirect-uris') {
        const uris = isRecord(body) ? body.redirectUris : undefined;
        if (!Array.isArray(uris) || !uris.every((uri) => typeof uri === 'string' && URL.canParse(uri))) {
          context.sendJson(res, 400, {
            error: 'invalid_request',
            message: '"redirectUris" must be an array of URLs',
          });
          return true;
        }
        this.registerRedirectUris(uris as string[]);
        context.sendJson(res, 200, { redirectUris: registration.redirectUris });
        return true;
      }
      const mfa = /^\/_emulator\/users\/([^/]+)\/mfa$/.exec(path);
      if (mfa?.[1] === undefined) return false;
      const user = pickerUser(decodeURIComponent(mfa[1]));
      const required = isRecord(body) ? body.required : undefined;
      if (user === undefined || typeof required !== 'boolean') {
        context.sendJson(res, 400, {
          error: 'invalid_request',
          message: 'a sandbox user name and { "required": true | false } are needed',
        });
        return true;
      }
      if (required) mfaUsers.add(user.oid);
      else mfaUsers.delete(user.oid);
      context.sendJson(res, 200, { user: user.name, mfaRequired: required });
      return true;
    },
    stepUpFailure(assertion) {
      const { oid, amr } = assertion;
      if (typeof oid !== 'string' || !mfaUsers.has(oid)) return undefined;
      return Array.isArray(amr) && amr.includes('mfa') ? undefined : mfaRequired();
    },
  };
}

/** Entra's `client_info`: the home account's object id and tenant, base64url JSON. */
function clientInfo(oid: string, tenantId: string): string {
  return Buffer.from(JSON.stringify({ uid: oid, utid: tenantId })).toString('base64url');
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
