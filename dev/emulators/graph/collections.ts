// The lists under `/v1.0/me/` the Graph emulator serves from data: one entry each, and the emulator routes it
// (`GET /v1.0/me/<name>`), checks its permissions, counts it as its own request kind (`<name>`, faultable), and
// answers its pages as Graph does (`$top`, `$select`, `@odata.nextLink` with a `$skiptoken`: paging.ts).
// A new Graph list operation of the API needs only its entry here.
import { createHash } from 'node:crypto';

/** The user a Graph token names, as a collection's items see it. */
export interface GraphUser {
  readonly tid: string;
  readonly oid: string;
  readonly name: string;
  readonly mail: string;
}

export interface GraphCollection {
  /** Its segment under `/v1.0/me/` (matched without regard to case, as Graph does). */
  readonly name: string;
  /** Delegated permissions, any one of which grants the list (Graph's permissions reference for its GET). */
  readonly permissions: readonly string[];
  /** How Graph refuses a token without one: Outlook's answer (mail, contacts, calendars) or the directory's. */
  readonly denied: 'outlook' | 'directory';
  /** The user's items, in the order Graph lists them; the same on every call. */
  readonly items: (user: GraphUser) => readonly Record<string, unknown>[];
}

export const GRAPH_ME_COLLECTIONS: readonly GraphCollection[] = [
  {
    name: 'contacts',
    permissions: ['Contacts.Read', 'Contacts.ReadWrite'],
    denied: 'outlook',
    items: (user) =>
      sampleItems(user, 'contacts', 12, (i) => ({
        displayName: `Contact ${i + 1}`,
        emailAddresses: [{ name: `Contact ${i + 1}`, address: `contact${i + 1}@example.com` }],
      })),
  },
];

/** `count` items for the user, each with a stable Graph-like id (base64url, as Outlook's) and `fields(i)`. */
export function sampleItems(
  user: GraphUser,
  collection: string,
  count: number,
  fields: (i: number) => Record<string, unknown>,
): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `AAMk${createHash('sha256').update(`${user.tid}:${user.oid}:${collection}:${i}`).digest('base64url').slice(0, 32)}`,
    ...fields(i),
  }));
}
