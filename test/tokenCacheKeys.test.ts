// The token cache key ring (scripts/azd/token-cache-keys.ts) against an in-memory Key Vault secret reached the way the
// script reaches Azure: Resource Manager for the secret's metadata, the vault's data plane for its value, given as
// its fetch. Key Vault holds the ring: a provision never replaces it, rotation and retirement are explicit.
import { describe, expect, test } from '@jest/globals';

import {
  addKey,
  describeRing,
  ensureRing,
  type Environment,
  formatRing,
  type KeyRingDependencies,
  KeyRingError,
  keyVaultOf,
  parseRing,
  promoteKey,
  replacementRefusal,
  retireKey,
  type RingKey,
  rotateRing,
} from '../scripts/azd/token-cache-keys.js';
import { isRecord } from '../shared/narrow.js';

const ARM = 'https://management.azure.com';
const VAULT = 'https://kv-obo-dev.vault.azure.net/';
const SECRET = 'token-cache-keys';

const environment: Environment = {
  AZURE_ENV_NAME: 'dev',
  AZURE_SUBSCRIPTION_ID: '00000000-0000-4000-8000-00000000000a',
  AZURE_RESOURCE_GROUP: 'rg-obo-dev',
  AZURE_KEY_VAULT_NAME: 'kv-obo-dev',
  AZURE_KEY_VAULT_ENDPOINT: VAULT,
  TOKEN_CACHE_KEYS_SECRET_NAME: SECRET,
};

const key = (kid: string, fill: number): RingKey => ({ kid, key: Buffer.alloc(32, fill).toString('base64') });
const K1 = key('k20260101000000', 1);
const K2 = key('k20260201000000', 2);
const K3 = key('k20260215000000', 3);
// The id of the key the commands make at `dependencies`' default time.
const NEW = 'k20260301120000';

/** One Key Vault secret: its metadata through Resource Manager and its value through the data plane. */
class FakeKeyVault {
  ring: string | undefined;
  /** Whether the signed-in user holds a data-plane role (a provision must not need one). */
  dataPlaneRole = true;
  /** Runs once after the next data-plane read: another operator's write landing in between. */
  afterRead: (() => void) | undefined;
  readonly requests: { method: string; url: string; scope: string }[] = [];
  readonly writes: string[] = [];

  constructor(ring?: readonly RingKey[]) {
    this.ring = ring === undefined ? undefined : formatRing(ring);
  }

  keys(): RingKey[] | undefined {
    return this.ring === undefined ? undefined : parseRing(this.ring, 'vault');
  }

  readonly fetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : input.toString());
    const method = init?.method ?? 'GET';
    const authorization = new Headers(init?.headers).get('authorization') ?? '';
    this.requests.push({
      method,
      url: url.toString(),
      scope: authorization.replace(/^Bearer token-for /, ''),
    });
    const armPath =
      `/subscriptions/${environment['AZURE_SUBSCRIPTION_ID']}/resourceGroups/rg-obo-dev` +
      `/providers/Microsoft.KeyVault/vaults/kv-obo-dev/secrets/${SECRET}`;
    if (url.origin === ARM && url.pathname === armPath && method === 'GET') {
      // Metadata only: Resource Manager never returns a secret's value.
      return Promise.resolve(
        this.ring === undefined
          ? Response.json({ error: { code: 'ResourceNotFound' } }, { status: 404 })
          : Response.json({ name: SECRET, properties: { contentType: 'text/plain' } }),
      );
    }
    if (url.origin === new URL(VAULT).origin && url.pathname === `/secrets/${SECRET}`) {
      if (!this.dataPlaneRole)
        return Promise.resolve(Response.json({ error: { code: 'Forbidden' } }, { status: 403 }));
      if (method === 'PUT') {
        const body: unknown = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
        if (!isRecord(body) || typeof body['value'] !== 'string')
          return Promise.resolve(new Response(null, { status: 400 }));
        this.ring = body['value'];
        this.writes.push(body['value']);
        return Promise.resolve(Response.json({ value: body['value'] }));
      }
      const answer =
        this.ring === undefined
          ? Response.json({ error: { code: 'SecretNotFound' } }, { status: 404 })
          : Response.json({ value: this.ring });
      const after = this.afterRead;
      this.afterRead = undefined;
      after?.();
      return Promise.resolve(answer);
    }
    return Promise.resolve(new Response(null, { status: 400 }));
  };
}

