// The Entra ID emulator over HTTPS: metadata, keys, the on-behalf-of grant and its errors, as msal-node sees them.
import { ConfidentialClientApplication, InteractionRequiredAuthError, ServerError } from '@azure/msal-node';
import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  generateKeyPair,
  jwtVerify,
  SignJWT,
} from 'jose';

import {
  activateKey,
  apiMsalClient,
  assignAppRoles,
  counters,
  injectFault,
  managedIdentityToken,
  requestObo as requestOboAs,
  resetEmulators,
  retireKey,
  rotateKeys,
  sandbox,
  setEntraSettings,
  userToken,
} from '../sandbox.js';

const GRAPH_USER_READ = 'https://graph.microsoft.com/User.Read';
const TOKEN_EXCHANGE = 'api://AzureADTokenExchange';
const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** The token request msal-node sends for acquireTokenOnBehalfOf with a client secret. */
function requestObo(
  assertion: string,
  overrides: Record<string, string | undefined> = {},
): Promise<Response> {
  return requestOboAs(
    assertion,
    { scope: `${GRAPH_USER_READ} openid profile offline_access`, client_info: '1', ...overrides },
    {
      'content-type': 'application/x-www-form-urlencoded;charset=utf-8',
      'client-request-id': 'test-correlation',
    },
  );
}

async function errorOf(
  response: Response,
): Promise<{ status: number; error: unknown; codes: unknown; body: Record<string, unknown> }> {
  const body = (await response.json()) as Record<string, unknown>;
  return { status: response.status, error: body.error, codes: body.error_codes, body };
}

beforeEach(resetEmulators);

