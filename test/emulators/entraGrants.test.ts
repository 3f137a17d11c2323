// The Entra emulator's grant rules as pure functions: a token request and the tenant's state in, a token
// response or Entra's error (status, error, AADSTS code) out. No server, no sandbox.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { decodeJwt } from 'jose';

import { EntraDirectory } from '../../dev/emulators/entra/directory.js';
import type { Outcome } from '../../dev/emulators/entra/errors.js';
import {
  API_CLIENT_ID,
  GRAPH_RESOURCE,
  resolveTenant,
  TENANT_ID,
} from '../../dev/emulators/entra/fixtures.js';
import type { GrantContext, TokenRequest } from '../../dev/emulators/entra/grants.js';
import { DEFAULT_ENTRA_SETTINGS, redeemToken, tokenKindOf } from '../../dev/emulators/entra/grants.js';
import { SigningKeys } from '../../dev/emulators/entra/keys.js';

const ISSUER = `https://login.test/${TENANT_ID}/v2.0`;
const SECRET = 'unit~secret';
const NOW = 1_900_000_000;
let keys: SigningKeys;

beforeAll(async () => {
  keys = await SigningKeys.create(() => ISSUER);
});

function context(overrides: Partial<GrantContext> = {}): GrantContext {
  return {
    issuer: ISSUER,
    issuerOf: (tenant) => `https://login.test/${tenant}/v2.0`,
    directory: new EntraDirectory(),
    keys,
    clientSecret: SECRET,
    federatedCredentials: [],
    settings: { ...DEFAULT_ENTRA_SETTINGS, oboTokenLifetimeSeconds: 1234 },
    graphResources: [GRAPH_RESOURCE],
    nowSeconds: () => NOW,
    ...overrides,
  };
}

async function oboRequest(
  fields: Record<string, string | undefined> = {},
  tenant = TENANT_ID,
): Promise<TokenRequest> {
  const { access_token } = await keys.mintUserToken('alice');
  const form = new URLSearchParams();
  const all: Record<string, string | undefined> = {
    grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
    requested_token_use: 'on_behalf_of',
    client_id: API_CLIENT_ID,
    client_secret: SECRET,
    assertion: access_token,
    scope: 'https://graph.microsoft.com/User.Read',
    ...fields,
  };
  for (const [name, value] of Object.entries(all)) if (value !== undefined) form.set(name, value);
  return { form, tenant: resolveTenant(tenant) };
}

function failureOf(outcome: Outcome<unknown>): { status: number; error: string; code: number } {
  if (outcome.ok) throw new Error('expected an Entra error');
  const { status, error, code } = outcome.failure;
  return { status, error, code };
}

