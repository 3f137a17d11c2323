import type { HttpResponseInit } from '@azure/functions';

import type { DownstreamOperation } from '../downstream/operations.js';
import type { JsonObject } from '../downstream/resourceClient.js';
import { runOperation } from '../downstream/runOperation.js';
import type { ServicesProvider } from '../runtime.js';
import { type ApiHandler, handle, NO_STORE } from './handle.js';
import { readJsonBody } from './jsonBody.js';

export interface OperationRouteOptions {
  /** For a 201: where the new item is (`/api/tasks/<id>`), from what the resource answered. */
  location?: (created: JsonObject) => string | undefined;
}

/**
 * The handler of a route that runs one downstream operation: authenticates with what the operation requires
 * (its `access`), reads its JSON body if it takes one, runs it with the route's parameters and query, and answers
 * in the resource's meaning (200, 201 with Location, 204).
 */
export function operationHandler(
  services: ServicesProvider,
  operation: DownstreamOperation,
  options: OperationRouteOptions = {},
): ApiHandler {
  return (request, context) =>
    handle(request, context, services, async ({ authenticator, downstream }) => {
      const caller = await authenticator.authenticate(request.headers.get('authorization'), operation.access);
      const body = operation.body === undefined ? undefined : await readJsonBody(request);
      const result = await runOperation(downstream, caller, operation, {
        params: request.params,
        query: request.query,
        body,
      });
      const answer: HttpResponseInit = { status: result.status, headers: { ...NO_STORE } };
      if (result.status === 204 || result.body === undefined) return answer;
      const location = result.status === 201 ? options.location?.(result.body) : undefined;
      return {
        ...answer,
        headers: { ...NO_STORE, ...(location === undefined ? {} : { Location: location }) },
        jsonBody: result.body,
      };
    });
}
