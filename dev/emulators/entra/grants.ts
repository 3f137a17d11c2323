// The token endpoint's grants: one table, one module per grant type. A grant is a pure rule over the request's
// parameters and the tenant's state: a token response or an Entra error, testable without a server.
import type { EntraDirectory } from './directory.js';
import type { EntraError, Outcome } from './errors.js';
import { fail, missingParameter } from './errors.js';
import type { FederatedIdentityCredential } from './federation.js';
import type { TenantPath } from './fixtures.js';
import { CAE_TOKEN_LIFETIME_SECONDS } from './fixtures.js';
import type { SigningKeys } from './keys.js';
import { onBehalfOfGrant } from './oboGrant.js';

export interface EntraSettings {
  /** Lifetime of an OBO token without client capabilities. */
  oboTokenLifetimeSeconds: number;
  /** Lifetime of a CAE-capable OBO token (`xms_cc` cp1): Entra gives 20 to 28 hours; the emulator 24 by default. */
  caeTokenLifetimeSeconds: number;
  /** Lifetime of a user's access token for the API (the SPA's sign-in, `/_emulator/users/{name}/token`). */
  userTokenLifetimeSeconds: number;
}

/** The emulator's settings at start (and what `/_emulator/settings` can change back to). */
export const DEFAULT_ENTRA_SETTINGS: Readonly<EntraSettings> = {
  oboTokenLifetimeSeconds: 3600,
  caeTokenLifetimeSeconds: CAE_TOKEN_LIFETIME_SECONDS,
  userTokenLifetimeSeconds: 3600,
};

/** A token request as the endpoint received it. */
export interface TokenRequest {
  /** The form body (empty when it was not form-encoded). */
  form: URLSearchParams;
  /** `Authorization: Basic` client credentials, when sent. */
  basic?: { clientId: string; secret: string } | undefined;
  tenant: TenantPath;
}

/** The tenant's state a grant reads. */
export interface GrantContext {
  /** The v2 issuer of the API's home tenant's tokens. */
  issuer: string;
  /** The v2 issuer of a tenant's tokens. */
  issuerOf(tenant: string): string;
  /** Consents, revocations and guests (the directory's run-time state). */
  directory: EntraDirectory;
  keys: SigningKeys;
  /** The API app's client secret. */
  clientSecret: string;
  /** The API app's federated identity credentials. */
  federatedCredentials: readonly FederatedIdentityCredential[];
  settings: EntraSettings;
  /** Identifier URIs of Microsoft Graph (https://graph.microsoft.com first): a scope's prefix names one. */
  graphResources: readonly string[];
  /** Seconds since the epoch. */
  nowSeconds(): number;
  /** A Conditional Access answer (MFA) for an assertion that does not satisfy the downstream API's policy. */
  stepUpFailure?(assertion: Readonly<Record<string, unknown>>): EntraError | undefined;
}

export interface TokenGrant {
  /** The request kind counted for it (a fault's `kind`). */
  kind: string;
  matches(form: URLSearchParams): boolean;
  redeem(request: TokenRequest, context: GrantContext): Promise<Outcome<Record<string, unknown>>>;
}

/** Every grant the emulator supports; a new grant type is one more entry. */
export const TOKEN_GRANTS: readonly TokenGrant[] = [onBehalfOfGrant];

/** Token requests no grant matches. */
export const OTHER_TOKEN_KIND = 'token.other';

export function tokenKindOf(form: URLSearchParams): string {
  return TOKEN_GRANTS.find((grant) => grant.matches(form))?.kind ?? OTHER_TOKEN_KIND;
}

/** The token endpoint's answer to `request`: the grant's response, or Entra's error. */
export async function redeemToken(
  request: TokenRequest,
  context: GrantContext,
): Promise<Outcome<Record<string, unknown>>> {
  const grant = TOKEN_GRANTS.find((candidate) => candidate.matches(request.form));
  if (grant !== undefined) return grant.redeem(request, context);
  if (request.form.get('grant_type') === null) return missingParameter('grant_type');
  return fail(
    400,
    'unsupported_grant_type',
    70003,
    'The app requested an unsupported grant type. The sandbox supports only the on-behalf-of grant.',
  );
}
