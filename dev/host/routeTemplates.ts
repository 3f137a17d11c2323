// Route templates as the Functions host reads them (`me/events/{id}`): compiled once, matched per request.
import type { HttpFunctionDefinition } from '../../shared/http/registry.js';

export interface FunctionRoute {
  name: string;
  pattern: RegExp;
  paramNames: string[];
  definition: HttpFunctionDefinition;
}

/** Route templates as the Functions host reads them: literal segments and `{name}` parameters. */
export function compileRoute(name: string, definition: HttpFunctionDefinition): FunctionRoute {
  const paramNames: string[] = [];
  const source = definition.route
    .split('/')
    .map((segment) => {
      const param = /^\{([A-Za-z_][A-Za-z0-9_]*)\??\}$/.exec(segment);
      if (param?.[1] !== undefined) {
        paramNames.push(param[1]);
        return '([^/]+)';
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { name, pattern: new RegExp(`^${source}/?$`, 'i'), paramNames, definition };
}

/** The route and its decoded parameters when `path` (after `/api/`) matches it; [] otherwise. */
export function matchRoute(
  route: FunctionRoute,
  path: string,
): { route: FunctionRoute; params: Record<string, string> }[] {
  const found = route.pattern.exec(path);
  if (found === null) return [];
  const params: Record<string, string> = {};
  route.paramNames.forEach((name, index) => {
    params[name] = decodedOnce(found[index + 1] ?? '');
  });
  return [{ route, params }];
}

/** A parameter decoded once, as the Functions host gives it; malformed percent-encoding is passed on as sent. */
function decodedOnce(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
