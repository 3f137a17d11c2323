import type { HttpRequest } from '@azure/functions';

import { ApiError } from '../errors.js';

/** Largest JSON body a route takes: far above a task or an event, far below what would tie up an instance. */
export const MAX_JSON_BODY_BYTES = 64 * 1024;

/**
 * The request's JSON body: `Content-Type: application/json` (415 ERR_UNSUPPORTED_MEDIA_TYPE otherwise), at most
 * `maxBytes` (413 ERR_BODY_TOO_LARGE, read no further than the bound), valid JSON (400 ERR_BODY_INVALID).
 */
export async function readJsonBody(request: HttpRequest, maxBytes = MAX_JSON_BODY_BYTES): Promise<unknown> {
  const type = request.headers.get('content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new ApiError('ERR_UNSUPPORTED_MEDIA_TYPE', 'The request body must be application/json.');
  }
  const tooLarge = (): ApiError =>
    new ApiError('ERR_BODY_TOO_LARGE', `The request body is larger than ${maxBytes} bytes.`);
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();

  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body?.getReader();
  if (reader !== undefined) {
    for (;;) {
      const { done, value } = (await reader.read()) as { done: boolean; value?: Uint8Array };
      if (done || value === undefined) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel();
        throw tooLarge();
      }
      chunks.push(value);
    }
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new ApiError('ERR_BODY_INVALID', 'The request body is empty.');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ApiError('ERR_BODY_INVALID', 'The request body is not valid JSON.');
  }
}
