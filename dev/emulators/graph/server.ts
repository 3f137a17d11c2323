// Microsoft Graph emulator: GET /v1.0/me and the calendar for the user a valid Graph token names, with Graph's
// error shape. The token checks are in graphToken.ts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';

import type { JWTPayload } from 'jose';

import { isRecord } from '../../../shared/narrow.js';
import { EmulatorControl } from '../kit/control.js';
import { closeServer, listen, parseJsonBody, readBody, sendJson } from '../kit/http.js';
import { SessionRevocations } from '../kit/sessionRevocations.js';
import { defaultCode, graphError, graphPresets, send, unauthorized } from './answers.js';
import { caeChallengeFor } from './cae.js';
import { eventsBetween } from './calendar.js';
import { EntraSigningKeys, verifyGraphToken } from './graphToken.js';
import { type GraphPathRule, permits, ruleFor } from './permissions.js';

export const GRAPH_KINDS = ['me', 'calendar', 'other'] as const;

export interface GraphEmulatorOptions {
  cert: string;
  key: string;
  port?: number;
  /** The Entra emulator whose keys sign Graph tokens. */
  entraUrl: string;
  /** The tenant whose JWKS the emulator fetches (Entra signs every tenant's tokens with the same keys). */
  tenantId: string;
  /** Tenants whose tokens Graph accepts; default `tenantId` only. */
  tenantIds?: readonly string[];
  /** PEM of the local CA, to fetch the JWKS over HTTPS from this process. */
  ca: string;
}

export interface GraphEmulator {
  url: string;
  control: EmulatorControl;
  close(): Promise<void>;
}

