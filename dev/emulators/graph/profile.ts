// The user a Graph token names, as the emulator answers `/v1.0/me` and fills organizers and collections.
import type { JWTPayload } from 'jose';

import type { GraphUser } from './collections.js';

export function profileOf(claims: JWTPayload, baseUrl: string): Record<string, unknown> {
  const name = typeof claims.name === 'string' ? claims.name : '';
  const upn =
    [claims.upn, claims.unique_name, claims.preferred_username].find(
      (v): v is string => typeof v === 'string',
    ) ?? null;
  const [first, ...rest] = name.split(' ');
  return {
    '@odata.context': `${baseUrl}/v1.0/$metadata#users/$entity`,
    businessPhones: [],
    displayName: name,
    givenName: typeof claims.given_name === 'string' ? claims.given_name : (first ?? null),
    jobTitle: null,
    mail: upn,
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: null,
    surname: typeof claims.family_name === 'string' ? claims.family_name : rest.join(' ') || null,
    userPrincipalName: upn,
    id: claims.oid,
  };
}

/** The token's user: its tenant and object id, its name and mail as `/v1.0/me` answers them. */
export function userOf(claims: JWTPayload): GraphUser {
  const profile = profileOf(claims, '');
  return {
    tid: String(claims.tid),
    oid: String(claims.oid),
    name: typeof profile.displayName === 'string' ? profile.displayName : '',
    mail: typeof profile.mail === 'string' ? profile.mail : '',
  };
}
