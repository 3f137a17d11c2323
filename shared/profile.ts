import type { CallerAccount } from './auth/caller.js';
import type { DownstreamDependencies } from './downstream/callDownstream.js';
import { DOWNSTREAM_OPERATIONS } from './downstream/operations.js';
import type { JsonObject } from './downstream/resourceClient.js';
import { runOperation } from './downstream/runOperation.js';

/** The caller's Microsoft Graph profile (`/v1.0/me`), read with a token obtained on their behalf. */
export async function getMyProfile(
  downstream: DownstreamDependencies,
  caller: CallerAccount,
): Promise<JsonObject> {
  return (await runOperation(downstream, caller, DOWNSTREAM_OPERATIONS.myProfile)).body ?? {};
}
