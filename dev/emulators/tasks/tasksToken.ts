// The Tasks API emulator's token and scope checks: a Tasks API access token verified against Entra's keys
// (kit/entraSigningKeys.ts) with the API's audiences and issuers, a revoked user's CAE token challenged, and the
// delegated scope each request kind needs; each refusal answered with its WWW-Authenticate challenge.
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { JWTPayload } from 'jose';

import { caeChallengeOf } from '../kit/caeChallenge.js';
import {
  bearerTokenOf,
  EntraSigningKeys,
  type TokenProblem,
  verifyEntraToken,
} from '../kit/entraSigningKeys.js';
import { headerValue } from '../kit/http.js';
import type { SessionRevocations } from '../kit/sessionRevocations.js';
import { sendError } from './answers.js';
import type { TasksKind } from './routes.js';
import type { TasksEmulatorOptions } from './server.js';

const READ_SCOPES = ['tasks.read', 'tasks.readwrite'];
const WRITE_SCOPES = ['tasks.readwrite'];

const TOKEN_MESSAGES: Record<TokenProblem, string> = {
  malformed: 'The token is not a JWT.',
  signature: 'The token signature is invalid.',
  expired: 'The token is expired.',
  'not-yet-valid': 'The token is not yet valid.',
  audience: 'The audience is invalid.',
  issuer: 'The issuer is invalid.',
  claims: 'The token is missing a required claim.',
};

/** The emulator's options the checks need, with the accepted tenants resolved. */
export type TasksTokenOptions = Pick<
  TasksEmulatorOptions,
  'entraUrl' | 'tenantId' | 'clientId' | 'appIdUri' | 'ca'
> & {
  tenantIds: readonly string[];
};

export class TasksTokenCheck {
  readonly #options: TasksTokenOptions;
  readonly #revocations: SessionRevocations;
  readonly #signingKeys: EntraSigningKeys;
  readonly #challengePrefix: string;

  constructor(options: TasksTokenOptions, revocations: SessionRevocations) {
    this.#options = options;
    this.#revocations = revocations;
    this.#signingKeys = new EntraSigningKeys(
      `${options.entraUrl}/${options.tenantId}/discovery/v2.0/keys`,
      options.ca,
      'tasks',
    );
    this.#challengePrefix = `Bearer realm="", authorization_uri="${options.entraUrl}/${options.tenantId}/oauth2/v2.0/authorize", client_id="${options.clientId}"`;
  }

  /** The token's claims, or undefined once the API answered 401 (no token, an invalid one, a CAE challenge). */
  async claimsOf(req: IncomingMessage, res: ServerResponse): Promise<JWTPayload | undefined> {
    const challengePrefix = this.#challengePrefix;
    const token = bearerTokenOf(headerValue(req, 'authorization'));
    if (token === undefined) {
      sendError(req, res, 401, 'Unauthorized', 'A bearer token is required.', {
        'www-authenticate': challengePrefix,
      });
      return undefined;
    }
    const { entraUrl, clientId, appIdUri, tenantIds } = this.#options;
    const issuersOf = (tid: string): string[] => [
      `${entraUrl}/${tid}/v2.0`,
      `https://sts.windows.net/${tid}/`,
    ];
    const verified = await verifyEntraToken(token, this.#signingKeys, {
      audiences: [clientId, appIdUri],
      issuers: tenantIds.flatMap(issuersOf),
      issuerOf: issuersOf,
    });
    if (!verified.ok) {
      sendError(req, res, 401, 'InvalidAuthenticationToken', TOKEN_MESSAGES[verified.problem], {
        'www-authenticate': `${challengePrefix}, error="invalid_token", error_description="${TOKEN_MESSAGES[verified.problem]}"`,
      });
      return undefined;
    }
    const challenge = caeChallengeOf(verified.claims, this.#revocations, challengePrefix);
    if (challenge !== undefined) {
      sendError(
        req,
        res,
        401,
        'InvalidAuthenticationToken',
        "Continuous access evaluation: the token was issued before the user's sessions were revoked.",
        { 'www-authenticate': challenge.wwwAuthenticate },
      );
      return undefined;
    }
    return verified.claims;
  }

  /** Whether the token's scopes allow a request of `kind`; false once the API answered 403 (RFC 6750). */
  allows(
    req: IncomingMessage,
    res: ServerResponse,
    claims: JWTPayload,
    kind: Exclude<TasksKind, 'other'>,
  ): boolean {
    const needed = kind === 'tasks.list' || kind === 'tasks.read' ? READ_SCOPES : WRITE_SCOPES;
    const granted = typeof claims.scp === 'string' ? claims.scp.toLowerCase().split(' ') : [];
    if (needed.some((scope) => granted.includes(scope))) return true;
    // RFC 6750: the scope that would do.
    sendError(
      req,
      res,
      403,
      'Forbidden',
      "The token's scopes do not allow this operation: Tasks.ReadWrite is required.",
      {
        'www-authenticate': `${this.#challengePrefix}, error="insufficient_scope", scope="${this.#options.appIdUri}/Tasks.ReadWrite"`,
      },
    );
    return false;
  }
}
