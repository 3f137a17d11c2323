import { describeCause } from '../observability/causes.js';
import { requestTelemetry } from '../telemetry.js';
import { classifyCosmosFailure, type CosmosFailure } from './cosmosStore.js';

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

/** Records a Cosmos DB failure in the request and the breaker (which decides whether L2 is skipped a while). */
export function degrade(breaker: CosmosBreaker, operation: 'read' | 'write', error: unknown): CosmosFailure {
  const telemetry = requestTelemetry();
  const failure = classifyCosmosFailure(error);
  breaker.record(failure);
  telemetry.degraded(operation, 'failure');
  telemetry.set('cosmosFailure', failure);
  // Cosmos DB's ErrorResponse is a plain Error: its status, substatus and code say what failed.
  telemetry.warn(`token cache ${operation} failed; continuing without the shared cache`, {
    failure,
    cause: describeCause(error),
  });
  return failure;
}
