/**
 * Pages of a list: the API answers `{ "value": [...], "next": "<cursor>" }` and takes `?cursor=<next>` for the next
 * page. The downstream's next link (Graph's `@odata.nextLink`) never reaches the client as a URL, and no URL from a
 * client is ever called: the cursor is the link sealed with AES-256-GCM under a key derived (HKDF-SHA256) from the
 * token cache's key ring, bound as associated data to the caller (`oid.tid`) and the operation, with an expiry.
 * A cursor that does not open (tampered, expired, another caller's or operation's, a retired key) is 400
 * ERR_CURSOR_INVALID. The link's origin and path are checked when it arrives and again before it is followed.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

import type { CacheKey } from '../config/keyRing.js';
import { ApiError } from '../errors.js';
import { isRecord } from '../narrow.js';
import type { JsonObject } from './resourceClient.js';

/** How long a cursor opens: long enough to read a list page by page, short enough that a leaked one soon dies. */
export const CURSOR_LIFETIME_SECONDS = 15 * 60;
const VERSION = 'c1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** The HKDF `info`: a cursor key is never the key that encrypts the token cache, though derived from it. */
const KEY_PURPOSE = 'obo-api page cursor v1';

/** What a cursor is bound to: who asked, for which operation. */
export interface CursorBinding {
  accountId: string;
  operation: string;
}

export class PageCursors {
  private readonly keys: readonly { id: string; key: Buffer }[];

  /** The first key seals; every key opens (a rotated ring keeps recent cursors working). */
  constructor(ring: readonly CacheKey[]) {
    this.keys = ring.map(({ id, key }) => ({
      id,
      key: Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), KEY_PURPOSE, 32)),
    }));
  }

  seal(binding: CursorBinding, link: string, nowMs: number): string {
    const current = this.keys[0];
    if (current === undefined) throw new Error('the key ring is empty');
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', current.key, iv);
    cipher.setAAD(associatedData(binding));
    const payload = JSON.stringify({ l: link, e: Math.floor(nowMs / 1000) + CURSOR_LIFETIME_SECONDS });
    const sealed = Buffer.concat([iv, cipher.update(payload, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}.${current.id}.${sealed.toString('base64url')}`;
  }

  /** The link a cursor holds, if it opens for this caller and operation and has not expired. */
  open(binding: CursorBinding, cursor: string, nowMs: number): string {
    const [version, keyId, data, ...rest] = cursor.split('.');
    const key = this.keys.find((candidate) => candidate.id === keyId)?.key;
    if (version !== VERSION || key === undefined || data === undefined || rest.length > 0) {
      throw invalidCursor('is not one of this API');
    }
    const sealed = Buffer.from(data, 'base64url');
    if (sealed.length < IV_BYTES + TAG_BYTES + 1) throw invalidCursor('is not one of this API');
    let payload: unknown;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
      decipher.setAAD(associatedData(binding));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)),
        decipher.final(),
      ]);
      payload = JSON.parse(plain.toString('utf8'));
    } catch {
      throw invalidCursor('was altered, or belongs to another caller or list');
    }
    if (!isRecord(payload) || typeof payload.l !== 'string' || typeof payload.e !== 'number') {
      throw invalidCursor('is not one of this API');
    }
    if (payload.e * 1000 <= nowMs) throw invalidCursor('has expired: read the list from its first page');
    return payload.l;
  }
}

function associatedData(binding: CursorBinding): Buffer {
  return Buffer.from(`${VERSION}\n${binding.accountId}\n${binding.operation}`, 'utf8');
}

function invalidCursor(why: string): ApiError {
  return new ApiError('ERR_CURSOR_INVALID', `The page cursor ${why}.`);
}

/**
 * The request target (path and query, relative to the resource's base URL) of a downstream next link, only when it
 * is on the base URL's origin and under the list's own path (`/v1.0/me/calendarView`); undefined otherwise.
 */
export function nextLinkTarget(baseUrl: URL, listPath: string, link: string): string | undefined {
  let url: URL;
  try {
    url = new URL(link);
  } catch {
    return undefined;
  }
  if (url.origin !== baseUrl.origin || url.username !== '' || url.password !== '' || url.hash !== '') {
    return undefined;
  }
  const basePath = baseUrl.pathname.replace(/\/$/, '');
  const expected = `${basePath}${listPath}`;
  // Compared as sent (URL does not decode %2F): the list's path exactly, case as the resource wrote it or not.
  if (url.pathname.toLowerCase() !== expected.toLowerCase()) return undefined;
  return `${url.pathname.slice(basePath.length)}${url.search}`;
}

/** One page of a downstream list: its items and the next link, if any (Graph's `@odata.nextLink`). */
export function pageOf(
  body: JsonObject | undefined,
): { value: unknown[]; nextLink: string | undefined } | undefined {
  if (body === undefined || !Array.isArray(body.value)) return undefined;
  const next = body['@odata.nextLink'];
  if (next !== undefined && typeof next !== 'string') return undefined;
  return { value: body.value, nextLink: next };
}
