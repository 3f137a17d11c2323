// The per-caller bound on exchanges (issue 20 point 7), over HTTP against a local Functions host with a
// small OBO_EXCHANGES_PER_CALLER_PER_MINUTE: erase-then-call cannot make the API call Entra without bound.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';

import { counters, resetEmulators, userToken } from '../sandbox.js';
import { startHosts, type TestHost } from './hosts.js';

const BOUND = 3;
let host: TestHost;
let run = 0;

beforeAll(async () => {
  [host] = (await startHosts(1, { OBO_EXCHANGES_PER_CALLER_PER_MINUTE: String(BOUND) })) as [TestHost];
});
afterAll(async () => {
  await host.stop();
});
beforeEach(async () => {
  await resetEmulators();
  run++;
});

function call(token: string, method: 'GET' | 'DELETE', path: string): Promise<Response> {
  return fetch(`${host.url}/api/${path}`, { method, headers: { Authorization: `Bearer ${token}` } });
}

async function exchanges(): Promise<number> {
  return (await counters('entra'))['token.obo'] ?? 0;
}

describe('OBO_EXCHANGES_PER_CALLER_PER_MINUTE', () => {
  test('erase-then-call past the bound answers 429 with Retry-After; Entra sees no more; another user is unaffected', async () => {
    const { accessToken } = await userToken(`greedy-${run}`);
    const statuses: number[] = [];
    for (let i = 0; i < BOUND + 2; i++) {
      expect((await call(accessToken, 'DELETE', 'me/token-cache')).status).toBe(204);
      const response = await call(accessToken, 'GET', 'me');
      statuses.push(response.status);
      if (response.status === 429) {
        expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(response.headers.get('content-type')).toBe('application/problem+json');
        expect(await response.json()).toMatchObject({ code: 'ERR_TOO_MANY_EXCHANGES', status: 429 });
      } else {
        await response.body?.cancel();
      }
    }
    expect(statuses).toEqual([...Array<number>(BOUND).fill(200), 429, 429]);
    expect(await exchanges()).toBe(BOUND);

    const other = await userToken(`bystander-${run}`);
    expect((await call(other.accessToken, 'GET', 'me')).status).toBe(200);
    expect(await exchanges()).toBe(BOUND + 1);
  });

  test('what the caches serve is never counted', async () => {
    const { accessToken } = await userToken(`cached-${run}`);
    for (let i = 0; i < BOUND + 3; i++) {
      const response = await call(accessToken, 'GET', 'me');
      expect(response.status).toBe(200);
      await response.body?.cancel();
    }
    expect(await exchanges()).toBe(1);
  });
});
