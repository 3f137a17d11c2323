import { describe, expect, test } from '@jest/globals';
import { errors } from 'jose';

import { verificationFailure } from '../../../shared/auth/tokenErrors.js';
import { ApiError } from '../../../shared/errors.js';
import { answerFor } from './entraFixture.js';

describe('verificationFailure', () => {
  test('passes an ApiError through unchanged', () => {
    const unavailable = new ApiError('ERR_SIGNING_KEYS_UNAVAILABLE', 'keys unavailable', {
      retryAfterSeconds: 7,
    });
    expect(verificationFailure(unavailable)).toBe(unavailable);
  });

  test('drops the cause of a jose error, whose payload holds the claims', () => {
    const claims = { oid: 'secret-oid', exp: 1 };
    const failure = verificationFailure(
      new errors.JWTExpired('"exp" claim timestamp check failed', claims, 'exp'),
    );
    expect(failure.code).toBe('ERR_TOKEN_INVALID');
    expect(failure.cause).toBeUndefined();
    expect(JSON.stringify(answerFor(failure))).not.toContain('secret-oid');
  });

  test('names only claims it checks, never a claim name taken from elsewhere', () => {
    const failure = verificationFailure(
      new errors.JWTClaimValidationFailed('unexpected', {}, 'eyJhbGciOiJSUzI1NiJ9', 'check_failed'),
    );
    expect(failure.details.description).toBe('a claim failed its check');
  });

  test('answers 401 invalid_token for an unexpected error and keeps it as the cause', () => {
    const unexpected = new TypeError('RS256 requires key modulusLength to be 2048 bits or larger');
    const failure = verificationFailure(unexpected);
    expect(failure.cause).toBe(unexpected);
    const answer = answerFor(failure);
    expect(answer.status).toBe(401);
    expect(answer.challenge).toMatch(/error="invalid_token"/);
    expect(answer.code).toBe('ERR_TOKEN_INVALID');
  });
});
