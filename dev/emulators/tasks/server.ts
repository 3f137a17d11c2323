// The Tasks API emulator: a second protected web API of the sandbox tenant (its own app registration in the Entra
// emulator, app ID URI and delegated scopes Tasks.Read / Tasks.ReadWrite), serving each user's tasks to a valid
// token of its own: `GET|POST /tasks` (paged with `@odata.nextLink`), `GET|PATCH|DELETE /tasks/{id}`. The same
// counters, faults and CAE revocation as the Graph emulator; a path it does not serve gets 404, never other data.
// The routes are in routes.ts, the token and scope checks in tasksToken.ts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';

import { EmulatorControl } from '../kit/control.js';
import { closeServer, headerValue, listen, parseJsonBody, readBody } from '../kit/http.js';
import { handleResourceControl, SessionRevocations } from '../kit/sessionRevocations.js';
import { defaultCode, send, sendError, tasksError, tasksPresets } from './answers.js';
import { type Route, routeOf, TASKS_KINDS } from './routes.js';
import {
  parseNewTask,
  parseTaskChange,
  positionOf,
  skipTokenOf,
  TASK_ID,
  type TaskOwner,
  TaskStore,
} from './store.js';
import { TasksTokenCheck } from './tasksToken.js';

/** A page without `$top`, and the largest `$top`. */
export const TASKS_PAGE_SIZE = 10;
const MAX_PAGE_SIZE = 100;

export interface TasksEmulatorOptions {
  cert: string;
  key: string;
  port?: number;
  /** The Entra emulator whose keys sign the API's tokens. */
  entraUrl: string;
  /** The tenant whose JWKS the emulator fetches, and the default of `revoke-sessions`. */
  tenantId: string;
  /** Tenants whose tokens the API accepts; default `tenantId` only. */
  tenantIds?: readonly string[];
  /** The API's registration: its client id (a v2 token's `aud`) and app ID URI (a v1 token's). */
  clientId: string;
  appIdUri: string;
  /** PEM of the local CA, to fetch the JWKS over HTTPS from this process. */
  ca: string;
}

export interface TasksEmulator {
  url: string;
  control: EmulatorControl;
  close(): Promise<void>;
}

