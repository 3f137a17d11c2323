import { describe, expect, test } from '@jest/globals';

import { assertionHashOf, cacheEntryKeyOf, scopeSetIdOf } from '../../shared/obo/cacheEntryKey.js';

const USER_READ = 'https://graph.microsoft.com/User.Read';
const CALENDARS_READ = 'https://graph.microsoft.com/Calendars.Read';

describe('scopeSetIdOf', () => {
  test('ignores order, case, duplicates and OIDC scopes', () => {
    const id = scopeSetIdOf([USER_READ, CALENDARS_READ]);
    expect(
      scopeSetIdOf([CALENDARS_READ.toLowerCase(), USER_READ, USER_READ, 'openid', 'offline_access']),
    ).toBe(id);
  });

  test('tells different scope sets apart', () => {
    expect(scopeSetIdOf([USER_READ])).not.toBe(scopeSetIdOf([CALENDARS_READ]));
    expect(scopeSetIdOf([USER_READ])).not.toBe(scopeSetIdOf([USER_READ, CALENDARS_READ]));
  });
});

describe('cacheEntryKeyOf', () => {
  test('is the assertion hash (as msal-node computes it) and the scope set id', () => {
    const key = cacheEntryKeyOf('a.b.c', [USER_READ]);
    expect(key).toBe(`${assertionHashOf('a.b.c')}.${scopeSetIdOf([USER_READ])}`);
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{16}$/);
  });

  test('gives one entry per (assertion, scope set)', () => {
    const keys = new Set(
      ['a.b.c', 'd.e.f'].flatMap((assertion) =>
        [[USER_READ], [CALENDARS_READ]].map((scopes) => cacheEntryKeyOf(assertion, scopes)),
      ),
    );
    expect(keys.size).toBe(4);
  });
});
