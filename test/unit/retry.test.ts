import { describe, expect, test } from '@jest/globals';

import {
  conflictBackoffMs,
  graphRetryDelayMs,
  MAX_GRAPH_ATTEMPTS,
  parseRetryAfterMs,
  retryAfterSeconds,
} from '../../shared/retry.js';

const NOW = Date.parse('2026-11-29T10:00:00Z');

describe('graphRetryDelayMs', () => {
  test('honours Retry-After in seconds', () => {
    expect(graphRetryDelayMs(429, '2', 0, 0, 8000, NOW)).toBe(2000);
  });

  test('honours Retry-After as an HTTP date', () => {
    expect(graphRetryDelayMs(503, new Date(NOW + 3000).toUTCString(), 0, 0, 8000, NOW)).toBe(3000);
  });

  test('backs off exponentially without a hint', () => {
    expect(graphRetryDelayMs(500, null, 0, 0, 8000, NOW)).toBe(250);
    expect(graphRetryDelayMs(500, null, 2, 0, 8000, NOW)).toBe(1000);
  });

  test('gives up when the wait would pass the budget', () => {
    expect(graphRetryDelayMs(429, '10', 0, 0, 8000, NOW)).toBeUndefined();
    expect(graphRetryDelayMs(503, '1', 3, 7500, 8000, NOW)).toBeUndefined();
  });

  test('never waits less than the backoff, even for a Retry-After of 0 or a past date', () => {
    expect(graphRetryDelayMs(503, '0', 1, 0, 8000, NOW)).toBe(500);
    expect(graphRetryDelayMs(429, new Date(NOW - 5000).toUTCString(), 0, 0, 8000, NOW)).toBe(250);
  });

  test('stops after a bounded number of attempts within the budget', () => {
    expect(graphRetryDelayMs(503, '0', MAX_GRAPH_ATTEMPTS - 1, 0, 60_000, NOW)).toBeUndefined();
  });

  test.each([400, 401, 403, 404])('does not retry %i', (status) => {
    expect(graphRetryDelayMs(status, '1', 0, 0, 8000, NOW)).toBeUndefined();
  });
});

describe('retry hints', () => {
  test('ignores an unparseable Retry-After', () => {
    expect(parseRetryAfterMs('soon', NOW)).toBeUndefined();
    expect(retryAfterSeconds('soon', NOW)).toBe(5);
    expect(retryAfterSeconds('7', NOW)).toBe(7);
  });

  test('jitters conflict backoff within a growing, capped window', () => {
    expect(conflictBackoffMs(0, () => 0.999)).toBeLessThan(20);
    expect(conflictBackoffMs(10, () => 0.999)).toBeLessThan(1000);
    expect(conflictBackoffMs(3, () => 0)).toBe(0);
  });
});
