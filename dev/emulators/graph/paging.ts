// Graph's paging and `$select` as the emulator answers them, for every list it serves (calendarView and the
// collections of collections.ts): `$top`, an opaque `$skiptoken`, and an absolute `@odata.nextLink`.

/** A list's page size without `$top`, and the largest `$top` (Graph's). */
const DEFAULT_PAGE_SIZE = 10;
const MAX_PAGE_SIZE = 1000;

export type GraphPage =
  { ok: true; body: Record<string, unknown> } | { ok: false; code: string; message: string };

/**
 * One page of `items` for the request `url`: `$top` of them from the `$skiptoken`'s position, each with only the
 * `$select`ed fields (and `id`), and a next link when more follow. `list` names the list inside the skip tokens,
 * so a token of one list is refused by another.
 */
export function pageOf(
  items: readonly object[],
  url: URL,
  baseUrl: string,
  list: string,
  context: string,
): GraphPage {
  const top = pageSize(url.searchParams.get('$top'));
  if (top === undefined) {
    return {
      ok: false,
      code: 'BadRequest',
      message: `Invalid value for $top: it must be an integer from 1 to ${MAX_PAGE_SIZE}.`,
    };
  }
  const skip = skipOf(url.searchParams.get('$skiptoken'), list);
  if (skip === undefined) return { ok: false, code: 'BadRequest', message: 'The $skiptoken is not valid.' };
  const select = url.searchParams.get('$select');
  const body: Record<string, unknown> = {
    '@odata.context': context,
    value: items
      .slice(skip, skip + top)
      .map((item) => selectFields(item, select === null ? null : `id,${select}`)),
  };
  if (skip + top < items.length) {
    // Graph's next link: the same request with an opaque $skiptoken (clients follow it as given).
    const next = new URL(`${baseUrl}${url.pathname}`);
    for (const [name, value] of url.searchParams)
      if (name !== '$skiptoken') next.searchParams.append(name, value);
    next.searchParams.set('$skiptoken', Buffer.from(`${list}:${skip + top}`).toString('base64url'));
    body['@odata.nextLink'] = next.toString();
  }
  return { ok: true, body };
}

/** Graph's `$select`: only the fields named (and the OData annotations). */
export function selectFields(object: object, select: string | null): Record<string, unknown> {
  if (select === null) return { ...object };
  const fields = select.split(',').map((s) => s.trim());
  return Object.fromEntries(
    Object.entries(object).filter(([field]) => field.startsWith('@odata.') || fields.includes(field)),
  );
}

function pageSize(top: string | null): number | undefined {
  if (top === null) return DEFAULT_PAGE_SIZE;
  const value = Number(top);
  return /^\d+$/.test(top) && value >= 1 && value <= MAX_PAGE_SIZE ? value : undefined;
}

/** The position a `$skiptoken` of `list` names (the emulator's own format; clients never read it). */
function skipOf(token: string | null, list: string): number | undefined {
  if (token === null) return 0;
  const match = /^([^:]+):(\d{1,9})$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  return match?.[1] === list && match[2] !== undefined ? Number(match[2]) : undefined;
}
