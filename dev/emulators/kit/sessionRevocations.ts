// Session revocations (Entra's revokeSignInSessions, or a critical event a resource learns through
// Continuous Access Evaluation): tokens issued before the time no longer stand for the user.

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
