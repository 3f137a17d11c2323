import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';

import {
  assertCompactJws,
  MAX_AUTHORIZATION_HEADER_BYTES,
  parseBearerToken,
} from '../../../shared/auth/bearer.js';
import { fuzzRuns } from '../../fuzzRuns.js';
import { answerFor, REALM } from './entraFixture.js';

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';

function answerToHeader(authorization: string | null) {
  try {
    parseBearerToken(authorization);
  } catch (error) {
    return answerFor(error);
  }
  throw new Error('expected the header to be refused');
}

describe('parseBearerToken', () => {
  test.each(['Bearer', 'bearer', 'BEARER', 'bEaReR'])('accepts the scheme %s in any case', (scheme) => {
    expect(parseBearerToken(`${scheme} ${TOKEN}`)).toBe(TOKEN);
  });

  test('accepts every RFC 6750 b64token character and trailing padding', () => {
    expect(parseBearerToken('Bearer aZ09-._~+/==')).toBe('aZ09-._~+/==');
  });

  test.each([
    ['no header', null],
    ['an empty header', ''],
  ])('answers 401 with a bare Bearer challenge for %s', (_name, header) => {
    const answer = answerToHeader(header);
    expect(answer.status).toBe(401);
    expect(answer.challenge).toBe(`Bearer realm="${REALM}"`);
    expect(answer.code).toBe('ERR_TOKEN_MISSING');
  });

  test.each(['Basic dXNlcjpwYXNz', 'Negotiate YIIB', 'Bearr abc', TOKEN])(
    'answers 401 with a bare Bearer challenge for another scheme (%s)',
    (header) => {
      const answer = answerToHeader(header);
      expect(answer.status).toBe(401);
      expect(answer.challenge).toBe(`Bearer realm="${REALM}"`);
      expect(answer.code).toBe('ERR_TOKEN_MISSING');
    },
  );

  test.each([
    ['two spaces after the scheme', `Bearer  ${TOKEN}`],
    ['a trailing comma', `Bearer ${TOKEN},`],
    ['two credentials joined by Headers', `Bearer ${TOKEN}, Bearer ${TOKEN}`],
    ['a Basic and a Bearer credential', `Basic dXNlcjpwYXNz, Bearer ${TOKEN}`],
    ['the scheme alone', 'Bearer'],
    ['the scheme and a space', 'Bearer '],
    ['a tab instead of the space', `Bearer\t${TOKEN}`],
    ['a trailing space', `Bearer ${TOKEN} `],
    ['a space inside the token', `Bearer ${TOKEN} x`],
    ['a quote in the token', `Bearer "${TOKEN}"`],
    ['padding inside the token', 'Bearer ab=cd'],
    ['a non-ASCII character', `Bearer ${TOKEN}é`],
    ['a leading space', ` Bearer ${TOKEN}`],
    ['a scheme that is not a token', `Bé@rer ${TOKEN}`],
    ['a header of 16 KiB and one byte', `Bearer ${'a'.repeat(MAX_AUTHORIZATION_HEADER_BYTES - 6)}`],
  ])('answers 400 invalid_request for %s', (_name, header) => {
    const answer = answerToHeader(header);
    expect(answer.status).toBe(400);
    expect(answer.challenge).toMatch(
      new RegExp(`^Bearer realm="${REALM}", error="invalid_request", error_description="`),
    );
    expect(answer.code).toBe('ERR_AUTHORIZATION_MALFORMED');
    expect(answer.text).not.toContain(TOKEN);
  });

  test('accepts a header of exactly 16 KiB', () => {
    const token = 'a'.repeat(MAX_AUTHORIZATION_HEADER_BYTES - 'Bearer '.length);
    expect(parseBearerToken(`Bearer ${token}`)).toBe(token);
  });

  test('refuses a 1 MiB header before looking at its content', () => {
    const header = `Bearer ${'A'.repeat(1024 * 1024)}`;
    let refused = 0;
    for (let i = 0; i < 1000; i += 1) {
      try {
        parseBearerToken(header);
      } catch {
        refused += 1;
      }
    }
    expect(refused).toBe(1000);
    expect(answerToHeader(header).status).toBe(400);
  });

  test('returns only tokens of b64token syntax from exactly "<bearer> <token>" (fuzzed)', () => {
    const b64tokenChar = fc.constantFrom(...'ABCXYZabcxyz0189-._~+/=,; "\t\u00e9'.split(''));
    const header = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc
        .tuple(
          fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Basic', 'Bearer,', ''),
          fc.constantFrom(' ', '  ', '\t', ', ', ''),
          fc.string({ unit: b64tokenChar, maxLength: 200 }),
        )
        .map(([scheme, gap, token]) => `${scheme}${gap}${token}`),
    );
    fc.assert(
      fc.property(header, (value) => {
        let token: string;
        try {
          token = parseBearerToken(value);
        } catch (error) {
          const answer = answerFor(error);
          expect([400, 401]).toContain(answer.status);
          expect(['ERR_AUTHORIZATION_MALFORMED', 'ERR_TOKEN_MISSING']).toContain(answer.code);
          return;
        }
        expect(token).toMatch(/^[A-Za-z0-9\-._~+/]+=*$/);
        expect(value.toLowerCase()).toBe(`bearer ${token.toLowerCase()}`);
      }),
      { numRuns: fuzzRuns(5000) },
    );
  });
});

describe('assertCompactJws', () => {
  test('accepts three canonical base64url segments', () => {
    expect(() => assertCompactJws(TOKEN)).not.toThrow();
  });

  test.each([
    ['an empty signature (alg none)', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'],
    ['two segments', 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0'],
    ['five segments (a JWE)', 'a.b.c.d.e'],
    ['standard base64 characters', 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln+bmF0/dXJl'],
    ['padding', 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlcw=='],
    ['a non-canonical last character', 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.YR'],
    ['a segment of impossible length', 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.Y'],
  ])('answers 401 invalid_token for %s', (_name, token) => {
    let thrown: unknown;
    try {
      assertCompactJws(token);
    } catch (error) {
      thrown = error;
    }
    const answer = answerFor(thrown);
    expect(answer.status).toBe(401);
    expect(answer.challenge).toMatch(/error="invalid_token"/);
    expect(answer.code).toBe('ERR_TOKEN_INVALID');
  });
});
