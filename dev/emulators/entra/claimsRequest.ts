// The `claims` request parameter as Entra reads it for an access token: client capabilities (`xms_cc`) and
// a resource's claims challenge (`nbf`: a token issued after this time, e.g. after a session revocation).
import { isRecord } from '../../../shared/narrow.js';

export interface AccessTokenClaimsRequest {
  /** The client declared these capabilities (`cp1`: it handles claims challenges). */
  capabilities: string[];
  /** Epoch seconds the new token must be issued at or after (`nbf` essential). */
  notBefore: number | undefined;
}

/** undefined: no `claims` parameter. A string: why the parameter is not valid. */
export function parseClaimsRequest(claims: string | null): AccessTokenClaimsRequest | undefined | string {
  if (claims === null || claims.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(claims);
  } catch {
    return 'the claims parameter is not valid JSON';
  }
  if (!isRecord(parsed)) return 'the claims parameter must be a JSON object';
  const accessToken = parsed.access_token;
  if (accessToken === undefined) return { capabilities: [], notBefore: undefined };
  if (!isRecord(accessToken)) return 'the access_token member of claims must be an object';
  const capabilities =
    isRecord(accessToken.xms_cc) && Array.isArray(accessToken.xms_cc.values)
      ? accessToken.xms_cc.values.filter((v): v is string => typeof v === 'string')
      : [];
  let notBefore: number | undefined;
  if (isRecord(accessToken.nbf)) {
    const value = Number(accessToken.nbf.value);
    if (!Number.isFinite(value)) return 'the nbf claim request has no numeric value';
    notBefore = value;
  }
  return { capabilities, notBefore };
}
