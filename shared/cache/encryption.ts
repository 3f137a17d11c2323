import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

import type { CacheKey } from '../config/keyRing.js';

/**
 * AES-256-GCM for cache blobs at rest. The associated data binds a blob to its document and
 * entry key, so a blob copied into another caller's document or entry does not decrypt.
 * Format: `<key id>.<iv>.<ciphertext+tag>` (base64url).
 */
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function encryptBlob(
  plaintext: string | Uint8Array,
  keys: readonly CacheKey[],
  associatedData: string,
): string {
  const [current] = keys;
  if (current === undefined) throw new Error('TOKEN_CACHE_KEYS holds no key');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', current.key, iv);
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const bytes = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
  const sealed = Buffer.concat([cipher.update(bytes), cipher.final(), cipher.getAuthTag()]);
  return `${current.id}.${iv.toString('base64url')}.${sealed.toString('base64url')}`;
}

/** Undefined when the blob is malformed, names an unknown key or fails authentication. */
export function decryptBlob(
  blob: string,
  keys: readonly CacheKey[],
  associatedData: string,
): string | undefined {
  return decryptBlobBytes(blob, keys, associatedData)?.toString('utf8');
}

/** decryptBlob's plaintext as bytes. */
export function decryptBlobBytes(
  blob: string,
  keys: readonly CacheKey[],
  associatedData: string,
): Buffer | undefined {
  const [keyId, ivText, sealedText, ...rest] = blob.split('.');
  const key = keys.find((k) => k.id === keyId)?.key;
  if (key === undefined || ivText === undefined || sealedText === undefined || rest.length > 0)
    return undefined;
  const iv = canonicalBase64url(ivText);
  const sealed = canonicalBase64url(sealedText);
  if (iv?.length !== IV_BYTES || sealed === undefined || sealed.length < TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(Buffer.from(associatedData, 'utf8'));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return undefined;
  }
}

/**
 * Node's decoder ignores stray characters and the unused low bits of the last character, so two texts
 * can decode to the same bytes: only the one text that encodes them is accepted.
 */
function canonicalBase64url(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}
