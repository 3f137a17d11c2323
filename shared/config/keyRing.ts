// The token cache's key ring (TOKEN_CACHE_KEYS): the keys that encrypt and decrypt the cached MSAL blobs.
import type { SettingReader } from './settingReader.js';

export interface CacheKey {
  id: string;
  key: Buffer;
}

/** `<key id>:<base64 of 32 bytes>`, comma-separated: the token cache's encryption keys, first one encrypts. */
export function readKeyRing(read: SettingReader, name: string): CacheKey[] {
  const value = read.required(name);
  if (value === '') return [];
  const keys: CacheKey[] = [];
  for (const item of value.split(',')) {
    const [id, material, ...rest] = item.trim().split(':');
    const key = material === undefined ? undefined : Buffer.from(material, 'base64');
    if (id === undefined || !/^[A-Za-z0-9_-]{1,32}$/.test(id) || key?.length !== 32 || rest.length > 0) {
      read.problem(
        name,
        'must be a comma-separated list of <key id>:<base64 of 32 random bytes> (first one encrypts)',
      );
      return [];
    }
    keys.push({ id, key });
  }
  return keys;
}
