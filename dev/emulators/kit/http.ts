// Generic HTTP helpers of the sandbox's servers (the emulators and the local Functions host).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(text);
}

export function parseJsonBody(body: Buffer): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: body.length === 0 ? {} : (JSON.parse(body.toString('utf8')) as unknown) };
  } catch {
    return { ok: false, message: 'the body is not valid JSON' };
  }
}

const MAX_BODY_BYTES = 1024 * 1024;

/** A request body over MAX_BODY_BYTES: the caller answers 413 (or its own error shape). */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
}

/** Listens on `hostname` (`port` 0: an ephemeral port) and gives the port taken. */
export async function listen(server: Server, port: number, hostname = '127.0.0.1'): Promise<number> {
  // Longer than any idle gap between a test's requests: a client reusing a kept-alive socket the server just
  // closed gets "other side closed" (seen on loaded machines with Node's 5 s default). A longer one set stays.
  server.keepAliveTimeout = Math.max(server.keepAliveTimeout, 65_000);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, hostname, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
  return address.port;
}

/** Stops accepting connections and ends the open ones, kept-alive included. */
export async function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLargeError('request body too large');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/** The first value of a request header. */
export function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A malformed escape stays as it is: it then matches nothing. */
export function safeDecode(component: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    return component;
  }
}
