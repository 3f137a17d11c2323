// The Graph emulator's route table: each method and path it serves, its request kind (counted, faultable), the
// delegated permissions it needs and how Graph refuses a token without one (directory objects answer
// `Authorization_RequestDenied`, Outlook `ErrorAccessDenied`). The lists of collections.ts add their own rows.
import { GRAPH_ME_COLLECTIONS, type GraphCollection } from './collections.js';

export interface GraphPathRule {
  method: 'GET' | 'POST';
  /** Matches the raw path (no trailing slash, no query, nothing decoded). */
  pattern: RegExp;
  /** The emulator's request kind (counted and faultable). */
  kind: string;
  /** Any one of these is enough (lower case, as compared). */
  anyOf: readonly string[];
  denied: { code: string; message: string };
  /** A list served from data (collections.ts). */
  collection?: GraphCollection;
}

const DIRECTORY_DENIED = {
  code: 'Authorization_RequestDenied',
  message: 'Insufficient privileges to complete the operation.',
};
const OUTLOOK_DENIED = {
  code: 'ErrorAccessDenied',
  message: 'Access is denied. Check credentials and try again.',
};

const SERVED_PATHS: readonly GraphPathRule[] = [
  {
    method: 'GET',
    pattern: /^\/v1\.0\/me$/i,
    kind: 'me',
    anyOf: ['user.read', 'user.readwrite', 'user.read.all', 'user.readwrite.all', 'directory.read.all'],
    denied: DIRECTORY_DENIED,
  },
  {
    method: 'GET',
    pattern: /^\/v1\.0\/me\/(calendarview|events)$/i,
    kind: 'calendar',
    anyOf: ['calendars.readbasic', 'calendars.read', 'calendars.readwrite'],
    denied: OUTLOOK_DENIED,
  },
  {
    method: 'POST',
    pattern: /^\/v1\.0\/me\/events$/i,
    kind: 'events.create',
    anyOf: ['calendars.readwrite'],
    denied: OUTLOOK_DENIED,
  },
];

export const GRAPH_PATH_RULES: readonly GraphPathRule[] = [
  ...SERVED_PATHS,
  ...GRAPH_ME_COLLECTIONS.map((collection): GraphPathRule => {
    const path = `/v1.0/me/${collection.name}`;
    const taken = SERVED_PATHS.find((rule) => rule.method === 'GET' && rule.pattern.test(path));
    if (taken !== undefined || !/^[A-Za-z]+$/.test(collection.name)) {
      throw new Error(`collections.ts: ${path} is not a free path (${taken?.kind ?? 'letters only'})`);
    }
    return {
      method: 'GET',
      pattern: new RegExp(`^\\/v1\\.0\\/me\\/${collection.name}$`, 'i'),
      kind: collection.name,
      anyOf: collection.permissions.map((permission) => permission.toLowerCase()),
      denied: collection.denied === 'outlook' ? OUTLOOK_DENIED : DIRECTORY_DENIED,
      collection,
    };
  }),
];

/** Every request kind the emulator counts: one per route, and `other` for the paths it does not serve. */
export const GRAPH_KINDS: readonly string[] = [
  ...new Set(GRAPH_PATH_RULES.map((rule) => rule.kind)),
  'other',
];

/** The rule for `method` on `path`; undefined for a path (or a method on it) Graph does not serve here. */
export function ruleFor(path: string, method = 'GET'): GraphPathRule | undefined {
  const trimmed = trimSlash(path);
  return GRAPH_PATH_RULES.find((rule) => rule.method === method && rule.pattern.test(trimmed));
}

/** Whether some rule serves `path` with another method (Graph then answers 405). */
export function servedWithOtherMethod(path: string, method: string): boolean {
  const trimmed = trimSlash(path);
  return GRAPH_PATH_RULES.some((rule) => rule.method !== method && rule.pattern.test(trimmed));
}

/** Whether a token's `scp` grants the path. */
export function permits(rule: GraphPathRule, scp: unknown): boolean {
  const granted = typeof scp === 'string' ? scp.toLowerCase().split(' ') : [];
  return rule.anyOf.some((permission) => granted.includes(permission));
}

function trimSlash(path: string): string {
  return path.length > 1 ? path.replace(/\/$/, '') : path;
}