describe('the token endpoint grants', () => {
  it('classifies the on-behalf-of grant and everything else', async () => {
    expect(tokenKindOf((await oboRequest()).form)).toBe('token.obo');
    expect(tokenKindOf(new URLSearchParams({ grant_type: 'client_credentials' }))).toBe('token.other');
  });

  it('issues a Graph token for the user with the configured lifetime', async () => {
    const outcome = await redeemToken(await oboRequest(), context());
    if (!outcome.ok) throw new Error(`refused: ${outcome.failure.code}`);
    expect(outcome.value).toMatchObject({ token_type: 'Bearer', expires_in: 1234 });
    const claims = decodeJwt(String(outcome.value.access_token));
    expect(claims).toMatchObject({
      aud: 'https://graph.microsoft.com',
      tid: TENANT_ID,
      iat: NOW,
      exp: NOW + 1234,
    });
    expect(outcome.value.id_token).toBeUndefined();
  });

  it("names the Graph resource URI the scopes were asked with (the sandbox Graph's own host)", async () => {
    const sandboxGraph = 'https://127.0.0.1:8443';
    const outcome = await redeemToken(
      await oboRequest({ scope: `${sandboxGraph}/User.Read` }),
      context({ graphResources: [GRAPH_RESOURCE, sandboxGraph] }),
    );
    if (!outcome.ok) throw new Error(`refused: ${outcome.failure.code}`);
    expect(decodeJwt(String(outcome.value.access_token)).aud).toBe(sandboxGraph);
    expect(outcome.value.scope).toBe(`${sandboxGraph}/User.Read`);
    // Unknown to this Entra (not one of Graph's identifier URIs): not Graph.
    expect(
      failureOf(await redeemToken(await oboRequest({ scope: `${sandboxGraph}/User.Read` }), context())),
    ).toMatchObject({ code: 70011 });
    // Two resources in one request.
    const mixed = `${sandboxGraph}/User.Read https://graph.microsoft.com/Calendars.Read`;
    expect(
      failureOf(
        await redeemToken(
          await oboRequest({ scope: mixed }),
          context({ graphResources: [GRAPH_RESOURCE, sandboxGraph] }),
        ),
      ),
    ).toMatchObject({ code: 28000 });
  });

  it('adds an id token and a refresh token when the OIDC scopes ask for them', async () => {
    const outcome = await redeemToken(
      await oboRequest({ scope: 'openid profile offline_access User.Read' }),
      context(),
    );
    if (!outcome.ok) throw new Error(`refused: ${outcome.failure.code}`);
    expect(decodeJwt(String(outcome.value.id_token))).toMatchObject({ aud: API_CLIENT_ID, iss: ISSUER });
    expect(typeof outcome.value.refresh_token).toBe('string');
  });

  it.each([
    ['a wrong client secret', { client_secret: 'wrong' }, TENANT_ID, 401, 'invalid_client', 7000215],
    ['no client credential', { client_secret: undefined }, TENANT_ID, 401, 'invalid_client', 7000218],
    ['another client', { client_id: 'someone-else' }, TENANT_ID, 400, 'unauthorized_client', 700016],
    ['no assertion', { assertion: undefined }, TENANT_ID, 400, 'invalid_request', 900144],
    ['a malformed assertion', { assertion: 'not.a.jwt' }, TENANT_ID, 400, 'invalid_request', 50027],
    [
      'a scope of another resource',
      { scope: 'https://storage.azure.com/x' },
      TENANT_ID,
      400,
      'invalid_scope',
      70011,
    ],
    ['an unconsented permission', { scope: 'Mail.Read' }, TENANT_ID, 400, 'invalid_grant', 65001],
    ['the common endpoint', {}, 'common', 400, 'invalid_request', 50194],
  ] as const)('refuses %s', async (_name, fields, tenant, status, error, code) => {
    const outcome = await redeemToken(await oboRequest(fields, tenant), context());
    expect(failureOf(outcome)).toEqual({ status, error, code });
  });

  it('refuses an assertion signed by a key the tenant no longer publishes', async () => {
    const request = await oboRequest();
    const rotated = await SigningKeys.create(() => ISSUER);
    const outcome = await redeemToken(request, context({ keys: rotated }));
    expect(failureOf(outcome)).toEqual({ status: 400, error: 'invalid_grant', code: 50013 });
  });

  it('refuses an expired assertion with AADSTS500133', async () => {
    const { access_token } = await keys.mintUserToken('bob', { lifetimeSeconds: -3600 });
    const outcome = await redeemToken(await oboRequest({ assertion: access_token }), context());
    expect(failureOf(outcome)).toEqual({ status: 400, error: 'invalid_grant', code: 500133 });
  });

  it('answers unsupported_grant_type for other grants, and asks for a missing grant_type', async () => {
    const other = { form: new URLSearchParams({ grant_type: 'password' }), tenant: resolveTenant(TENANT_ID) };
    expect(failureOf(await redeemToken(other, context()))).toEqual({
      status: 400,
      error: 'unsupported_grant_type',
      code: 70003,
    });
    const none = { form: new URLSearchParams(), tenant: resolveTenant(TENANT_ID) };
    expect(failureOf(await redeemToken(none, context()))).toMatchObject({ code: 900144 });
  });
});
