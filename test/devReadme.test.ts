// dev/README.md is the sandbox's map: every file under dev/ has a row (or a mention) there, so a newcomer finds it.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import { expect, test } from '@jest/globals';

const devDirectory = fileURLToPath(new URL('../dev', import.meta.url));

function filesUnder(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(directory, entry.name)) : [join(directory, entry.name)],
  );
}

test('dev/README.md names every file under dev/', () => {
  const readme = readFileSync(join(devDirectory, 'README.md'), 'utf8');
  const unnamed = filesUnder(devDirectory)
    .map((path) => relative(devDirectory, path).split(sep).join('/'))
    .filter((path) => path !== 'README.md' && !readme.includes(path));
  expect(unnamed).toEqual([]);
});
