import { LRUCache } from 'lru-cache';

import { ApiError } from '../errors.js';

/** Callers whose buckets an instance remembers; the least recently seen are forgotten past this (bounded memory). */
const MAX_TRACKED_CALLERS = 50_000;

interface Bucket {
  tokens: number;
  /** Epoch ms of the last refill. */
  at: number;
}

/**
 * A per-caller bound on token exchanges in this instance (a token bucket of `perMinute`, refilled continuously):
 * a caller cannot make the API call Entra ID without bound (erase, call, erase, call...). What only the cache
 * serves is never counted. A global limit belongs in front of the API (API Management, Front Door).
 */
export class ExchangeLimit {
  private readonly buckets: LRUCache<string, Bucket>;
  private readonly ratePerMs: number;

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number,
  ) {
    this.ratePerMs = perMinute / 60_000;
    this.buckets = new LRUCache<string, Bucket>({ max: MAX_TRACKED_CALLERS });
  }

  /** Takes one exchange for the caller, or throws 429 ERR_TOO_MANY_EXCHANGES with the seconds until one frees. */
  take(accountId: string): void {
    if (this.perMinute <= 0) return;
    const now = this.now();
    const bucket = this.buckets.get(accountId) ?? { tokens: this.perMinute, at: now };
    const tokens = Math.min(this.perMinute, bucket.tokens + Math.max(0, now - bucket.at) * this.ratePerMs);
    if (tokens < 1) {
      this.buckets.set(accountId, { tokens, at: now });
      throw new ApiError(
        'ERR_TOO_MANY_EXCHANGES',
        'Too many token exchanges for this caller; try again later.',
        {
          retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / this.ratePerMs / 1000)),
        },
      );
    }
    this.buckets.set(accountId, { tokens: tokens - 1, at: now });
  }
}
