// Cosmos DB emulator: @vercel/cosmosdb-server behind the sandbox's counters and fault injection.
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

import { createHttpsServer } from '@vercel/cosmosdb-server';

import { EmulatorControl } from './kit/control.js';
import type { FaultContext, FaultPreset } from './kit/faults.js';
import { closeServer, listen, readBody, sendJson } from './kit/http.js';

/** The key the Cosmos DB emulator is documented with; the server does not check signatures. */
export const COSMOS_EMULATOR_KEY =
  'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';

export const COSMOS_KINDS = [
  'read',
  'create',
  'replace',
  'upsert',
  'delete',
  'patch',
  'query',
  'batch',
  'metadata',
] as const;
export type CosmosKind = (typeof COSMOS_KINDS)[number];

export interface CosmosEmulatorOptions {
  cert: string;
  key: string;
  port?: number;
}

export interface CosmosEmulator {
  /** https://127.0.0.1:PORT/ */
  endpoint: string;
  control: EmulatorControl;
  close(): Promise<void>;
}

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export async function startCosmosEmulator(options: CosmosEmulatorOptions): Promise<CosmosEmulator> {
  const control = new EmulatorControl({
    kinds: COSMOS_KINDS,
    presets: cosmosPresets(),
    errorBody: (status, context) => cosmosError(status, 'The sandbox injected this failure.', context),
  });
  const server = createHttpsServer({ cert: options.cert, key: options.key, keepAlive: true });
  const cosmos = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');

  async function front(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = normalizePath(req.url ?? '/');
    if (path.startsWith('/_emulator/')) {
      const body = await readBody(req);
      if (!control.handleControlRequest(req, res, path, body)) {
        sendJson(res, 404, {
          error: 'not_found',
          message: `no emulator endpoint ${req.method ?? ''} ${path}`,
        });
      }
      return;
    }
    const kind = classifyCosmosRequest(req.method ?? 'GET', path, req.headers);
    if (!(await control.admit(kind, req, res, partitionKeyOf(req.headers)))) return;
    for (const listener of cosmos) listener(req, res);
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    front(req, res).catch(() => {
      if (res.headersSent) res.destroy();
      else sendJson(res, 500, { code: 'InternalServerError', message: 'The sandbox failed.' });
    });
  });
  const port = await listen(server, options.port ?? 0);
  return {
    endpoint: `https://127.0.0.1:${port}/`,
    control,
    async close() {
      control.close();
      await closeServer(server);
    },
  };
}

/** The kind of a Cosmos DB REST request, from its method, path and headers (the body is not read). */
export function classifyCosmosRequest(
  method: string,
  path: string,
  headers: IncomingHttpHeaders,
): CosmosKind {
  const segments = normalizePath(path)
    .split('/')
    .filter((s) => s !== '');
  const isDocs =
    segments.length >= 5 && segments[0] === 'dbs' && segments[2] === 'colls' && segments[4] === 'docs';
  if (isDocs && segments.length === 6) {
    const byMethod: Record<string, CosmosKind> = {
      GET: 'read',
      PUT: 'replace',
      DELETE: 'delete',
      PATCH: 'patch',
    };
    return byMethod[method] ?? 'metadata';
  }
  if (isDocs && segments.length === 5) {
    if (method === 'GET') return 'query';
    if (method !== 'POST') return 'metadata';
    if (isTrue(headers['x-ms-documentdb-isquery']) || headers['content-type'] === 'application/query+json')
      return 'query';
    if (isTrue(headers['x-ms-documentdb-is-upsert'])) return 'upsert';
    if (isTrue(headers['x-ms-cosmos-is-batch-request'])) return 'batch';
    return 'create';
  }
  return 'metadata';
}

/** The request's partition key (`x-ms-documentdb-partitionkey: ["<value>"]`) when it is one string. */
export function partitionKeyOf(headers: IncomingHttpHeaders): string | undefined {
  const header = headers['x-ms-documentdb-partitionkey'];
  if (typeof header !== 'string') return undefined;
  try {
    const parsed: unknown = JSON.parse(header);
    return Array.isArray(parsed) && typeof parsed[0] === 'string' ? parsed[0] : undefined;
  } catch {
    return undefined;
  }
}

// As @vercel/cosmosdb-server's router: @azure/cosmos sends a leading double slash.
function normalizePath(url: string): string {
  let path = url.split('?')[0] ?? '/';
  if (path.startsWith('//')) path = path.slice(1);
  while (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return path;
}

function isTrue(value: string | string[] | undefined): boolean {
  const values = Array.isArray(value) ? value : [value];
  return values.some((v) => v?.toLowerCase() === 'true');
}

const STATUS_CODES: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  408: 'RequestTimeout',
  409: 'Conflict',
  410: 'Gone',
  412: 'PreconditionFailed',
  413: 'RequestEntityTooLarge',
  429: 'TooManyRequests',
  449: 'RetryWith',
  500: 'InternalServerError',
  503: 'ServiceUnavailable',
};

/** Cosmos DB's error body: a code and a message that ends with the activity id. */
function cosmosError(
  status: number,
  message: string,
  context: FaultContext,
): { code: string; message: string } {
  return {
    code: STATUS_CODES[status] ?? 'InternalServerError',
    message: `Message: {"Errors":[${JSON.stringify(message)}]}\r\nActivityId: ${randomUUID()}, Request URI: ${context.req.url ?? '/'}, Microsoft.Azure.Documents.Common/2.14.0`,
  };
}

function cosmosPresets(): Record<string, FaultPreset> {
  const preset = (status: number, message: string, headers: Record<string, string>): FaultPreset => ({
    status,
    headers: { 'x-ms-activity-id': randomUUID(), 'x-ms-request-charge': '0', ...headers },
    body: (context: FaultContext) => cosmosError(status, message, context),
  });
  return {
    throttled: preset(
      429,
      'Request rate is large. More Request Units may be needed, so no changes were made.',
      {
        'x-ms-retry-after-ms': '50',
        'x-ms-substatus': '3200',
      },
    ),
    unavailable: preset(503, 'Service is currently unavailable.', { 'x-ms-substatus': '20003' }),
    timeout: preset(408, 'Request timed out.', {}),
  };
}
