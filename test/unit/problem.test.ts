import { describe, expect, test } from '@jest/globals';

import { ApiError } from '../../shared/errors.js';
import { problemResponse } from '../../shared/problem.js';

function header(response: ReturnType<typeof problemResponse>, name: string): string | undefined {
  return (response.headers as Record<string, string>)[name];
}

describe('problemResponse', () => {
  test('challenges a missing token with a bare Bearer realm', () => {
    const response = problemResponse(new ApiError('ERR_TOKEN_MISSING', 'no token'), 'api://x');
    expect(response.status).toBe(401);
    expect(header(response, 'WWW-Authenticate')).toBe('Bearer realm="api://x"');
    expect(header(response, 'Content-Type')).toBe('application/problem+json');
  });

  test('sends the claims challenge base64-encoded', () => {
    const claims = '{"access_token":{"acrs":{"essential":true,"value":"c1"}}}';
    const response = problemResponse(new ApiError('ERR_CLAIMS_CHALLENGE', 'mfa', { claims }), 'api://x');
    expect(response.status).toBe(401);
    expect(header(response, 'WWW-Authenticate')).toContain(`error="insufficient_claims"`);
    expect(header(response, 'WWW-Authenticate')).toContain(
      `claims="${Buffer.from(claims).toString('base64')}"`,
    );
  });

  test('puts the claims in the body too, for a browser that cannot read WWW-Authenticate', () => {
    const claims = '{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}';
    const response = problemResponse(new ApiError('ERR_CLAIMS_CHALLENGE', 'cae', { claims }), 'api://x');
    expect(response.jsonBody).toMatchObject({
      code: 'ERR_CLAIMS_CHALLENGE',
      claims: Buffer.from(claims).toString('base64'),
    });
  });

  test('gives a machine-readable consent hint with ERR_CONSENT_REQUIRED', () => {
    const consent = { clientId: 'c', scopes: ['https://graph.microsoft.com/Calendars.Read'] };
    const response = problemResponse(
      new ApiError('ERR_CONSENT_REQUIRED', 'consent', { consent, upstreamCode: 'AADSTS65001' }),
      'api://x',
    );
    expect(response.status).toBe(403);
    expect(response.jsonBody).toMatchObject({
      code: 'ERR_CONSENT_REQUIRED',
      upstreamCode: 'AADSTS65001',
      consent,
    });
  });

  test('names the missing scope', () => {
    const response = problemResponse(
      new ApiError('ERR_SCOPE_INSUFFICIENT', 'scope', { requiredScope: 'access_as_user' }),
      'r',
    );
    expect(response.status).toBe(403);
    expect(header(response, 'WWW-Authenticate')).toContain('scope="access_as_user"');
  });

  test('adds Retry-After to 503s', () => {
    const response = problemResponse(
      new ApiError('ERR_GRAPH_UNAVAILABLE', 'down', { retryAfterSeconds: 12 }),
      'r',
    );
    expect(response.status).toBe(503);
    expect(header(response, 'Retry-After')).toBe('12');
  });

  test('hides the message of an unexpected error', () => {
    const response = problemResponse(new TypeError('secret internals'), 'r');
    expect(response.status).toBe(500);
    expect(JSON.stringify(response.jsonBody)).not.toContain('secret internals');
  });

  test('keeps quotes in a description from breaking the header', () => {
    const response = problemResponse(
      new ApiError('ERR_TOKEN_INVALID', 'bad', { description: 'say "hi"\n' }),
      'r',
    );
    expect(header(response, 'WWW-Authenticate')).toContain('error_description="say \\"hi\\""');
  });
});
