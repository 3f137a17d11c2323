import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { decodeProtectedHeader } from 'jose';

import { type Authenticator, createAuthenticator } from '../../shared/auth/authenticate.js';
import { loadConfig } from '../../shared/config.js';
import { counters, injectFault, resetEmulators, rotateKeys, sandbox, userToken } from '../sandbox.js';
import { rejection } from '../unit/auth/entraFixture.js';

/**
 * Key rollover and JWKS outages against the sandbox's Entra emulator, over real HTTPS with the global
 * fetch. The clock is real but can be moved forward past the refresh cooldown.
 */

const COOLDOWN_SECONDS = 30;

let authenticator: Authenticator;
const clock = { offsetMs: 0 };

function skipCooldown(): void {
  clock.offsetMs += COOLDOWN_SECONDS * 1000;
}

async function keyFetches(): Promise<number> {
  return (await counters('entra')).keys ?? 0;
}

beforeEach(async () => {
  await resetEmulators();
  clock.offsetMs = 0;
  const config = loadConfig({
    ...sandbox().settings,
    ENTRA_JWKS_REFRESH_COOLDOWN_SECONDS: String(COOLDOWN_SECONDS),
  });
  authenticator = createAuthenticator(config, { now: () => Date.now() + clock.offsetMs });
});

afterEach(async () => {
  await resetEmulators();
});

describe('signing keys from the Entra emulator', () => {
  test('validate its tokens, fetching the key set once', async () => {
    const { accessToken, oid, tid } = await userToken('adele');
    await expect(authenticator.authenticate(`Bearer ${accessToken}`)).resolves.toMatchObject({ oid, tid });
    await expect(authenticator.authenticate(`Bearer ${accessToken}`)).resolves.toMatchObject({ oid, tid });
    expect(await keyFetches()).toBe(1);
  });

  test('follow a key rollover without a restart and refuse tokens of the retired key', async () => {
    const before = await userToken('adele');
    await authenticator.authenticate(`Bearer ${before.accessToken}`);

    const newKid = await rotateKeys({ retireOld: true });
    const after = await userToken('adele');
    expect(decodeProtectedHeader(after.accessToken).kid).toBe(newKid);
    skipCooldown();
    await expect(authenticator.authenticate(`Bearer ${after.accessToken}`)).resolves.toMatchObject({
      oid: after.oid,
    });
    expect(await keyFetches()).toBe(2);

    const answer = await rejection(authenticator.authenticate(`Bearer ${before.accessToken}`));
    expect(answer.status).toBe(401);
    expect(answer.code).toBe('ERR_TOKEN_INVALID');
    expect(answer.challenge).toMatch(/error="invalid_token"/);
  });

  test('keep accepting tokens of a key that is still published after a rollover', async () => {
    const before = await userToken('adele');
    await authenticator.authenticate(`Bearer ${before.accessToken}`);
    await rotateKeys();
    const after = await userToken('adele');
    skipCooldown();
    await expect(authenticator.authenticate(`Bearer ${after.accessToken}`)).resolves.toBeDefined();
    await expect(authenticator.authenticate(`Bearer ${before.accessToken}`)).resolves.toBeDefined();
  });

  test('keep validating with cached keys while the key set endpoint fails', async () => {
    const before = await userToken('adele');
    await authenticator.authenticate(`Bearer ${before.accessToken}`);
    await injectFault('entra', { kind: 'keys', status: 503, count: 100 });
    await rotateKeys();
    const after = await userToken('adele');
    skipCooldown();

    // The new key cannot be fetched: 503, not 401, since the token may well be good.
    const answer = await rejection(authenticator.authenticate(`Bearer ${after.accessToken}`));
    expect(answer.status).toBe(503);
    expect(answer.code).toBe('ERR_SIGNING_KEYS_UNAVAILABLE');
    expect(answer.retryAfter).toBe('1');
    // Tokens of the cached key still pass.
    await expect(authenticator.authenticate(`Bearer ${before.accessToken}`)).resolves.toBeDefined();
    expect(await keyFetches()).toBe(2);
  });

  test('answer 503 with Retry-After when the key set cannot be fetched and none is cached, then recover', async () => {
    const { accessToken } = await userToken('adele');
    await injectFault('entra', { kind: 'keys', status: 500, count: 1 });
    const answer = await rejection(authenticator.authenticate(`Bearer ${accessToken}`));
    expect(answer.status).toBe(503);
    expect(answer.code).toBe('ERR_SIGNING_KEYS_UNAVAILABLE');
    // A failure is retried after a short backoff, not a whole cooldown.
    expect(answer.retryAfter).toBe('1');
    expect(answer.challenge).toBeUndefined();

    // Within the backoff no request reaches the emulator, however many callers retry.
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        expect((await rejection(authenticator.authenticate(`Bearer ${accessToken}`))).status).toBe(503);
      }),
    );
    expect(await keyFetches()).toBe(1);

    skipCooldown();
    await expect(authenticator.authenticate(`Bearer ${accessToken}`)).resolves.toBeDefined();
    expect(await keyFetches()).toBe(2);
  });
});
