import { describe, expect, test } from '@jest/globals';

import {
  createSigningKeys,
  SIGNING_KEYS_MAX_AGE_MS,
  type SigningKeys,
} from '../../../shared/auth/signingKeys.js';
import {
  FakeJwksEndpoint,
  JWKS_URL,
  newSigningKey,
  NOW_MS,
  rejection,
  type SigningKey,
} from './entraFixture.js';

const COOLDOWN_MS = 30_000;

const keyA = newSigningKey('key-a');
const keyB = newSigningKey('key-b');

/** Signing keys over a fake JWKS endpoint, with a clock the test moves. */
function setUp(keys: SigningKey[]) {
  const endpoint = new FakeJwksEndpoint(keys);
  const clock = { now: NOW_MS };
  const signingKeys = createSigningKeys({
    jwksUri: new URL(JWKS_URL),
    fetch: endpoint.fetch,
    now: () => clock.now,
    refreshCooldownMs: COOLDOWN_MS,
  });
  return { endpoint, clock, signingKeys };
}

function keyFor(signingKeys: SigningKeys, kid: string) {
  return signingKeys.getKey({ alg: 'RS256', kid });
}

/** A gate that holds fetches in flight until opened. */
function gate() {
  let open = () => {};
  const closed = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { closed, open };
}

