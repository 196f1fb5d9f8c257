/**
 * The ELM the engine executes, rewritten where a result cannot change.
 *
 * A CQL query returns a distinct list unless it says `return all`. cql-execution makes every list
 * distinct by building a normalized key of each element. For a FHIR element (a Coding, a
 * doseAndRate), that means reading every one of its elements, recursively, even for a list of one.
 * On a typical request this was a sixth of the evaluation time (issue 11).
 *
 * Two uses of a query's list never see its duplicates:
 * - `exists`: a list has a non-null element whether or not its duplicates are removed;
 * - `First` of an unsorted query: the distinct list keeps each value's first occurrence in order, so
 *   its first element is the list's first element, the same object.
 *
 * Such a query is run as `return all`: a single-source query without a return clause gets
 * `return all <alias>`, which returns the same element the query would. Queries with an aggregate
 * or several sources are left as written.
 */

interface ElmNode {
  type?: string;
  [key: string]: unknown;
}

interface ElmQuery extends ElmNode {
  source?: { alias: string }[];
  return?: { distinct?: boolean; expression: unknown };
  aggregate?: unknown;
  sort?: unknown;
}

/** A copy of a library's ELM with needless distinct steps removed; the input is not changed. */
export function withoutNeedlessDistinct<T>(elm: T): T {
  const copy = structuredClone(elm);
  visit(copy);
  return copy;
}

function visit(node: unknown): void {
  if (Array.isArray(node)) {
    for (const child of node) visit(child);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const n = node as ElmNode;
  if (n.type === 'Exists') returnAll(n.operand, { sorted: true });
  else if (n.type === 'First') returnAll(n.source, { sorted: false });
  for (const [key, value] of Object.entries(n)) if (key !== 'annotation') visit(value);
}

/** Makes `node`, when it is a query whose duplicates the caller cannot see, return all its elements. */
function returnAll(node: unknown, allow: { sorted: boolean }): void {
  const q = node as ElmQuery | undefined;
  if (q?.type !== 'Query' || q.aggregate !== undefined) return;
  if (q.sort !== undefined && !allow.sorted) return;
  if (q.return) {
    q.return.distinct = false;
    return;
  }
  const alias = q.source?.length === 1 ? q.source[0]?.alias : undefined;
  if (alias === undefined) return;
  q.return = { distinct: false, expression: { type: 'AliasRef', name: alias } };
}
