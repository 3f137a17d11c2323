import { describe, expect, test } from '@jest/globals';

import { MsalCacheRecords } from '../../shared/cache/msalCache.js';

const NOW = 1_800_000_000;
const SCOPES = ['https://graph.microsoft.com/User.Read'];

function usableAccessTokenExpiry(json: string, scopes: readonly string[], now: number, offset: number) {
  return MsalCacheRecords.parse(json).usableAccessToken(scopes, now, offset)?.expiresOn;
}

function latestAccessTokenExpiry(json: string) {
  return MsalCacheRecords.parse(json).latestAccessTokenExpiry();
}

function persistable(json: string) {
  return MsalCacheRecords.parse(json).persistable() ?? json;
}

function cache(tokens: { target: string; exp: number }[]): string {
  return JSON.stringify({
    Account: {},
    AccessToken: Object.fromEntries(
      tokens.map((t, i) => [`at${i}`, { target: t.target, expires_on: String(t.exp), secret: 's' }]),
    ),
    RefreshToken: { rt: { secret: 'long-lived' } },
  });
}

describe('usableAccessTokenExpiry', () => {
  test('finds a token for the scopes that msal-node would serve from cache', () => {
    expect(
      usableAccessTokenExpiry(
        cache([{ target: 'https://graph.microsoft.com/User.Read', exp: NOW + 3600 }]),
        SCOPES,
        NOW,
        300,
      ),
    ).toBe(NOW + 3600);
  });

  test('matches scopes case-insensitively within a larger grant', () => {
    const json = cache([
      {
        target: 'https://graph.microsoft.com/user.read https://graph.microsoft.com/Mail.Read',
        exp: NOW + 3600,
      },
    ]);
    expect(usableAccessTokenExpiry(json, SCOPES, NOW, 300)).toBe(NOW + 3600);
  });

  test('ignores OIDC scopes, as msal-node does when it searches its cache', () => {
    const json = cache([{ target: 'https://graph.microsoft.com/User.Read', exp: NOW + 3600 }]);
    expect(usableAccessTokenExpiry(json, [...SCOPES, 'openid', 'offline_access'], NOW, 300)).toBe(NOW + 3600);
  });

  test('ignores a token within the renewal window', () => {
    expect(
      usableAccessTokenExpiry(cache([{ target: SCOPES[0] ?? '', exp: NOW + 299 }]), SCOPES, NOW, 300),
    ).toBeUndefined();
  });

  test('ignores a token for other scopes', () => {
    expect(
      usableAccessTokenExpiry(
        cache([{ target: 'https://graph.microsoft.com/Mail.Read', exp: NOW + 3600 }]),
        SCOPES,
        NOW,
        300,
      ),
    ).toBeUndefined();
  });

  test('treats a blob that does not parse as empty', () => {
    expect(usableAccessTokenExpiry('{not json', SCOPES, NOW, 300)).toBeUndefined();
    expect(latestAccessTokenExpiry('[]')).toBeUndefined();
  });
});

describe('persistable', () => {
  test('drops refresh tokens and keeps access tokens', () => {
    const stripped = JSON.parse(persistable(cache([{ target: 'x', exp: NOW }]))) as Record<string, unknown>;
    expect(stripped.RefreshToken).toBeUndefined();
    expect(Object.keys(stripped.AccessToken as object)).toHaveLength(1);
  });

  test('keeps only the access tokens: no id token, account or app metadata', () => {
    const full = JSON.stringify({
      ...(JSON.parse(cache([{ target: 'x', exp: NOW }])) as object),
      IdToken: { id: { secret: 'id-token' } },
      AppMetadata: { app: {} },
    });
    expect(Object.keys(JSON.parse(persistable(full)) as object)).toEqual(['AccessToken']);
  });
});
