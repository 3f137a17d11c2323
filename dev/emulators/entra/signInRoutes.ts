// The SPA's sign-in at the Entra emulator: /authorize with its pages (signInFlow.ts), the authorization_code and
// refresh_token grants with CORS for its registered origins only (signInTokens.ts), end_session, and the control
// endpoints that register the SPA's redirect URIs and make a user need MFA for the API's downstream calls.
import type { IncomingMessage, ServerResponse } from 'node:http';

import { isRecord } from '../../../shared/narrow.js';
import { type EntraError, mfaRequired } from './errors.js';
import type { ApiResource, SpaRegistration } from './signInAuthorize.js';
import { createAuthorizeFlow } from './signInFlow.js';
import type { AuthorizationCodeRecord } from './signInGrants.js';
import type { PickerUser } from './signInPages.js';
import { createSignInTokenEndpoint } from './signInTokens.js';

/** The request kinds (counters, faults) of the SPA's sign-in routes. */
export const SIGN_IN_KINDS = [
  'authorize',
  'authorize.form',
  'logout',
  'token.authorization_code',
  'token.refresh_token',
  'token.preflight',
] as const;

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
  /** Lifetime of the access token a sign-in gives (the emulator's `userTokenLifetimeSeconds` setting). */
  userTokenLifetimeSeconds(): number;
  /** The sandbox user called `name` (throws on a name that is not one). */
  userOf(name: string): SignInUser;
  /** The API's app roles the user holds (the `roles` claim of their access tokens for the API). */
  appRolesOf(user: SignInUser): string[];
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
  /** The API's downstream permissions a user consents to through the SPA (combined consent), as the page lists
   * them: `<resource>: <permission>` (`Microsoft Graph: User.Read`). */
  downstreamPermissions: readonly string[];
  /** Called when a user accepts the consent prompt. */
  onConsent?(user: SignInUser): void;
}

/** What the sign-in's parts share: the emulator's context, the SPA's registration and the codes issued. */
export interface SignInState {
  context: SignInContext;
  registration: SpaRegistration & { redirectUris: string[] };
  /** Authorization codes issued by the pages, redeemed at the token endpoint. */
  codes: Map<string, AuthorizationCodeRecord>;
  /** The sandbox user called `name`, or undefined when it is not one. */
  pickerUser: (name: string) => SignInUser | undefined;
  /** Seconds since the epoch. */
  now: () => number;
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
  /** The sandbox's reset: no user needs MFA (registered redirect URIs stay, as the SPA's registration does). */
  reset(): void;
  readonly registration: SpaRegistration;
}

export function createSignInRoutes(context: SignInContext): SignInRoutes {
  const registration: SpaRegistration & { redirectUris: string[] } = { ...context.spa, redirectUris: [] };
  const mfaUsers = new Set<string>();
  const pickerUser = (name: string): SignInUser | undefined => {
    try {
      return context.userOf(name);
    } catch {
      return undefined;
    }
  };
  const state: SignInState = {
    context,
    registration,
    codes: new Map(),
    pickerUser,
    now: () => Math.floor(Date.now() / 1000),
  };

  return {
    registration,
    reset() {
      mfaUsers.clear();
    },
    registerRedirectUris(uris) {
      for (const uri of uris)
        if (!registration.redirectUris.includes(uri)) registration.redirectUris.push(uri);
    },
    grantKindOf(form) {
      const grant = form.get('grant_type');
      return grant === 'authorization_code' || grant === 'refresh_token' ? `token.${grant}` : undefined;
    },
    ...createAuthorizeFlow(state),
    ...createSignInTokenEndpoint(state),
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
