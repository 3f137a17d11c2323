import type { CallerAccount } from '../auth/caller.js';
import { ApiError } from '../errors.js';
import { afterClaimsExchangeFailed, decideOnDownstreamFailure, type DownstreamAttempt } from './caePolicy.js';
import type { DownstreamOperation } from './operations.js';
import type { PageCursors } from './pages.js';
import type { DownstreamAnswer, DownstreamRequest, ResourceClient } from './resourceClient.js';
import type { DownstreamResource, ResourceEndpoint } from './resources.js';

/** Delegated tokens for (caller, scopes): cached, or from an exchange. */
export interface DelegatedTokenSource {
  acquire(caller: CallerAccount, scopes: readonly string[]): Promise<string>;
  /** An exchange with a resource's claims, past every cache (msal-node skips its own for claims). */
  acquireWithClaims(caller: CallerAccount, scopes: readonly string[], claims: string): Promise<string>;
  /**
   * Forgets the cached token for (caller's assertion, scopes), in memory and in the shared cache, when it is
   * still the one the resource rejected.
   */
  evict(caller: CallerAccount, scopes: readonly string[], rejectedToken: string): Promise<void>;
}

export interface DownstreamDependencies {
  tokens: DelegatedTokenSource;
  /** A configured resource: its endpoint and client; a ConfigError (503) for an API whose settings are unset. */
  resource: (name: DownstreamResource) => { endpoint: ResourceEndpoint; client: ResourceClient };
  /** The scopes to request for an operation (its permissions under the resource's scope prefix). */
  scopesFor: (operation: DownstreamOperation) => readonly string[];
  /** Seals and opens the cursors of paged lists. */
  pages: PageCursors;
  /** The API's client id: the application a user or admin consents for. */
  apiClientId: string;
  /** Epoch milliseconds. */
  now: () => number;
}

/**
 * Sends one request of a downstream operation on the caller's behalf. A claims challenge from the resource
 * (Continuous Access Evaluation) drops the cached token and exchanges once more with the claims; what
 * cannot be satisfied here goes to the caller as 401 ERR_CLAIMS_CHALLENGE. Missing consent becomes 403
 * ERR_CONSENT_REQUIRED naming the scopes to consent to.
 */
export async function callDownstream(
  deps: DownstreamDependencies,
  caller: CallerAccount,
  operation: DownstreamOperation,
  request: DownstreamRequest,
): Promise<DownstreamAnswer> {
  const scopes = deps.scopesFor(operation);
  const { client } = deps.resource(operation.resource);
  let token = await withConsentHint(deps, scopes, deps.tokens.acquire(caller, scopes));
  let attempt: DownstreamAttempt = 'first';
  for (;;) {
    try {
      return await client.send(request, token);
    } catch (error) {
      const decision = decideOnDownstreamFailure(error, attempt);
      if (decision.action === 'fail') throw decision.error;
      // Whatever happens next, this token must never be served again from this instance's or the shared cache.
      await deps.tokens.evict(caller, scopes, token);
      if (decision.action === 'evict-and-fail') throw decision.error;
      attempt = 'after-claims-exchange';
      try {
        token = await withConsentHint(
          deps,
          scopes,
          deps.tokens.acquireWithClaims(caller, scopes, decision.claims),
        );
      } catch (exchangeError) {
        throw afterClaimsExchangeFailed(exchangeError, decision.claims);
      }
    }
  }
}

/** Adds to ERR_CONSENT_REQUIRED what the SPA needs to ask for consent: the application and its scopes. */
async function withConsentHint(
  deps: DownstreamDependencies,
  scopes: readonly string[],
  pending: Promise<string>,
): Promise<string> {
  try {
    return await pending;
  } catch (error) {
    if (
      error instanceof ApiError &&
      error.code === 'ERR_CONSENT_REQUIRED' &&
      error.details.consent === undefined
    ) {
      throw new ApiError(error.code, error.message, {
        ...error.details,
        cause: error.details.cause,
        consent: { clientId: deps.apiClientId, scopes: [...scopes] },
      });
    }
    throw error;
  }
}
