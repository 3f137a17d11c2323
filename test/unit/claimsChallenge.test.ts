import { describe, expect, test } from '@jest/globals';

import { claimsFromChallenge, decodeClaims, parseChallenges } from '../../shared/graph/claimsChallenge.js';

const NBF_CLAIMS = '{"access_token":{"nbf":{"essential":true,"value":"1604106651"}}}';
const base64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
/** Graph's answer to a revoked CAE token (Microsoft's documented example). */
const GRAPH_CAE_CHALLENGE = `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000", error="insufficient_claims", claims="${base64(NBF_CLAIMS)}"`;

describe('claimsFromChallenge', () => {
  test("reads the claims of Graph's Continuous Access Evaluation challenge", () => {
    expect(claimsFromChallenge(GRAPH_CAE_CHALLENGE)).toBe(NBF_CLAIMS);
  });

  test('accepts base64url without padding and parameters in any order or case', () => {
    const encoded = Buffer.from(NBF_CLAIMS).toString('base64url');
    expect(claimsFromChallenge(`bearer CLAIMS="${encoded}", Error="insufficient_claims"`)).toBe(NBF_CLAIMS);
  });

  test('finds the Bearer challenge among several', () => {
    expect(claimsFromChallenge(`Basic realm="x", Negotiate, ${GRAPH_CAE_CHALLENGE}`)).toBe(NBF_CLAIMS);
    expect(claimsFromChallenge(`Negotiate abc==, ${GRAPH_CAE_CHALLENGE}`)).toBe(NBF_CLAIMS);
  });

  test.each([
    ['no header', null],
    ['a challenge without an error', 'Bearer realm="", client_id="00000003-0000-0000-c000-000000000000"'],
    ['another error', `Bearer error="invalid_token", claims="${base64(NBF_CLAIMS)}"`],
    ['no claims', 'Bearer error="insufficient_claims"'],
    ['claims that are not JSON', `Bearer error="insufficient_claims", claims="${base64('not json')}"`],
    ['claims that are a JSON array', `Bearer error="insufficient_claims", claims="${base64('[1]')}"`],
    ['claims that are not base64', 'Bearer error="insufficient_claims", claims="%%%"'],
    ['another scheme', `Basic error="insufficient_claims", claims="${base64(NBF_CLAIMS)}"`],
    ['an oversized value', `Bearer error="insufficient_claims", claims="${'A'.repeat(40_000)}"`],
  ])('gives nothing for %s', (_case, header) => {
    expect(claimsFromChallenge(header)).toBeUndefined();
  });

  test('never throws on arbitrary input', () => {
    for (const header of [
      '',
      ',',
      '=',
      '"',
      'Bearer ="',
      'Bearer a="\\',
      'Bearer ,,, a=b,, c',
      '\u0000\u00ff',
    ]) {
      expect(() => claimsFromChallenge(header)).not.toThrow();
    }
  });
});

describe('decodeClaims', () => {
  test('normalizes the JSON it decodes', () => {
    expect(decodeClaims(base64('{ "access_token" : { } }'))).toBe('{"access_token":{}}');
  });

  test('accepts the JSON itself, as some resources send it', () => {
    expect(decodeClaims(NBF_CLAIMS)).toBe(NBF_CLAIMS);
  });
});

describe('parseChallenges', () => {
  test('splits challenges and unescapes quoted strings', () => {
    const challenges = parseChallenges('Basic realm="a \\"b\\"", Bearer error=invalid_token, scope="x y"');
    expect(challenges.map((c) => c.scheme)).toEqual(['Basic', 'Bearer']);
    expect(challenges[0]?.params.get('realm')).toBe('a "b"');
    expect(challenges[1]?.params.get('error')).toBe('invalid_token');
    expect(challenges[1]?.params.get('scope')).toBe('x y');
  });
});
