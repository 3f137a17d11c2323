import { describe, expect, test } from '@jest/globals';

import type { CallerAccount } from '../../shared/auth/caller.js';
import { afterClaimsExchangeFailed, decideOnDownstreamFailure } from '../../shared/downstream/caePolicy.js';
import {
  callDownstream,
  type DelegatedTokenSource,
  type DownstreamDependencies,
} from '../../shared/downstream/callDownstream.js';
import {
  DOWNSTREAM_OPERATIONS,
  type DownstreamOperation,
  scopesFor,
} from '../../shared/downstream/operations.js';
import { PageCursors } from '../../shared/downstream/pages.js';
import type { JsonObject } from '../../shared/downstream/resourceClient.js';
import { ApiError } from '../../shared/errors.js';
import { apiFailure } from '../support/apiFailure.js';

const API_CLIENT_ID = '22222222-2222-4222-8222-222222222222';
const GRAPH_CLAIMS = '{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}';
const ENTRA_CLAIMS = '{"access_token":{"capolids":{"essential":true,"values":["p1"]}}}';
const caller: CallerAccount = {
  oid: 'o',
  tid: 't',
  accountId: 'o.t',
  scopes: ['access_as_user'],
  assertion: 'assertion',
  expiresAt: 0,
};

const revoked = (claims = GRAPH_CLAIMS): ApiError =>
  new ApiError('ERR_GRAPH_TOKEN_REJECTED', 'rejected', {
    claims,
    upstreamCode: 'InvalidAuthenticationToken',
  });

type Step = JsonObject | ApiError;

/** Tokens and Graph answers as scripted; records what the use case asked for. */
function harness(graphAnswers: Step[], exchange: { acquire?: Step; withClaims?: Step[] } = {}) {
  const log: string[] = [];
  const withClaims = [...(exchange.withClaims ?? [])];
  let issued = 0;
  const tokens: DelegatedTokenSource = {
    acquire: (_caller, scopes) => {
      log.push(`acquire ${scopes.join(' ')}`);
      return exchange.acquire instanceof ApiError
        ? Promise.reject(exchange.acquire)
        : Promise.resolve(`cached-${issued}`);
    },
    acquireWithClaims: (_caller, _scopes, claims) => {
      log.push(`acquireWithClaims ${claims}`);
      const next = withClaims.shift();
      if (next instanceof ApiError) return Promise.reject(next);
      issued++;
      return Promise.resolve(`fresh-${issued}`);
    },
    evict: (_caller, scopes) => {
      log.push(`evict ${scopes.join(' ')}`);
      return Promise.resolve();
    },
  };
  const deps: DownstreamDependencies = {
    tokens,
    resource: () => ({
      endpoint: {
        baseUrl: new URL('https://graph.microsoft.com'),
        scopePrefix: 'https://graph.microsoft.com',
        timeoutMs: 1000,
        retryBudgetMs: 0,
      },
      client: {
        send: (request, token) => {
          log.push(`graph ${request.target} ${token}`);
          const next = graphAnswers.shift();
          if (next === undefined) throw new Error('Graph called more often than scripted');
          return next instanceof ApiError
            ? Promise.reject(next)
            : Promise.resolve({ status: 200, body: next });
        },
      },
    }),
    scopesFor: (operation) => scopesFor(operation, 'https://graph.microsoft.com'),
    pages: new PageCursors([{ id: 'k1', key: Buffer.alloc(32, 1) }]),
    apiClientId: API_CLIENT_ID,
    now: () => Date.parse('2026-11-29T10:00:00Z'),
  };
  const run = async (
    operation: DownstreamOperation = DOWNSTREAM_OPERATIONS.myProfile,
  ): Promise<JsonObject | undefined> =>
    (
      await callDownstream(deps, caller, operation, {
        method: operation.method,
        target: operation.path,
        pathTemplate: operation.path,
      })
    ).body;
  return { log, run };
}

const USER_READ = 'https://graph.microsoft.com/User.Read';

