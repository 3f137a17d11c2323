import type { AppConfig } from '../config.js';
import { ApiError } from '../errors.js';
import { accountIdOf, type CallerAccount } from './caller.js';
import { assertRouteAccess, type RouteAccess } from './routeAccess.js';
import { invalidToken as invalid } from './tokenErrors.js';

/** What a token must satisfy, derived once from configuration. */
export interface TokenPolicy {
  /** The Entra authority host, without a trailing slash: the v2 issuer is `${authorityHost}/${tid}/v2.0`. */
  authorityHost: string;
  /** Lowercase tenant ids whose users may call (single-tenant: just the configured tenant). */
  allowedTenants: readonly string[];
  acceptV1Tokens: boolean;
  /** Every issuer a token may carry: jose's pinned `issuer` option. */
  issuers: readonly string[];
  /** The API's client id (v2 tokens) and App ID URI (v1 tokens, or v2 when so requested). */
  audiences: readonly string[];
  /** The delegated scope that must be an element of `scp`. */
  requiredScope: string;
  /** Lowercase client ids whose tokens may call (`azp`/`appid`), or `any`. */
  allowedClientApps: readonly string[] | 'any';
  clockToleranceSeconds: number;
}

/** A validated-signature claims set, still `unknown` per claim until checked here. */
export type Claims = Readonly<Record<string, unknown>>;

/** Claims jose must find present; their values are checked by {@link callerFromClaims}. */
export const REQUIRED_CLAIMS: readonly string[] = ['exp', 'iat', 'nbf', 'oid', 'tid', 'ver'];

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function v2IssuerOf(authorityHost: string, tenantId: string): string {
  return `${authorityHost}/${tenantId}/v2.0`;
}

/** Entra v1 access tokens are issued by sts.windows.net whatever the authority host. */
export function v1IssuerOf(tenantId: string): string {
  return `https://sts.windows.net/${tenantId}/`;
}

export function tokenPolicyFrom(config: AppConfig): TokenPolicy {
  const authorityHost = config.entra.authorityHost.origin;
  const allowedTenants = config.entra.allowedTenants.map((tenant) => tenant.toLowerCase());
  const issuers = allowedTenants.flatMap((tenant) =>
    config.entra.acceptV1Tokens
      ? [v2IssuerOf(authorityHost, tenant), v1IssuerOf(tenant)]
      : [v2IssuerOf(authorityHost, tenant)],
  );
  return {
    authorityHost,
    allowedTenants,
    acceptV1Tokens: config.entra.acceptV1Tokens,
    issuers,
    audiences: [config.api.clientId, config.api.appIdUri],
    requiredScope: config.api.scope,
    allowedClientApps: config.api.allowedClientApps,
    clockToleranceSeconds: config.entra.clockToleranceSeconds,
  };
}

/**
 * The caller named by a token whose signature is verified: every Entra-specific check, pure.
 * Throws ApiError naming the failed check; no message contains a claim value.
 */
export function callerFromClaims(
  claims: Claims,
  assertion: string,
  policy: TokenPolicy,
  nowSeconds: number,
  access?: RouteAccess,
): CallerAccount {
  const { tid, oid } = claims;
  if (typeof tid !== 'string' || !GUID.test(tid))
    throw invalid('the tid claim is missing or not a tenant id');
  if (typeof oid !== 'string' || !GUID.test(oid))
    throw invalid('the oid claim is missing or not an object id');
  const tenantId = tid.toLowerCase();
  if (!policy.allowedTenants.includes(tenantId)) throw invalid("the token's tenant (tid) is not allowed");

  checkIssuer(claims, tenantId, policy);
  checkAudience(claims.aud, policy);
  const expiresAt = checkLifetime(claims, policy.clockToleranceSeconds, nowSeconds);
  const scopes = delegatedScopes(claims, policy.requiredScope);
  assertAllowedClientApp(claims, policy.allowedClientApps);
  assertRouteAccess(scopes, assignedRoles(claims.roles), access);

  const objectId = oid.toLowerCase();
  return {
    oid: objectId,
    tid: tenantId,
    accountId: accountIdOf(objectId, tenantId),
    scopes,
    assertion,
    expiresAt,
  };
}

