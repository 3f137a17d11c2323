import { ApiError } from '../errors.js';
import { invalidToken } from './tokenErrors.js';

/** Larger Authorization headers are refused before any parsing (Entra access tokens stay far below). */
export const MAX_AUTHORIZATION_HEADER_BYTES = 16 * 1024;

/** RFC 7230 token: the syntax of an auth-scheme name. */
const AUTH_SCHEME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** RFC 6750 section 2.1 b64token. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** A compact JWS: three base64url segments, none empty (an empty signature is `alg: none`). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * The token of an `Authorization: Bearer <token>` header value, or an ApiError naming what is wrong.
 * Accepts exactly one credential, the scheme `Bearer` in any case, one space, and an RFC 6750 b64token.
 * No message ever contains any part of the header: it may be a token.
 */
export function parseBearerToken(authorization: string | null): string {
  if (authorization === null || authorization === '') {
    throw new ApiError('ERR_TOKEN_MISSING', 'No access token: send an Authorization: Bearer header.');
  }
  // Cheap, before any parsing. Node decodes header bytes as latin1, so a character is a byte here;
  // anything accepted below is ASCII.
  if (authorization.length > MAX_AUTHORIZATION_HEADER_BYTES) {
    throw malformed(`the Authorization header is larger than ${MAX_AUTHORIZATION_HEADER_BYTES} bytes`);
  }
  // Headers joins repeated Authorization headers with ", "; a b64token never contains a comma.
  if (authorization.includes(',')) {
    throw malformed('the Authorization header carries more than one credential');
  }
  const space = authorization.indexOf(' ');
  const scheme = space === -1 ? authorization : authorization.slice(0, space);
  if (scheme.toLowerCase() !== 'bearer') {
    if (AUTH_SCHEME.test(scheme)) {
      // Another scheme (Basic, Negotiate, ...): RFC 7235 answers with a challenge for the scheme we take.
      throw new ApiError('ERR_TOKEN_MISSING', 'The Authorization header does not use the Bearer scheme.');
    }
    throw malformed('the Authorization header is not an auth-scheme followed by a credential');
  }
  const credential = space === -1 ? '' : authorization.slice(space + 1);
  if (credential === '') {
    throw malformed('the Bearer credential has no token');
  }
  if (credential.startsWith(' ')) {
    throw malformed('more than one space follows the Bearer scheme');
  }
  if (!B64TOKEN.test(credential)) {
    throw malformed('the Bearer token has characters outside the RFC 6750 b64token syntax');
  }
  return credential;
}

/** A well-formed bearer token that is not a compact JWS is an invalid token (401), not a bad request. */
export function assertCompactJws(token: string): void {
  if (!COMPACT_JWS.test(token)) {
    throw invalidToken('the token is not a signed JWT (three base64url segments)');
  }
  // Decoders ignore the spare low bits of a segment's last character, so without this one signed token
  // would have several spellings, each a different OBO assertion (and cache entry).
  for (const segment of token.split('.')) {
    if (Buffer.from(segment, 'base64url').toString('base64url') !== segment) {
      throw invalidToken('the token is not in canonical base64url');
    }
  }
}

function malformed(description: string): ApiError {
  return new ApiError('ERR_AUTHORIZATION_MALFORMED', `Malformed Authorization header: ${description}.`, {
    description,
  });
}
