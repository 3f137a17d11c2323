// How a confidential client proves itself at the token endpoint: a client secret (body or Basic) or a client
// assertion matched against its federated credentials. Shared by every grant that needs a confidential client.
import { createHash, timingSafeEqual } from 'node:crypto';

import type { Outcome } from './errors.js';
import { fail } from './errors.js';
import { verifyClientAssertion } from './federation.js';
import { API_CLIENT_ID } from './fixtures.js';
import type { GrantContext, TokenRequest } from './grants.js';

const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export type ClientCredential = 'secret' | 'assertion';

export async function authenticateClient(
  request: TokenRequest,
  context: GrantContext,
): Promise<Outcome<ClientCredential>> {
  const { form } = request;
  const secret = form.get('client_secret') ?? request.basic?.secret;
  const clientAssertion = form.get('client_assertion');
  if (secret !== undefined && clientAssertion !== null) {
    return fail(
      400,
      'invalid_request',
      90023,
      'Invalid client authentication: both client_secret and client_assertion were presented.',
    );
  }
  if (secret !== undefined) {
    return sameSecret(secret, context.clientSecret)
      ? { ok: true, value: 'secret' }
      : fail(
          401,
          'invalid_client',
          7000215,
          `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${API_CLIENT_ID}'.`,
        );
  }
  if (clientAssertion === null) {
    return fail(
      401,
      'invalid_client',
      7000218,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    );
  }
  if (form.get('client_assertion_type') !== CLIENT_ASSERTION_TYPE) {
    return fail(
      400,
      'invalid_request',
      90014,
      "The required field 'client_assertion_type' is missing or is not 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.",
    );
  }
  const verified = await verifyClientAssertion(
    clientAssertion,
    context.federatedCredentials,
    context.keys.jwks(),
  );
  return verified.ok ? { ok: true, value: 'assertion' } : verified;
}

function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
