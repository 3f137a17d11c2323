// Microsoft Graph's answers as the emulator sends them: error bodies, request ids, the fault presets.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { FaultContext, FaultPreset } from '../kit/faults.js';
import { sendJson } from '../kit/http.js';

const ODATA_JSON =
  'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';

export function graphError(
  code: string,
  message: string,
  req: IncomingMessage,
): { error: Record<string, unknown> } {
  return {
    error: {
      code,
      message,
      innerError: {
        date: new Date().toISOString().replace(/\.\d+Z$/, ''),
        'request-id': requestId(req),
        'client-request-id': clientRequestId(req),
      },
    },
  };
}

export function unauthorized(req: IncomingMessage, res: ServerResponse, message: string): void {
  send(req, res, 401, graphError('InvalidAuthenticationToken', message, req), {
    'www-authenticate':
      'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"',
  });
}

export function send(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, body, {
    'content-type': ODATA_JSON,
    'cache-control': 'no-cache',
    'request-id': requestId(req),
    'client-request-id': clientRequestId(req),
    ...headers,
  });
}

const requestIds = new WeakMap<IncomingMessage, string>();

/** One request id per request, the same in the headers and the error body. */
export function requestId(req: IncomingMessage): string {
  let id = requestIds.get(req);
  if (id === undefined) {
    id = randomUUID();
    requestIds.set(req, id);
  }
  return id;
}

export function clientRequestId(req: IncomingMessage): string {
  const given = req.headers['client-request-id'];
  return typeof given === 'string' && given !== '' ? given : requestId(req);
}

export function defaultCode(status: number): string {
  const codes: Record<number, string> = {
    400: 'BadRequest',
    401: 'InvalidAuthenticationToken',
    403: 'Authorization_RequestDenied',
    404: 'Request_ResourceNotFound',
    429: 'TooManyRequests',
    500: 'generalException',
    503: 'serviceNotAvailable',
    504: 'UnknownError',
  };
  return codes[status] ?? 'UnknownError';
}

export function graphPresets(): Record<string, FaultPreset> {
  const preset = (
    status: number,
    code: string,
    message: string,
    headers: Record<string, string> = {},
  ): FaultPreset => ({
    status,
    headers: { 'content-type': ODATA_JSON, ...headers },
    body: (context: FaultContext) => graphError(code, message, context.req),
  });
  return {
    throttled: preset(429, 'TooManyRequests', 'Too many requests.', { 'retry-after': '2' }),
    unavailable: preset(503, 'serviceNotAvailable', 'Service is unavailable. Please try again later.', {
      'retry-after': '2',
    }),
    forbidden: preset(
      403,
      'Authorization_RequestDenied',
      'Insufficient privileges to complete the operation.',
    ),
  };
}
