import type { CosmosFailure } from './cosmosStore.js';

/** After an availability failure, requests skip L2 this long instead of each waiting for their own timeout. */
export const COSMOS_BREAKER_MS = 10_000;

/**
 * The instance-wide policy for L2 failures: an availability failure (no answer, a timeout, a 5xx) opens
 * the breaker for `openMs`, during which the cache goes on without Cosmos DB. Failures that concern one
 * document or one request (throttled, too large, rejected) leave it closed.
 */
export class CosmosBreaker {
  private openUntil = 0;

  constructor(
    /** Epoch milliseconds. */
    private readonly now: () => number,
    private readonly openMs = COSMOS_BREAKER_MS,
  ) {}

  isOpen(): boolean {
    return this.now() < this.openUntil;
  }

  record(failure: CosmosFailure): void {
    if (failure === 'unavailable') this.openUntil = this.now() + this.openMs;
  }
}