export async function startTasksEmulator(options: TasksEmulatorOptions): Promise<TasksEmulator> {
  let baseUrl = '';
  const tenantIds = options.tenantIds ?? [options.tenantId];
  const revocations = new SessionRevocations();
  const tokens = new TasksTokenCheck({ ...options, tenantIds }, revocations);
  const store = new TaskStore();
  const control = new EmulatorControl({
    kinds: TASKS_KINDS,
    presets: tasksPresets(),
    errorBody: (status, context) =>
      tasksError(defaultCode(status), 'The sandbox injected this failure.', context.req),
  });

  async function serve(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    route: Route,
    body: Buffer,
  ): Promise<void> {
    const claims = await tokens.claimsOf(req, res);
    if (claims === undefined) return;
    if (route.kind === 'other') {
      if (route.allow !== undefined) {
        sendError(req, res, 405, 'MethodNotAllowed', `${req.method ?? ''} is not allowed here.`, {
          allow: route.allow,
        });
      } else {
        sendError(req, res, 404, 'NotFound', 'No resource at this path.');
      }
      return;
    }
    if (!tokens.allows(req, res, claims, route.kind)) return;
    const owner: TaskOwner = { tid: String(claims.tid), oid: String(claims.oid) };
    if (route.kind === 'tasks.list') {
      list(req, res, url, owner);
      return;
    }
    if (route.kind === 'tasks.create') {
      create(req, res, body, owner);
      return;
    }
    const id = route.id ?? '';
    const notFound = (): void => sendError(req, res, 404, 'NotFound', 'The task was not found.');
    if (!TASK_ID.test(id)) {
      notFound();
    } else if (route.kind === 'tasks.read') {
      const task = store.get(owner, id);
      if (task === undefined) notFound();
      else send(req, res, 200, task);
    } else if (route.kind === 'tasks.update') {
      const change = jsonBody(req, body, parseTaskChange);
      if (!change.ok) {
        sendError(req, res, change.status, change.code, change.message);
        return;
      }
      const task = store.update(owner, id, change.value, new Date());
      if (task === undefined) notFound();
      else send(req, res, 200, task);
    } else if (store.delete(owner, id)) {
      res.writeHead(204, { 'cache-control': 'no-store' }).end();
    } else {
      notFound();
    }
  }

  function list(req: IncomingMessage, res: ServerResponse, url: URL, owner: TaskOwner): void {
    const topText = url.searchParams.get('$top');
    const top = topText === null ? TASKS_PAGE_SIZE : /^\d{1,3}$/.test(topText) ? Number(topText) : 0;
    const after = positionOf(url.searchParams.get('$skiptoken'));
    if (top < 1 || top > MAX_PAGE_SIZE) {
      sendError(req, res, 400, 'BadRequest', `$top must be an integer from 1 to ${MAX_PAGE_SIZE}.`);
      return;
    }
    if (after === undefined) {
      sendError(req, res, 400, 'InvalidSkipToken', 'The $skiptoken is not valid.');
      return;
    }
    const page = store.list(owner, after, top);
    const answer: Record<string, unknown> = { value: page.tasks };
    if (page.next !== undefined) {
      const next = new URL(`${baseUrl}/tasks`);
      if (topText !== null) next.searchParams.set('$top', String(top));
      next.searchParams.set('$skiptoken', skipTokenOf(page.next));
      answer['@odata.nextLink'] = next.toString();
    }
    send(req, res, 200, answer);
  }

  function create(req: IncomingMessage, res: ServerResponse, body: Buffer, owner: TaskOwner): void {
    const input = jsonBody(req, body, parseNewTask);
    if (!input.ok) {
      sendError(req, res, input.status, input.code, input.message);
      return;
    }
    const task = store.create(owner, input.value, new Date());
    if (task === undefined) {
      sendError(req, res, 409, 'TaskLimitReached', 'The user has too many tasks.');
      return;
    }
    send(req, res, 201, task, { location: `${baseUrl}/tasks/${task.id}` });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrl);
    // Routed by the path as sent: no dot segment resolved, no escape decoded before the id is bound.
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const body = await readBody(req);
    if (url.pathname.startsWith('/_emulator/')) {
      handleResourceControl(req, res, url.pathname, body, {
        control,
        revocations,
        tenants: { defaultTenant: options.tenantId, tenantIds },
        onReset: () => store.clear(),
      });
      return;
    }
    const route = routeOf(req.method ?? '', path);
    if (!(await control.admit(route.kind, req, res))) return;
    await serve(req, res, url, route, body);
  }

  const server = createServer({ cert: options.cert, key: options.key }, (req, res) => {
    handle(req, res).catch(() => {
      if (res.headersSent) res.destroy();
      else sendError(req, res, 500, 'InternalServerError', 'The sandbox failed.');
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

/** A JSON body checked by `parse`; 415 when it is not JSON by its content type, 400 when it does not parse or check. */
function jsonBody<T>(
  req: IncomingMessage,
  body: Buffer,
  parse: (input: unknown) => { ok: true; value: T } | { ok: false; message: string },
): { ok: true; value: T } | { ok: false; status: number; code: string; message: string } {
  const type = headerValue(req, 'content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    return {
      ok: false,
      status: 415,
      code: 'UnsupportedMediaType',
      message: 'The body must be application/json.',
    };
  }
  const input =
    body.length === 0 ? { ok: false as const, message: 'the body is empty' } : parseJsonBody(body);
  const parsed = input.ok ? parse(input.value) : input;
  return parsed.ok ? parsed : { ok: false, status: 400, code: 'InvalidRequestBody', message: parsed.message };
}
