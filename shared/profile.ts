import type { CallerAccount } from './auth/caller.js';
import { callDownstream, type DownstreamDependencies } from './downstream/callDownstream.js';
import { DOWNSTREAM_OPERATIONS } from './downstream/operations.js';
import type { GraphObject } from './graph/graphClient.js';

/** The caller's Microsoft Graph profile (`/v1.0/me`), read with a token obtained on their behalf. */
export function getMyProfile(
  downstream: DownstreamDependencies,
  caller: CallerAccount,
): Promise<GraphObject> {
  return callDownstream(downstream, caller, DOWNSTREAM_OPERATIONS.myProfile);
}

/** The caller's calendar events of the coming days, soonest first (`Calendars.Read`). */
export function getMyUpcomingEvents(
  downstream: DownstreamDependencies,
  caller: CallerAccount,
): Promise<GraphObject> {
  return callDownstream(downstream, caller, DOWNSTREAM_OPERATIONS.myUpcomingEvents);
}