describe('callDownstream', () => {
  test('calls the operation with a token for its own scopes', async () => {
    const { log, run } = harness([{ id: 'me' }]);
    await expect(run()).resolves.toEqual({ id: 'me' });
    expect(log).toEqual([`acquire ${USER_READ}`, 'graph /v1.0/me cached-0']);
  });

  test('after a claims challenge drops the cached token and exchanges once with the claims', async () => {
    const { log, run } = harness([revoked(), { id: 'me' }]);
    await expect(run()).resolves.toEqual({ id: 'me' });
    expect(log).toEqual([
      `acquire ${USER_READ}`,
      'graph /v1.0/me cached-0',
      `evict ${USER_READ}`,
      `acquireWithClaims ${GRAPH_CLAIMS}`,
      'graph /v1.0/me fresh-1',
    ]);
  });

  test('never loops: a second challenge goes to the caller as 401 claims, the new token dropped too', async () => {
    const second = '{"access_token":{"nbf":{"essential":true,"value":"1700000099"}}}';
    const { log, run } = harness([revoked(), revoked(second)]);
    const error = await apiFailure(run());
    expect(error.code).toBe('ERR_CLAIMS_CHALLENGE');
    expect(error.details.claims).toBe(second);
    expect(log.filter((line) => line.startsWith('graph'))).toHaveLength(2);
    expect(log.filter((line) => line.startsWith('evict'))).toHaveLength(2);
    expect(log.filter((line) => line.startsWith('acquireWithClaims'))).toHaveLength(1);
  });

  test("answers the resource's claims when Entra needs interaction without claims (AADSTS50173)", async () => {
    const entra = new ApiError('ERR_ASSERTION_REJECTED', 'revoked', { upstreamCode: 'AADSTS50173' });
    const { run } = harness([revoked()], { withClaims: [entra] });
    const error = await apiFailure(run());
    expect(error.code).toBe('ERR_CLAIMS_CHALLENGE');
    expect(error.details.claims).toBe(GRAPH_CLAIMS);
    expect(error.details.upstreamCode).toBe('AADSTS50173');
  });

  test("passes Entra's own claims challenge on as it is", async () => {
    const entra = new ApiError('ERR_CLAIMS_CHALLENGE', 'mfa', {
      claims: ENTRA_CLAIMS,
      upstreamCode: 'AADSTS50076',
    });
    const { run } = harness([revoked()], { withClaims: [entra] });
    const error = await apiFailure(run());
    expect(error.code).toBe('ERR_CLAIMS_CHALLENGE');
    expect(error.details.claims).toBe(ENTRA_CLAIMS);
  });

  test('keeps an Entra outage during the claims exchange an outage', async () => {
    const outage = new ApiError('ERR_IDENTITY_PROVIDER_UNAVAILABLE', 'down', { retryAfterSeconds: 5 });
    const { run } = harness([revoked()], { withClaims: [outage] });
    expect((await apiFailure(run())).code).toBe('ERR_IDENTITY_PROVIDER_UNAVAILABLE');
  });

  test('a 401 without claims drops the cached token and fails without exchanging again', async () => {
    const { log, run } = harness([new ApiError('ERR_GRAPH_TOKEN_REJECTED', 'rejected')]);
    expect((await apiFailure(run())).code).toBe('ERR_GRAPH_TOKEN_REJECTED');
    expect(log).toContain(`evict ${USER_READ}`);
    expect(log.some((line) => line.startsWith('acquireWithClaims'))).toBe(false);
  });

  test("another API's 401 with claims is handled as Graph's: one exchange with the claims", async () => {
    const tasksRevoked = new ApiError('ERR_DOWNSTREAM_TOKEN_REJECTED', 'rejected', { claims: GRAPH_CLAIMS });
    const { log, run } = harness([tasksRevoked, { id: 'task' }]);
    await expect(run(DOWNSTREAM_OPERATIONS.getTask)).resolves.toEqual({ id: 'task' });
    expect(log.filter((line) => line.startsWith('acquireWithClaims'))).toHaveLength(1);
  });

  test('other Graph failures keep the cached token', async () => {
    const { log, run } = harness([new ApiError('ERR_GRAPH_FORBIDDEN', 'denied')]);
    expect((await apiFailure(run())).code).toBe('ERR_GRAPH_FORBIDDEN');
    expect(log.some((line) => line.startsWith('evict'))).toBe(false);
  });

  test('missing consent names the application and the scopes to consent to', async () => {
    const consent = new ApiError('ERR_CONSENT_REQUIRED', 'consent', { upstreamCode: 'AADSTS65001' });
    const { run } = harness([], { acquire: consent });
    const error = await apiFailure(run(DOWNSTREAM_OPERATIONS.myUpcomingEvents));
    expect(error.code).toBe('ERR_CONSENT_REQUIRED');
    expect(error.details.upstreamCode).toBe('AADSTS65001');
    expect(error.details.consent).toEqual({
      clientId: API_CLIENT_ID,
      scopes: ['https://graph.microsoft.com/Calendars.Read'],
    });
  });
});

describe('decideOnDownstreamFailure', () => {
  test('is a failure for anything that is not an ApiError', () => {
    const decision = decideOnDownstreamFailure(new TypeError('x'), 'first');
    expect(decision.action).toBe('fail');
  });

  test('exchanges with claims only on the first attempt', () => {
    expect(decideOnDownstreamFailure(revoked(), 'first')).toEqual({
      action: 'evict-and-exchange-with-claims',
      claims: GRAPH_CLAIMS,
    });
    expect(decideOnDownstreamFailure(revoked(), 'after-claims-exchange').action).toBe('evict-and-fail');
  });
});

describe('afterClaimsExchangeFailed', () => {
  test('leaves what is not an ApiError alone', () => {
    const error = new TypeError('x');
    expect(afterClaimsExchangeFailed(error, GRAPH_CLAIMS)).toBe(error);
  });
});
