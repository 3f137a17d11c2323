// How the API authenticates its on-behalf-of exchanges to Entra (OBO_CLIENT_CREDENTIAL and the identities or secret
// it names), and the client capabilities it declares (OBO_CLIENT_CAPABILITIES).
import type { Cloud } from './clouds.js';
import type { SettingReader } from './settingReader.js';

export type OboCredential =
  | { kind: 'client-secret'; secret: string }
  | {
      kind: 'managed-identity';
      /**
       * The identity whose token is the client assertion (OBO_FEDERATION_IDENTITY_CLIENT_ID): the only one the
       * API's federated credential trusts, apart from the data-plane identity (MANAGED_IDENTITY_CLIENT_ID).
       */
      federationIdentityClientId: string | undefined;
      /** The audience that identity's token is asked for: Entra's token exchange in this cloud. */
      tokenExchangeAudience: string;
    };

export interface OboCredentialSettings {
  credential: OboCredential;
  /** MANAGED_IDENTITY_CLIENT_ID: the data-plane identity (Cosmos DB), and the federation identity by default. */
  managedIdentityClientId: string | undefined;
  /** Settings that are valid but have no effect with this credential: warned about once the app starts. */
  ignored: string[];
}

export function readOboCredential(read: SettingReader, cloud: Cloud): OboCredentialSettings {
  const credentialKind = read.oneOf(
    'OBO_CLIENT_CREDENTIAL',
    ['managed-identity', 'client-secret'] as const,
    'managed-identity',
  );
  const managedIdentityClientId = read.optionalGuid('MANAGED_IDENTITY_CLIENT_ID');
  const federationIdentityClientId = read.optionalGuid('OBO_FEDERATION_IDENTITY_CLIENT_ID');
  const credential: OboCredential =
    credentialKind === 'client-secret'
      ? { kind: 'client-secret', secret: read.required('OBO_CLIENT_SECRET') }
      : {
          kind: 'managed-identity',
          // One identity for both (a local run, the sandbox) unless the federated credential has its own.
          federationIdentityClientId: federationIdentityClientId ?? managedIdentityClientId,
          tokenExchangeAudience: cloud.tokenExchangeAudience,
        };
  const ignored: string[] = [];
  if (credentialKind === 'managed-identity' && read.optional('OBO_CLIENT_SECRET') !== undefined) {
    ignored.push(
      'OBO_CLIENT_SECRET is set but ignored: OBO_CLIENT_CREDENTIAL is managed-identity. ' +
        'Remove the secret, or set OBO_CLIENT_CREDENTIAL=client-secret to use it.',
    );
  }
  if (credentialKind === 'client-secret' && federationIdentityClientId !== undefined) {
    ignored.push(
      'OBO_FEDERATION_IDENTITY_CLIENT_ID is set but ignored: OBO_CLIENT_CREDENTIAL is client-secret. ' +
        'Remove it, or set OBO_CLIENT_CREDENTIAL=managed-identity to use the federated credential.',
    );
  }
  return { credential, managedIdentityClientId, ignored };
}

/** Comma-separated capability names (`cp1`), or `none` for no capability. */
export function readClientCapabilities(read: SettingReader, name: string, fallback: string[]): string[] {
  const value = read.optional(name);
  if (value === undefined) return fallback;
  if (value.toLowerCase() === 'none') return [];
  const items = read.list(name, fallback);
  if (items.length === 0 || items.some((item) => !/^[A-Za-z0-9_-]{1,32}$/.test(item))) {
    read.problem(name, 'must be a comma-separated list of capabilities (cp1), or none');
    return fallback;
  }
  return items;
}
