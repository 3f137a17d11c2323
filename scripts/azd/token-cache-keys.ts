/**
 * The token cache encryption key ring, "kid:base64key[,kid:base64key...]" (32 random bytes per key, the current,
 * encrypting key first; every key in the ring decrypts). Key Vault holds the one copy that counts: the app reads it
 * through a Key Vault reference, and nothing here ever replaces it with a ring that lacks its current key.
 *
 *   ensure   (preprovision and postprovision hooks) when Key Vault holds no ring yet (first provision), create one and
 *            hand it to infra/main.bicep through TOKEN_CACHE_KEYS; when it holds one, clear TOKEN_CACHE_KEYS so no
 *            provision writes the vault, however stale the azd environment is. Asks Resource Manager, which shows a
 *            secret's metadata, never its value: a provision needs no Key Vault data-plane role.
 *   show     list the vault's key ids, current first (never key material)
 *   add      stage a new key right after the current one: it decrypts once every host has the ring, encrypts nowhere
 *   promote [kid]  make the staged key (the newer key right after the current one) current
 *   rotate   add and promote at once, for a compromised key: hosts without the new ring miss what it encrypts
 *   retire [kid]  drop a key that is not the current one (default: the oldest, never a staged key); only on this command
 *
 * So the ring reads [current, staged newer key?, older keys...]. `show`, `add`, `promote`, `rotate` and `retire` read
 * (and write) the secret in Key Vault itself: they need Key Vault Secrets Officer on it. Every write reads the vault
 * again just before and refuses when its ring changed meanwhile, lacks the vault's current key, or makes current a key
 * other than a new one or the staged one (an older key never becomes current again). `npm run keys -- <command>`; rotation step by step: docs/deployment.md, "Rotate the cache encryption key".
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

import { isRecord } from '../../shared/narrow.js';

export const RING_VARIABLE = 'TOKEN_CACHE_KEYS';
const KEY_BYTES = 32;
// The app (shared/config.ts) accepts these ids.
const KID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
// The ids `add` and `rotate` make: k<UTC time to the second>, ordered as strings.
const TIMESTAMPED_KID = /^k\d{14}$/;
const KEY_VAULT_API_VERSION = '7.5';
const RESOURCE_MANAGER_API_VERSION = '2024-11-01';

export interface RingKey {
  readonly kid: string;
  readonly key: string;
}

export class KeyRingError extends Error {}

/** The azd environment's values this step reads (azd passes them to hooks as environment variables). */
export type Environment = Readonly<Record<string, string | undefined>>;

export interface KeyRingDependencies {
  readonly fetch: typeof fetch;
  /** An access token of the signed-in azd user for a scope (`<resource>/.default`). */
  readonly token: (scope: string) => Promise<string>;
  readonly log: (line: string) => void;
  readonly now: () => Date;
  readonly randomKey: () => Buffer;
}

export function parseRing(ring: string, source: string): RingKey[] {
  const keys = ring.split(',').map((entry, index) => {
    const separator = entry.indexOf(':');
    const kid = entry.slice(0, separator);
    const key = entry.slice(separator + 1);
    if (separator < 1 || !KID_PATTERN.test(kid)) {
      throw new KeyRingError(`${source}: entry ${index + 1} has no valid key id (expected kid:base64key)`);
    }
    if (Buffer.from(key, 'base64').length !== KEY_BYTES) {
      throw new KeyRingError(`${source}: key "${kid}" is not ${KEY_BYTES} bytes of base64`);
    }
    return { kid, key };
  });
  if (new Set(keys.map((k) => k.kid)).size !== keys.length) {
    throw new KeyRingError(`${source}: a key id appears twice`);
  }
  return keys;
}

export function formatRing(keys: readonly RingKey[]): string {
  return keys.map(({ kid, key }) => `${kid}:${key}`).join(',');
}

export function describeRing(keys: readonly RingKey[]): string {
  const staged = stagedKey(keys);
  return keys
    .map((key, index) =>
      index === 0 ? `${key.kid} (current)` : key === staged ? `${key.kid} (staged)` : key.kid,
    )
    .join(', ');
}

