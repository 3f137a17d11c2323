/**
 * `npm run docs:check`: every relative link in README.md, docs/*.md and dev/README.md (or the pages named on the
 * command line) must name a file or folder that exists, with the exact case, and each `#anchor` a heading of its
 * page. Prints one line per broken link and exits 1; CI runs it.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { headingAnchors, relativeLinks } from './markdownLinks.js';

const root = fileURLToPath(new URL('..', import.meta.url));

function defaultPages(): string[] {
  const docs = join(root, 'docs');
  const pages = existsSync(docs)
    ? readdirSync(docs)
        .filter((name) => name.endsWith('.md'))
        .sort()
        .map((name) => join(docs, name))
    : [];
  return [join(root, 'README.md'), ...pages, join(root, 'dev', 'README.md')];
}

/** Exists with this exact name: a case-insensitive file system (macOS, Windows) would hide a link GitHub breaks. */
function existsExactly(path: string): boolean {
  if (!existsSync(path)) return false;
  const parent = dirname(path);
  return parent === path || (readdirSync(parent).includes(basename(path)) && existsExactly(parent));
}

const anchorsByPage = new Map<string, Set<string>>();
function anchorsOf(page: string): Set<string> {
  let anchors = anchorsByPage.get(page);
  if (anchors === undefined) {
    anchors = headingAnchors(readFileSync(page, 'utf8'));
    anchorsByPage.set(page, anchors);
  }
  return anchors;
}

const pages = process.argv.length > 2 ? process.argv.slice(2).map((page) => resolve(page)) : defaultPages();
const problems: string[] = [];
let checked = 0;
for (const page of pages) {
  const name = relative(root, page);
  if (!existsSync(page)) {
    problems.push(`${name}: no such page`);
    continue;
  }
  for (const { target, line } of relativeLinks(readFileSync(page, 'utf8'))) {
    checked += 1;
    const hash = target.indexOf('#');
    const pathPart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const file = pathPart === '' ? page : resolve(dirname(page), pathPart);
    if (!existsExactly(file)) {
      problems.push(`${name}:${line}: ${target}: ${relative(root, file)} does not exist`);
      continue;
    }
    if (anchor === undefined || anchor === '' || !file.endsWith('.md') || statSync(file).isDirectory())
      continue;
    if (!anchorsOf(file).has(anchor)) {
      problems.push(`${name}:${line}: ${target}: no heading makes #${anchor} in ${relative(root, file)}`);
    }
  }
}

for (const problem of problems) console.error(problem);
if (problems.length > 0) {
  console.error(`docs:check: ${problems.length} broken link(s) of ${checked} in ${pages.length} page(s)`);
  process.exit(1);
}
console.log(`docs:check: ${checked} relative links in ${pages.length} pages resolve`);
