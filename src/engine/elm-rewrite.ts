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

/**
 * The library's ELM with needless distinct steps removed. The input is not changed: a changed node
 * is a new object, and the unchanged subtrees are shared with the input (neither is changed after).
 */
export function withoutNeedlessDistinct<T>(elm: T): T {
  return rewrite(elm) as T;
}

function rewrite(node: unknown): unknown {
  if (Array.isArray(node)) {
    let copy: unknown[] | undefined;
    node.forEach((child: unknown, i) => {
      const changed = rewrite(child);
      if (changed !== child) (copy ??= [...node])[i] = changed;
    });
    return copy ?? node;
  }
  if (node === null || typeof node !== 'object') return node;
  let copy: ElmNode | undefined;
  for (const key in node) {
    if (key === 'annotation') continue;
    const child = (node as ElmNode)[key];
    const changed = rewrite(child);
    if (changed !== child) (copy ??= { ...(node as ElmNode) })[key] = changed;
  }
  const n = copy ?? (node as ElmNode);
  if (n.type === 'Exists') return withChild(n, 'operand', returnAll(n.operand, { sorted: true }));
  if (n.type === 'First') return withChild(n, 'source', returnAll(n.source, { sorted: false }));
  return n;
}

function withChild(node: ElmNode, key: string, child: unknown): ElmNode {
  return child === node[key] ? node : { ...node, [key]: child };
}

/** `node` returning all its elements when it is a query whose duplicates the caller cannot see; else `node`. */
function returnAll(node: unknown, allow: { sorted: boolean }): unknown {
  const q = node as ElmQuery | undefined;
  if (q?.type !== 'Query' || q.aggregate !== undefined) return node;
  if (q.sort !== undefined && !allow.sorted) return node;
  if (q.return) return q.return.distinct === false ? node : { ...q, return: { ...q.return, distinct: false } };
  const alias = q.source?.length === 1 ? q.source[0]?.alias : undefined;
  if (alias === undefined) return node;
  return { ...q, return: { distinct: false, expression: { type: 'AliasRef', name: alias } } };
}
