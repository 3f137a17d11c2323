// The tests' door to the sandbox that `npm test` (dev/sandbox/runTests.ts) starts: its client (dev/sandbox/client.ts,
// which the benchmarks use too), and requests that only tests make, raw calls at the emulators' own endpoints.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

import { ConfidentialClientApplication } from '@azure/msal-node';

import { type Emulator, emulatorUrl, sandbox } from '../dev/sandbox/client.js';
import { isRecord } from '../shared/narrow.js';

export * from '../dev/sandbox/client.js';

/**
 * The API's on-behalf-of token request at the Entra emulator (client secret, Graph's User.Read); `fields` add
 * to or replace the form's fields (undefined leaves one out), `headers` the request's.
 */
export function requestObo(
  assertion: string,
  fields: Record<string, string | undefined> = {},
  headers: Record<string, string> = {},
): Promise<Response> {
  const { entraUrl, tenantId, api } = sandbox();
  const form: Record<string, string | undefined> = {
    client_id: api.clientId,
    client_secret: api.clientSecret,
    grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
    requested_token_use: 'on_behalf_of',
    assertion,
    scope: 'https://graph.microsoft.com/User.Read',
    ...fields,
  };
  return fetch(`${entraUrl}/${tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(
      Object.entries(form).filter((entry): entry is [string, string] => entry[1] !== undefined),
    ),
  });
}

/** What App Service's managed identity endpoint (IDENTITY_ENDPOINT) answered, status and JSON body. */
export interface ManagedIdentityAnswer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * Asks the sandbox's managed identity endpoint for a token as @azure/identity does on App Service:
 * `GET IDENTITY_ENDPOINT?api-version=2019-08-01&resource=...&client_id=...` with `X-IDENTITY-HEADER`.
 * `query` entries replace (or, when undefined, remove) those parameters; `header` replaces the secret.
 */
export async function requestManagedIdentityToken(
  resource: string,
  options: { query?: Readonly<Record<string, string | undefined>>; header?: string | null } = {},
): Promise<ManagedIdentityAnswer> {
  const { managedIdentity } = sandbox();
  const fields: Record<string, string | undefined> = {
    'api-version': '2019-08-01',
    resource,
    client_id: managedIdentity.clientId,
    ...options.query,
  };
  const url = new URL(managedIdentity.endpoint);
  for (const [name, value] of Object.entries(fields))
    if (value !== undefined) url.searchParams.set(name, value);
  const header = options.header === undefined ? managedIdentity.header : options.header;
  const response = await fetch(url, { headers: header === null ? {} : { 'x-identity-header': header } });
  const body = await response.json();
  if (!isRecord(body)) throw new Error('the managed identity endpoint answered no JSON object');
  return { status: response.status, body };
}

/** A token of the sandbox's managed identity for `resource` (default: Entra's token exchange). */
export async function managedIdentityToken(resource = 'api://AzureADTokenExchange'): Promise<string> {
  const { status, body } = await requestManagedIdentityToken(resource);
  if (status !== 200 || typeof body.access_token !== 'string') {
    throw new Error(`the managed identity endpoint answered ${status}`);
  }
  return body.access_token;
}

/**
 * A request to `baseUrl` (http or https) with `path` sent exactly as given (fetch would resolve `..` and `%2e%2e`
 * first), as a client that does not normalise would send it. The sandbox's CA is trusted through
 * NODE_EXTRA_CA_CERTS. A JSON `body` is sent with its content type.
 */
export function requestRaw(
  baseUrl: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<{ status: number; body: unknown }> {
  const url = new URL(baseUrl);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const headers = {
    ...options.headers,
    ...(options.body === undefined ? {} : { 'Content-Type': 'application/json' }),
  };
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path, method: options.method ?? 'GET', headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            body: text === '' ? undefined : (JSON.parse(text) as unknown),
          });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body === undefined ? undefined : JSON.stringify(options.body));
  });
}

/** {@link requestRaw} to an emulator of the sandbox. */
export function requestRawPath(
  emulator: Emulator,
  path: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: unknown }> {
  return requestRaw(emulatorUrl(emulator), path, options);
}

/**
 * A fresh msal-node client of the API (its client secret) at the sandbox's Entra emulator, as the API builds one per
 * request: `clientCapabilities: ['cp1']` for CAE tokens.
 */
export function apiMsalClient(
  options: { tenant?: string; clientCapabilities?: string[] } = {},
): ConfidentialClientApplication {
  const { entraUrl, api, tenantId } = sandbox();
  return new ConfidentialClientApplication({
    auth: {
      clientId: api.clientId,
      clientSecret: api.clientSecret,
      authority: `${entraUrl}/${options.tenant ?? tenantId}`,
      knownAuthorities: [new URL(entraUrl).host],
      clientCapabilities: options.clientCapabilities ?? [],
    },
  });
}
