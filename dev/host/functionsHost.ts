/**
 * A local stand-in for the Azure Functions host: serves the registered HTTP functions at the same
 * routes (`/api/<route>`), converting Node requests to @azure/functions' HttpRequest and back.
 * Functions register as in Azure, through `app.http` and the worker's '@azure/functions-core'.
 * Core Tools is never required; `npm start` uses it when installed.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import Module from 'node:module';

import type {
  HttpHandler,
  HttpMethod,
  HttpResponse as FunctionsResponse,
  HttpResponseInit,
} from '@azure/functions';

import { HttpRequest, HttpResponse, InvocationContext } from '../../shared/http/azureFunctions.js';
import type { HttpFunctionDefinition } from '../../shared/http/registry.js';
import { isRecord } from '../../shared/narrow.js';
import { BodyTooLargeError, closeServer, headerValue, listen, readBody } from '../emulators/kit/http.js';
import { applyCors, type CorsDecision, decideCors } from './platformCors.js';
import { compileRoute, type FunctionRoute, matchRoute } from './routeTemplates.js';

const ROUTE_PREFIX = '/api/';
export const LOCAL_HOST_MAX_HEADER_BYTES = 32 * 1024;

export interface LocalHostOptions {
  functions: ReadonlyMap<string, HttpFunctionDefinition>;
  port: number;
  hostname?: string;
  /** Receives each log line the functions write (default: stdout). */
  log?: (line: string) => void;
  /** Origins Azure's platform CORS allows (CORS_ALLOWED_ORIGINS); none: no cross-origin access. */
  allowedOrigins?: ReadonlySet<string>;
}

export interface LocalHost {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export async function startLocalHost(options: LocalHostOptions): Promise<LocalHost> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const routes = [...options.functions].map(([name, definition]) => compileRoute(name, definition));
  const allowedOrigins = options.allowedOrigins ?? new Set<string>();
  // Node's default (16 KiB) would answer a bare 431 before the app's own Authorization check (16 KiB, a 400);
  // 32 KiB is the request-header total the Functions host (ASP.NET Core Kestrel) accepts by default.
  const server = createServer({ maxHeaderSize: LOCAL_HOST_MAX_HEADER_BYTES }, (req, res) => {
    // Azure's platform CORS runs before any function: it answers preflights itself.
    const cors = decideCors(
      {
        method: (req.method ?? 'GET').toUpperCase(),
        origin: headerValue(req, 'origin'),
        requestMethod: headerValue(req, 'access-control-request-method'),
        requestHeaders: headerValue(req, 'access-control-request-headers'),
      },
      allowedOrigins,
    );
    if (cors.kind === 'preflight') {
      res.writeHead(cors.status, cors.headers).end();
      return;
    }
    serve(routes, req, res, log, cors).catch((error: unknown) => {
      log(
        hostLine(
          'error',
          '-',
          `local host: failed to answer: ${error instanceof Error ? error.name : typeof error}`,
        ),
      );
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  server.keepAliveTimeout = 120_000;
  const hostname = options.hostname ?? '127.0.0.1';
  const port = await listen(server, options.port, hostname);
  return { url: `http://${hostname}:${port}`, server, close: () => closeServer(server) };
}

async function serve(
  routes: FunctionRoute[],
  req: IncomingMessage,
  res: ServerResponse,
  log: (line: string) => void,
  cors: Extract<CorsDecision, { kind: 'pass' }>,
): Promise<void> {
  // The Host header is client input; only the path and query of the request line are used.
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://127.0.0.1');
  } catch {
    const answer = hostProblem(404, 'ERR_NOT_FOUND', 'The request target is not a URL.');
    logHostAnswer(log, req.method ?? 'GET', undefined, answer);
    await writeResponse(res, cors, answer);
    return;
  }
  const method = (req.method ?? 'GET').toUpperCase();
  const path = url.pathname.startsWith(ROUTE_PREFIX) ? url.pathname.slice(ROUTE_PREFIX.length) : undefined;
  const matches = path === undefined ? [] : routes.flatMap((route) => matchRoute(route, path));
  const match = matches.find((m) => m.route.definition.methods.some((allowed) => allowed === method));
  if (match === undefined) {
    const allowed = [...new Set(matches.flatMap((m) => m.route.definition.methods))];
    const answer =
      matches.length > 0
        ? hostProblem(405, 'ERR_METHOD_NOT_ALLOWED', `${method} is not allowed here.`, {
            Allow: allowed.join(', '),
          })
        : hostProblem(404, 'ERR_NOT_FOUND', 'No function serves this route.');
    logHostAnswer(log, method, url.pathname, answer);
    await writeResponse(res, cors, answer);
    return;
  }

  let body: Buffer;
  try {
    body = await readBody(req);
  } catch (error) {
    if (!(error instanceof BodyTooLargeError)) throw error;
    const answer = { status: 413, headers: { 'Content-Type': 'text/plain' }, body: 'request body too large' };
    logHostAnswer(log, method, url.pathname, answer);
    await writeResponse(res, cors, answer);
    return;
  }
  const request = new HttpRequest({
    method,
    url: url.href,
    headers: joinedHeaders(req),
    query: Object.fromEntries(url.searchParams),
    params: match.params,
    ...(body.length > 0 ? { body: { bytes: body } } : {}),
  });
  const invocationId = randomUUID();
  const traceParent = req.headers.traceparent;
  const context = new InvocationContext({
    invocationId,
    functionName: match.route.name,
    // As the Functions host does: the caller's W3C trace context becomes the invocation's.
    ...(typeof traceParent === 'string' ? { traceContext: { traceParent } } : {}),
    // As the Functions host stamps each log with its time and invocation: every line says when and which request.
    logHandler: (level, ...args) => log(hostLine(level, invocationId, args.map(String).join(' '))),
  });
  const result = await match.route.definition.handler(request, context);
  await writeResponse(res, cors, result);
}

/**
 * Repeated headers joined with ", " as the Functions host does. Node's own `req.headers` keeps only
 * the first Authorization header, which would hide a request that sends two.
 */
function joinedHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] ?? '').toLowerCase();
    const value = req.rawHeaders[i + 1] ?? '';
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return headers;
}