describe('OpenID metadata and keys', () => {
  it('publishes Entra v2 metadata for the tenant, with endpoints on the emulator', async () => {
    const { entraUrl, tenantId } = sandbox();
    const response = await fetch(`${entraUrl}/${tenantId}/v2.0/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    const metadata = (await response.json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({
      issuer: `${entraUrl}/${tenantId}/v2.0`,
      token_endpoint: `${entraUrl}/${tenantId}/oauth2/v2.0/token`,
      jwks_uri: `${entraUrl}/${tenantId}/discovery/v2.0/keys`,
      authorization_endpoint: `${entraUrl}/${tenantId}/oauth2/v2.0/authorize`,
      end_session_endpoint: `${entraUrl}/${tenantId}/oauth2/v2.0/logout`,
      id_token_signing_alg_values_supported: ['RS256'],
    });
    expect(await counters('entra')).toMatchObject({ 'openid-configuration': 1 });
  });

  it('publishes RSA signing keys that verify the user tokens it issues', async () => {
    const { entraUrl, tenantId, api } = sandbox();
    const jwksResponse = await fetch(`${entraUrl}/${tenantId}/discovery/v2.0/keys`);
    const jwks = (await jwksResponse.json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const key of jwks.keys)
      expect(key).toMatchObject({
        kty: 'RSA',
        use: 'sig',
        kid: expect.any(String),
        n: expect.any(String),
        e: 'AQAB',
      });

    const { accessToken, oid } = await userToken('alice');
    const { payload } = await jwtVerify(
      accessToken,
      createRemoteJWKSet(new URL(`${entraUrl}/${tenantId}/discovery/v2.0/keys`)),
      {
        issuer: `${entraUrl}/${tenantId}/v2.0`,
        audience: api.clientId,
        algorithms: ['RS256'],
      },
    );
    expect(payload).toMatchObject({
      oid,
      tid: tenantId,
      scp: 'access_as_user',
      ver: '2.0',
      azp: sandbox().spaClientId,
    });
    expect((await counters('entra')).keys).toBe(2);
  });

  it('answers 400 invalid_tenant AADSTS90002 for another tenant', async () => {
    const response = await fetch(
      `${sandbox().entraUrl}/11111111-2222-3333-4444-555555555555/v2.0/.well-known/openid-configuration`,
    );
    const { status, error, codes } = await errorOf(response);
    expect([status, error, codes]).toEqual([400, 'invalid_tenant', [90002]]);
  });

  it('answers instance discovery in Entra shape and counts it', async () => {
    const { entraUrl, tenantId } = sandbox();
    const authorize = encodeURIComponent(`${entraUrl}/${tenantId}/oauth2/v2.0/authorize`);
    const response = await fetch(
      `${entraUrl}/common/discovery/instance?api-version=1.1&authorization_endpoint=${authorize}`,
    );
    expect(response.status).toBe(200);
    const host = new URL(entraUrl).host;
    expect(await response.json()).toMatchObject({
      tenant_discovery_endpoint: `${entraUrl}/${tenantId}/v2.0/.well-known/openid-configuration`,
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
    });
    expect((await counters('entra'))['instance-discovery']).toBe(1);
  });
});

describe('user tokens', () => {
  it('gives the same oid for the same name and a distinct token on every call', async () => {
    const first = await userToken('carol');
    const second = await userToken('carol');
    expect(first.oid).toBe(second.oid);
    expect(first.accessToken).not.toBe(second.accessToken);
    expect((await userToken('dave')).oid).not.toBe(first.oid);
  });

  it('sets and removes claims on request', async () => {
    const { accessToken } = await userToken('alice', {
      set: { aud: 'api://other', exp: '123' },
      unset: ['scp'],
    });
    const claims = decodeJwt(accessToken);
    expect(claims.aud).toBe('api://other');
    expect(claims.exp).toBe('123');
    expect(claims).not.toHaveProperty('scp');
  });

  it("carries the API's app roles assigned to the user in roles: alice's by default, none for others", async () => {
    expect(decodeJwt((await userToken('alice')).accessToken).roles).toEqual(['Tasks.Admin']);
    expect(decodeJwt((await userToken('carol')).accessToken)).not.toHaveProperty('roles');

    await assignAppRoles('carol', ['Tasks.Admin']);
    await assignAppRoles('alice', []);

    expect(decodeJwt((await userToken('carol')).accessToken).roles).toEqual(['Tasks.Admin']);
    expect(decodeJwt((await userToken('alice')).accessToken)).not.toHaveProperty('roles');
    await resetEmulators();
    expect(decodeJwt((await userToken('carol')).accessToken)).not.toHaveProperty('roles');
  });

  it('refuses to assign a role the API does not declare', async () => {
    const response = await fetch(`${sandbox().entraUrl}/_emulator/users/carol/roles`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ roles: ['Tasks.Owner'] }),
    });
    expect(response.status).toBe(400);
    expect(decodeJwt((await userToken('carol')).accessToken)).not.toHaveProperty('roles');
  });
});

describe('on-behalf-of grant', () => {
  it('issues a Graph token for the same user, with id token, refresh token and client info', async () => {
    const { tenantId, api } = sandbox();
    const { accessToken, oid } = await userToken('alice');
    const response = await requestObo(accessToken);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toContain('no-store');
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      token_type: 'Bearer',
      scope: GRAPH_USER_READ,
      expires_in: 3600,
      ext_expires_in: 3600,
    });
    expect(typeof body.refresh_token).toBe('string');

    const graphClaims = decodeJwt(String(body.access_token));
    expect(graphClaims).toMatchObject({
      iss: `https://sts.windows.net/${tenantId}/`,
      aud: 'https://graph.microsoft.com',
      ver: '1.0',
      tid: tenantId,
      oid,
      scp: 'User.Read',
      appid: api.clientId,
      upn: 'alice@sandbox.onmicrosoft.com',
    });
    expect(decodeJwt(String(body.id_token))).toMatchObject({
      aud: api.clientId,
      oid,
      tid: tenantId,
      preferred_username: 'alice@sandbox.onmicrosoft.com',
    });
    const clientInfo = JSON.parse(
      Buffer.from(String(body.client_info), 'base64url').toString('utf8'),
    ) as unknown;
    expect(clientInfo).toEqual({ uid: oid, utid: tenantId });
    expect(await counters('entra')).toMatchObject({ 'token.obo': 1, 'token.other': 0 });
  });

  it('accepts an assertion whose audience is the App ID URI', async () => {
    const { accessToken } = await userToken('alice', { set: { aud: sandbox().api.appIdUri } });
    expect((await requestObo(accessToken)).status).toBe(200);
  });

  it('sends client_info only when asked, as Entra does', async () => {
    const { accessToken } = await userToken('alice');
    const body = (await (await requestObo(accessToken, { client_info: undefined })).json()) as Record<
      string,
      unknown
    >;
    expect(body).not.toHaveProperty('client_info');
  });

  it('issues tokens with the lifetime set through the settings endpoint', async () => {
    await setEntraSettings({ oboTokenLifetimeSeconds: 600 });
    try {
      const { accessToken } = await userToken('alice');
      const body = (await (await requestObo(accessToken)).json()) as Record<string, unknown>;
      expect(body.expires_in).toBe(600);
      const claims = decodeJwt(String(body.access_token));
      expect(Number(claims.exp) - Number(claims.iat)).toBe(600);
    } finally {
      await setEntraSettings({ oboTokenLifetimeSeconds: 3600 });
    }
  });

  it("shortens CAE-capable tokens and users' tokens through the settings endpoint, and keeps the others", async () => {
    const before = await setEntraSettings({});
    await setEntraSettings({ caeTokenLifetimeSeconds: 400, userTokenLifetimeSeconds: 120 });
    try {
      const { accessToken } = await userToken('alice');
      const caller = decodeJwt(accessToken);
      expect(Number(caller.exp) - Number(caller.iat)).toBe(120);
      const cae = (await (
        await requestObo(accessToken, { claims: '{"access_token":{"xms_cc":{"values":["cp1"]}}}' })
      ).json()) as Record<string, unknown>;
      expect(cae.expires_in).toBe(400);
      expect(decodeJwt(String(cae.access_token)).xms_cc).toEqual(['cp1']);
      const plain = (await (await requestObo(accessToken)).json()) as Record<string, unknown>;
      expect(plain.expires_in).toBe(before.oboTokenLifetimeSeconds);
    } finally {
      await setEntraSettings(before);
    }
  });

  it.each([
    [{ caeTokenLifetimeSeconds: 0 }],
    [{ userTokenLifetimeSeconds: 'long' }],
    [{ tokenLifetime: 60 }],
  ])('refuses the setting %j with 400', async (body) => {
    const response = await fetch(`${sandbox().entraUrl}/_emulator/settings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(400);
  });

  it.each([
    ['a wrong client secret', { client_secret: 'wrong' }, {}, 401, 'invalid_client', 7000215],
    ['no client credential', { client_secret: undefined }, {}, 401, 'invalid_client', 7000218],
    [
      'another client id',
      { client_id: '99999999-9999-4999-8999-999999999999' },
      {},
      400,
      'unauthorized_client',
      700016,
    ],
    ['no assertion', { assertion: undefined }, {}, 400, 'invalid_request', 900144],
    ['a malformed assertion', { assertion: 'not-a-jwt' }, {}, 400, 'invalid_request', 50027],
    ['an expired assertion', {}, { lifetimeSeconds: -600 }, 400, 'invalid_grant', 500133],
    ['an assertion for another API', {}, { set: { aud: 'api://another-api' } }, 400, 'invalid_grant', 50013],
    [
      'an assertion from another tenant',
      {},
      { set: { tid: '11111111-2222-3333-4444-555555555555' } },
      400,
      'invalid_grant',
      50013,
    ],
    [
      'an app-only assertion',
      {},
      { unset: ['scp'], set: { roles: ['Access.All'], idtyp: 'app' } },
      400,
      'invalid_grant',
      50013,
    ],
    ['a scope of another resource', { scope: 'api://another/read openid' }, {}, 400, 'invalid_scope', 70011],
    [
      'a Graph permission not consented',
      { scope: 'https://graph.microsoft.com/Mail.Read' },
      {},
      400,
      'invalid_grant',
      65001,
    ],
    ['an assertion without exp', {}, { unset: ['exp'] }, 400, 'invalid_grant', 50013],
    ['an assertion without nbf', {}, { unset: ['nbf'] }, 400, 'invalid_grant', 50013],
    ['an assertion without iat', {}, { unset: ['iat'] }, 400, 'invalid_grant', 50013],
    [
      'an assertion with an array audience',
      {},
      { set: { aud: [sandbox().api.clientId] } },
      400,
      'invalid_grant',
      50013,
    ],
  ] as const)('refuses %s', async (_name, form, tokenOptions, status, error, code) => {
    const { accessToken } = await userToken('alice', tokenOptions);
    const refused = await errorOf(await requestObo(accessToken, form));
    expect([refused.status, refused.error, refused.codes]).toEqual([status, error, [code]]);
    expect(refused.body.error_description).toMatch(
      new RegExp(
        `^AADSTS${code}: .* Trace ID: ${String(refused.body.trace_id)} Correlation ID: test-correlation Timestamp: `,
      ),
    );
    expect(refused.body).toMatchObject({
      correlation_id: 'test-correlation',
      error_uri: expect.stringContaining(`code=${code}`),
    });
  });

  it('answers unsupported_grant_type to other grants and counts them as token.other', async () => {
    const response = await requestObo('x', {
      grant_type: 'client_credentials',
      requested_token_use: undefined,
    });
    const { status, error, codes } = await errorOf(response);
    expect([status, error, codes]).toEqual([400, 'unsupported_grant_type', [70003]]);
    expect(await counters('entra')).toMatchObject({ 'token.obo': 0, 'token.other': 1 });
  });
});

describe("client assertion: the managed identity's federated credential", () => {
  /** The OBO request msal-node sends with a client assertion (and no secret). */
  const withClientAssertion = (clientAssertion: string): Record<string, string | undefined> => ({
    client_secret: undefined,
    client_assertion: clientAssertion,
    client_assertion_type: CLIENT_ASSERTION_TYPE,
  });
  /** A token the emulator really signed, with the claims of the identity's token-exchange token changed. */
  const signedByEntra = async (options: {
    set?: Record<string, unknown>;
    unset?: string[];
    lifetimeSeconds?: number;
  }): Promise<string> => {
    const { managedIdentity } = sandbox();
    const { accessToken } = await userToken('workload', {
      ...options,
      set: { sub: managedIdentity.principalId, aud: TOKEN_EXCHANGE, idtyp: 'app', ...options.set },
    });
    return accessToken;
  };
  /** The identity's real claims and the emulator's kid, signed with a key Entra never published. */
  const forged = async (kid: string | undefined): Promise<string> => {
    const genuine = await managedIdentityToken();
    const { privateKey } = await generateKeyPair('RS256');
    return new SignJWT(decodeJwt(genuine))
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(kid === undefined ? {} : { kid }) })
      .sign(privateKey);
  };
  const unsigned = async (): Promise<string> => {
    const [, payload] = (await managedIdentityToken()).split('.');
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    return `${header}.${payload ?? ''}.`;
  };

  it("accepts the identity's token for api://AzureADTokenExchange and issues the Graph token to the API", async () => {
    const { api } = sandbox();
    const { accessToken, oid } = await userToken('alice');
    const response = await requestObo(accessToken, withClientAssertion(await managedIdentityToken()));
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(decodeJwt(String(body.access_token))).toMatchObject({
      oid,
      appid: api.clientId,
      appidacr: '2',
      scp: 'User.Read',
    });
    expect(await counters('entra')).toMatchObject({ 'managed-identity': 1, 'token.obo': 1 });
  });

  it('accepts it signed with a key rotated out of use while published, refuses it once the key is retired', async () => {
    const assertion = await managedIdentityToken();
    await rotateKeys();
    const { accessToken } = await userToken('alice');
    expect((await requestObo(accessToken, withClientAssertion(assertion))).status).toBe(200);

    await rotateKeys({ retireOld: true });
    const fresh = await userToken('alice');
    const refused = await errorOf(await requestObo(fresh.accessToken, withClientAssertion(assertion)));
    expect([refused.status, refused.error, refused.codes]).toEqual([401, 'invalid_client', [700027]]);
  });

  const refusals: [string, () => Promise<string>, number, string, number][] = [
    [
      'a forged signature under the current kid',
      async () => forged(decodeProtectedHeader(await managedIdentityToken()).kid),
      401,
      'invalid_client',
      700027,
    ],
    ['a signature by an unknown key', () => forged('not-a-published-kid'), 401, 'invalid_client', 700027],
    ['alg none', unsigned, 401, 'invalid_client', 700027],
    [
      'a subject other than the identity',
      () => signedByEntra({ set: { sub: '0b9a6c52-1e47-4d3f-8a2b-6f5e4c3d2b1a' } }),
      401,
      'invalid_client',
      700213,
    ],
    ["a user's token", async () => (await userToken('alice')).accessToken, 401, 'invalid_client', 700213],
    [
      "the identity's token for another resource",
      () => managedIdentityToken('https://management.azure.com'),
      401,
      'invalid_client',
      700212,
    ],
    [
      'an audience differing in case',
      () => signedByEntra({ set: { aud: 'api://azureadtokenexchange' } }),
      401,
      'invalid_client',
      700212,
    ],
    [
      'an issuer other than the tenant v2 issuer',
      () => signedByEntra({ set: { iss: `https://sts.windows.net/${sandbox().tenantId}/` } }),
      401,
      'invalid_client',
      700211,
    ],
    ['an expired token', () => signedByEntra({ lifetimeSeconds: -600 }), 401, 'invalid_client', 700024],
    ['a token without exp', () => signedByEntra({ unset: ['exp'] }), 401, 'invalid_client', 700024],
    [
      'a self-signed certificate assertion (the API has no certificate)',
      () =>
        signedByEntra({
          set: {
            iss: sandbox().api.clientId,
            sub: sandbox().api.clientId,
            aud: `${sandbox().entraUrl}/${sandbox().tenantId}/oauth2/v2.0/token`,
          },
        }),
      401,
      'invalid_client',
      700027,
    ],
    ['a malformed assertion', () => Promise.resolve('not-a-jwt'), 400, 'invalid_request', 50027],
  ];
  it.each(refusals)('refuses %s', async (_name, clientAssertion, status, error, code) => {
    const { accessToken } = await userToken('alice');
    const refused = await errorOf(
      await requestObo(accessToken, withClientAssertion(await clientAssertion())),
    );
    expect([refused.status, refused.error, refused.codes]).toEqual([status, error, [code]]);
    expect(refused.body.error_description).toMatch(new RegExp(`^AADSTS${code}: `));
    expect((await counters('entra'))['token.obo']).toBe(1);
  });

  it('refuses an assertion without client_assertion_type and one sent with a secret too', async () => {
    const { accessToken } = await userToken('alice');
    const assertion = await managedIdentityToken();
    const untyped = await errorOf(
      await requestObo(accessToken, { ...withClientAssertion(assertion), client_assertion_type: undefined }),
    );
    expect([untyped.status, untyped.error, untyped.codes]).toEqual([400, 'invalid_request', [90014]]);
    const both = await errorOf(
      await requestObo(accessToken, {
        ...withClientAssertion(assertion),
        client_secret: sandbox().api.clientSecret,
      }),
    );
    expect([both.status, both.error, both.codes]).toEqual([400, 'invalid_request', [90023]]);
  });

  it('reaches msal-node as a ServerError invalid_client when the credential is refused', async () => {
    const { entraUrl, tenantId, api } = sandbox();
    const client = new ConfidentialClientApplication({
      auth: {
        clientId: api.clientId,
        clientAssertion: () => unsigned(),
        authority: `${entraUrl}/${tenantId}`,
        knownAuthorities: [new URL(entraUrl).host],
      },
    });
    const { accessToken } = await userToken('alice');
    const error = await client
      .acquireTokenOnBehalfOf({ oboAssertion: accessToken, scopes: [GRAPH_USER_READ] })
      .then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ errorCode: 'invalid_client', errorNo: 700027 });
  });
});

