// CORS as Azure's platform answers it for a Function App (siteConfig.cors), so the local host is never more
// permissive than Azure: allowed origins and nothing else. The platform has no setting for
// Access-Control-Expose-Headers, and while it is on the app's own Access-Control-* headers do not apply, so
// script on an allowed origin reads a response's body and CORS-safelisted headers only (never WWW-Authenticate).

/** The app setting holding the allowed origins: the same list Bicep sets as the Function App's CORS. */
export const CORS_ALLOWED_ORIGINS_SETTING = 'CORS_ALLOWED_ORIGINS';

export interface CorsRequest {
  method: string;
  origin?: string;
  /** Access-Control-Request-Method: present on a preflight. */
  requestMethod?: string;
  /** Access-Control-Request-Headers of a preflight. */
  requestHeaders?: string;
}

export type CorsDecision =
  /** The platform answers the preflight itself; the function never runs. */
  | { kind: 'preflight'; status: number; headers: Record<string, string> }
  /** The function runs; these headers replace any Access-Control-* headers it set. */
  | { kind: 'pass'; headers: Record<string, string> };

/**
 * Parses the setting: comma-separated origins (scheme://host[:port], no path), compared exactly. `*` is refused,
 * as this project's Bicep refuses it. Gives the origins or a message naming the setting.
 */
export function parseAllowedOrigins(
  value: string | undefined,
): { ok: true; origins: Set<string> } | { ok: false; message: string } {
  const origins = new Set<string>();
  for (const item of (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    if (item === '*')
      return {
        ok: false,
        message: `${CORS_ALLOWED_ORIGINS_SETTING}: "*" is not allowed; list the SPA origins`,
      };
    const origin = URL.canParse(item) ? new URL(item).origin : 'null';
    if (origin === 'null' || origin !== item.replace(/\/$/, '')) {
      return {
        ok: false,
        message: `${CORS_ALLOWED_ORIGINS_SETTING}: "${item}" is not an origin (scheme://host[:port])`,
      };
    }
    origins.add(origin);
  }
  return { ok: true, origins };
}

/** What the platform does with a request, given the allowed origins. */
export function decideCors(request: CorsRequest, allowed: ReadonlySet<string>): CorsDecision {
  const origin = request.origin;
  const isPreflight =
    request.method === 'OPTIONS' && origin !== undefined && request.requestMethod !== undefined;
  const allowedOrigin = origin !== undefined && allowed.has(origin);
  if (isPreflight) {
    if (!allowedOrigin) return { kind: 'preflight', status: 403, headers: { vary: 'Origin' } };
    const headers: Record<string, string> = {
      'access-control-allow-origin': origin,
      'access-control-allow-methods': request.requestMethod ?? 'GET',
      vary: 'Origin',
    };
    if (request.requestHeaders !== undefined)
      headers['access-control-allow-headers'] = request.requestHeaders;
    return { kind: 'preflight', status: 204, headers };
  }
  return {
    kind: 'pass',
    headers: allowedOrigin
      ? { 'access-control-allow-origin': origin, vary: 'Origin' }
      : origin === undefined
        ? {}
        : { vary: 'Origin' },
  };
}

/** The response headers after the platform: the app's own Access-Control-* dropped, the platform's added. */
export function applyCors(
  appHeaders: Readonly<Record<string, string>>,
  decision: Extract<CorsDecision, { kind: 'pass' }>,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(appHeaders)) {
    if (!name.toLowerCase().startsWith('access-control-')) headers[name] = value;
  }
  for (const [name, value] of Object.entries(decision.headers)) {
    headers[name] = name === 'vary' && headers.vary !== undefined ? `${headers.vary}, ${value}` : value;
  }
  return headers;
}