/** A new key with a sortable, timestamped id (to the second). */
function newKey(dependencies: KeyRingDependencies): RingKey {
  const kid = `k${dependencies.now().toISOString().replace(/[-:T]/g, '').slice(0, 14)}`;
  return { kid, key: dependencies.randomKey().toString('base64') };
}

/** Whether `kid` is a timestamped key id made after `than` (a staged key may become current only then). */
function isNewerKid(kid: string, than: string): boolean {
  return TIMESTAMPED_KID.test(kid) && TIMESTAMPED_KID.test(than) && kid > than;
}

/** The vault ring's staged key: the one right after the current key, when it is newer. */
function stagedKey(keys: readonly RingKey[]): RingKey | undefined {
  const [current, next] = keys;
  return current !== undefined && next !== undefined && isNewerKid(next.kid, current.kid) ? next : undefined;
}

/**
 * Why `next` may not replace `current` in Key Vault, or undefined when it may: it keeps the current key, and its
 * own current key is either that one (keep, stage a key, or retire older keys), a key the vault has never held
 * (rotation), or the vault's staged key, unchanged (promotion).
 */
export function replacementRefusal(
  current: readonly RingKey[],
  next: readonly RingKey[],
): string | undefined {
  const [vaultCurrent] = current;
  const [nextCurrent] = next;
  if (vaultCurrent === undefined) return undefined;
  const kept = next.find((k) => k.kid === vaultCurrent.kid);
  if (kept === undefined) return `it lacks ${vaultCurrent.kid}, the current key in Key Vault`;
  if (kept.key !== vaultCurrent.key) return `its key ${vaultCurrent.kid} differs from the one in Key Vault`;
  if (nextCurrent !== undefined && nextCurrent.kid !== vaultCurrent.kid) {
    const held = current.find((k) => k.kid === nextCurrent.kid);
    if (held !== undefined) {
      if (TIMESTAMPED_KID.test(nextCurrent.kid) && TIMESTAMPED_KID.test(vaultCurrent.kid)) {
        if (nextCurrent.kid <= vaultCurrent.kid) {
          return `it makes ${nextCurrent.kid}, an older key, current again`;
        }
        if (current[1]?.kid !== nextCurrent.kid) {
          return `it makes ${nextCurrent.kid} current, which is not the key staged right after ${vaultCurrent.kid}: use rotate`;
        }
      } else {
        return `cannot tell whether ${nextCurrent.kid} is newer than ${vaultCurrent.kid} (ids not k<UTC time>): use rotate`;
      }
      if (held.key !== nextCurrent.key) return `its key ${nextCurrent.kid} differs from the one in Key Vault`;
    }
    if (next[1]?.kid !== vaultCurrent.kid) return `its new key must come just before ${vaultCurrent.kid}`;
  }
  return undefined;
}

/** This environment's Key Vault secret holding the ring: its metadata (Resource Manager) and its value (data plane). */
export interface KeyRingVault {
  /** Whether the secret exists; false when the vault is not provisioned yet. Needs no data-plane role. */
  exists(): Promise<boolean>;
  /** The ring in the vault, or undefined when there is none. */
  read(): Promise<RingKey[] | undefined>;
  write(keys: readonly RingKey[]): Promise<void>;
}

function value(environment: Environment, name: string): string {
  return environment[name] ?? '';
}