describe('presets as msal-node sees them', () => {
  const acquire = async (): Promise<unknown> => {
    const { accessToken } = await userToken('alice');
    try {
      await apiMsalClient().acquireTokenOnBehalfOf({ oboAssertion: accessToken, scopes: [GRAPH_USER_READ] });
      return undefined;
    } catch (error) {
      return error;
    }
  };

  it('mfa_required: InteractionRequiredAuthError with the claims challenge', async () => {
    await injectFault('entra', { preset: 'mfa_required' });
    const error = await acquire();
    expect(error).toBeInstanceOf(InteractionRequiredAuthError);
    expect(error).toMatchObject({ errorCode: 'invalid_grant', subError: 'basic_action', errorNo: 50076 });
    const claims = JSON.parse((error as InteractionRequiredAuthError).claims) as unknown;
    expect(claims).toMatchObject({ access_token: { capolids: { essential: true } } });
  });

  it('consent_required: InteractionRequiredAuthError with suberror consent_required', async () => {
    await injectFault('entra', { preset: 'consent_required' });
    const error = await acquire();
    expect(error).toBeInstanceOf(InteractionRequiredAuthError);
    expect(error).toMatchObject({ errorCode: 'invalid_grant', subError: 'consent_required', errorNo: 65001 });
  });

  it('invalid_assertion: ServerError invalid_grant', async () => {
    await injectFault('entra', { preset: 'invalid_assertion' });
    const error = await acquire();
    expect(error).toBeInstanceOf(ServerError);
    expect(error).not.toBeInstanceOf(InteractionRequiredAuthError);
    expect(error).toMatchObject({ errorCode: 'invalid_grant', errorNo: 50013 });
  });

  it('temporarily_unavailable: ServerError after a 503', async () => {
    await injectFault('entra', { preset: 'temporarily_unavailable' });
    const error = await acquire();
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ errorCode: 'temporarily_unavailable' });
  });

  it('applies a preset to the token endpoint only: metadata still answers', async () => {
    await injectFault('entra', { preset: 'consent_required', count: 2 });
    await acquire();
    expect(await counters('entra')).toMatchObject({ 'openid-configuration': 1, 'token.obo': 1 });
    expect(await acquire()).toBeInstanceOf(InteractionRequiredAuthError);
    expect(await acquire()).toBeUndefined();
  });
});

