/** Pure retry decisions, so the policies are tested without a network. */
import { DEFAULT_RETRY_AFTER_SECONDS } from './errors.js';

/** Attempts of one Graph call at most, whatever the time budget. */
export const MAX_GRAPH_ATTEMPTS = 5;

/** Full-jitter exponential backoff for a conflicting cache write (attempt 0 is the first retry). */
export function conflictBackoffMs(attempt: number, random: () => number): number {
  return Math.floor(random() * Math.min(1000, 20 * 2 ** attempt));
}

/**
 * How long to wait before retrying a Graph call, or undefined to give up. Retries 429 and 5xx,
 * honouring Retry-After (seconds or HTTP date), as long as the wait ends within the time budget.
 */
export function graphRetryDelayMs(
  status: number,
  retryAfter: string | null,
  attempt: number,
  elapsedMs: number,
  budgetMs: number,
  nowMs: number,
): number | undefined {
  if ((status !== 429 && status < 500) || attempt >= MAX_GRAPH_ATTEMPTS - 1) return undefined;
  // A hint of 0 or a past date must not turn into back-to-back calls to a service that is throttling.
  const delay = Math.max(parseRetryAfterMs(retryAfter, nowMs) ?? 0, Math.min(4000, 250 * 2 ** attempt));
  return elapsedMs + delay <= budgetMs ? delay : undefined;
}

export function parseRetryAfterMs(value: string | null, nowMs: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/** Seconds to suggest in Retry-After when we give up on an upstream, from its own hint if any. */
export function retryAfterSeconds(
  value: string | null,
  nowMs: number,
  fallback = DEFAULT_RETRY_AFTER_SECONDS,
): number {
  const ms = parseRetryAfterMs(value, nowMs);
  return ms === undefined ? fallback : Math.max(1, Math.ceil(ms / 1000));
}