/** The Key Vault secret named by the azd environment (outputs of infra/main.bicep), over REST with azd's sign-in. */
export function keyVaultOf(environment: Environment, dependencies: KeyRingDependencies): KeyRingVault {
  const secretName = value(environment, 'TOKEN_CACHE_KEYS_SECRET_NAME') || 'token-cache-keys';
  const vaultName = value(environment, 'AZURE_KEY_VAULT_NAME');
  const armEndpoint = (
    value(environment, 'AZURE_RESOURCE_MANAGER_ENDPOINT') || 'https://management.azure.com'
  ).replace(/\/$/, '');

  function dataPlane(): { url: string; scope: string } {
    const endpoint = value(environment, 'AZURE_KEY_VAULT_ENDPOINT');
    let vault: URL;
    try {
      vault = new URL(endpoint);
    } catch {
      throw new KeyRingError(
        'AZURE_KEY_VAULT_ENDPOINT is not set in the azd environment: run `azd provision` (or `azd env refresh`) first',
      );
    }
    // https://<vault>.vault.azure.net/ -> the resource https://vault.azure.net (likewise in national clouds).
    const resource = `https://${vault.hostname.split('.').slice(1).join('.')}`;
    return {
      url: `${vault.origin}/secrets/${encodeURIComponent(secretName)}?api-version=${KEY_VAULT_API_VERSION}`,
      scope: `${resource}/.default`,
    };
  }

  async function call(method: 'GET' | 'PUT', body?: string): Promise<Response> {
    const { url, scope } = dataPlane();
    const headers: Record<string, string> = { authorization: `Bearer ${await dependencies.token(scope)}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await dependencies.fetch(url, {
        method,
        headers,
        redirect: 'error',
        ...(body ? { body } : {}),
      });
    } catch (error) {
      throw new KeyRingError(
        `cannot reach ${new URL(url).host} (${error instanceof Error ? error.message : String(error)}); ` +
          'with private networking, run this from inside the network',
      );
    }
    if (response.status === 401 || response.status === 403) {
      throw new KeyRingError(
        `Key Vault answered ${response.status} for ${secretName}: you need the Key Vault Secrets Officer role on it ` +
          `(az role assignment create --role "Key Vault Secrets Officer" --assignee <you> --scope <the vault's id>/secrets/${secretName})`,
      );
    }
    return response;
  }

  return {
    async exists() {
      const subscription = value(environment, 'AZURE_SUBSCRIPTION_ID');
      const resourceGroup = value(environment, 'AZURE_RESOURCE_GROUP');
      if (subscription === '' || resourceGroup === '' || vaultName === '') return false;
      const token = await dependencies.token(`${armEndpoint}/.default`);
      const url =
        `${armEndpoint}/subscriptions/${encodeURIComponent(subscription)}/resourceGroups/${encodeURIComponent(resourceGroup)}` +
        `/providers/Microsoft.KeyVault/vaults/${encodeURIComponent(vaultName)}/secrets/${encodeURIComponent(secretName)}` +
        `?api-version=${RESOURCE_MANAGER_API_VERSION}`;
      const response = await dependencies.fetch(url, {
        headers: { authorization: `Bearer ${token}` },
        redirect: 'error',
      });
      if (response.status === 200) return true;
      if (response.status === 404) return false;
      throw new KeyRingError(
        `cannot tell whether ${vaultName} holds ${secretName}: Resource Manager answered ${response.status}`,
      );
    },
    async read() {
      const response = await call('GET');
      if (response.status === 404) return undefined;
      const parsed: unknown = response.ok ? await response.json() : undefined;
      if (!isRecord(parsed) || typeof parsed['value'] !== 'string') {
        throw new KeyRingError(`Key Vault answered ${response.status} when reading ${secretName}`);
      }
      return parseRing(parsed['value'], `${secretName} in Key Vault`);
    },
    async write(keys) {
      const body = JSON.stringify({
        value: formatRing(keys),
        contentType: 'text/plain; kid:base64key[,kid:base64key...], current key first',
      });
      const response = await call('PUT', body);
      if (!response.ok)
        throw new KeyRingError(`Key Vault answered ${response.status} when writing ${secretName}`);
    },
  };
}

/**
 * The provision hooks' step: the value TOKEN_CACHE_KEYS must have in the azd environment for this provision.
 * A ring only when Key Vault holds none (infra/main.bicep writes it then); '' otherwise, so no provision replaces
 * the vault's ring.
 */
export async function ensureRing(
  environment: Environment,
  vault: KeyRingVault,
  dependencies: KeyRingDependencies,
): Promise<string> {
  const local = value(environment, RING_VARIABLE);
  if (await vault.exists()) {
    dependencies.log(
      local === ''
        ? 'token-cache-keys: Key Vault holds the ring; provisioning leaves it as it is'
        : `token-cache-keys: Key Vault holds the ring, the one source of truth: ${RING_VARIABLE} in this azd ` +
            'environment is cleared and never written there (to rotate: `npm run keys -- add`, docs/deployment.md)',
    );
    return '';
  }
  if (local !== '') {
    const keys = parseRing(local, RING_VARIABLE);
    dependencies.log(
      `token-cache-keys: Key Vault holds no ring yet; this provision writes ${describeRing(keys)}`,
    );
    return local;
  }
  const keys = [newKey(dependencies)];
  dependencies.log(
    `token-cache-keys: created ring ${describeRing(keys)}; this provision writes it to Key Vault`,
  );
  return formatRing(keys);
}