describe('signing keys', () => {
  test('fetches the tenant key set once and then serves keys from memory', async () => {
    const { endpoint, signingKeys } = setUp([keyA]);
    const first = await keyFor(signingKeys, 'key-a');
    const second = await keyFor(signingKeys, 'key-a');
    expect(first.type).toBe('public');
    expect(second).toBe(first);
    expect(endpoint.requestedUrls).toEqual([JWKS_URL]);
  });

  test('shares one fetch among concurrent first requests', async () => {
    const { endpoint, signingKeys } = setUp([keyA]);
    const held = gate();
    endpoint.gate = held.closed;
    const pending = Array.from({ length: 50 }, () => keyFor(signingKeys, 'key-a'));
    held.open();
    await Promise.all(pending);
    expect(endpoint.requests).toBe(1);
  });

  test('picks up a rolled-over key by refetching on its unknown kid once the cooldown has passed', async () => {
    const { endpoint, clock, signingKeys } = setUp([keyA]);
    await keyFor(signingKeys, 'key-a');
    endpoint.keys = [keyB];
    clock.now += COOLDOWN_MS;
    await expect(keyFor(signingKeys, 'key-b')).resolves.toBeDefined();
    expect(endpoint.requests).toBe(2);
    // The retired key left the published set, so it is refused from now on.
    const answer = await rejection(keyFor(signingKeys, 'key-a'));
    expect(answer.status).toBe(401);
    expect(answer.code).toBe('ERR_TOKEN_INVALID');
  });

  test('does not refetch for an unknown kid within the cooldown', async () => {
    const { endpoint, clock, signingKeys } = setUp([keyA]);
    await keyFor(signingKeys, 'key-a');
    clock.now += COOLDOWN_MS - 1;
    const answer = await rejection(keyFor(signingKeys, 'key-unknown'));
    expect(answer.status).toBe(401);
    expect(answer.challenge).toMatch(/error="invalid_token"/);
    expect(endpoint.requests).toBe(1);
  });

  test('lets a flood of unknown kids cause at most one fetch per cooldown', async () => {
    const { endpoint, clock, signingKeys } = setUp([keyA]);
    await keyFor(signingKeys, 'key-a');
    clock.now += COOLDOWN_MS;
    const held = gate();
    endpoint.gate = held.closed;
    const flood = Array.from({ length: 1000 }, (_, i) => keyFor(signingKeys, `random-${i}`));
    held.open();
    const answers = await Promise.all(flood.map((attempt) => rejection(attempt)));
    expect(answers.every((answer) => answer.status === 401)).toBe(true);
    expect(endpoint.requests).toBe(2);
    for (let second = 1; second < 30; second += 1) {
      clock.now += 1000;
      await rejection(keyFor(signingKeys, `later-${second}`));
    }
    expect(endpoint.requests).toBe(2);
    clock.now += 1000;
    await rejection(keyFor(signingKeys, 'after-the-cooldown'));
    expect(endpoint.requests).toBe(3);
  });

  test('never fetches for a kid with path or URL characters', async () => {
    const { endpoint, clock, signingKeys } = setUp([keyA]);
    await keyFor(signingKeys, 'key-a');
    clock.now += COOLDOWN_MS;
    for (const kid of ['../../keys', 'https://evil.example/jwks', '%2e%2e', 'a?b', '', 'x'.repeat(129)]) {
      const answer = await rejection(keyFor(signingKeys, kid));
      expect(answer.status).toBe(401);
    }
    const noKid = await rejection(signingKeys.getKey({ alg: 'RS256' }));
    expect(noKid.status).toBe(401);
    expect(endpoint.requestedUrls).toEqual([JWKS_URL]);
  });

  test('answers 503 with Retry-After when the key set cannot be fetched and no keys are cached', async () => {
    const { endpoint, clock, signingKeys } = setUp([keyA]);
    endpoint.failure = 'network';
    const answer = await rejection(keyFor(signingKeys, 'key-a'));
    expect(answer.status).toBe(503);
    expect(answer.code).toBe('ERR_SIGNING_KEYS_UNAVAILABLE');
    expect(answer.retryAfter).toBe('1');
    expect(answer.challenge).toBeUndefined();

    // Within the backoff no request reaches the endpoint, however many tokens arrive.
    for (let i = 0; i < 20; i++) await rejection(keyFor(signingKeys, 'key-a'));
    expect(endpoint.requests).toBe(1);

    endpoint.failure = undefined;
    clock.now += 1_000;
    await expect(keyFor(signingKeys, 'key-a')).resolves.toBeDefined();
    expect(endpoint.requests).toBe(2);
  });

  test('backs off after repeated failures, doubling up to the cooldown', async () => {
    const { endpoint, clock, signingKeys } = setUp([keyA]);
    endpoint.failure = 'network';
    const retryAfters: string[] = [];
    for (let i = 0; i < 7; i++) {
      const answer = await rejection(keyFor(signingKeys, 'key-a'));
      retryAfters.push(answer.retryAfter ?? '');
      clock.now += Number(answer.retryAfter) * 1000;
    }
    expect(retryAfters).toEqual(['1', '2', '4', '8', '16', '30', '30']);
    expect(endpoint.requests).toBe(7);
  });

  test('gives up on a JWKS endpoint that does not answer within the timeout', async () => {
    const endpoint = new FakeJwksEndpoint([keyA]);
    endpoint.failure = 'hang';
    const signingKeys = createSigningKeys({
      jwksUri: new URL(JWKS_URL),
      fetch: endpoint.fetch,
      now: () => NOW_MS,
      refreshCooldownMs: COOLDOWN_MS,
      timeoutMs: 20,
    });
    const answer = await rejection(keyFor(signingKeys, 'key-a'));
    expect(answer.status).toBe(503);
    expect(answer.code).toBe('ERR_SIGNING_KEYS_UNAVAILABLE');
  });

  test.each([
    ['an HTTP 500', 500],
    ['an HTTP 404', 404],
    ['a body that is not JSON', 'invalid-json'],
    ['a key set with no keys', 'no-keys'],
  ] as const)('treats %s from the JWKS endpoint as an outage', async (_name, failure) => {
    const { endpoint, signingKeys } = setUp([keyA]);
    endpoint.failure = failure;
    const answer = await rejection(keyFor(signingKeys, 'key-a'));
    expect(answer.status).toBe(503);
    expect(answer.code).toBe('ERR_SIGNING_KEYS_UNAVAILABLE');
  });

  test('keeps serving cached keys while the JWKS endpoint is down, also once they are old', async () => {
    const { endpoint, clock, signingKeys } = setUp([keyA]);
    await keyFor(signingKeys, 'key-a');
    endpoint.failure = 503;
    clock.now += SIGNING_KEYS_MAX_AGE_MS;
    await expect(keyFor(signingKeys, 'key-a')).resolves.toBeDefined();
    await signingKeys.refreshing;
    expect(endpoint.requests).toBe(2);
    await expect(keyFor(signingKeys, 'key-a')).resolves.toBeDefined();
    expect(endpoint.requests).toBe(2);
  });

  test('answers 503, not 401, for an unknown kid while the key set cannot be brought up to date', async () => {
    const { endpoint, clock, signingKeys } = setUp([keyA]);
    await keyFor(signingKeys, 'key-a');
    endpoint.failure = 'network';
    clock.now += COOLDOWN_MS;
    const answer = await rejection(keyFor(signingKeys, 'key-b'));
    expect(answer.status).toBe(503);
    expect(answer.retryAfter).toBe('1');
    await expect(keyFor(signingKeys, 'key-a')).resolves.toBeDefined();
  });

  test('refreshes an old key set in the background, dropping keys the issuer retired', async () => {
    const { endpoint, clock, signingKeys } = setUp([keyA, keyB]);
    await keyFor(signingKeys, 'key-a');
    endpoint.keys = [keyB];
    clock.now += SIGNING_KEYS_MAX_AGE_MS;
    // The request that notices the age is not held up by the refresh.
    await expect(keyFor(signingKeys, 'key-a')).resolves.toBeDefined();
    await signingKeys.refreshing;
    expect(endpoint.requests).toBe(2);
    const answer = await rejection(keyFor(signingKeys, 'key-a'));
    expect(answer.status).toBe(401);
    await expect(keyFor(signingKeys, 'key-b')).resolves.toBeDefined();
  });

  test('does not stop refreshing when the clock goes backwards', async () => {
    const { endpoint, clock, signingKeys } = setUp([keyA]);
    await keyFor(signingKeys, 'key-a');
    endpoint.keys = [keyA, keyB];
    clock.now -= 60 * 60 * 1000;
    await expect(keyFor(signingKeys, 'key-b')).resolves.toBeDefined();
    expect(endpoint.requests).toBe(2);
  });
});
