// The tenant's signing keys (rotation, the published JWKS) and the tokens minted with the current one.
import { randomBytes } from 'node:crypto';

import type { CryptoKey, JSONWebKeySet, JWK } from 'jose';
import { CompactSign, exportJWK, generateKeyPair } from 'jose';

import type { EntraDirectory } from './directory.js';
import {
  API_CLIENT_ID,
  API_SCOPE,
  HOME_TENANT,
  pairwiseSubject,
  sandboxTenant,
  SPA_CLIENT_ID,
  tenantUser,
} from './fixtures.js';

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export interface UserTokenOptions {
  /** Claims to add or override. */
  set?: Record<string, unknown>;
  /** Claims to remove. */
  unset?: string[];
  /** Default 3600; negative gives an already expired token. */
  lifetimeSeconds?: number;
  /** The client (azp) the token was issued to; default the SPA. */
  client?: string;
  /** The issuing tenant (id or domain); default the API's home tenant. */
  tenant?: string;
  /** A guest: the user's home tenant (id or domain), which differs from the issuing tenant. */
  homeTenant?: string;
}

/** What minting for another tenant, a guest or after a revocation needs from the server. */
export interface MintingDirectory {
  issuerOf(tenant: string): string;
  directory: EntraDirectory;
}

export interface IssuedUserToken {
  access_token: string;
  oid: string;
  tid: string;
}

/**
 * A change of the signing keys, as Entra rolls them over: a new key published (and used at once, or only
 * published: `publishOnly`), a published key put in use (`activate`), a key withdrawn (`retire`).
 */
export type KeyChange =
  { rotate: { retireOld?: boolean; publishOnly?: boolean } } | { activate: string } | { retire: string };

/** The signing keys, oldest first: one signs (the newest unless another was activated), all are published until retired. */
export class SigningKeys {
  readonly #keys: SigningKey[];
  readonly #issuer: () => string;
  #signing: SigningKey;

  private constructor(first: SigningKey, issuer: () => string) {
    this.#keys = [first];
    this.#signing = first;
    this.#issuer = issuer;
  }

  /** `issuer` (known once the server listens) is published with each key, as Entra's JWKS does. */
  static async create(issuer: () => string): Promise<SigningKeys> {
    return new SigningKeys(await createSigningKey(), issuer);
  }

  get kids(): string[] {
    return this.#keys.map((key) => key.kid);
  }

  /** The key that signs what the emulator issues now. */
  get signingKid(): string {
    return this.#signing.kid;
  }

  /** A new signing key (used at once unless `publishOnly`); the previous ones stay published unless retired. Gives the new kid. */
  async rotate({ retireOld = false, publishOnly = false } = {}): Promise<string> {
    const key = await createSigningKey();
    if (retireOld) this.#keys.splice(0, this.#keys.length);
    this.#keys.push(key);
    if (!publishOnly) this.#signing = key;
    return key.kid;
  }

  /** Applies one change; throws (naming the kid) for a key that is not published or still signs. Gives the kid concerned. */
  async change(change: KeyChange): Promise<string> {
    if ('rotate' in change) return this.rotate(change.rotate);
    const kid = 'activate' in change ? change.activate : change.retire;
    const index = this.#keys.findIndex((key) => key.kid === kid);
    const key = this.#keys[index];
    if (key === undefined) throw new Error(`no published key "${kid}"`);
    if ('activate' in change) this.#signing = key;
    else if (key === this.#signing)
      throw new Error(`key "${kid}" signs: activate another before retiring it`);
    else this.#keys.splice(index, 1);
    return kid;
  }

  jwks(): JSONWebKeySet {
    return {
      keys: this.#keys.map(({ publicJwk }) => ({ ...publicJwk, use: 'sig', issuer: this.#issuer() })),
    };
  }

  /** An RS256 JWT of `payload` signed with the current key. */
  sign(payload: Record<string, unknown>): Promise<string> {
    const key = this.#signing;
    return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.kid })
      .sign(key.privateKey);
  }

  /** A user access token for the API, as a single-page app obtains it. */
  async mintUserToken(
    name: string,
    options: UserTokenOptions = {},
    minting?: MintingDirectory,
  ): Promise<IssuedUserToken> {
    const tenant = sandboxTenant(options.tenant ?? HOME_TENANT.id) ?? HOME_TENANT;
    const homeTenant = options.homeTenant === undefined ? undefined : sandboxTenant(options.homeTenant);
    if (minting === undefined && (tenant !== HOME_TENANT || homeTenant !== undefined)) {
      throw new Error('minting for another tenant or a guest needs the directory');
    }
    const user = tenantUser(name, tenant, homeTenant);
    if (user.home !== undefined) {
      minting?.directory.guestHomes.set(user.oid, { oid: user.home.oid, tenant: user.home.tenant.id });
    }
    // A sign-in after a revocation gets a token from the revocation's next second on.
    const validFrom = minting?.directory.revocations.validFrom(tenant.id, user.oid) ?? 0;
    // The API's app roles assigned to the user, as Entra issues them in the API's access tokens.
    const roles = minting?.directory.appRoles.rolesOf(tenant.id, user.oid) ?? [];
    const now = Math.max(Math.floor(Date.now() / 1000), validFrom);
    const claims: Record<string, unknown> = {
      aud: API_CLIENT_ID,
      iss: minting === undefined ? this.#issuer() : minting.issuerOf(tenant.id),
      iat: now,
      nbf: now,
      exp: now + (options.lifetimeSeconds ?? 3600),
      azp: options.client ?? SPA_CLIENT_ID,
      azpacr: '0',
      name: user.displayName,
      oid: user.oid,
      preferred_username: user.userPrincipalName,
      ...(roles.length === 0 ? {} : { roles }),
      scp: API_SCOPE,
      sub: pairwiseSubject(user.oid, API_CLIENT_ID),
      tid: tenant.id,
      uti: randomBytes(16).toString('base64url'),
      ver: '2.0',
      ...(user.home === undefined ? {} : { idp: `https://sts.windows.net/${user.home.tenant.id}/` }),
      ...options.set,
    };
    for (const claim of options.unset ?? []) delete claims[claim];
    return { access_token: await this.sign(claims), oid: user.oid, tid: tenant.id };
  }
}

async function createSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', {
    modulusLength: 2048,
    extractable: true,
  });
  const kid = randomBytes(20).toString('base64url');
  const { kty, n, e } = await exportJWK(publicKey);
  return { kid, privateKey, publicJwk: { kty, use: 'sig', kid, n, e } };
}
