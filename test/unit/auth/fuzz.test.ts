import { afterAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';

import { createAuthenticator } from '../../../shared/auth/authenticate.js';
import type { CallerAccount } from '../../../shared/auth/caller.js';
import { fuzzRuns } from '../../fuzzRuns.js';
import {
  answerFor,
  API_CLIENT_ID,
  APP_ID_URI,
  FakeJwksEndpoint,
  newSigningKey,
  NOW_MS,
  NOW_SECONDS,
  signRaw,
  signToken,
  TENANT_ID,
  testConfig,
  USER_OID,
  userClaims,
  v2Issuer,
} from './entraFixture.js';

/**
 * Property-based fuzzing of the whole authenticator: every answer to a bad header or token is a 400,
 * 401 or 403 ApiError, never another error and never a 5xx, and each comes fast.
 */

const entraKey = newSigningKey('entra-key-1');
const endpoint = new FakeJwksEndpoint([entraKey]);
const authenticator = createAuthenticator(testConfig(), { fetch: endpoint.fetch, now: () => NOW_MS });
const goodToken = signToken(userClaims(), entraKey);

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const stats = { cases: 0, totalMs: 0, slowestMs: 0 };

afterAll(() => {
  process.stdout.write(
    `auth fuzz: ${stats.cases} cases, mean ${(stats.totalMs / stats.cases).toFixed(3)} ms, ` +
      `slowest ${stats.slowestMs.toFixed(1)} ms, JWKS fetches ${endpoint.requests}\n`,
  );
});

type Outcome = { caller: CallerAccount } | { status: number };

/** Authenticates and classifies the outcome; fails on anything but a caller or a 400/401/403 ApiError. */
async function outcomeOf(header: string | null): Promise<Outcome> {
  const started = performance.now();
  let outcome: Outcome;
  try {
    outcome = { caller: await authenticator.authenticate(header) };
  } catch (error) {
    const answer = answerFor(error);
    // A plain check: jest's matchers build an error per call, which would dominate 10,000 cases.
    if (![400, 401, 403].includes(answer.status)) {
      throw new Error(`answered ${answer.status} (${answer.code}), not a 400, 401 or 403`, { cause: error });
    }
    outcome = { status: answer.status };
  }
  const elapsed = performance.now() - started;
  stats.cases += 1;
  stats.totalMs += elapsed;
  stats.slowestMs = Math.max(stats.slowestMs, elapsed);
  return outcome;
}

function statusOf(outcome: Outcome): number {
  return 'status' in outcome ? outcome.status : 200;
}

const mutation = fc.oneof(
  fc.record({
    kind: fc.constant('replace' as const),
    at: fc.nat(),
    char: fc.constantFrom(...`${B64URL}.=+/~ ,é`),
  }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), char: fc.constantFrom(...`${B64URL}.=`) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swap-segments' as const), first: fc.nat(2), second: fc.nat(2) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(token: string, change: Mutation): string {
  const at = 'at' in change ? change.at % (token.length + 1) : 0;
  switch (change.kind) {
    case 'replace':
      return `${token.slice(0, at)}${change.char}${token.slice(at + 1)}`;
    case 'insert':
      return `${token.slice(0, at)}${change.char}${token.slice(at)}`;
    case 'delete':
      return `${token.slice(0, at)}${token.slice(at + 1)}`;
    case 'truncate':
      return token.slice(0, at);
    case 'swap-segments': {
      const segments = token.split('.');
      const first = segments[change.first] ?? '';
      segments[change.first] = segments[change.second] ?? '';
      segments[change.second] = first;
      return segments.join('.');
    }
  }
}

/** Whether a claim value would still pass every check (the oracle of the claim-override property). */
function stillValid(claim: string, value: unknown): boolean {
  switch (claim) {
    case 'iss':
      return value === v2Issuer();
    case 'aud':
      return value === API_CLIENT_ID || value === APP_ID_URI;
    case 'tid':
      return typeof value === 'string' && value.toLowerCase() === TENANT_ID;
    case 'oid':
      return typeof value === 'string' && GUID.test(value);
    case 'ver':
      return value === '2.0';
    case 'exp':
      return typeof value === 'number' && value > NOW_SECONDS - 60;
    case 'nbf':
    case 'iat':
      return typeof value === 'number' && value <= NOW_SECONDS + 60;
    case 'scp':
      return typeof value === 'string' && value.split(' ').includes('access_as_user');
    default:
      return true;
  }
}

describe('authenticate under fuzzing', () => {
  test('answers any Authorization header with 400, 401 or 403', async () => {
    const b64tokenish = fc.string({ unit: fc.constantFrom(...`${B64URL}.=+/~ ,`), maxLength: 400 });
    const header = fc.oneof(
      fc.string({ maxLength: 400 }),
      fc.string({ unit: 'binary', maxLength: 400 }),
      b64tokenish.map((token) => `Bearer ${token}`),
      fc
        .tuple(
          fc.constantFrom('Bearer', 'bearer', 'Basic', 'Bearer,', 'DPoP'),
          fc.constantFrom(' ', '  ', '\t'),
          b64tokenish,
        )
        .map(([scheme, gap, token]) => `${scheme}${gap}${token}`),
      fc.array(b64tokenish, { minLength: 3, maxLength: 3 }).map((segments) => `Bearer ${segments.join('.')}`),
    );
    await fc.assert(
      fc.asyncProperty(header, async (value) => {
        return statusOf(await outcomeOf(value)) !== 200;
      }),
      { numRuns: fuzzRuns(3000) },
    );
  });

  test('refuses every change to the characters of a good token with 400 or 401', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (changes) => {
        const mutated = changes.reduce(mutate, goodToken);
        fc.pre(mutated !== goodToken);
        return [400, 401].includes(statusOf(await outcomeOf(`Bearer ${mutated}`)));
      }),
      { numRuns: fuzzRuns(3000) },
    );
  });

  test('refuses arbitrary payload bytes signed with the Entra key with 401', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), async (payload) => {
        return statusOf(await outcomeOf(`Bearer ${signRaw(payload, entraKey)}`)) === 401;
      }),
      { numRuns: fuzzRuns(1000) },
    );
  });

  test('refuses arbitrary JSON payloads signed with the Entra key with 401', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 3 }), async (payload) => {
        return statusOf(await outcomeOf(`Bearer ${signRaw(JSON.stringify(payload), entraKey)}`)) === 401;
      }),
      { numRuns: fuzzRuns(1000) },
    );
  });

  test('refuses a signed token with any checked claim set to a wrong value with 401 or 403', async () => {
    const checkedClaim = fc.constantFrom('iss', 'aud', 'tid', 'oid', 'ver', 'exp', 'nbf', 'iat', 'scp');
    const override = fc.tuple(
      checkedClaim,
      fc.oneof(
        fc.jsonValue({ maxDepth: 2 }),
        fc.integer({ min: NOW_SECONDS - 7200, max: NOW_SECONDS + 7200 }),
      ),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(override, { minLength: 1, maxLength: 3 }), async (overrides) => {
        const claims = userClaims(Object.fromEntries(overrides));
        fc.pre(!Object.entries(claims).every(([claim, value]) => stillValid(claim, value)));
        return [401, 403].includes(statusOf(await outcomeOf(`Bearer ${signToken(claims, entraKey)}`)));
      }),
      { numRuns: fuzzRuns(1000) },
    );
  });

  test('accepts or refuses with 401 a good payload under arbitrary header parameters', async () => {
    const name = fc.oneof(
      fc.constantFrom(
        'alg',
        'kid',
        'typ',
        'crit',
        'b64',
        'jku',
        'x5u',
        'jwk',
        'x5c',
        'x5t',
        'cty',
        'zip',
        'enc',
      ),
      fc.string({ maxLength: 8 }),
    );
    const parameters = fc.dictionary(name, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 });
    await fc.assert(
      fc.asyncProperty(parameters, async (header) => {
        const outcome = await outcomeOf(`Bearer ${signRaw(JSON.stringify(userClaims()), entraKey, header)}`);
        return 'caller' in outcome ? outcome.caller.oid === USER_OID : outcome.status === 401;
      }),
      { numRuns: fuzzRuns(1000) },
    );
  });

  test('fetched the key set at most once, as the clock stood still', () => {
    expect(endpoint.requests).toBeLessThanOrEqual(1);
  });
});
