import { isRecord } from '../narrow.js';

/**
 * Reads a resource's claims challenge (Continuous Access Evaluation, Conditional Access) from its
 * `WWW-Authenticate` header, as Graph sends it after a revocation:
 * `Bearer realm="", authorization_uri="...", client_id="...", error="insufficient_claims", claims="<base64 JSON>"`.
 */

/** A claims request is a few hundred bytes; anything much larger is not one. */
const MAX_CLAIMS_CHARS = 8 * 1024;

/**
 * The claims JSON (decoded) that a `Bearer` challenge with `error="insufficient_claims"` asks for, or
 * undefined when the header holds no such challenge or its claims are not a JSON object.
 */
export function claimsFromChallenge(header: string | null): string | undefined {
  if (header === null || header.length > 4 * MAX_CLAIMS_CHARS) return undefined;
  for (const challenge of parseChallenges(header)) {
    if (challenge.scheme.toLowerCase() !== 'bearer') continue;
    if (challenge.params.get('error') !== 'insufficient_claims') continue;
    const encoded = challenge.params.get('claims');
    if (encoded === undefined) continue;
    const claims = decodeClaims(encoded);
    if (claims !== undefined) return claims;
  }
  return undefined;
}

/** Base64 (standard or URL alphabet, padded or not) of a JSON object; also accepts the JSON itself. */
export function decodeClaims(encoded: string): string | undefined {
  const trimmed = encoded.trim();
  if (trimmed === '' || trimmed.length > 2 * MAX_CLAIMS_CHARS) return undefined;
  const text = trimmed.startsWith('{')
    ? trimmed
    : /^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)
      ? Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')
      : undefined;
  if (text === undefined || text.length > MAX_CLAIMS_CHARS) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return isRecord(parsed) ? JSON.stringify(parsed) : undefined;
  } catch {
    return undefined;
  }
}

export interface AuthChallenge {
  scheme: string;
  /** Parameter names lower-cased; the first occurrence wins. */
  params: Map<string, string>;
}

/**
 * RFC 9110 section 11.6.1 challenges: `scheme param="quoted", param=token, ...`, several challenges in
 * one header separated by commas. A token68 challenge (`Basic abc=`) yields a scheme with no params.
 */
export function parseChallenges(header: string): AuthChallenge[] {
  const challenges: AuthChallenge[] = [];
  let position = 0;
  let current: AuthChallenge | undefined;
  const skip = (pattern: RegExp): void => {
    while (position < header.length && pattern.test(header.charAt(position))) position++;
  };
  const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;

  while (position < header.length) {
    skip(/[\s,]/);
    const start = position;
    skip(TOKEN);
    const word = header.slice(start, position);
    if (word === '') {
      position++; // a character that cannot start anything: step over it
      continue;
    }
    skip(/[ \t]/);
    if (header.charAt(position) === '=' && current !== undefined && header.charAt(position + 1) !== '=') {
      position++;
      skip(/[ \t]/);
      let value: string;
      if (header.charAt(position) === '"') {
        position++;
        value = '';
        while (position < header.length && header.charAt(position) !== '"') {
          if (header.charAt(position) === '\\' && position + 1 < header.length) position++;
          value += header.charAt(position);
          position++;
        }
        position++; // the closing quote
      } else {
        const valueStart = position;
        skip(/[^\s,]/);
        value = header.slice(valueStart, position);
      }
      const name = word.toLowerCase();
      if (!current.params.has(name)) current.params.set(name, value);
      continue;
    }
    // A new challenge: its scheme, then an optional token68 that carries no params.
    current = { scheme: word, params: new Map() };
    challenges.push(current);
    if (/[A-Za-z0-9._~+/-]/.test(header.charAt(position))) {
      const lookahead = /^[A-Za-z0-9._~+/-]+=*\s*(,|$)/.exec(header.slice(position));
      if (lookahead !== null) position += lookahead[0].length;
    }
  }
  return challenges;
}