/**
 * The client application that obtained the token, when it may call: `azp` names it in v2 tokens, `appid` in v1
 * (`ver` was checked against the issuer already).
 */
function assertAllowedClientApp(claims: Claims, allowed: readonly string[] | 'any'): void {
  const claim = claims.ver === '1.0' ? 'appid' : 'azp';
  const value = claims[claim];
  if (typeof value !== 'string' || !GUID.test(value)) {
    throw invalid(`the ${claim} claim is missing or not a client id`);
  }
  const clientAppId = value.toLowerCase();
  if (allowed !== 'any' && !allowed.includes(clientAppId)) {
    throw new ApiError(
      'ERR_CLIENT_APP_NOT_ALLOWED',
      'The client application is not allowed to call this API.',
      {
        description: `the ${claim} claim names a client application this API does not allow`,
      },
    );
  }
}

/** A delegated token carries the user's app roles of this API in `roles`; anything else there counts as none. */
function assignedRoles(roles: unknown): string[] {
  return Array.isArray(roles) ? roles.filter((role): role is string => typeof role === 'string') : [];
}

/** The issuer must be the one of the token's own tenant, and `ver` must match its format. */
function checkIssuer(claims: Claims, tenantId: string, policy: TokenPolicy): void {
  const { iss, ver } = claims;
  if (iss === v2IssuerOf(policy.authorityHost, tenantId)) {
    if (ver !== '2.0') throw invalid('the ver claim is not 2.0 for a v2.0 issuer');
    return;
  }
  if (iss === v1IssuerOf(tenantId)) {
    if (!policy.acceptV1Tokens) throw invalid('v1.0 tokens are not accepted');
    if (ver !== '1.0') throw invalid('the ver claim is not 1.0 for a v1.0 issuer');
    return;
  }
  throw invalid("the iss claim is not the issuer of the token's tenant (tid)");
}

function checkAudience(aud: unknown, policy: TokenPolicy): void {
  // Entra names one audience; an array would make the token valid for other APIs as well.
  if (typeof aud !== 'string') throw invalid('the aud claim is not a single audience');
  if (!policy.audiences.includes(aud)) throw invalid('the aud claim is not this API');
}

/** Same rules as jose's (which ran first), plus `iat` not in the future; returns `exp`. */
function checkLifetime(claims: Claims, toleranceSeconds: number, nowSeconds: number): number {
  const { exp, nbf, iat } = claims;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw invalid('the exp claim is not a number');
  if (typeof nbf !== 'number' || !Number.isFinite(nbf)) throw invalid('the nbf claim is not a number');
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw invalid('the iat claim is not a number');
  if (exp <= nowSeconds - toleranceSeconds) throw invalid('the token has expired (exp)');
  if (nbf > nowSeconds + toleranceSeconds) throw invalid('the token is not valid yet (nbf)');
  if (iat > nowSeconds + toleranceSeconds) throw invalid('the token was issued in the future (iat)');
  return exp;
}

/** The `scp` elements; a token without `scp` is app-only and cannot act on a user's behalf. */
function delegatedScopes(claims: Claims, requiredScope: string): string[] {
  const { scp, roles, idtyp, sub, oid } = claims;
  if (scp === undefined) {
    // A client-credentials token may carry neither roles nor idtyp, but its sub is the app's oid
    // (a user's sub is pairwise, never the oid).
    if (roles !== undefined || idtyp === 'app' || (typeof sub === 'string' && sub === oid)) {
      throw new ApiError(
        'ERR_APP_ONLY_TOKEN',
        'An app-only token (no scp claim) cannot be used on behalf of a user.',
        {
          description: 'an app-only token (no scp claim) cannot be used on behalf of a user',
          requiredScope,
        },
      );
    }
    throw invalid('the token has neither a scp nor a roles claim');
  }
  if (typeof scp !== 'string') throw invalid('the scp claim is not a string');
  const scopes = scp.split(' ').filter((scope) => scope !== '');
  if (!scopes.includes(requiredScope)) {
    throw new ApiError('ERR_SCOPE_INSUFFICIENT', 'The token does not grant the scope this API requires.', {
      description: 'the scp claim does not include the required scope',
      requiredScope,
    });
  }
  return scopes;
}
