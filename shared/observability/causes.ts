import { isRecord } from '../narrow.js';

/**
 * What an operator needs to know about an upstream failure, from the error's structured fields only:
 * its class, HTTP status, Cosmos DB substatus, service or system error code, and the ids a support case
 * asks for. Never its message (Cosmos DB and msal-node messages can echo request data).
 */
export interface FailureCause {
  /** Class name; Cosmos DB's ErrorResponse is a plain `Error`, so `status` and `code` say more. */
  error: string;
  status?: number;
  subStatus?: number;
  /** Cosmos DB's body code (`Conflict`), msal-node's errorCode (`invalid_grant`), Node's (`ECONNREFUSED`). */
  code?: string;
  /** msal-node's suberror (`bad_token`). */
  subError?: string;
  /** Cosmos DB's activity id, for a support case. */
  activityId?: string;
  retryAfterMs?: number;
  /** The same, one level down (a fetch TypeError's socket error, an ApiError's upstream error). */
  cause?: FailureCause;
}

const SAFE_CODE = /^[A-Za-z0-9_.:-]{1,100}$/;

export function describeCause(error: unknown, depth = 0): FailureCause {
  // An Error is a record too: its own fields (code, substatus, headers...) are read the same way.
  if (!isRecord(error)) return { error: typeof error };
  const fields = error;
  // By field, not instanceof: a DOMException (TimeoutError, AbortError) is not an Error in every realm.
  const name = typeof fields.name === 'string' && SAFE_CODE.test(fields.name) ? fields.name : 'object';
  const described: FailureCause = { error: name };

  // Cosmos DB puts the HTTP status in `code`; a DOMException's numeric `code` is a legacy constant, not one.
  const status = fields.statusCode ?? fields.status ?? fields.code;
  if (typeof status === 'number' && Number.isInteger(status) && status >= 100 && status <= 599) {
    described.status = status;
  }

  const headers = isRecord(fields.headers) ? fields.headers : undefined;
  const subStatus = fields.substatus ?? fields.subStatus ?? headers?.['x-ms-substatus'];
  if (subStatus !== undefined && Number.isInteger(Number(subStatus))) described.subStatus = Number(subStatus);

  const body = isRecord(fields.body) ? fields.body : undefined;
  const code = [fields.errorCode, body?.code, fields.code].find(
    (candidate): candidate is string => typeof candidate === 'string' && SAFE_CODE.test(candidate),
  );
  if (code !== undefined) described.code = code;
  if (typeof fields.subError === 'string' && SAFE_CODE.test(fields.subError))
    described.subError = fields.subError;

  const activityId = fields.activityId ?? headers?.['x-ms-activity-id'];
  if (typeof activityId === 'string' && SAFE_CODE.test(activityId)) described.activityId = activityId;
  const retryAfter = fields.retryAfterInMs;
  if (typeof retryAfter === 'number' && Number.isFinite(retryAfter)) described.retryAfterMs = retryAfter;

  if (depth < 2 && fields.cause !== undefined) described.cause = describeCause(fields.cause, depth + 1);
  return described;
}
