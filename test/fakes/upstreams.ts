/**
 * Entra ID (OpenID metadata, JWKS, the OBO token endpoint) and Microsoft Graph behind one injected
 * `fetch`, for handler tests without the sandbox: msal-node and jose run unmodified over it.
 */
import {
  API_CLIENT_ID,
  AUTHORITY_HOST,
  JWKS_URL,
  newSigningKey,
  type SigningKey,
  signToken,
  TENANT_ID,
  USER_NAME,
  USER_OID,
  userClaims,
  v2Issuer,
} from '../unit/auth/entraFixture.js';

const GRAPH_ORIGIN = 'https://graph.microsoft.com';

/** One RSA key for every instance: generating a 2048-bit key takes longer than a handler test. */
let sharedKey: SigningKey | undefined;

export class FakeUpstreams {
  readonly key: SigningKey = (sharedKey ??= newSigningKey('fake-entra-key'));
  readonly calls = { jwks: 0, metadata: 0, obo: 0, graph: 0 };
  /** When set, the OBO token endpoint answers only once this promise settles (an exchange held in flight). */
  oboGate: Promise<void> | undefined;
  /** Statuses Graph answers before it answers 200 (each 503 carries `Retry-After: 1`). */
  graphFailures: number[] = [];

  /** A valid access token for this API, signed by the fake tenant's key. */
  userToken(claims: Record<string, unknown> = {}): string {
    return signToken(userClaims(claims), this.key);
  }

  readonly fetch: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.href === JWKS_URL) {
      this.calls.jwks++;
      return json({ keys: [this.key.publicJwk] });
    }
    if (url.origin === AUTHORITY_HOST && url.pathname.endsWith('/v2.0/.well-known/openid-configuration')) {
      this.calls.metadata++;
      return json(openIdConfiguration());
    }
    if (url.origin === AUTHORITY_HOST && url.pathname === `/${TENANT_ID}/oauth2/v2.0/token`) {
      this.calls.obo++;
      if (this.oboGate !== undefined) await this.oboGate;
      return json(this.oboResponse(new URLSearchParams(typeof init?.body === 'string' ? init.body : '')));
    }
    if (url.origin === GRAPH_ORIGIN && url.pathname === '/v1.0/me') {
      this.calls.graph++;
      const status = this.graphFailures.shift();
      if (status !== undefined)
        return json({ error: { code: 'serviceNotAvailable', message: 'injected' } }, status, {
          'Retry-After': '1',
        });
      return json({ id: USER_OID, displayName: USER_NAME, userPrincipalName: 'adelev@contoso.example' });
    }
    return json({ error: 'not_found' }, 404);
  };

  private oboResponse(form: URLSearchParams): Record<string, unknown> {
    const scopes = (form.get('scope') ?? '').split(' ');
    const response: Record<string, unknown> = {
      token_type: 'Bearer',
      scope: 'https://graph.microsoft.com/User.Read',
      expires_in: 3600,
      ext_expires_in: 3600,
      access_token: `graph-token-${this.calls.obo}`,
    };
    if (scopes.includes('openid')) {
      response.id_token = signToken(
        { aud: API_CLIENT_ID, iss: v2Issuer(), oid: USER_OID, tid: TENANT_ID, sub: 'b3X1k9Qw', ver: '2.0' },
        this.key,
      );
    }
    if (form.get('client_info') === '1') {
      response.client_info = Buffer.from(JSON.stringify({ uid: USER_OID, utid: TENANT_ID })).toString(
        'base64url',
      );
    }
    return response;
  }
}

function openIdConfiguration(): Record<string, unknown> {
  const tenant = `${AUTHORITY_HOST}/${TENANT_ID}`;
  return {
    token_endpoint: `${tenant}/oauth2/v2.0/token`,
    authorization_endpoint: `${tenant}/oauth2/v2.0/authorize`,
    end_session_endpoint: `${tenant}/oauth2/v2.0/logout`,
    jwks_uri: JWKS_URL,
    issuer: v2Issuer(),
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt'],
    response_types_supported: ['code', 'id_token'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
  };
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}
