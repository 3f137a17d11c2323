import { errors } from 'jose';

import { ApiError, isApiError } from '../errors.js';

/** 401 invalid_token; the description names the failed check and never holds token material. */
export function invalidToken(description: string, cause?: unknown): ApiError {
  return new ApiError('ERR_TOKEN_INVALID', `Invalid access token: ${description}.`, {
    description,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Claims jose is asked to check; only these names may appear in a description. */
const CHECKED_CLAIMS = new Set(['iss', 'aud', 'exp', 'nbf', 'iat', 'oid', 'tid', 'ver']);

/**
 * The ApiError for anything jwtVerify (or the key resolver) threw. jose errors are not kept as
 * `cause`: their payload and the causes of parse errors quote the token.
 */
export function verificationFailure(error: unknown): ApiError {
  if (isApiError(error)) return error;
  if (error instanceof errors.JWTExpired) return invalidToken('the token has expired (exp)');
  if (error instanceof errors.JWTClaimValidationFailed)
    return invalidToken(claimFailure(error.claim, error.reason));
  if (error instanceof errors.JOSEAlgNotAllowed) return invalidToken("the token's alg is not RS256");
  if (error instanceof errors.JOSENotSupported) {
    return invalidToken('the token needs an unsupported algorithm or critical header extension (crit)');
  }
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return invalidToken('the token signature does not verify');
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return invalidToken("no single signing key of the issuer matches the token's kid and alg");
  }
  if (error instanceof errors.JWTInvalid) return invalidToken('the token payload is not a JSON claims set');
  if (error instanceof errors.JWSInvalid)
    return invalidToken('the token header or encoding is not a valid JWS');
  if (error instanceof errors.JOSEError) return invalidToken('the token could not be verified');
  // Not raised by parsing the token (jose wraps all of that in JOSEErrors): keep it for diagnosis.
  return invalidToken('the token could not be verified', error);
}

function claimFailure(claim: string, reason: string): string {
  const name = CHECKED_CLAIMS.has(claim) ? `the ${claim} claim` : 'a claim';
  if (reason === 'missing') return `${name} is missing`;
  if (reason === 'invalid') return `${name} has the wrong type`;
  switch (claim) {
    case 'iss':
      return 'the iss claim is not an accepted issuer';
    case 'aud':
      return 'the aud claim is not this API';
    case 'nbf':
      return 'the token is not valid yet (nbf)';
    default:
      return `${name} failed its check`;
  }
}
