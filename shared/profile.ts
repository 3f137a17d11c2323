import type { CallerAccount } from './auth/caller.js';
import { ApiError } from './errors.js';
import type { GraphObject } from './graph/graphClient.js';
import type { Services } from './runtime.js';
import type { RequestTelemetry } from './telemetry.js';

/** The caller's Microsoft Graph profile (`/v1.0/me`), read with a token obtained on their behalf. */
export async function getMyProfile(
  { graphTokens, graph }: Pick<Services, 'graphTokens' | 'graph'>,
  caller: CallerAccount,
  telemetry: RequestTelemetry,
): Promise<GraphObject> {
  const graphToken = await graphTokens.acquire(caller, telemetry);
  try {
    return await graph.get('/v1.0/me', graphToken, telemetry);
  } catch (error) {
    // A revoked token must not be served from the cache until it expires: the next call exchanges again.
    if (error instanceof ApiError && error.code === 'ERR_GRAPH_TOKEN_REJECTED')
      await graphTokens.evict(caller, telemetry);
    throw error;
  }
}
