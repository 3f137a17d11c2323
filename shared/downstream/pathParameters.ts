/**
 * What a caller adds to a downstream request, checked before anything leaves (no token exchange, no call): path
 * parameters, each bound as exactly one encoded segment, and query parameters from the operation's allow-list.
 * Pure functions.
 */
import { ApiError } from '../errors.js';
import type { DownstreamOperation } from './operations.js';

/** Longest path parameter taken (Graph's longest ids are a few hundred characters). */
export const MAX_PATH_PARAMETER_LENGTH = 512;
const TEMPLATE_PARAMETER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * The template with each `{name}` replaced by the route's parameter as one segment: decoded once (a host may or
 * may not have decoded it), refused when that is empty, `.` or `..`, holds `/`, `\`, `%` (a second encoding),
 * a control character, or is too long; then `encodeURIComponent`. A refusal is 400 ERR_PATH_PARAMETER_INVALID.
 */
export function bindPath(template: string, params: Readonly<Record<string, string | undefined>>): string {
  return template.replace(TEMPLATE_PARAMETER, (_whole, name: string) => {
    const value = params[name];
    try {
      return encodeURIComponent(checkedSegment(name, value));
    } catch (error) {
      if (error instanceof URIError) {
        throw new ApiError('ERR_PATH_PARAMETER_INVALID', `The path parameter "${name}" is not valid text.`);
      }
      throw error;
    }
  });
}

function checkedSegment(name: string, value: string | undefined): string {
  const refuse = (why: string): never => {
    throw new ApiError('ERR_PATH_PARAMETER_INVALID', `The path parameter "${name}" ${why}.`);
  };
  if (value === undefined || value === '') return refuse('is empty');
  if (value.length > MAX_PATH_PARAMETER_LENGTH * 3) return refuse('is too long');
  let decoded: string;
  try {
    decoded = value.includes('%') ? decodeURIComponent(value) : value;
  } catch {
    return refuse('is not valid percent-encoding');
  }
  if (decoded === '' || decoded === '.' || decoded === '..') return refuse('must name one item');
  if (decoded.length > MAX_PATH_PARAMETER_LENGTH) return refuse('is too long');
  // `%` once decoded is a second encoding (`%252e%252e`): whatever decodes it again would see another path.
  if (/[/\\%]/.test(decoded)) return refuse('must not contain /, \\ or an encoded character');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(decoded)) return refuse('must not contain control characters');
  return decoded;
}

/**
 * The caller's query parameters an operation allows, each once and matching its pattern; `cursor` is the pages'
 * own (shared/downstream/pages.ts) and not passed on. Anything else is 400 ERR_QUERY_PARAMETER_INVALID.
 */
export function callerQueryOf(
  operation: DownstreamOperation,
  query: URLSearchParams,
): Record<string, string> {
  const allowed = operation.callerQuery ?? {};
  const taken: Record<string, string> = {};
  for (const [name, value] of query) {
    if (name === 'cursor' && operation.paged === true) continue;
    const pattern = Object.hasOwn(allowed, name) ? allowed[name] : undefined;
    if (pattern === undefined) {
      throw new ApiError(
        'ERR_QUERY_PARAMETER_INVALID',
        `The query parameter "${name.slice(0, 40)}" is not taken here.`,
      );
    }
    if (Object.hasOwn(taken, name) || !pattern.test(value)) {
      throw new ApiError(
        'ERR_QUERY_PARAMETER_INVALID',
        `The query parameter "${name}" has an invalid value.`,
      );
    }
    taken[name] = value;
  }
  return taken;
}