async function writeResponse(
  res: ServerResponse,
  cors: Extract<CorsDecision, { kind: 'pass' }>,
  result: HttpResponseInit | FunctionsResponse | undefined | void,
): Promise<void> {
  const response = result instanceof HttpResponse ? result : new HttpResponse(result ?? { status: 204 });
  const payload = Buffer.from(await response.arrayBuffer());
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  res.writeHead(response.status, applyCors(headers, cors));
  res.end(payload);
}

function hostLine(level: string, requestId: string, message: string): string {
  return `${new Date().toISOString()} [${level}] ${requestId} ${message}`;
}

/**
 * A request no function served (404, 405, 413) gets its own request line, as the Functions host logs one:
 * the path without its query (a query could carry anything), never headers.
 */
function logHostAnswer(
  log: (line: string) => void,
  method: string,
  path: string | undefined,
  answer: HttpResponseInit,
): void {
  const requestId = randomUUID();
  const body: unknown = answer.jsonBody;
  const line = {
    event: 'request',
    requestId,
    function: null,
    method,
    path: path?.slice(0, 200),
    status: answer.status,
    code: isRecord(body) && typeof body.code === 'string' ? body.code : undefined,
  };
  log(hostLine('information', requestId, JSON.stringify(line)));
}

/** The host's own answers (no function ran), in the API's problem+json shape. */
function hostProblem(
  status: 404 | 405,
  code: string,
  detail: string,
  headers: Record<string, string> = {},
): HttpResponseInit {
  const title = status === 404 ? 'Not found' : 'Method not allowed';
  return {
    status,
    headers: { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store', ...headers },
    jsonBody: { type: 'about:blank', title, status, code, detail },
  };
}

/**
 * Serves the built-in module '@azure/functions-core' as the Functions worker does (by hooking
 * Module.prototype.require), so an entry loaded afterwards registers through `app.http` exactly as in
 * Azure. Returns the HTTP functions registered so far; call it before importing the entry.
 */
export function serveFunctionsCore(): ReadonlyMap<string, HttpFunctionDefinition> {
  const functions = new Map<string, HttpFunctionDefinition>();
  const core = {
    version: '3.10.1',
    hostVersion: '4.1040.0',
    setProgrammingModel: () => undefined,
    registerHook: () => ({ dispose: () => undefined }),
    registerFunction(metadata: unknown, handler: HttpHandler) {
      const definition = httpDefinition(metadata, handler);
      if (definition !== undefined && isRecord(metadata) && typeof metadata.name === 'string')
        functions.set(metadata.name, definition);
      return { dispose: () => undefined };
    },
  };
  const prototype = Module.prototype as unknown as { require: (this: unknown, id: string) => unknown };
  const requireModule = prototype.require;
  prototype.require = function (this: unknown, id: string): unknown {
    return id === '@azure/functions-core' ? core : requireModule.call(this, id);
  };
  return functions;
}

/** The route, methods and auth level of a function's httpTrigger binding, as the worker indexes them. */
function httpDefinition(metadata: unknown, handler: HttpHandler): HttpFunctionDefinition | undefined {
  const bindings = isRecord(metadata) && isRecord(metadata.bindings) ? Object.values(metadata.bindings) : [];
  const trigger = bindings.find((binding) => isRecord(binding) && binding.type === 'httpTrigger');
  if (!isRecord(trigger) || typeof trigger.route !== 'string' || !Array.isArray(trigger.methods))
    return undefined;
  const authLevel =
    trigger.authLevel === 'function' || trigger.authLevel === 'admin' ? trigger.authLevel : 'anonymous';
  const methods = trigger.methods.filter((m): m is HttpMethod => typeof m === 'string');
  return { route: trigger.route, methods, authLevel, handler };
}