describe('key rotation', () => {
  it('signs with the new key, keeps the old one published until retired, then refuses its tokens', async () => {
    const { entraUrl, tenantId } = sandbox();
    const kids = async (): Promise<unknown[]> => {
      const jwks = (await (await fetch(`${entraUrl}/${tenantId}/discovery/v2.0/keys`)).json()) as {
        keys: { kid: unknown }[];
      };
      return jwks.keys.map((key) => key.kid);
    };
    const before = await userToken('alice');
    const oldKid = decodeProtectedHeader(before.accessToken).kid;

    const newKid = await rotateKeys();
    const after = await userToken('alice');
    expect(decodeProtectedHeader(after.accessToken).kid).toBe(newKid);
    expect(await kids()).toEqual(expect.arrayContaining([oldKid, newKid]));
    expect((await requestObo(before.accessToken)).status).toBe(200);

    await rotateKeys({ retireOld: true });
    expect(await kids()).not.toContain(oldKid);
    const refused = await errorOf(await requestObo(before.accessToken));
    expect([refused.status, refused.error, refused.codes]).toEqual([400, 'invalid_grant', [50013]]);
  });

  it('rolls over in stages: publishes a key first, signs with it once activated, then retires the old one', async () => {
    const { entraUrl, tenantId } = sandbox();
    const kids = async (): Promise<unknown[]> => {
      const jwks = (await (await fetch(`${entraUrl}/${tenantId}/discovery/v2.0/keys`)).json()) as {
        keys: { kid: unknown }[];
      };
      return jwks.keys.map((key) => key.kid);
    };
    const oldKid = decodeProtectedHeader((await userToken('alice')).accessToken).kid;
    if (typeof oldKid !== 'string') throw new Error('no kid');

    const newKid = await rotateKeys({ publishOnly: true });
    expect(await kids()).toEqual(expect.arrayContaining([oldKid, newKid]));
    const published = await userToken('alice');
    expect(decodeProtectedHeader(published.accessToken).kid).toBe(oldKid);

    await activateKey(newKid);
    const used = await userToken('alice');
    expect(decodeProtectedHeader(used.accessToken).kid).toBe(newKid);
    await expect(retireKey(newKid)).rejects.toThrow(/HTTP 400/);

    await retireKey(oldKid);
    expect(await kids()).not.toContain(oldKid);
    expect((await requestObo(used.accessToken)).status).toBe(200);
    const refused = await errorOf(await requestObo(published.accessToken));
    expect([refused.status, refused.codes]).toEqual([400, [50013]]);
  });
});