/**
 * Writes `next`, made from `read`, unless the vault's ring, read again just before, changed meanwhile or may not be
 * replaced by it.
 */
async function replaceRing(
  vault: KeyRingVault,
  read: readonly RingKey[],
  next: readonly RingKey[],
): Promise<void> {
  const current = await vault.read();
  const refusal =
    current !== undefined && formatRing(current) !== formatRing(read)
      ? `it changed since this command read it (now ${describeRing(current)}); run the command again`
      : replacementRefusal(current ?? [], next);
  if (refusal !== undefined) throw new KeyRingError(`refused to write the key ring to Key Vault: ${refusal}`);
  await vault.write(next);
}

async function vaultRing(vault: KeyRingVault): Promise<RingKey[]> {
  const keys = await vault.read();
  if (keys === undefined || keys.length === 0) {
    throw new KeyRingError('Key Vault holds no key ring: run `azd provision` first');
  }
  return keys;
}

/** A new key for the vault's ring `keys`, with an id no key of the ring has. */
function unusedKey(keys: readonly RingKey[], dependencies: KeyRingDependencies): RingKey {
  const added = newKey(dependencies);
  if (keys.some((k) => k.kid === added.kid)) {
    throw new KeyRingError(`key id ${added.kid} exists; try again in a second`);
  }
  return added;
}

/** A new key in front of the vault's ring (staging and promotion at once, for a compromised key). */
export async function rotateRing(vault: KeyRingVault, dependencies: KeyRingDependencies): Promise<RingKey[]> {
  const keys = await vaultRing(vault);
  const next = [unusedKey(keys, dependencies), ...keys];
  await replaceRing(vault, keys, next);
  return next;
}

/** A new key staged right after the vault's current key: every host decrypts with it once it has the ring. */
export async function addKey(vault: KeyRingVault, dependencies: KeyRingDependencies): Promise<RingKey[]> {
  const keys = await vaultRing(vault);
  const [current, ...older] = keys;
  if (current === undefined) throw new KeyRingError('Key Vault holds no key ring: run `azd provision` first');
  const staged = stagedKey(keys);
  if (staged !== undefined) throw new KeyRingError(`${staged.kid} is staged already: promote it first`);
  const added = unusedKey(keys, dependencies);
  if (!isNewerKid(added.kid, current.kid)) {
    throw new KeyRingError(
      `cannot stage ${added.kid} after ${current.kid}: a staged key's id must be a later k<UTC time>; use rotate`,
    );
  }
  const next = [current, added, ...older];
  await replaceRing(vault, keys, next);
  return next;
}

/** The staged key (or `kid`) made current; `replacementRefusal` lets only the staged key through. */
export async function promoteKey(vault: KeyRingVault, kid: string | undefined): Promise<RingKey[]> {
  const keys = await vaultRing(vault);
  const promoted = kid ?? stagedKey(keys)?.kid;
  if (promoted === undefined) {
    throw new KeyRingError(`no key is staged after ${keys[0]?.kid ?? ''}: add one first`);
  }
  if (keys[0]?.kid === promoted) throw new KeyRingError(`${promoted} is the current key already`);
  const key = keys.find((k) => k.kid === promoted);
  if (key === undefined) throw new KeyRingError(`no key ${promoted} in the ring`);
  const next = [key, ...keys.filter((k) => k.kid !== promoted)];
  await replaceRing(vault, keys, next);
  return next;
}

