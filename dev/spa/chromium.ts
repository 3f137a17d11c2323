// How this project starts a Chromium-based browser for the sample SPA (the one dev/spa/findBrowser.ts finds):
// offline, trusting the sandbox's server certificate by its public key only (Chromium honours the SPKI list only
// with an explicit --user-data-dir, so never in a user's own profile; it matches the chain the server sends,
// which is the leaf alone).
import { createHash, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate: what --ignore-certificate-errors-spki-list takes. */
export function spkiSha256(certificatePem: string): string {
  const spki = new X509Certificate(certificatePem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/** Headless-safe flags: no sandboxing (containers), no GPU, and nothing that reaches for the network. */
export function chromiumArgs(trustedCertificatePem: string): string[] {
  return [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--ignore-certificate-errors-spki-list=${spkiSha256(trustedCertificatePem)}`,
  ];
}

/** The sandbox's server certificate (every emulator's), kept beside its CA by dev/ca.ts. */
export async function sandboxServerCertificate(caCertPath: string): Promise<string> {
  return readFile(join(dirname(caCertPath), 'server.pem'), 'utf8');
}