function dependencies(
  vault: FakeKeyVault,
  log: string[] = [],
  now = '2026-03-01T12:00:00Z',
): KeyRingDependencies {
  let fill = 100;
  return {
    fetch: vault.fetch,
    token: (scope) => Promise.resolve(`token-for ${scope}`),
    log: (line) => log.push(line),
    now: () => new Date(now),
    randomKey: () => Buffer.alloc(32, fill++),
  };
}

/** The error a command stops with, as the script prints it (one line). */
async function refusal(run: Promise<unknown>): Promise<string> {
  const failure = await run.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(failure).toBeInstanceOf(KeyRingError);
  const message = failure instanceof Error ? failure.message : '';
  expect(message).not.toContain('\n');
  return message;
}

describe('token cache key ring', () => {
  test('the first provision creates a one-key ring, for infra/main.bicep to write to the empty vault', async () => {
    const fake = new FakeKeyVault();
    const ring = await ensureRing(
      environment,
      keyVaultOf(environment, dependencies(fake)),
      dependencies(fake),
    );
    const keys = parseRing(ring, 'ring');
    expect(keys.map((k) => k.kid)).toEqual(['k20260301120000']);
    expect(Buffer.from(keys[0]?.key ?? '', 'base64')).toHaveLength(32);
    expect(fake.writes).toEqual([]);
  });

  test('a provision before the vault exists keeps a ring the azd environment already holds', async () => {
    const fake = new FakeKeyVault();
    const local = formatRing([K1]);
    const withRing = { ...environment, TOKEN_CACHE_KEYS: local };
    expect(await ensureRing(withRing, keyVaultOf(withRing, dependencies(fake)), dependencies(fake))).toBe(
      local,
    );
  });

  test('a re-provision from a stale azd environment keeps the vault ring and clears the local copy', async () => {
    const fake = new FakeKeyVault([K2, K1]);
    // Without a data-plane role: a provision only asks Resource Manager whether the secret exists.
    fake.dataPlaneRole = false;
    const stale = { ...environment, TOKEN_CACHE_KEYS: formatRing([K1]) };
    const log: string[] = [];
    expect(await ensureRing(stale, keyVaultOf(stale, dependencies(fake)), dependencies(fake, log))).toBe('');
    expect(fake.keys()).toEqual([K2, K1]);
    expect(fake.writes).toEqual([]);
    expect(fake.requests.every((request) => request.url.startsWith(ARM))).toBe(true);
    expect(log.join('\n')).toContain('TOKEN_CACHE_KEYS');
  });

  test('rotate puts a new key in front of the vault ring, which keeps every older key', async () => {
    const fake = new FakeKeyVault([K1]);
    const next = await rotateRing(keyVaultOf(environment, dependencies(fake)), dependencies(fake));
    expect(next.map((k) => k.kid)).toEqual(['k20260301120000', K1.kid]);
    expect(fake.keys()).toEqual(next);
    expect(describeRing(next)).toBe(`k20260301120000 (current), ${K1.kid}`);
    // The vault's data plane, with a token for the vault's resource.
    expect(fake.requests.at(-1)).toMatchObject({ method: 'PUT', scope: 'https://vault.azure.net/.default' });
    // A second rotation in the same second would reuse the key id.
    await refusal(rotateRing(keyVaultOf(environment, dependencies(fake)), dependencies(fake)));
    expect(fake.keys()).toEqual(next);
  });

  test('retire drops the oldest key only when told, and never the current one', async () => {
    const fake = new FakeKeyVault([K2, K1]);
    // Provisions never retire.
    await ensureRing(environment, keyVaultOf(environment, dependencies(fake)), dependencies(fake));
    expect(fake.keys()).toEqual([K2, K1]);
    const vault = keyVaultOf(environment, dependencies(fake));
    expect(await refusal(retireKey(vault, K2.kid))).toContain('current');
    expect(await refusal(retireKey(vault, 'k-unknown'))).toContain('k-unknown');
    expect(await retireKey(vault, undefined)).toEqual([K2]);
    expect(fake.keys()).toEqual([K2]);
    expect(await refusal(retireKey(vault, undefined))).toContain('one key');
    expect(fake.keys()).toEqual([K2]);
  });

  test('add stages a new key right after the current one, and only one at a time', async () => {
    const fake = new FakeKeyVault([K2, K1]);
    const vault = keyVaultOf(environment, dependencies(fake));
    const next = await addKey(vault, dependencies(fake));
    expect(next.map((k) => k.kid)).toEqual([K2.kid, NEW, K1.kid]);
    expect(fake.keys()).toEqual(next);
    expect(describeRing(next)).toBe(`${K2.kid} (current), ${NEW} (staged), ${K1.kid}`);
    expect(await refusal(addKey(vault, dependencies(fake, [], '2026-03-02T12:00:00Z')))).toContain(
      `${NEW} is staged already`,
    );
    expect(fake.keys()).toEqual(next);
  });

  test('promote makes the staged key current, the previous current key right after it', async () => {
    const fake = new FakeKeyVault([K2, K1]);
    const vault = keyVaultOf(environment, dependencies(fake));
    const [, staged] = await addKey(vault, dependencies(fake));
    const promoted = await promoteKey(vault, undefined);
    expect(promoted.map((k) => k.kid)).toEqual([NEW, K2.kid, K1.kid]);
    expect(promoted[0]).toEqual(staged);
    expect(fake.keys()).toEqual(promoted);
    // Naming the staged key does the same.
    const named = new FakeKeyVault([K1, K2]);
    expect(await promoteKey(keyVaultOf(environment, dependencies(named)), K2.kid)).toEqual([K2, K1]);
  });

  test('promote refuses to make an older key current again, and anything but the staged key', async () => {
    // After `rotate` k1 -> k2 the ring is [k2, k1]: k1 right after the current key, but older.
    const fake = new FakeKeyVault([K2, K1]);
    const vault = keyVaultOf(environment, dependencies(fake));
    expect(await refusal(promoteKey(vault, K1.kid))).toContain('older key');
    const unstaged = new FakeKeyVault([K1, K2, K3]);
    expect(await refusal(promoteKey(keyVaultOf(environment, dependencies(unstaged)), K3.kid))).toContain(
      'use rotate',
    );
    expect(fake.keys()).toEqual([K2, K1]);
    expect(unstaged.keys()).toEqual([K1, K2, K3]);
    expect([...fake.writes, ...unstaged.writes]).toEqual([]);
  });

  test('promote with nothing staged is refused', async () => {
    for (const ring of [[K2, K1], [K1]]) {
      const fake = new FakeKeyVault(ring);
      expect(await refusal(promoteKey(keyVaultOf(environment, dependencies(fake)), undefined))).toContain(
        'no key is staged',
      );
      expect(fake.writes).toEqual([]);
    }
  });

  test('retire by default drops the oldest key, never a staged one', async () => {
    const fake = new FakeKeyVault([K1]);
    const vault = keyVaultOf(environment, dependencies(fake));
    await addKey(vault, dependencies(fake));
    expect(await refusal(retireKey(vault, undefined))).toContain('promote first');
    expect(fake.keys()?.map((k) => k.kid)).toEqual([K1.kid, NEW]);
    const older = new FakeKeyVault([K2, K1]);
    const olderVault = keyVaultOf(environment, dependencies(older));
    await addKey(olderVault, dependencies(older));
    expect((await retireKey(olderVault, undefined)).map((k) => k.kid)).toEqual([K2.kid, NEW]);
  });

  test.each([
    // Another operator stages a key of their own.
    ['add', [K2, K1], [K2, K3, K1]],
    // Another operator rotates.
    ['promote', [K1, K2], [K3, K1, K2]],
    // Another operator stages a key of their own, which this retirement would drop.
    ['retire', [K2, K1], [K2, K3, K1]],
  ] as const)(
    '%s refuses to write when another operator changed the ring meanwhile, and the vault keeps theirs',
    async (name, ring, changed) => {
      const fake = new FakeKeyVault(ring);
      const theirs = formatRing(changed);
      // Their write lands between this command's read and its write.
      fake.afterRead = () => {
        fake.ring = theirs;
      };
      const vault = keyVaultOf(environment, dependencies(fake));
      const command =
        name === 'add'
          ? addKey(vault, dependencies(fake))
          : name === 'promote'
            ? promoteKey(vault, undefined)
            : retireKey(vault, undefined);
      expect(await refusal(command)).toContain('changed');
      expect(fake.ring).toBe(theirs);
      expect(fake.writes).toEqual([]);
    },
  );

  test('a ring that lacks the vault current key is refused with one line, and the vault keeps its ring', async () => {
    const fake = new FakeKeyVault([K1]);
    // Another operator rotates between this rotation's read and its write.
    fake.afterRead = () => {
      fake.ring = formatRing([K2, K1]);
    };
    const message = await refusal(
      rotateRing(keyVaultOf(environment, dependencies(fake)), dependencies(fake)),
    );
    expect(message).toContain(K2.kid);
    expect(fake.keys()).toEqual([K2, K1]);
  });

  test.each([
    ['keeps the ring', [K2, K1], [K2, K1], undefined],
    ['retires an older key', [K2, K1], [K2], undefined],
    ['adds a new key in front', [K1], [K2, K1], undefined],
    ['stages a new key after the current one', [K2, K1], [K2, K3, K1], undefined],
    ['promotes the staged key', [K1, K2], [K2, K1], undefined],
    ['promotes a key other than the staged one', [K1, K2, K3], [K3, K1, K2], /use rotate/],
    ['promotes the staged key with other material', [K1, K2], [key(K2.kid, 9), K1], /differs/],
    [
      'promotes a key whose id is no time',
      [key('a', 1), key('b', 2)],
      [key('b', 2), key('a', 1)],
      /use rotate/,
    ],
    ['the first ring', [], [K1], undefined],
    ['lacks the current key', [K2, K1], [K1], /lacks k20260201000000/],
    ['makes an older key current again', [K2, K1], [K1, K2], /older key/],
    ['changes the current key material', [K1], [key(K1.kid, 9)], /differs/],
    [
      'puts the new key anywhere but just in front',
      [K2, K1],
      [key('k3', 3), K1, K2],
      /older key|just before/,
    ],
  ] as const)('replacementRefusal: %s', (_name, current, next, refused) => {
    const reason = replacementRefusal(current, next);
    if (refused === undefined) expect(reason).toBeUndefined();
    else expect(reason).toMatch(refused);
  });

  test('names the role it needs when the vault refuses, and finds a national cloud vault resource', async () => {
    const fake = new FakeKeyVault([K1]);
    fake.dataPlaneRole = false;
    expect(
      await refusal(rotateRing(keyVaultOf(environment, dependencies(fake)), dependencies(fake))),
    ).toContain('Key Vault Secrets Officer');
    const scopes: string[] = [];
    const usGov = keyVaultOf(
      { ...environment, AZURE_KEY_VAULT_ENDPOINT: 'https://kv-obo-dev.vault.usgovcloudapi.net/' },
      {
        ...dependencies(fake),
        token: (scope) => {
          scopes.push(scope);
          return Promise.resolve('token');
        },
        fetch: () => Promise.resolve(Response.json({ value: formatRing([K1]) })),
      },
    );
    expect(await usGov.read()).toEqual([K1]);
    expect(scopes).toEqual(['https://vault.usgovcloudapi.net/.default']);
    expect(
      await refusal(keyVaultOf({ ...environment, AZURE_KEY_VAULT_ENDPOINT: '' }, dependencies(fake)).read()),
    ).toContain('AZURE_KEY_VAULT_ENDPOINT');
  });

  test('refuses a malformed ring, naming where it came from, never printing key material', async () => {
    const fake = new FakeKeyVault();
    const bad = { ...environment, TOKEN_CACHE_KEYS: `${K1.kid}:c2hvcnQ=` };
    const message = await refusal(ensureRing(bad, keyVaultOf(bad, dependencies(fake)), dependencies(fake)));
    expect(message).toContain('TOKEN_CACHE_KEYS');
    expect(message).not.toContain('c2hvcnQ=');
  });
});