/** The vault's ring without `kid` (default: its oldest key), never without its current key. */
export async function retireKey(vault: KeyRingVault, kid: string | undefined): Promise<RingKey[]> {
  const keys = await vaultRing(vault);
  const oldest = keys.length > 1 ? keys[keys.length - 1] : undefined;
  const staged = stagedKey(keys);
  if (kid === undefined && oldest !== undefined && oldest === staged) {
    throw new KeyRingError(
      `the ring holds the current key ${keys[0]?.kid ?? ''} and the staged ${staged.kid} only: promote first`,
    );
  }
  const retired = kid ?? oldest?.kid;
  if (retired === undefined)
    throw new KeyRingError(`the ring holds one key, ${keys[0]?.kid ?? ''}: rotate first`);
  if (keys[0]?.kid === retired) throw new KeyRingError(`${retired} is the current key: rotate first`);
  if (!keys.some((k) => k.kid === retired)) throw new KeyRingError(`no key ${retired} in the ring`);
  const next = keys.filter((k) => k.kid !== retired);
  await replaceRing(vault, keys, next);
  return next;
}

/** The azd environment: inside a hook azd passes it as environment variables; outside, `azd env get-values`. */
function azdEnvironment(): Environment {
  if (process.env['AZD_ENVIRONMENT_NAME'] !== undefined || process.env['AZURE_ENV_NAME'] !== undefined) {
    return process.env;
  }
  const values: unknown = JSON.parse(azd(['env', 'get-values', '--output', 'json']));
  const fromAzd: Record<string, string> = {};
  if (isRecord(values)) {
    for (const [name, entry] of Object.entries(values)) if (typeof entry === 'string') fromAzd[name] = entry;
  }
  return { ...fromAzd, ...process.env };
}

function azd(args: string[]): string {
  return execFileSync('azd', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

const NEXT_STEP =
  'Next: refresh the app\'s Key Vault references (docs/deployment.md, "Rotate the cache encryption key") so every instance reloads the ring.';
const COMMANDS = ['ensure', 'show', 'add', 'promote', 'rotate', 'retire'] as const;

function isCommand(command: string | undefined): command is (typeof COMMANDS)[number] {
  return COMMANDS.some((known) => known === command);
}

async function main(): Promise<void> {
  const [command, argument] = process.argv.slice(2);
  if (!isCommand(command)) {
    console.error(
      'usage: npm run keys -- show | add | promote [kid] | retire [kid] | rotate   (ensure: the azd provision hooks)',
    );
    process.exit(2);
  }
  const environment = azdEnvironment();
  const { AzureDeveloperCliCredential } = await import('@azure/identity');
  const tenantId = environment['AZURE_TENANT_ID'] ?? '';
  const credential = new AzureDeveloperCliCredential(tenantId === '' ? {} : { tenantId });
  const dependencies: KeyRingDependencies = {
    fetch,
    token: async (scope) => (await credential.getToken(scope)).token,
    log: (line) => console.log(line),
    now: () => new Date(),
    randomKey: () => randomBytes(KEY_BYTES),
  };
  const vault = keyVaultOf(environment, dependencies);
  switch (command) {
    case 'ensure': {
      const ring = await ensureRing(environment, vault, dependencies);
      // `azd env set` is azd's documented way for a hook to store values in the environment.
      if (ring !== (environment[RING_VARIABLE] ?? '')) azd(['env', 'set', RING_VARIABLE, ring]);
      break;
    }
    case 'show':
      console.log(`token-cache-keys: ${describeRing(await vaultRing(vault))}`);
      break;
    case 'add':
      console.log(
        `token-cache-keys: Key Vault now holds ${describeRing(await addKey(vault, dependencies))}. ${NEXT_STEP} ` +
          'Then `npm run keys -- promote`.',
      );
      break;
    case 'promote':
      console.log(
        `token-cache-keys: Key Vault now holds ${describeRing(await promoteKey(vault, argument))}. ${NEXT_STEP}`,
      );
      break;
    case 'rotate':
      console.log(
        `token-cache-keys: Key Vault now holds ${describeRing(await rotateRing(vault, dependencies))}. ${NEXT_STEP}`,
      );
      break;
    case 'retire':
      console.log(
        `token-cache-keys: Key Vault now holds ${describeRing(await retireKey(vault, argument))}. ${NEXT_STEP}`,
      );
      break;
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    await main();
  } catch (error) {
    console.error(`token-cache-keys: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
