#!/usr/bin/env node
// Manages the token cache encryption key ring held in the azd environment as TOKEN_CACHE_KEYS.
// `azd provision` passes it (a @secure() parameter) to Key Vault; the app reads it through a Key Vault reference.
// Format: "kid:base64key[,kid:base64key...]", 32 random bytes per key, the current (encrypting) key first; every
// key in the ring can decrypt. Prints key ids only, never key material.
//
//   node infra/scripts/token-cache-keys.mjs ensure        create a one-key ring if there is none, neither here nor
//                                                         in the environment's Key Vault (preprovision hook)
//   node infra/scripts/token-cache-keys.mjs show          list the key ids, current first
//   node infra/scripts/token-cache-keys.mjs add           append a new key: readable everywhere, not yet current
//   node infra/scripts/token-cache-keys.mjs promote [kid] make a key (default: the newest) the current one
//   node infra/scripts/token-cache-keys.mjs retire <kid>  drop a key that is no longer current
//
// After add, promote or retire: `azd provision`, then refresh the app's Key Vault references (README).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

const VARIABLE = 'TOKEN_CACHE_KEYS';
const KEY_BYTES = 32;
// The app (shared/config.ts) accepts these ids.
const KID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** @typedef {{ kid: string, key: string }} RingKey */

/** @returns {Record<string, unknown>} the azd environment's values */
function azdValues() {
  return JSON.parse(azd(['env', 'get-values', '--output', 'json']));
}

/** @param {string} name @returns {string} a value of the azd environment, or '' */
function readValue(name) {
  // Inside an azd hook the environment's values are already in process.env.
  const value = process.env[name] ?? azdValues()[name];
  return typeof value === 'string' ? value : '';
}

/** @returns {string} the ring in the azd environment, or '' */
function readRing() {
  return readValue(VARIABLE);
}

/**
 * Whether this environment's Key Vault already holds a ring, asked of Resource Manager with azd's sign-in.
 * Resource Manager answers with the secret's metadata, never its value, and needs no Key Vault data-plane role.
 * Without a provisioned vault (first `azd up`) there is nothing to ask: false.
 * @returns {Promise<boolean>}
 */
async function ringExistsInKeyVault() {
  const subscription = readValue('AZURE_SUBSCRIPTION_ID');
  const resourceGroup = readValue('AZURE_RESOURCE_GROUP');
  const vault = readValue('AZURE_KEY_VAULT_NAME');
  const secret = readValue('TOKEN_CACHE_KEYS_SECRET_NAME') || 'token-cache-keys';
  if (subscription === '' || resourceGroup === '' || vault === '') return false;
  const endpoint = process.env.AZURE_RESOURCE_MANAGER_ENDPOINT ?? 'https://management.azure.com';
  // azd's own sign-in through @azure/identity (installed by infra/scripts/azd-hook.mjs before this runs).
  const { AzureDeveloperCliCredential } = await import('@azure/identity');
  const tenantId = readValue('AZURE_TENANT_ID');
  const credential = new AzureDeveloperCliCredential(tenantId === '' ? {} : { tenantId });
  const { token } = await credential.getToken(`${endpoint}/.default`);
  const url =
    `${endpoint}/subscriptions/${encodeURIComponent(subscription)}/resourceGroups/${encodeURIComponent(resourceGroup)}` +
    `/providers/Microsoft.KeyVault/vaults/${encodeURIComponent(vault)}/secrets/${encodeURIComponent(secret)}` +
    '?api-version=2024-11-01';
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (response.status === 200) return true;
  if (response.status === 404) return false;
  fail(`cannot tell whether ${vault} holds ${secret}: Resource Manager answered ${response.status}`);
}

/** @param {string} ring */
function writeRing(ring) {
  azd(['env', 'set', VARIABLE, ring]);
}

