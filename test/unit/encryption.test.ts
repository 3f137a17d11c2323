import { randomBytes } from 'node:crypto';

import { describe, expect, test } from '@jest/globals';

import { decryptBlob, encryptBlob } from '../../shared/cache/encryption.js';

const k1 = { id: 'k1', key: randomBytes(32) };
const k2 = { id: 'k2', key: randomBytes(32) };

describe('cache blob encryption', () => {
  test('round-trips with the current key', () => {
    expect(decryptBlob(encryptBlob('{"a":1}', [k1], 'doc\nhash'), [k1], 'doc\nhash')).toBe('{"a":1}');
  });

  test('keeps blobs sealed under an older key readable after rotation', () => {
    const sealed = encryptBlob('old', [k1], 'ad');
    expect(sealed.startsWith('k1.')).toBe(true);
    expect(decryptBlob(sealed, [k2, k1], 'ad')).toBe('old');
    expect(encryptBlob('new', [k2, k1], 'ad').startsWith('k2.')).toBe(true);
  });

  test('refuses a blob moved to another document or assertion', () => {
    expect(decryptBlob(encryptBlob('x', [k1], 'alice\nh1'), [k1], 'mallory\nh1')).toBeUndefined();
  });

  test.each(['', 'k1', 'k1.a.b', 'k9.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAA', 'k1.x.y.z'])(
    'treats %j as unreadable',
    (blob) => {
      expect(decryptBlob(blob, [k1], 'ad')).toBeUndefined();
    },
  );

  test('refuses a blob whose base64url is not the canonical encoding of its bytes', () => {
    const sealed = encryptBlob('payload', [k1], 'ad');
    const [id, iv, body] = sealed.split('.') as [string, string, string];
    // 7 bytes of payload + 16 of tag = 23 bytes: the last character carries 2 unused bits.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(body.slice(-1));
    const variant = body.slice(0, -1) + alphabet.charAt(last ^ 1);
    expect(Buffer.from(variant, 'base64url')).toEqual(Buffer.from(body, 'base64url'));
    expect(decryptBlob(`${id}.${iv}.${variant}`, [k1], 'ad')).toBeUndefined();
    expect(decryptBlob(`${id}.${iv}.${body}=`, [k1], 'ad')).toBeUndefined();
    expect(decryptBlob(`${id}.${iv}.${body}`, [k1], 'ad')).toBe('payload');
  });

  test('detects tampering, whatever the random IV and tag (it once failed about 1 run in 1000)', () => {
    for (let i = 0; i < 1000; i++) {
      const sealed = encryptBlob('payload', [k1], 'ad');
      const tampered = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'BB' : 'AA');
      expect(decryptBlob(tampered, [k1], 'ad')).toBeUndefined();
    }
  });
});
