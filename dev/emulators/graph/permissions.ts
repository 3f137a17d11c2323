// Which delegated permissions each Graph path of the emulator needs, and how Graph refuses a token without
// one: directory objects answer `Authorization_RequestDenied`, Outlook (calendar) `ErrorAccessDenied`.

export interface GraphPathRule {
  /** Matches the path (no trailing slash, no query). */
  pattern: RegExp;
  /** The emulator's request kind (counted and faultable). */
  kind: 'me' | 'calendar';
  /** Any one of these is enough (lower case, as compared). */
  anyOf: readonly string[];
  denied: { code: string; message: string };
}

const DIRECTORY_DENIED = {
  code: 'Authorization_RequestDenied',
  message: 'Insufficient privileges to complete the operation.',
};
const OUTLOOK_DENIED = {
  code: 'ErrorAccessDenied',
  message: 'Access is denied. Check credentials and try again.',
};

export const GRAPH_PATH_RULES: readonly GraphPathRule[] = [
  {
    pattern: /^\/v1\.0\/me$/i,
    kind: 'me',
    anyOf: ['user.read', 'user.readwrite', 'user.read.all', 'user.readwrite.all', 'directory.read.all'],
    denied: DIRECTORY_DENIED,
  },
  {
    pattern: /^\/v1\.0\/me\/(calendarview|events)$/i,
    kind: 'calendar',
    anyOf: ['calendars.readbasic', 'calendars.read', 'calendars.readwrite'],
    denied: OUTLOOK_DENIED,
  },
];

export function ruleFor(path: string): GraphPathRule | undefined {
  const trimmed = path.length > 1 ? path.replace(/\/$/, '') : path;
  return GRAPH_PATH_RULES.find((rule) => rule.pattern.test(trimmed));
}

/** Whether a token's `scp` grants the path. */
export function permits(rule: GraphPathRule, scp: unknown): boolean {
  const granted = typeof scp === 'string' ? scp.toLowerCase().split(' ') : [];
  return rule.anyOf.some((permission) => granted.includes(permission));
}
