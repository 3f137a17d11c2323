import { describe, expect, test } from '@jest/globals';

import { COSMOS_BREAKER_MS, CosmosBreaker } from '../../shared/cache/breaker.js';

describe('CosmosBreaker', () => {
  test('opens after an availability failure for COSMOS_BREAKER_MS, then closes', () => {
    let clock = 1_000;
    const breaker = new CosmosBreaker(() => clock);
    expect(breaker.isOpen()).toBe(false);
    breaker.record('unavailable');
    expect(breaker.isOpen()).toBe(true);
    clock += COSMOS_BREAKER_MS - 1;
    expect(breaker.isOpen()).toBe(true);
    clock += 1;
    expect(breaker.isOpen()).toBe(false);
  });

  test.each(['throttled', 'too-large', 'rejected'] as const)('stays closed after a %s failure', (failure) => {
    const breaker = new CosmosBreaker(() => 0);
    breaker.record(failure);
    expect(breaker.isOpen()).toBe(false);
  });

  test('another availability failure while open keeps it open from then on', () => {
    let clock = 0;
    const breaker = new CosmosBreaker(() => clock, 100);
    breaker.record('unavailable');
    clock = 60;
    breaker.record('unavailable');
    clock = 150;
    expect(breaker.isOpen()).toBe(true);
    clock = 160;
    expect(breaker.isOpen()).toBe(false);
  });
});
