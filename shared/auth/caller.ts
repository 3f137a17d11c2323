/**
 * The caller, as established by a validated access token. It is the only identity the rest of the
 * code sees: nothing downstream reads claims from a token that has not been validated.
 */
export interface CallerAccount {
  /** Object id of the user in the tenant that issued the token. */
  oid: string;
  /** Tenant that issued the token. */
  tid: string;
  /** `<oid>.<tid>`: the token cache document id. */
  accountId: string;
  /** Delegated scopes granted to the caller (`scp`). */
  scopes: readonly string[];
  /** The raw incoming access token, used only as the OBO assertion. */
  assertion: string;
  /** Token expiry, epoch seconds. */
  expiresAt: number;
}

export function accountIdOf(oid: string, tid: string): string {
  return `${oid}.${tid}`;
}

/**
 * The key of one (caller, cache entry key): the L1 key, the in-flight key and the entry's encryption
 * associated data. With an empty entry key, the prefix of every key of the caller.
 */
export function callerEntryKey(accountId: string, entryKey: string): string {
  return `${accountId}\n${entryKey}`;
}
