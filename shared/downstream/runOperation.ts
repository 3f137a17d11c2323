import type { CallerAccount } from '../auth/caller.js';
import { ApiError } from '../errors.js';
import { callDownstream, type DownstreamDependencies } from './callDownstream.js';
import { type DownstreamOperation, requestPathFor } from './operations.js';
import { nextLinkTarget, pageOf } from './pages.js';
import { bindPath, callerQueryOf } from './pathParameters.js';
import type { DownstreamRequest, JsonObject } from './resourceClient.js';

/** What the caller gave a route, not yet checked: its path parameters, its query and its JSON body. */
export interface OperationInput {
  params?: Readonly<Record<string, string | undefined>>;
  query?: URLSearchParams;
  /** The parsed JSON body, for an operation that takes one (shared/http/jsonBody.ts reads it). */
  body?: unknown;
}

/** The answer, in its meaning: 200 with an object or a page (`{ value, next? }`), 201 with the new item, or 204. */
export interface OperationResult {
  status: number;
  body: JsonObject | undefined;
}

/**
 * Runs a downstream operation for the caller: every check of the caller's input first (path parameters, query,
 * cursor, body: a 400 means no exchange and no call), then the call (shared/downstream/callDownstream.ts), then a
 * list's page with a sealed cursor to the next.
 */
export async function runOperation(
  deps: DownstreamDependencies,
  caller: CallerAccount,
  operation: DownstreamOperation,
  input: OperationInput = {},
): Promise<OperationResult> {
  const { endpoint } = deps.resource(operation.resource);
  const path = bindPath(operation.path, input.params ?? {});
  const query = input.query ?? new URLSearchParams();
  const callerQuery = callerQueryOf(operation, query);
  const binding = { accountId: caller.accountId, operation: operation.name };
  const cursor = operation.paged === true ? query.get('cursor') : null;
  let target: string;
  if (cursor !== null) {
    if (query.getAll('cursor').length > 1 || Object.keys(callerQuery).length > 0) {
      throw new ApiError(
        'ERR_QUERY_PARAMETER_INVALID',
        'A page cursor comes alone: the first page took the query parameters.',
      );
    }
    const link = deps.pages.open(binding, cursor, deps.now());
    const linked = nextLinkTarget(endpoint.baseUrl, path, link);
    if (linked === undefined)
      throw new ApiError('ERR_CURSOR_INVALID', 'The page cursor is not for this list.');
    target = linked;
  } else {
    target = requestPathFor(operation, new Date(deps.now()), { path, callerQuery });
  }
  const request: DownstreamRequest = { method: operation.method, target, pathTemplate: operation.path };
  if (operation.body !== undefined) {
    const checked = operation.body(input.body);
    if (!checked.ok)
      throw new ApiError('ERR_BODY_INVALID', `The request body is invalid: ${checked.message}.`);
    request.body = checked.value;
  }

  const answer = await callDownstream(deps, caller, operation, request);
  if (operation.paged !== true) return answer;

  const page = pageOf(answer.body);
  const failed = operation.resource === 'graph' ? 'ERR_GRAPH_FAILED' : 'ERR_DOWNSTREAM_FAILED';
  if (page === undefined) throw new ApiError(failed, 'The downstream list answered without a page of items.');
  if (page.nextLink === undefined) return { status: answer.status, body: { value: page.value } };
  // A link elsewhere than this list is never sealed: following it would call whatever it names.
  if (nextLinkTarget(endpoint.baseUrl, path, page.nextLink) === undefined) {
    throw new ApiError(failed, 'The downstream list linked its next page outside the list.');
  }
  return {
    status: answer.status,
    body: { value: page.value, next: deps.pages.seal(binding, page.nextLink, deps.now()) },
  };
}
