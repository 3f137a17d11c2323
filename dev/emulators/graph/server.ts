// Microsoft Graph emulator: GET /v1.0/me, the calendar (read, paged, and POST /v1.0/me/events) and the lists of
// collections.ts for the user a valid Graph token names, with Graph's error shape; a path it does not serve gets
// Graph's error, never another path's answer. The routes are in permissions.ts, the token checks in graphToken.ts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';

import type { JWTPayload } from 'jose';

import { EmulatorControl } from '../kit/control.js';
import { bearerTokenOf, EntraSigningKeys } from '../kit/entraSigningKeys.js';
import { closeServer, listen, parseJsonBody, readBody, safeDecode } from '../kit/http.js';
import { handleResourceControl, SessionRevocations } from '../kit/sessionRevocations.js';
import { defaultCode, graphError, graphPresets, send, unauthorized } from './answers.js';
import { caeChallengeFor } from './cae.js';
import { byStart, CreatedEvents, eventsBetween, parseNewEvent } from './calendar.js';
import { verifyGraphToken } from './graphToken.js';
import { pageOf, selectFields } from './paging.js';
import { GRAPH_KINDS, type GraphPathRule, permits, ruleFor, servedWithOtherMethod } from './permissions.js';
import { profileOf, userOf } from './profile.js';

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
    'graph',
  );
  let baseUrl = '';
  const tenantIds = options.tenantIds ?? [options.tenantId];
  // Critical events Graph received (Continuous Access Evaluation): a user's sessions revoked.
  const revocations = new SessionRevocations();
  const createdEvents = new CreatedEvents();
  const control = new EmulatorControl({
    kinds: GRAPH_KINDS,
    presets: graphPresets(),
    errorBody: (status, context) =>
      graphError(defaultCode(status), 'The sandbox injected this failure.', context.req),
  });

  /** The token's claims, or undefined once Graph answered 401 (no token, invalid, or a CAE challenge). */
  async function authenticate(req: IncomingMessage, res: ServerResponse): Promise<JWTPayload | undefined> {
    const token = bearerTokenOf(req.headers.authorization);
    if (token === undefined) {
      unauthorized(req, res, 'Access token is empty.');
      return undefined;
    }
    const verified = await verifyGraphToken(token, signingKeys, tenantIds, baseUrl);
    if (typeof verified === 'string') {
      unauthorized(req, res, verified);
      return undefined;
    }
    const challenge = caeChallengeFor(verified, revocations);
    if (challenge !== undefined) {
      send(req, res, 401, graphError(challenge.code, challenge.message, req), {
        'www-authenticate': challenge.wwwAuthenticate,
      });
      return undefined;
    }
    return verified;
  }

  async function resource(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    rule: GraphPathRule,
    body: Buffer,
  ): Promise<void> {
    const verified = await authenticate(req, res);
    if (verified === undefined) return;
    if (!permits(rule, verified.scp)) {
      send(req, res, 403, graphError(rule.denied.code, rule.denied.message, req));
      return;
    }
    if (rule.collection !== undefined) {
      const items = rule.collection.items(userOf(verified));
      const context = `${baseUrl}/v1.0/$metadata#users('${String(verified.oid)}')/${rule.collection.name}`;
      answerPage(req, res, pageOf(items, url, baseUrl, rule.collection.name, context));
    } else if (rule.kind === 'calendar') calendar(req, res, url, verified);
    else if (rule.kind === 'events.create') createEvent(req, res, body, verified);
    else me(req, res, url, verified);
  }

  /** A path Graph does not serve here: Graph's own error for it, after the token check as Graph does. */
  async function unknownPath(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if ((await authenticate(req, res)) === undefined) return;
    const segments = path.split('/').slice(1).map(safeDecode);
    const [version, collection, id, ...rest] = segments;
    if (servedWithOtherMethod(path, req.method ?? '')) {
      send(
        req,
        res,
        405,
        graphError('Request_BadRequest', 'Specified HTTP method is not allowed for the request target.', req),
      );
    } else if (version !== 'v1.0' && version !== 'beta') {
      send(req, res, 400, graphError('BadRequest', `Invalid version: ${version ?? ''}`, req));
    } else if (
      collection === 'users' &&
      id !== undefined &&
      id !== '' &&
      rest.length === 0 &&
      req.method === 'GET'
    ) {
      // A directory object that does not exist (the emulator keeps no directory of other users).
      send(
        req,
        res,
        404,
        graphError(
          'Request_ResourceNotFound',
          `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
          req,
        ),
      );
    } else {
      const unknown = segments.filter((segment) => segment !== '').at(-1) ?? '';
      send(req, res, 400, graphError('BadRequest', `Resource not found for the segment '${unknown}'.`, req));
    }
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
    const user = { tid: String(verified.tid), oid: String(verified.oid) };
    const window = [new Date(start), new Date(end)] as const;
    const events = [
      ...eventsBetween(user.oid, organizerOf(verified), ...window),
      ...createdEvents.between(user, ...window),
    ].sort(byStart);
    const context = `${baseUrl}/v1.0/$metadata#users('${user.oid}')/calendarView`;
    answerPage(req, res, pageOf(events, url, baseUrl, 'calendarView', context));
  }

  function answerPage(req: IncomingMessage, res: ServerResponse, page: ReturnType<typeof pageOf>): void {
    if (page.ok) send(req, res, 200, page.body);
    else send(req, res, 400, graphError(page.code, page.message, req));
  }

  /** `POST /v1.0/me/events`: the new event in the user's calendar, 201 with it (Calendars.ReadWrite). */
  function createEvent(req: IncomingMessage, res: ServerResponse, body: Buffer, verified: JWTPayload): void {
    const input = parseJsonBody(body);
    const parsed = input.ok
      ? parseNewEvent(input.value)
      : {
          ok: false as const,
          code: 'BadRequest',
          message:
            'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.',
        };
    if (!parsed.ok) {
      send(req, res, 400, graphError(parsed.code, parsed.message, req));
      return;
    }
    const user = { tid: String(verified.tid), oid: String(verified.oid) };
    const event = createdEvents.add(user, {
      ...parsed.value,
      organizer: { emailAddress: organizerOf(verified) },
    });
    if (event === undefined) {
      send(req, res, 507, graphError('ErrorQuotaExceeded', 'The mailbox has exceeded its quota.', req));
      return;
    }
    send(
      req,
      res,
      201,
      { '@odata.context': `${baseUrl}/v1.0/$metadata#users('${user.oid}')/events/$entity`, ...event },
      {
        location: `${baseUrl}/v1.0/users('${user.oid}')/events('${event.id}')`,
      },
    );
  }

  function organizerOf(verified: JWTPayload): { name: string; address: string } {
    const { name, mail } = userOf(verified);
    return { name, address: mail };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrl);
    // Routed by the path as sent: no dot segment is resolved, no escape decoded, so `/v1.0/me/x/..` is not `/v1.0/me`.
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const body = await readBody(req);
    if (url.pathname.startsWith('/_emulator/')) {
      handleResourceControl(req, res, url.pathname, body, {
        control,
        revocations,
        tenants: { defaultTenant: options.tenantId, tenantIds },
        onReset: () => createdEvents.clear(),
      });
      return;
    }
    const rule = ruleFor(path, req.method ?? '');
    if (!(await control.admit(rule?.kind ?? 'other', req, res))) return;
    if (rule !== undefined) await resource(req, res, url, rule, body);
    else await unknownPath(req, res, path);
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
