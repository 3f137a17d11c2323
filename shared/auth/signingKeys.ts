import {
  createLocalJWKSet,
  type CryptoKey,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  type LocalJWKSet,
} from 'jose';

import { ApiError } from '../errors.js';
import { isRecord } from '../narrow.js';
import { invalidToken as invalid } from './tokenErrors.js';

/** How long a fetched key set is used before it is refreshed in the background (revoked keys drop out). */
export const SIGNING_KEYS_MAX_AGE_MS = 60 * 60 * 1000;
export const SIGNING_KEYS_FETCH_TIMEOUT_MS = 5_000;
/** Entra's key set is a few KiB; a much larger answer is not a key set. */
const MAX_KEY_SET_CHARS = 1024 * 1024;
/** Entra key ids are base64url thumbprints. A `kid` is only ever looked up, never put in a URL or path. */
const KEY_ID = /^[A-Za-z0-9_.=+-]{1,128}$/;
/** After failed fetches, retry after 1 s, 2 s, 4 s... up to this (or the cooldown, if shorter). */
const MAX_FAILURE_BACKOFF_MS = 30_000;

export interface SigningKeysOptions {
  /** `{authorityHost}/{tenant}/discovery/v2.0/keys` */
  jwksUri: URL;
  fetch: typeof fetch;
  /** Epoch milliseconds. */
  now: () => number;
  /** At most one fetch per this interval, whatever the number of unknown `kid`s or failures. */
  refreshCooldownMs: number;
  maxAgeMs?: number;
  timeoutMs?: number;
}

export interface SigningKeys {
  /** A jose key resolver: the issuer's public key named by the token header's `kid`. */
  readonly getKey: (header: JWSHeaderParameters) => Promise<CryptoKey>;
  /** The fetch in flight, if any (tests await it; it never rejects). */
  readonly refreshing: Promise<void> | undefined;
}

interface KeySnapshot {
  resolve: LocalJWKSet;
  keyIds: ReadonlySet<string>;
  fetchedAt: number;
}

export function jwksUriOf(authorityHost: string, tenantId: string): URL {
  return new URL(`${authorityHost}/${tenantId}/discovery/v2.0/keys`);
}

/**
 * The issuer's signing keys, fetched on first use and cached for the life of the instance.
 *
 * Built on jose's createLocalJWKSet rather than createRemoteJWKSet: the remote set fails every
 * verification once its cache is older than cacheMaxAge and the refresh fails (no stale keys), and its
 * cooldown counts from the last successful fetch, so during an outage each unknown `kid` fetches again.
 * Here every fetch, failed or not, is spaced out (the cooldown after a success, a short growing backoff
 * after failures); concurrent callers share one fetch; a failed refresh keeps the previous keys; and
 * only an instance with no keys at all answers 503.
 */
export function createSigningKeys(options: SigningKeysOptions): SigningKeys {
  const maxAgeMs = options.maxAgeMs ?? SIGNING_KEYS_MAX_AGE_MS;
  const timeoutMs = options.timeoutMs ?? SIGNING_KEYS_FETCH_TIMEOUT_MS;
  const { now, refreshCooldownMs } = options;

  let current: KeySnapshot | undefined;
  let lastAttemptAt = Number.NEGATIVE_INFINITY;
  let lastAttemptFailed = false;
  let consecutiveFailures = 0;
  let lastFailure: unknown;
  let inFlight: Promise<void> | undefined;

  async function fetchSnapshot(): Promise<KeySnapshot> {
    const response = await options.fetch(options.jwksUri, {
      method: 'GET',
      redirect: 'error',
      headers: { accept: 'application/json, application/jwk-set+json' },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`the JWKS endpoint answered HTTP ${response.status}`);
    }
    const text = await response.text();
    if (text.length > MAX_KEY_SET_CHARS) throw new Error('the JWKS answer is too large');
    const keySet: unknown = JSON.parse(text);
    if (!isKeySet(keySet) || keySet.keys.length === 0) throw new Error('the JWKS answer holds no keys');
    const keyIds = new Set(keySet.keys.flatMap((key) => (typeof key.kid === 'string' ? [key.kid] : [])));
    return { resolve: createLocalJWKSet(keySet), keyIds, fetchedAt: now() };
  }

  /**
   * The wait before the next fetch: the cooldown after a success; after failures a short backoff, so
   * an instance recovers within seconds of a brief outage instead of after a whole cooldown.
   */
  function nextFetchInterval(): number {
    if (!lastAttemptFailed) return refreshCooldownMs;
    return Math.min(
      refreshCooldownMs,
      MAX_FAILURE_BACKOFF_MS,
      1000 * 2 ** Math.max(0, consecutiveFailures - 1),
    );
  }

  function mayFetch(at: number): boolean {
    // A clock that went backwards must not block refreshes until it catches up.
    return at - lastAttemptAt >= nextFetchInterval() || at < lastAttemptAt;
  }

  function refresh(): Promise<void> {
    if (inFlight !== undefined) return inFlight;
    lastAttemptAt = now();
    const attempt = fetchSnapshot()
      .then(
        (snapshot) => {
          current = snapshot;
          lastAttemptFailed = false;
          consecutiveFailures = 0;
          lastFailure = undefined;
        },
        (error: unknown) => {
          lastAttemptFailed = true;
          consecutiveFailures++;
          lastFailure = error;
        },
      )
      .finally(() => {
        inFlight = undefined;
      });
    inFlight = attempt;
    return attempt;
  }

  function unavailable(): ApiError {
    const waitMs = lastAttemptAt + nextFetchInterval() - now();
    return new ApiError(
      'ERR_SIGNING_KEYS_UNAVAILABLE',
      "The identity provider's token signing keys could not be fetched; try again later.",
      { retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)), cause: lastFailure },
    );
  }

  async function getKey(header: JWSHeaderParameters): Promise<CryptoKey> {
    const { kid } = header;
    if (typeof kid !== 'string') throw invalid('the token header has no kid');
    if (!KEY_ID.test(kid)) throw invalid("the token header's kid is not a key id");

    const known = current;
    if (known?.keyIds.has(kid) === true) {
      const at = now();
      // Stale while revalidate: the request goes on with the keys it has.
      if (at - known.fetchedAt >= maxAgeMs && mayFetch(at)) void refresh();
      return known.resolve(header);
    }

    // Unknown kid (key rollover) or no keys yet: join the fetch in flight, or start one if allowed.
    if (inFlight !== undefined) await inFlight;
    else if (mayFetch(now())) await refresh();

    const refreshed = current;
    if (refreshed?.keyIds.has(kid) === true) return refreshed.resolve(header);
    // With no keys, or keys we could not bring up to date, an unknown kid may yet be valid: not a 401.
    if (refreshed === undefined || lastAttemptFailed) throw unavailable();
    throw invalid("no signing key of the issuer has the token's kid");
  }

  return {
    getKey,
    get refreshing() {
      return inFlight;
    },
  };
}

function isKeySet(value: unknown): value is JSONWebKeySet {
  const keys = isRecord(value) ? value.keys : undefined;
  return Array.isArray(keys) && keys.every(isRecord);
}
