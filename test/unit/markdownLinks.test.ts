import { describe, expect, test } from '@jest/globals';

import { githubSlug, headingAnchors, relativeLinks } from '../../scripts/markdownLinks.js';

describe('relativeLinks', () => {
  test('finds relative links and images with their lines, not absolute URLs', () => {
    const page = [
      'See [the API](docs/api.md#errors) and [below](#setup).',
      '![diagram](img/a.png "A") [site](https://example.com) [mail](mailto:a@b.c) [cdn](//cdn.example)',
      '[`npm test`](docs/development.md)',
    ].join('\n');
    expect(relativeLinks(page)).toEqual([
      { target: 'docs/api.md#errors', line: 1 },
      { target: '#setup', line: 1 },
      { target: 'img/a.png', line: 2 },
      { target: 'docs/development.md', line: 3 },
    ]);
  });

  test('skips links inside fenced code blocks and code spans', () => {
    const page = ['```md', '[a](missing.md)', '```', 'text `[b](missing.md)` [c](present.md)'].join('\n');
    expect(relativeLinks(page)).toEqual([{ target: 'present.md', line: 4 }]);
  });
});

describe('githubSlug', () => {
  test('lowercases, drops punctuation and code marks, keeps every space as a hyphen', () => {
    expect(githubSlug('Continuous access evaluation (CAE)')).toBe('continuous-access-evaluation-cae');
    expect(githubSlug('Under load: `npm run bench -- --load`')).toBe('under-load-npm-run-bench------load');
    expect(githubSlug('`TOKEN_CACHE_KEYS` and **bold** [link](x.md)')).toBe('token_cache_keys-and-bold-link');
  });
});

describe('headingAnchors', () => {
  test('numbers repeated headings and ignores headings in code blocks', () => {
    const page = ['# Title', '## Steps', '```sh', '# not a heading', '```', '## Steps', '### Steps ##'].join(
      '\n',
    );
    expect([...headingAnchors(page)]).toEqual(['title', 'steps', 'steps-1', 'steps-2']);
  });
});
