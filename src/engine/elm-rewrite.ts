/**
 * The ELM the engine executes, rewritten where a result cannot change.
 *
 * A CQL query returns a distinct list unless it says `return all`. cql-execution makes every list
 * distinct by building a normalized key of each element. For a FHIR element (a Coding, a
 * doseAndRate), that means reading every one of its elements, recursively; for a tuple with a
 * period, converting each date-time (luxon). It does so even for a list of one. On a typical
 * request this was a sixth of the evaluation time, and a third on a chart with medication history
 * (issue 11).
 *
 * A query's distinct step changes nothing:
 * - under `exists`: a list has a non-null element whether or not its duplicates are removed;
 * - under `First`, when the query is not sorted: the distinct list keeps each value's first
 *   occurrence in order, so its first element is the list's first element, the same object;
 * - as an operand of `union`, `except` or `intersect`: cql-execution makes their first operand
 *   (and union's both) distinct itself, keeping first occurrences, and reads the second only for
 *   membership;
 * - under `collapse` (equal intervals merge), `Max`, `Min`, `AnyTrue`, `AllTrue`, and as the list of
 *   `in` or `contains`: a duplicate changes neither a merge, an extreme, a truth nor a membership;
 * - when its one source is a list of one element (`({ x }) X return ...`): one row gives one value;
 * - when its one source is already distinct (a union, except, intersect or distinct) and it has no
 *   return clause: a filtered or sorted distinct list stays distinct.
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
  if (BLIND_TO_DUPLICATES.has(n.type ?? '')) return withChild(n, 'source', returnAll(n.source, { sorted: true }));
  const list = LIST_OPERAND[n.type ?? ''];
  if (list !== undefined && Array.isArray(n.operand)) {
    const operand = returnAll(n.operand[list], { sorted: true });
    if (operand !== n.operand[list]) return { ...n, operand: n.operand.map((o: unknown, i) => (i === list ? operand : o)) };
  }
  if (SET_OPERATORS.has(n.type ?? '') && Array.isArray(n.operand)) {
    const operands = n.operand.map((operand: unknown) => returnAll(operand, { sorted: true }));
    return operands.every((o, i) => o === (n.operand as unknown[])[i]) ? n : { ...n, operand: operands };
  }
  if (n.type === 'Query' && yieldsDistinct(n as ElmQuery)) return returnAll(n, { sorted: true }) as ElmNode;
  return n;
}

/** Aggregates of a `source` list that a duplicate cannot change. */
const BLIND_TO_DUPLICATES = new Set(['Max', 'Min', 'AnyTrue', 'AllTrue']);
/** Operators with a list operand (by position) that a duplicate cannot change. */
const LIST_OPERAND: Record<string, number> = { Collapse: 0, In: 1, Contains: 0 };

/** Set operators whose result cql-execution makes distinct itself. */
const SET_OPERATORS = new Set(['Union', 'Except', 'Intersect']);
const DISTINCT_LISTS = new Set([...SET_OPERATORS, 'Distinct']);

/** Whether a query's rows are already distinct: one row at most, or a distinct source kept as it is. */
function yieldsDistinct(q: ElmQuery): boolean {
  const source = q.source?.length === 1 ? (q.source[0] as { expression?: ElmNode }).expression : undefined;
  if (source?.type === 'List' && Array.isArray(source.element) && source.element.length === 1) return true;
  return q.return === undefined && DISTINCT_LISTS.has(source?.type ?? '');
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