export async function startGraphEmulator(options: GraphEmulatorOptions): Promise<GraphEmulator> {
  const signingKeys = new EntraSigningKeys(
    `${options.entraUrl}/${options.tenantId}/discovery/v2.0/keys`,
    options.ca,
  );
  let baseUrl = '';
  const tenantIds = options.tenantIds ?? [options.tenantId];
  // Critical events Graph received (Continuous Access Evaluation): a user's sessions revoked.
  const revocations = new SessionRevocations();
  const control = new EmulatorControl({
    kinds: GRAPH_KINDS,
    presets: graphPresets(),
    errorBody: (status, context) =>
      graphError(defaultCode(status), 'The sandbox injected this failure.', context.req),
  });

  async function resource(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    rule: GraphPathRule,
  ): Promise<void> {
    const authorization = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (match?.[1] === undefined) {
      unauthorized(req, res, 'Access token is empty.');
      return;
    }
    const verified = await verifyGraphToken(match[1], signingKeys, tenantIds);
    if (typeof verified === 'string') {
      unauthorized(req, res, verified);
      return;
    }
    const challenge = caeChallengeFor(verified, revocations);
    if (challenge !== undefined) {
      send(req, res, 401, graphError(challenge.code, challenge.message, req), {
        'www-authenticate': challenge.wwwAuthenticate,
      });
      return;
    }
    if (!permits(rule, verified.scp)) {
      send(req, res, 403, graphError(rule.denied.code, rule.denied.message, req));
      return;
    }
    if (rule.kind === 'calendar') calendar(req, res, url, verified);
    else me(req, res, url, verified);
  }

  function me(req: IncomingMessage, res: ServerResponse, url: URL, verified: JWTPayload): void {
    const profile = profileOf(verified, baseUrl);
    send(req, res, 200, selectFields(profile, url.searchParams.get('$select')));
  }

  function calendar(req: IncomingMessage, res: ServerResponse, url: URL, verified: JWTPayload): void {
    const start = Date.parse(
      url.searchParams.get('startDateTime') ?? url.searchParams.get('startdatetime') ?? '',
    );
    const end = Date.parse(url.searchParams.get('endDateTime') ?? url.searchParams.get('enddatetime') ?? '');
    if (!Number.isFinite(start) || !Number.isFinite(end) || end < start) {
      send(
        req,
        res,
        400,
        graphError(
          'ErrorInvalidParameter',
          'This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.',
          req,
        ),
      );
      return;
    }
    const profile = profileOf(verified, baseUrl);
    const organizer = {
      name: typeof profile.displayName === 'string' ? profile.displayName : '',
      address: typeof profile.mail === 'string' ? profile.mail : '',
    };
    const top = Number(url.searchParams.get('$top') ?? '10');
    const events = eventsBetween(String(verified.oid), organizer, new Date(start), new Date(end)).slice(
      0,
      Number.isInteger(top) && top > 0 ? Math.min(top, 1000) : 10,
    );
    const select = url.searchParams.get('$select');
    send(req, res, 200, {
      '@odata.context': `${baseUrl}/v1.0/$metadata#users('${String(verified.oid)}')/calendarView`,
      value: events.map((event) => selectFields({ ...event }, select === null ? null : `id,${select}`)),
    });
  }

  /** `POST /_emulator/revoke-sessions` `{ oid, tid? }`: the critical event Graph gets when a user's sessions are revoked. */
  function revokeSessions(res: ServerResponse, body: Buffer): void {
    const input = parseJsonBody(body);
    const value = input.ok && isRecord(input.value) ? input.value : {};
    const tid = typeof value.tid === 'string' ? value.tid.toLowerCase() : options.tenantId;
    if (typeof value.oid !== 'string' || value.oid === '' || !tenantIds.includes(tid)) {
      sendJson(res, 400, {
        error: 'invalid_request',
        message: '"oid" (and "tid" of a sandbox tenant) required',
      });
      return;
    }
    const revokedAt = revocations.revoke(tid, value.oid, Math.floor(Date.now() / 1000));
    sendJson(res, 200, { oid: value.oid, tid, revokedAt, validFrom: revokedAt + 1 });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrl);
    const body = await readBody(req);
    if (url.pathname.startsWith('/_emulator/')) {
      if (url.pathname === '/_emulator/reset' && req.method === 'POST') revocations.clear();
      if (url.pathname === '/_emulator/revoke-sessions' && req.method === 'POST') {
        revokeSessions(res, body);
        return;
      }
      if (!control.handleControlRequest(req, res, url.pathname, body)) {
        sendJson(res, 404, {
          error: 'not_found',
          message: `no emulator endpoint ${req.method ?? ''} ${url.pathname}`,
        });
      }
      return;
    }
    const rule = req.method === 'GET' ? ruleFor(url.pathname) : undefined;
    const kind = rule?.kind ?? 'other';
    if (!(await control.admit(kind, req, res))) return;
    if (rule !== undefined) {
      await resource(req, res, url, rule);
    } else {
      const segment =
        url.pathname
          .split('/')
          .filter((s) => s !== '')
          .at(-1) ?? '';
      send(req, res, 400, graphError('BadRequest', `Resource not found for the segment '${segment}'.`, req));
    }
  }

  const server = createServer({ cert: options.cert, key: options.key }, (req, res) => {
    handle(req, res).catch(() => {
      if (res.headersSent) res.destroy();
      else send(req, res, 500, graphError('generalException', 'General exception while processing.', req));
    });
  });
  const port = await listen(server, options.port ?? 0);
  baseUrl = `https://127.0.0.1:${port}`;
  return {
    url: baseUrl,
    control,
    async close() {
      control.close();
      await closeServer(server);
    },
  };
}

function profileOf(claims: JWTPayload, baseUrl: string): Record<string, unknown> {
  const name = typeof claims.name === 'string' ? claims.name : '';
  const upn =
    [claims.upn, claims.unique_name, claims.preferred_username].find(
      (v): v is string => typeof v === 'string',
    ) ?? null;
  const [first, ...rest] = name.split(' ');
  return {
    '@odata.context': `${baseUrl}/v1.0/$metadata#users/$entity`,
    businessPhones: [],
    displayName: name,
    givenName: typeof claims.given_name === 'string' ? claims.given_name : (first ?? null),
    jobTitle: null,
    mail: upn,
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: null,
    surname: typeof claims.family_name === 'string' ? claims.family_name : rest.join(' ') || null,
    userPrincipalName: upn,
    id: claims.oid,
  };
}

/** Graph's `$select`: only the fields named (and the OData annotations). */
function selectFields(object: Record<string, unknown>, select: string | null): Record<string, unknown> {
  if (select === null) return object;
  const fields = select.split(',').map((s) => s.trim());
  return Object.fromEntries(
    Object.entries(object).filter(([field]) => field.startsWith('@odata.') || fields.includes(field)),
  );
}