/** @param {string[]} args */
function azd(args) {
  return execFileSync('azd', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

/** @param {string} ring @returns {RingKey[]} */
function parseRing(ring) {
  const keys = ring.split(',').map((entry, index) => {
    const separator = entry.indexOf(':');
    const kid = entry.slice(0, separator);
    const key = entry.slice(separator + 1);
    if (separator < 1 || !KID_PATTERN.test(kid)) {
      fail(`${VARIABLE}: entry ${index + 1} has no valid key id (expected kid:base64key)`);
    }
    if (Buffer.from(key, 'base64').length !== KEY_BYTES) {
      fail(`${VARIABLE}: key "${kid}" is not ${KEY_BYTES} bytes of base64`);
    }
    return { kid, key };
  });
  if (new Set(keys.map((k) => k.kid)).size !== keys.length) fail(`${VARIABLE}: a key id appears twice`);
  return keys;
}

/** @param {RingKey[]} keys */
function formatRing(keys) {
  return keys.map(({ kid, key }) => `${kid}:${key}`).join(',');
}

/** @returns {RingKey} */
function newKey() {
  // A sortable, timestamped id: the newest key is the one with the greatest id.
  const kid = `k${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}`;
  return { kid, key: randomBytes(KEY_BYTES).toString('base64') };
}

/** @param {string} message @returns {never} */
function fail(message) {
  console.error(`token-cache-keys: ${message}`);
  process.exit(1);
}

/** @param {RingKey[]} keys */
function describe(keys) {
  return keys.map(({ kid }, index) => (index === 0 ? `${kid} (current)` : kid)).join(', ');
}

const [command, argument] = process.argv.slice(2);
const current = readRing();

switch (command) {
  case 'ensure': {
    if (current !== '') {
      console.log(`token-cache-keys: ring present: ${describe(parseRing(current))}`);
      break;
    }
    if (await ringExistsInKeyVault()) {
      // A new ring here would replace the one in use: every cached token would become unreadable.
      console.log(
        'token-cache-keys: no ring in this azd environment, but Key Vault holds one; provisioning leaves it as it is. ' +
          `To rotate from this machine, first copy ${VARIABLE} from the azd environment that created it.`,
      );
      break;
    }
    const keys = [newKey()];
    writeRing(formatRing(keys));
    console.log(`token-cache-keys: created ring: ${describe(keys)}`);
    break;
  }
  case 'show':
    console.log(current === '' ? 'token-cache-keys: no ring' : describe(parseRing(current)));
    break;
  case 'add': {
    if (current === '')
      fail(`no ring in this azd environment; run \`ensure\` or copy ${VARIABLE} here first`);
    const keys = parseRing(current);
    const added = newKey();
    if (keys.some((k) => k.kid === added.kid)) fail(`key id ${added.kid} exists; try again in a second`);
    keys.push(added);
    writeRing(formatRing(keys));
    console.log(
      `token-cache-keys: added ${added.kid}: ${describe(keys)}. Next: azd provision, refresh, then promote.`,
    );
    break;
  }
  case 'promote': {
    const keys = parseRing(current);
    const kid = argument ?? [...keys].sort((a, b) => b.kid.localeCompare(a.kid))[0]?.kid;
    const chosen = keys.find((k) => k.kid === kid);
    if (chosen === undefined) fail(`no key ${kid} in the ring`);
    const reordered = [chosen, ...keys.filter((k) => k !== chosen)];
    writeRing(formatRing(reordered));
    console.log(`token-cache-keys: ${describe(reordered)}. Next: azd provision, then refresh.`);
    break;
  }
  case 'retire': {
    const keys = parseRing(current);
    if (argument === undefined) fail('retire needs a key id');
    if (keys[0]?.kid === argument) fail(`${argument} is the current key; promote another key first`);
    if (!keys.some((k) => k.kid === argument)) fail(`no key ${argument} in the ring`);
    const remaining = keys.filter((k) => k.kid !== argument);
    writeRing(formatRing(remaining));
    console.log(
      `token-cache-keys: retired ${argument}: ${describe(remaining)}. Next: azd provision, then refresh.`,
    );
    break;
  }
  default:
    fail('usage: token-cache-keys.mjs ensure | show | add | promote [kid] | retire <kid>');
}
