import { describe, expect, test } from '@jest/globals';

import { isApiError } from '../../shared/errors.js';
import { ExchangeLimit } from '../../shared/obo/exchangeLimit.js';
import { problemResponse } from '../../shared/problem.js';

const ALICE = 'alice-oid.tenant';
const BOB = 'bob-oid.tenant';

function refusal(run: () => void) {
  try {
    run();
  } catch (error) {
    expect(isApiError(error)).toBe(true);
    return problemResponse(error, 'api');
  }
  throw new Error('expected the exchange to be refused');
}

describe('ExchangeLimit', () => {
  test('allows a burst of perMinute exchanges, then answers 429 ERR_TOO_MANY_EXCHANGES with Retry-After', () => {
    let now = 1_000_000;
    const limit = new ExchangeLimit(3, () => now);
    for (let i = 0; i < 3; i++) limit.take(ALICE);
    const answer = refusal(() => limit.take(ALICE));
    expect(answer.status).toBe(429);
    expect(answer.headers).toMatchObject({ 'Retry-After': '20' });
    expect(answer.jsonBody).toMatchObject({ code: 'ERR_TOO_MANY_EXCHANGES' });
    now += 19_000;
    expect(() => limit.take(ALICE)).toThrow();
    now += 20_000;
    expect(() => limit.take(ALICE)).not.toThrow();
  });

  test('counts each caller apart', () => {
    const limit = new ExchangeLimit(1, () => 0);
    limit.take(ALICE);
    expect(() => limit.take(BOB)).not.toThrow();
    expect(() => limit.take(ALICE)).toThrow();
  });

  test('refills to no more than perMinute after a long pause', () => {
    let now = 0;
    const limit = new ExchangeLimit(2, () => now);
    now += 3_600_000;
    limit.take(ALICE);
    limit.take(ALICE);
    expect(() => limit.take(ALICE)).toThrow();
  });

  test('0 means no bound', () => {
    const limit = new ExchangeLimit(0, () => 0);
    for (let i = 0; i < 1000; i++) limit.take(ALICE);
  });
});
