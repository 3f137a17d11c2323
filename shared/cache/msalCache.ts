import { isRecord } from '../narrow.js';

/**
 * Pure reads of msal-node's serialized cache (its JSON schema: `AccessToken`, `RefreshToken`, ...),
 * so that the cache layers can tell whether a blob can serve a request without asking MSAL to
 * go to the network. The JSON is parsed once per blob (MsalCacheRecords.parse) and then asked.
 */

/** msal-node leaves these out of an access token's scopes when it searches its cache. */
const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access']);

interface AccessTokenRecord {
  target: string;
  expiresOn: number;
  /** The access token itself, as msal-node returns it for a Bearer token. */
  secret: string | undefined;
}

/** A usable access token as the cache layers see it. */
export interface UsableAccessToken {
  secret: string | undefined;
  /** Epoch seconds. */
  expiresOn: number;
}

/** One parsed MSAL cache blob; a blob that does not parse holds nothing. */
export class MsalCacheRecords {
  private constructor(
    private readonly parsed: Record<string, unknown> | undefined,
    private readonly tokens: readonly AccessTokenRecord[],
  ) {}

  static parse(cacheJson: string): MsalCacheRecords {
    let parsed: unknown;
    try {
      parsed = JSON.parse(cacheJson);
    } catch {
      return new MsalCacheRecords(undefined, []);
    }
    if (!isRecord(parsed)) return new MsalCacheRecords(undefined, []);
    const tokens: AccessTokenRecord[] = [];
    for (const token of isRecord(parsed.AccessToken) ? Object.values(parsed.AccessToken) : []) {
      if (!isRecord(token) || typeof token.target !== 'string') continue;
      const expiresOn = Number(token.expires_on);
      const secret = typeof token.secret === 'string' && token.secret !== '' ? token.secret : undefined;
      if (Number.isFinite(expiresOn)) tokens.push({ target: token.target, expiresOn, secret });
    }
    return new MsalCacheRecords(parsed, tokens);
  }

  /**
   * An access token that covers `scopes` and that msal-node would still serve from cache (it renews
   * `renewalOffsetSeconds` early), or undefined.
   */
  usableAccessToken(
    scopes: readonly string[],
    nowSeconds: number,
    renewalOffsetSeconds: number,
  ): UsableAccessToken | undefined {
    const wanted = scopes.map((s) => s.toLowerCase()).filter((s) => !OIDC_SCOPES.has(s));
    for (const token of this.tokens) {
      const granted = new Set(token.target.toLowerCase().split(' '));
      if (token.expiresOn - renewalOffsetSeconds > nowSeconds && wanted.every((s) => granted.has(s))) {
        return { secret: token.secret, expiresOn: token.expiresOn };
      }
    }
    return undefined;
  }

  /** Whether the blob holds this access token (the one a resource rejected, say). */
  holdsAccessToken(secret: string): boolean {
    return this.tokens.some((token) => token.secret === secret);
  }

  /** The newest access-token expiry in the blob, or undefined when it holds none. */
  latestAccessTokenExpiry(): number | undefined {
    return this.tokens.length === 0 ? undefined : Math.max(...this.tokens.map((t) => t.expiresOn));
  }

  /**
   * What is worth storing: the access tokens alone. msal-node's on-behalf-of cache hit
   * (OnBehalfOfClient.getCachedAuthenticationResult) needs only the AccessToken record of the assertion's
   * hash; the IdToken is optional (the result's account is then null) and the Account is only looked up
   * through it; a refresh token is never redeemed for OBO (a new assertion is always required). So the id
   * token and the account (the user's name and UPN), the refresh token (a long-lived secret) and the app
   * metadata are not persisted.
   */
  persistable(): string | undefined {
    return this.parsed === undefined
      ? undefined
      : JSON.stringify({ AccessToken: this.parsed.AccessToken ?? {} });
  }
}
