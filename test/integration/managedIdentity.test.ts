// OBO as the app runs in Azure: OBO_CLIENT_CREDENTIAL=managed-identity, the unmodified @azure/identity
// ManagedIdentityCredential (msal-node's App Service source) gets the identity's token for
// api://AzureADTokenExchange from the sandbox's IDENTITY_ENDPOINT, and msal-node sends it as client_assertion.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { decodeJwt } from 'jose';

import { loadConfig } from '../../shared/config.js';
import { DOWNSTREAM_OPERATIONS } from '../../shared/downstream/operations.js';
import { ApiError } from '../../shared/errors.js';
import { getMyProfile } from '../../shared/profile.js';
import { createServices, type Services } from '../../shared/runtime.js';
import { callerAccount, counters, injectFault, resetEmulators, sandbox } from '../sandbox.js';
import { telemetry } from './services.js';

// msal-node's managed identity client reads IDENTITY_ENDPOINT and IDENTITY_HEADER from process.env, not from
// the app's settings: when the credential is built (the source's name) and at the first token request (the
// source itself, kept for the life of the module, as is its token cache). So they are set before the first
// instance is built, and the tests below run in order: the refusal first, while nothing is cached yet.
const APP_SERVICE_VARIABLES = ['IDENTITY_ENDPOINT', 'IDENTITY_HEADER'] as const;
const saved = new Map(APP_SERVICE_VARIABLES.map((name) => [name, process.env[name]]));
let run = 0;

beforeAll(() => {
  const settings = sandbox().managedIdentitySettings;
  for (const name of APP_SERVICE_VARIABLES) process.env[name] = settings[name];
});
afterAll(() => {
  for (const [name, value] of saved) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});
beforeEach(async () => {
  await resetEmulators();
  run++;
});

function managedIdentityInstance(): Promise<Services> {
  return createServices(loadConfig({ ...sandbox().managedIdentitySettings }));
}

describe('OBO with the managed identity as federated credential', () => {
  test('takes its settings from managedIdentitySettings: no client secret, the identity named', async () => {
    const settings = sandbox().managedIdentitySettings;
    expect(settings).not.toHaveProperty('OBO_CLIENT_SECRET');
    expect(settings).toMatchObject({
      OBO_CLIENT_CREDENTIAL: 'managed-identity',
      MANAGED_IDENTITY_CLIENT_ID: sandbox().managedIdentity.clientId,
      AZURE_CLIENT_ID: sandbox().managedIdentity.clientId,
      IDENTITY_ENDPOINT: sandbox().managedIdentity.endpoint,
    });
    const services = await managedIdentityInstance();
    expect(services.config.obo.credential).toEqual({
      kind: 'managed-identity',
      // The sandbox has one identity: it is the data plane's and the federated credential's.
      federationIdentityClientId: sandbox().managedIdentity.clientId,
      tokenExchangeAudience: 'api://AzureADTokenExchange',
    });
  });

  test('a refusal by the identity endpoint fails the call as an identity provider outage, before any exchange', async () => {
    const services = await managedIdentityInstance();
    await injectFault('entra', { kind: 'managed-identity', status: 400 });
    const caller = await callerAccount(`mi-refused-${run}`);
    const error = await getMyProfile(services.downstream, caller).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'ERR_IDENTITY_PROVIDER_UNAVAILABLE' });
    expect(await counters('entra')).toMatchObject({ 'managed-identity': 1, 'token.obo': 0 });
    expect((await counters('graph')).me).toBe(0);
  });

  test('a redirect by the identity endpoint is an outage too, never followed', async () => {
    const services = await managedIdentityInstance();
    // Same origin (@azure/core-rest-pipeline already drops cross-origin ones): a followed redirect is counted.
    await injectFault('entra', {
      kind: 'managed-identity',
      redirectTo: `${sandbox().entraUrl}/redirected-identity-endpoint`,
    });
    const caller = await callerAccount(`mi-redirected-${run}`);
    const error = await getMyProfile(services.downstream, caller).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toMatchObject({ code: 'ERR_IDENTITY_PROVIDER_UNAVAILABLE' });
    expect(await counters('entra')).toMatchObject({ 'managed-identity': 1, 'token.obo': 0, other: 0 });
  });

  test('exchanges for a user and reads /v1.0/me; the next call is cached and the identity token reused', async () => {
    const services = await managedIdentityInstance();
    const alice = await callerAccount(`mi-alice-${run}`);
    expect(await getMyProfile(services.downstream, alice)).toMatchObject({ id: alice.oid });
    expect(await counters('entra')).toMatchObject({ 'managed-identity': 1, 'token.obo': 1 });

    // The Graph token was issued to the API authenticated by an assertion (appidacr 2), not a secret.
    const graphToken = await services.tokens.acquire(
      alice,
      services.downstream.scopesFor(DOWNSTREAM_OPERATIONS.myProfile),
    );
    expect(decodeJwt(graphToken)).toMatchObject({
      oid: alice.oid,
      appid: sandbox().api.clientId,
      appidacr: '2',
    });

    const cached = telemetry();
    expect(await cached.run(() => getMyProfile(services.downstream, alice))).toMatchObject({ id: alice.oid });
    expect(cached.fields.cache).toBe('l1-hit');
    expect(await counters('entra')).toMatchObject({ 'managed-identity': 1, 'token.obo': 1 });

    // Another user needs a new exchange, but ManagedIdentityCredential serves the identity token from its cache.
    const bob = await callerAccount(`mi-bob-${run}`);
    expect(await getMyProfile(services.downstream, bob)).toMatchObject({ id: bob.oid });
    expect(await counters('entra')).toMatchObject({ 'managed-identity': 1, 'token.obo': 2 });
    expect((await counters('graph')).me).toBe(3);
  });

  test('another instance of the app reuses the identity token too (msal-node keeps it per process)', async () => {
    const services = await managedIdentityInstance();
    const carol = await callerAccount(`mi-carol-${run}`);
    expect(await getMyProfile(services.downstream, carol)).toMatchObject({ id: carol.oid });
    expect(await counters('entra')).toMatchObject({ 'managed-identity': 0, 'token.obo': 1 });
  });
});
