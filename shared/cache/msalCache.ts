import { isRecord } from '../narrow.js';

/**
 * Pure reads of msal-node's serialized cache (its JSON schema: `AccessToken`, `RefreshToken`, ...),
 * so that the cache layers can tell whether a blob can serve a request without asking MSAL to
 * go to the network.
 */

/** msal-node leaves these out of an access token's scopes when it searches its cache. */
const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access']);

interface AccessTokenRecord {
  target: string;
  expiresOn: number;
  /** The access token itself, as msal-node returns it for a Bearer token. */
  secret: string | undefined;
}

function accessTokens(cacheJson: string): AccessTokenRecord[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(cacheJson);
  } catch {
    return [];
  }
  if (!isRecord(parsed) || !isRecord(parsed.AccessToken)) return [];
  const tokens: AccessTokenRecord[] = [];
  for (const token of Object.values(parsed.AccessToken)) {
    if (!isRecord(token) || typeof token.target !== 'string') continue;
    const expiresOn = Number(token.expires_on);
    const secret = typeof token.secret === 'string' && token.secret !== '' ? token.secret : undefined;
    if (Number.isFinite(expiresOn)) tokens.push({ target: token.target, expiresOn, secret });
  }
  return tokens;
}

/**
 * The expiry of an access token in the blob that covers `scopes` and that msal-node would still
 * serve from cache (it renews `renewalOffsetSeconds` early), or undefined.
 */
export function usableAccessTokenExpiry(
  cacheJson: string,
  scopes: readonly string[],
  nowSeconds: number,
  renewalOffsetSeconds: number,
): number | undefined {
  return usableAccessToken(cacheJson, scopes, nowSeconds, renewalOffsetSeconds)?.expiresOn;
}

/** The access token msal-node would serve from this blob for `scopes` (see usableAccessTokenExpiry). */
export function usableAccessToken(
  cacheJson: string,
  scopes: readonly string[],
  nowSeconds: number,
  renewalOffsetSeconds: number,
): { secret: string | undefined; expiresOn: number } | undefined {
  const wanted = scopes.map((s) => s.toLowerCase()).filter((s) => !OIDC_SCOPES.has(s));
  for (const token of accessTokens(cacheJson)) {
    const granted = new Set(token.target.toLowerCase().split(' '));
    if (token.expiresOn - renewalOffsetSeconds > nowSeconds && wanted.every((s) => granted.has(s))) {
      return { secret: token.secret, expiresOn: token.expiresOn };
    }
  }
  return undefined;
}

/** Whether the blob holds this access token (the one a resource rejected, say). */
export function holdsAccessToken(cacheJson: string, secret: string): boolean {
  return accessTokens(cacheJson).some((token) => token.secret === secret);
}

/** The newest access-token expiry in the blob, or undefined when it holds none. */
export function latestAccessTokenExpiry(cacheJson: string): number | undefined {
  const expiries = accessTokens(cacheJson).map((t) => t.expiresOn);
  return expiries.length === 0 ? undefined : Math.max(...expiries);
}

/**
 * msal-node never redeems a refresh token for OBO (a new assertion is always required), so the
 * refresh token Entra returns is a long-lived secret with no use here: it is not persisted.
 */
export function withoutRefreshTokens(cacheJson: string): string {
  const parsed: unknown = JSON.parse(cacheJson);
  if (!isRecord(parsed)) return cacheJson;
  return JSON.stringify({ ...parsed, RefreshToken: {} });
}
