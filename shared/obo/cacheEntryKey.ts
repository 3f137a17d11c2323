import { createHash } from 'node:crypto';

/**
 * The key of one token cache entry, built here and nowhere else: one entry per (incoming assertion,
 * scope set). msal-node keeps one access token per (account, scopes) and drops the others when it saves,
 * so each scope set gets its own MSAL cache blob and two routes with different scopes never evict each
 * other. The cache layers treat the key as opaque.
 */

/** msal-node's `userAssertionHash`: SHA-256 of the assertion, base64url without padding. */
export function assertionHashOf(assertion: string): string {
  return createHash('sha256').update(assertion, 'utf8').digest('base64url');
}

/** msal-node drops these from a token's scopes when it matches a request (and Entra adds them). */
const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access']);

/**
 * A short id of a set of scopes: order, case and duplicates do not matter (Entra and msal-node treat
 * scopes case-insensitively), and OIDC scopes are left out. Base64url of a hash: a key of fixed length
 * whatever the scopes, with no `.` in it.
 */
export function scopeSetIdOf(scopes: readonly string[]): string {
  const canonical = [...new Set(scopes.map((s) => s.trim().toLowerCase()))]
    .filter((s) => s !== '' && !OIDC_SCOPES.has(s))
    .sort()
    .join(' ');
  return createHash('sha256').update(canonical, 'utf8').digest('base64url').slice(0, 16);
}

/** `<assertion hash>.<scope set id>`: `.` is not in base64url, so the two parts never run together. */
export function cacheEntryKeyOf(assertion: string, scopes: readonly string[]): string {
  return `${assertionHashOf(assertion)}.${scopeSetIdOf(scopes)}`;
}
