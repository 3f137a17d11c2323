// The local host's stand-in for Azure's platform CORS: allowed origins only, and never more than Azure can do.
import { describe, expect, test } from '@jest/globals';

import { applyCors, decideCors, parseAllowedOrigins } from '../../dev/host/platformCors.js';

const spa = 'http://localhost:7080';
const allowed = new Set([spa]);

describe('parseAllowedOrigins', () => {
  test('reads comma-separated origins, a trailing slash tolerated', () => {
    const parsed = parseAllowedOrigins(' http://localhost:7080/, https://app.contoso.com ');
    expect(parsed).toEqual({ ok: true, origins: new Set([spa, 'https://app.contoso.com']) });
  });

  test('allows nothing when unset', () => {
    expect(parseAllowedOrigins(undefined)).toEqual({ ok: true, origins: new Set() });
  });

  test.each(['*', 'https://app.contoso.com/path', 'not a url'])('refuses %s, naming the setting', (value) => {
    const parsed = parseAllowedOrigins(value);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.message).toMatch(/^CORS_ALLOWED_ORIGINS: /);
  });
});

describe('decideCors', () => {
  test('answers an allowed preflight itself, echoing the method and headers asked for', () => {
    const decision = decideCors(
      { method: 'OPTIONS', origin: spa, requestMethod: 'DELETE', requestHeaders: 'authorization' },
      allowed,
    );
    expect(decision).toEqual({
      kind: 'preflight',
      status: 204,
      headers: {
        'access-control-allow-origin': spa,
        'access-control-allow-methods': 'DELETE',
        'access-control-allow-headers': 'authorization',
        vary: 'Origin',
      },
    });
  });

  test('refuses a preflight from another origin without any CORS header', () => {
    const decision = decideCors(
      { method: 'OPTIONS', origin: 'https://evil.example', requestMethod: 'GET' },
      allowed,
    );
    expect(decision.kind).toBe('preflight');
    expect(decision.headers['access-control-allow-origin']).toBeUndefined();
  });

  test('lets the function answer other origins, without Access-Control-Allow-Origin', () => {
    expect(decideCors({ method: 'GET', origin: 'https://evil.example' }, allowed)).toEqual({
      kind: 'pass',
      headers: { vary: 'Origin' },
    });
    expect(decideCors({ method: 'GET' }, allowed)).toEqual({ kind: 'pass', headers: {} });
  });
});

describe('applyCors', () => {
  test("drops the app's own Access-Control-* headers: it cannot expose WWW-Authenticate under platform CORS", () => {
    const decision = decideCors({ method: 'GET', origin: spa }, allowed);
    if (decision.kind !== 'pass') throw new Error('expected pass');
    const headers = applyCors(
      {
        'content-type': 'application/problem+json',
        'www-authenticate': 'Bearer error="insufficient_claims"',
        'access-control-expose-headers': 'WWW-Authenticate',
        'access-control-allow-origin': '*',
      },
      decision,
    );
    expect(headers).toEqual({
      'content-type': 'application/problem+json',
      'www-authenticate': 'Bearer error="insufficient_claims"',
      'access-control-allow-origin': spa,
      vary: 'Origin',
    });
  });
});
