// The sandbox's local CA (dev/sandbox/localCa.ts): created once per folder, even by processes starting together.
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, expect, test } from '@jest/globals';

import { ensureLocalCa } from '../../dev/sandbox/localCa.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

test('sandboxes starting together in an empty folder all serve certificates of the one CA on disk', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'local-ca-'));
  dirs.push(dir);
  const started = await Promise.all(Array.from({ length: 4 }, () => ensureLocalCa(dir)));
  const ca = new X509Certificate(await readFile(join(dir, 'ca.pem'), 'utf8'));
  for (const { cert } of started) expect(new X509Certificate(cert).verify(ca.publicKey)).toBe(true);
  expect(new Set(started.map(({ cert }) => cert)).size).toBe(1);
});

test('a folder with a valid CA is reused as it is', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'local-ca-'));
  dirs.push(dir);
  const first = await ensureLocalCa(dir);
  const caPem = await readFile(first.caCertPath, 'utf8');
  const again = await ensureLocalCa(dir);
  expect(again.cert).toBe(first.cert);
  expect(await readFile(again.caCertPath, 'utf8')).toBe(caPem);
});
