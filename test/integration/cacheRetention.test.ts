// What Cosmos DB keeps of a caller (issue 20): an entry lasts no longer than the caller's token that keys it,
// and holds only the access token record msal-node needs for an on-behalf-of cache hit.
import { beforeEach, describe, expect, test } from '@jest/globals';

import type { CallerAccount } from '../../shared/auth/caller.js';
import { TTL_GRACE_SECONDS } from '../../shared/cache/document.js';
import { openEntry } from '../../shared/cache/l2.js';
import { loadConfig } from '../../shared/config.js';
import { cacheEntryKeyOf } from '../../shared/obo/cacheEntryKey.js';
import type { Services } from '../../shared/runtime.js';
import { counters, resetEmulators, sandbox, setEntraSettings, userToken } from '../sandbox.js';
import { entriesOf, readCacheDocument } from './cosmosDocuments.js';
import { instance, telemetry } from './services.js';

const GRAPH_SCOPES = ['https://graph.microsoft.com/User.Read'];
/** One caller's document after one call with one client, before this change (the load benchmark's cost table). */
const DOCUMENT_BYTES_BEFORE = 6344;
let run = 0;

beforeEach(async () => {
  await resetEmulators();
  await setEntraSettings({ oboTokenLifetimeSeconds: 3600 });
  run++;
});

/** A caller as the API's authenticator establishes it from a fresh sandbox token (its real `exp`). */
async function authenticated(app: Services, name: string, lifetimeSeconds?: number): Promise<CallerAccount> {
  const token = await userToken(`${name}-${run}`, lifetimeSeconds === undefined ? {} : { lifetimeSeconds });
  return app.authenticator.authenticate(`Bearer ${token.accessToken}`);
}

function documentBytes(document: Record<string, unknown> | undefined): number {
  return Buffer.byteLength(JSON.stringify(document));
}

describe('what Cosmos DB keeps', () => {
  test('a long-lived (cp1) Graph token is kept only as long as the caller token that keys it', async () => {
    // With cp1 (the default), Entra issues day-long Graph tokens whatever the lifetime setting.
    const app = await instance();
    const user = await authenticated(app, 'short-caller', 1200);
    await app.tokens.acquire(user, GRAPH_SCOPES);
    const document = await readCacheDocument(user.accountId);
    const tolerance = app.config.entra.clockToleranceSeconds;
    const remaining = user.expiresAt - Math.floor(Date.now() / 1000);
    expect(Number(document?.ttl)).toBeGreaterThan(0);
    expect(Number(document?.ttl)).toBeLessThanOrEqual(remaining + tolerance + TTL_GRACE_SECONDS + 1);
    for (const entry of Object.values(entriesOf(document))) {
      expect(entry.exp).toBeLessThanOrEqual(user.expiresAt + tolerance);
    }
  });

  test('an entry holds only the access token: no id token, account, refresh token or app metadata', async () => {
    const app = await instance();
    const user = await authenticated(app, 'only-the-token');
    await app.tokens.acquire(user, GRAPH_SCOPES);
    const document = await readCacheDocument(user.accountId);
    const key = cacheEntryKeyOf(user.assertion, GRAPH_SCOPES);
    const blob = entriesOf(document)[key]?.blob ?? '';
    const keys = loadConfig(sandbox().settings).tokenCache.keys;
    const plaintext = openEntry(blob, keys, user.accountId, key);
    const sections = JSON.parse(plaintext ?? '{}') as Record<string, Record<string, unknown>>;
    expect(Object.keys(sections)).toEqual(['AccessToken']);
    expect(Object.keys(sections.AccessToken ?? {})).toHaveLength(1);

    const bytes = documentBytes(document);
    const base = documentBytes({ ...document, entries: {} });
    console.log(
      `one caller's document after one call with one client: ${bytes} bytes (the entry ${bytes - base})`,
    );
    expect(bytes).toBeLessThanOrEqual(DOCUMENT_BYTES_BEFORE / 2);
  });

  test('a real msal-node client given the stripped entry serves the token with no request to Entra', async () => {
    const [a, b] = [await instance(), await instance()];
    const user = await authenticated(a, 'stripped-hit');
    const token = await a.tokens.acquire(user, GRAPH_SCOPES);
    await resetEmulators();
    const t = telemetry();
    expect(await t.run(() => b.tokens.acquire(user, GRAPH_SCOPES))).toBe(token);
    expect(t.fields.cache).toBe('l2-hit');
    expect(t.fields.oboExchange).toBeUndefined();
    expect((await counters('entra'))['token.obo'] ?? 0).toBe(0);
  });
});
