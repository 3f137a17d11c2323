// The pure part of `npm run docs:check`: the relative links of a Markdown page and the anchors its headings make,
// as GitHub renders them. Reading files is the caller's (scripts/check-links.ts).

export interface MarkdownLink {
  /** The link target as written: `docs/api.md#errors`, `#errors`, `../dev/README.md`. */
  target: string;
  /** 1-based line of the page. */
  line: number;
}

const FENCE = /^\s*(```|~~~)/;
// An absolute URL (`https:`, `mailto:`) or a protocol-relative one: not this checker's business.
const EXTERNAL = /^([a-z][a-z0-9+.-]*:|\/\/)/i;
// [text](target) and ![alt](target), with an optional "title"; the text may hold one level of brackets.
const INLINE_LINK = /!?\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;

/** Lines outside fenced code blocks, with their 1-based numbers. */
function proseLines(markdown: string): { text: string; line: number }[] {
  const lines: { text: string; line: number }[] = [];
  let fence: string | undefined;
  for (const [index, text] of markdown.split(/\r?\n/).entries()) {
    const opener = FENCE.exec(text)?.[1];
    if (fence !== undefined) {
      if (opener === fence) fence = undefined;
      continue;
    }
    if (opener !== undefined) {
      fence = opener;
      continue;
    }
    lines.push({ text, line: index + 1 });
  }
  return lines;
}

/** Every relative link of a page (code blocks and code spans excluded). */
export function relativeLinks(markdown: string): MarkdownLink[] {
  const links: MarkdownLink[] = [];
  for (const { text, line } of proseLines(markdown)) {
    const withoutCode = text.replace(/`[^`]*`/g, (span) => ' '.repeat(span.length));
    for (const match of withoutCode.matchAll(INLINE_LINK)) {
      const target = match[1];
      if (target !== undefined && !EXTERNAL.test(target)) links.push({ target, line });
    }
  }
  return links;
}

/** GitHub's anchor for a heading's text: the rendered text, lowercased, punctuation dropped, spaces to `-`. */
export function githubSlug(heading: string): string {
  const rendered = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/\*+/g, '')
    .replace(/<[^>]+>/g, '');
  return rendered
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors a page's headings make; a repeated heading gets `-1`, `-2`, ... as on GitHub. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { text } of proseLines(markdown)) {
    const heading = HEADING.exec(text)?.[2];
    if (heading === undefined) continue;
    const slug = githubSlug(heading);
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}
