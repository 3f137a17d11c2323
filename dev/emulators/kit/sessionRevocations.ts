// Session revocations (Entra's revokeSignInSessions, or a critical event a resource learns through
// Continuous Access Evaluation): tokens issued before the time no longer stand for the user.
import type { IncomingMessage, ServerResponse } from 'node:http';

import { isRecord } from '../../../shared/narrow.js';
import type { EmulatorControl } from './control.js';
import { parseJsonBody, sendJson } from './http.js';

export class SessionRevocations {
  readonly #revokedAt = new Map<string, number>();

  /** Revokes every session of the user now (epoch seconds); gives the time. */
  revoke(tenant: string, oid: string, nowSeconds: number): number {
    this.#revokedAt.set(keyOf(tenant, oid), nowSeconds);
    return nowSeconds;
  }

  revokedAt(tenant: string, oid: string): number | undefined {
    return this.#revokedAt.get(keyOf(tenant, oid));
  }

  /**
   * Whether a token issued at `issuedAt` (epoch seconds) stands for a revoked session. Tokens carry whole
   * seconds, so one issued in the second of the revocation counts as before it: valid tokens are issued
   * from `validFrom` on.
   */
  predates(tenant: string, oid: string, issuedAt: number): boolean {
    const validFrom = this.validFrom(tenant, oid);
    return validFrom !== undefined && issuedAt < validFrom;
  }

  /** The first second a token of the user is valid again (Entra's TokensValidFrom), if revoked. */
  validFrom(tenant: string, oid: string): number | undefined {
    const revokedAt = this.revokedAt(tenant, oid);
    return revokedAt === undefined ? undefined : revokedAt + 1;
  }

  clear(): void {
    this.#revokedAt.clear();
  }
}

function keyOf(tenant: string, oid: string): string {
  return `${tenant.toLowerCase()}|${oid.toLowerCase()}`;
}

/**
 * `POST /_emulator/revoke-sessions` `{ oid, tid? }` at a resource (Graph, Tasks): the critical event it receives
 * when a user's sessions are revoked. `tid` defaults to `defaultTenant`; it must be one of `tenantIds`.
 */
export function revokeSessionsAt(
  res: ServerResponse,
  body: Buffer,
  revocations: SessionRevocations,
  tenants: { defaultTenant: string; tenantIds: readonly string[] },
): void {
  const input = parseJsonBody(body);
  const value = input.ok && isRecord(input.value) ? input.value : {};
  const tid = typeof value.tid === 'string' ? value.tid.toLowerCase() : tenants.defaultTenant;
  if (typeof value.oid !== 'string' || value.oid === '' || !tenants.tenantIds.includes(tid)) {
    sendJson(res, 400, {
      error: 'invalid_request',
      message: '"oid" (and "tid" of a sandbox tenant) required',
    });
    return;
  }
  const revokedAt = revocations.revoke(tid, value.oid, Math.floor(Date.now() / 1000));
  sendJson(res, 200, { oid: value.oid, tid, revokedAt, validFrom: revokedAt + 1 });
}

/**
 * The `/_emulator/...` requests of a resource emulator (Graph, Tasks): reset (the kit's, plus `onReset` for the
 * resource's own data), revoke-sessions, then the kit's control endpoints; anything else is a 404.
 */
export function handleResourceControl(
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
  body: Buffer,
  resource: {
    control: EmulatorControl;
    revocations: SessionRevocations;
    tenants: { defaultTenant: string; tenantIds: readonly string[] };
    onReset: () => void;
  },
): void {
  if (pathname === '/_emulator/reset' && req.method === 'POST') {
    resource.revocations.clear();
    resource.onReset();
  }
  if (pathname === '/_emulator/revoke-sessions' && req.method === 'POST') {
    revokeSessionsAt(res, body, resource.revocations, resource.tenants);
    return;
  }
  if (!resource.control.handleControlRequest(req, res, pathname, body)) {
    sendJson(res, 404, {
      error: 'not_found',
      message: `no emulator endpoint ${req.method ?? ''} ${pathname}`,
    });
  }
}
