// The sandbox's local certificate authority and the loopback server certificate it signs.
import 'reflect-metadata'; // @peculiar/x509's dependency injection (tsyringe) needs it loaded first

import { createPrivateKey, webcrypto, X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import * as x509 from '@peculiar/x509';

export interface LocalCa {
  caCertPath: string;
  /** PEM of the server certificate for 127.0.0.1, ::1 and localhost. */
  cert: string;
  /** PEM (PKCS#8) of the server certificate's private key. */
  key: string;
}

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
const SERVER_IPS = ['127.0.0.1', '::1'];
const SERVER_DNS = 'localhost';

x509.cryptoProvider.set(webcrypto);

/**
 * Creates the CA and the server certificate in `dir` once, and reuses them while they are valid for more
 * than a day. A new CA always comes with a new server certificate; a still-valid CA re-signs an expiring
 * server certificate so that processes already trusting the CA keep working.
 */
export async function ensureLocalCa(dir: string): Promise<LocalCa> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const paths = {
    caCert: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca-key.pem'),
    cert: join(dir, 'server.pem'),
    key: join(dir, 'server-key.pem'),
  };
  const existing = await loadAll(paths, Date.now());
  if (existing !== undefined) return existing;
  // Two sandboxes starting at once in an empty folder must not each write half of a CA: one creates, the
  // other waits and then loads what the first wrote.
  return withLock(join(dir, 'ca.lock'), async () => {
    const now = Date.now();
    let ca = await loadCa(paths.caCert, paths.caKey, now);
    let server = ca === undefined ? undefined : await loadServer(paths.cert, paths.key, ca.cert, now);
    if (ca === undefined) {
      ca = await createCa();
      await writeAtomically(paths.caKey, ca.keyPem, 0o600);
      await writeAtomically(paths.caCert, ca.certPem, 0o644);
    }
    if (server === undefined) {
      server = await createServerCertificate(ca);
      await writeAtomically(paths.key, server.key, 0o600);
      await writeAtomically(paths.cert, server.cert, 0o644);
    }
    return { caCertPath: paths.caCert, cert: server.cert, key: server.key };
  });
}

async function loadAll(
  paths: { caCert: string; caKey: string; cert: string; key: string },
  now: number,
): Promise<LocalCa | undefined> {
  const ca = await loadCa(paths.caCert, paths.caKey, now);
  const server = ca === undefined ? undefined : await loadServer(paths.cert, paths.key, ca.cert, now);
  return server === undefined ? undefined : { caCertPath: paths.caCert, cert: server.cert, key: server.key };
}

/** A lock older than this was left by a process that died while creating: it is taken over. */
const STALE_LOCK_MS = 60_000;

/** Runs `work` while holding a lock directory (mkdir is atomic), waiting for another holder to finish. */
async function withLock<T>(lock: string, work: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const since = await stat(lock).then(
        (info) => Date.now() - info.mtimeMs,
        () => 0,
      );
      if (since > STALE_LOCK_MS) await rm(lock, { recursive: true, force: true });
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  try {
    return await work();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

interface CaMaterial {
  cert: X509Certificate;
  certPem: string;
  keyPem: string;
  signingKey: webcrypto.CryptoKey;
  peculiarCert: x509.X509Certificate;
}

async function loadCa(certPath: string, keyPath: string, now: number): Promise<CaMaterial | undefined> {
  const [certPem, keyPem] = await Promise.all([readOptional(certPath), readOptional(keyPath)]);
  if (certPem === undefined || keyPem === undefined) return undefined;
  try {
    const cert = new X509Certificate(certPem);
    if (!cert.ca || !validForADay(cert, now) || !cert.checkPrivateKey(createPrivateKey(keyPem)))
      return undefined;
    const signingKey = await importSigningKey(keyPem);
    return { cert, certPem, keyPem, signingKey, peculiarCert: new x509.X509Certificate(certPem) };
  } catch {
    return undefined;
  }
}

async function loadServer(
  certPath: string,
  keyPath: string,
  ca: X509Certificate,
  now: number,
): Promise<{ cert: string; key: string } | undefined> {
  const [cert, key] = await Promise.all([readOptional(certPath), readOptional(keyPath)]);
  if (cert === undefined || key === undefined) return undefined;
  try {
    const parsed = new X509Certificate(cert);
    const fits =
      validForADay(parsed, now) &&
      parsed.checkIssued(ca) &&
      parsed.verify(ca.publicKey) &&
      parsed.checkPrivateKey(createPrivateKey(key)) &&
      SERVER_IPS.every((ip) => parsed.checkIP(ip) !== undefined) &&
      parsed.checkHost(SERVER_DNS) !== undefined;
    return fits ? { cert, key } : undefined;
  } catch {
    return undefined;
  }
}

async function createCa(): Promise<CaMaterial> {
  const keys = await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
  const notBefore = new Date(Date.now() - 60_000);
  const peculiarCert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=obo-graph-api sandbox CA ${new Date().toISOString().slice(0, 10)}`,
    keys,
    notBefore,
    notAfter: new Date(notBefore.getTime() + 3650 * DAY_MS),
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const certPem = peculiarCert.toString('pem');
  const keyPem = await exportPrivateKeyPem(keys.privateKey);
  return { cert: new X509Certificate(certPem), certPem, keyPem, signingKey: keys.privateKey, peculiarCert };
}

async function createServerCertificate(ca: CaMaterial): Promise<{ cert: string; key: string }> {
  const keys = await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
  const notBefore = new Date(Date.now() - 60_000);
  const cert = await x509.X509CertificateGenerator.create({
    subject: 'CN=127.0.0.1',
    issuer: ca.peculiarCert.subject,
    publicKey: keys.publicKey,
    signingKey: ca.signingKey,
    notBefore,
    // Under 398 days: the longest server certificate lifetime that clients accept.
    notAfter: new Date(notBefore.getTime() + 397 * DAY_MS),
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...SERVER_IPS.map((value) => ({ type: 'ip' as const, value })),
        { type: 'dns', value: SERVER_DNS },
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.peculiarCert),
    ],
  });
  return { cert: cert.toString('pem'), key: await exportPrivateKeyPem(keys.privateKey) };
}

function validForADay(cert: X509Certificate, now: number): boolean {
  return Date.parse(cert.validFrom) <= now && Date.parse(cert.validTo) - now > DAY_MS;
}

async function importSigningKey(keyPem: string): Promise<webcrypto.CryptoKey> {
  const der = x509.PemConverter.decodeFirst(keyPem);
  return webcrypto.subtle.importKey('pkcs8', der, KEY_ALGORITHM, false, ['sign']);
}

async function exportPrivateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

// Two processes may start at once (npm run dev and npm test): each file appears whole or not at all.
async function writeAtomically(path: string, content: string, mode: number): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, content, { mode });
  await rename(temporary, path);
}
