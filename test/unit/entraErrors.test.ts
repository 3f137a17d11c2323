import { AuthError, InteractionRequiredAuthError, ServerError } from '@azure/msal-node';
import { describe, expect, test } from '@jest/globals';

import { mapEntraError } from '../../shared/obo/entraErrors.js';

const CLAIMS = '{"access_token":{"capolids":{"essential":true,"values":["p1"]}}}';

describe('mapEntraError', () => {
  test('turns an MFA requirement with claims into a claims challenge', () => {
    const error = new InteractionRequiredAuthError(
      'invalid_grant',
      'c',
      'AADSTS50076: MFA',
      'basic_action',
      '',
      '',
      CLAIMS,
      '50076',
    );
    expect(mapEntraError(error)).toMatchObject({
      code: 'ERR_CLAIMS_CHALLENGE',
      details: { claims: CLAIMS, upstreamCode: 'AADSTS50076' },
    });
  });

  test('turns missing consent into a consent error', () => {
    const error = new InteractionRequiredAuthError(
      'invalid_grant',
      'c',
      'AADSTS65001: consent',
      'consent_required',
    );
    expect(mapEntraError(error).code).toBe('ERR_CONSENT_REQUIRED');
  });

  test('turns a rejected assertion into an invalid token', () => {
    const error = new ServerError(
      'invalid_grant',
      'c',
      'AADSTS50013: Assertion failed signature validation.',
      '',
      '50013',
      400,
    );
    expect(mapEntraError(error)).toMatchObject({
      code: 'ERR_ASSERTION_REJECTED',
      details: { upstreamCode: 'AADSTS50013' },
    });
  });

  test('blames our own registration for a bad client secret', () => {
    const error = new ServerError(
      'invalid_client',
      'c',
      'AADSTS7000215: Invalid client secret provided.',
      '',
      '7000215',
      401,
    );
    expect(mapEntraError(error).code).toBe('ERR_IDENTITY_PROVIDER_REJECTED_APP');
  });

  test.each([
    new ServerError('temporarily_unavailable', 'c', 'AADSTS90033', '', '90033', 503),
    new ServerError('server_error', 'c', 'boom', '', undefined, 500),
    new AuthError('network_error', 'c', 'socket hang up'),
    new TypeError('fetch failed'),
  ])('treats an outage as unavailable with a retry hint (%#)', (error) => {
    expect(mapEntraError(error)).toMatchObject({
      code: 'ERR_IDENTITY_PROVIDER_UNAVAILABLE',
      details: { retryAfterSeconds: 5 },
    });
  });

  test('reads the AADSTS code from the numeric error code msal-node copies from Entra', () => {
    const error = new ServerError(
      'invalid_grant',
      'c',
      'consent needed',
      '',
      65001 as unknown as string,
      400,
    );
    expect(mapEntraError(error)).toMatchObject({
      code: 'ERR_CONSENT_REQUIRED',
      details: { upstreamCode: 'AADSTS65001' },
    });
  });

  test("passes on Entra's own Retry-After for a 5xx msal-node reports without a status", () => {
    const error = new ServerError('server_error', 'c', 'AADSTS90033: busy', '', '90033');
    expect(mapEntraError(error, { status: 503, retryAfter: '42' })).toMatchObject({
      code: 'ERR_IDENTITY_PROVIDER_UNAVAILABLE',
      details: { retryAfterSeconds: 42 },
    });
  });

  test('a Conditional Access block without claims is 403, not a sign-in loop', () => {
    const error = new InteractionRequiredAuthError(
      'interaction_required',
      'c',
      'AADSTS53003: blocked',
      '',
      '',
      '',
      '',
      '53003',
    );
    expect(mapEntraError(error).code).toBe('ERR_ACCESS_BLOCKED');
  });
});
