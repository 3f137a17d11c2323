// The SPA's sign-in pages over HTTP (the rules are in signInAuthorize.ts): `/authorize` checks the app's request,
// walks the user through the picker, the second factor and consent, then redirects back with a code; and
// end_session's redirect or signed-out page.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { EntraError } from './errors.js';
import { clientInfo } from './fixtures.js';
import {
  type AuthorizationRequest,
  authorizationResponseUrl,
  claimsRequireMfa,
  parseAuthorizationRequest,
  postLogoutRedirect,
} from './signInAuthorize.js';
import { issueAuthorizationCode, type SignInSession } from './signInGrants.js';
import { consentPage, errorPage, secondFactorPage, signedOutPage, userPickerPage } from './signInPages.js';
import type { SignInRoutes, SignInState } from './signInRoutes.js';

/** The users the picker offers; any name works with the token control endpoint. */
export const PICKER_USERS = ['alice', 'bob', 'carol'] as const;
/** How long a user may take on the sign-in pages. */
const FLOW_LIFETIME_SECONDS = 600;

interface PendingSignIn {
  request: AuthorizationRequest;
  tenantSegment: string;
  userName?: string;
  secondFactorDone: boolean;
  consentDone: boolean;
  expiresAt: number;
}

/** `/authorize` and end_session, over the sign-ins in progress (each a flow id the pages post back). */
export function createAuthorizeFlow(state: SignInState): Pick<SignInRoutes, 'authorize' | 'logout'> {
  const { context, registration, codes, pickerUser, now } = state;
  const pending = new Map<string, PendingSignIn>();

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
        ...context.downstreamPermissions,
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

  function logout(res: ServerResponse, url: URL): void {
    const target = postLogoutRedirect(url.searchParams, registration);
    if (target === undefined) html(res, 200, signedOutPage());
    else redirect(res, target);
  }

  return { authorize, logout };
}
