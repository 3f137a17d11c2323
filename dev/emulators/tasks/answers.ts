// The Tasks API's answers as the emulator sends them: its error body (the Microsoft REST API guidelines' shape,
// as an ASP.NET Core web API of a customer's tenant would answer), request ids, and the fault presets.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { FaultContext, FaultPreset } from '../kit/faults.js';
import { sendJson } from '../kit/http.js';

export function tasksError(
  code: string,
  message: string,
  req: IncomingMessage,
): { error: Record<string, unknown> } {
  return {
    error: { code, message, innerError: { requestId: requestId(req), date: new Date().toISOString() } },
  };
}

export function send(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, body, { 'cache-control': 'no-store', 'x-ms-request-id': requestId(req), ...headers });
}

export function sendError(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  send(req, res, status, tasksError(code, message, req), headers);
}

const requestIds = new WeakMap<IncomingMessage, string>();

/** One request id per request, the same in the header and the error body. */
function requestId(req: IncomingMessage): string {
  let id = requestIds.get(req);
  if (id === undefined) {
    id = randomUUID();
    requestIds.set(req, id);
  }
  return id;
}

export function defaultCode(status: number): string {
  const codes: Record<number, string> = {
    400: 'BadRequest',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'NotFound',
    409: 'Conflict',
    429: 'TooManyRequests',
    500: 'InternalServerError',
    502: 'BadGateway',
    503: 'ServiceUnavailable',
    504: 'GatewayTimeout',
  };
  return codes[status] ?? 'UnknownError';
}

export function tasksPresets(): Record<string, FaultPreset> {
  const preset = (
    status: number,
    code: string,
    message: string,
    headers: Record<string, string> = {},
  ): FaultPreset => ({
    status,
    headers,
    body: (context: FaultContext) => tasksError(code, message, context.req),
  });
  return {
    throttled: preset(429, 'TooManyRequests', 'Rate limit is exceeded. Try again in 2 seconds.', {
      'retry-after': '2',
    }),
    unavailable: preset(503, 'ServiceUnavailable', 'The service is temporarily unavailable.', {
      'retry-after': '2',
    }),
  };
}
