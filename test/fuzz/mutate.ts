/**
 * Mutations of valid requests for the property-based fuzz suite: dropped and retyped fields,
 * retargeted references, deep nesting, huge arrays and strings, odd dates and codes. A mutation
 * is plain data (fast-check generates and shrinks it); `applyMutations` replays it on a copy.
 */
import fc from 'fast-check';

export type Op = 'drop' | 'retype' | 'retarget' | 'nest' | 'huge-array' | 'huge-string' | 'odd-date' | 'odd-code';

export interface Mutation {
  op: Op;
  /** Picks the target among the eligible nodes (modulo their number). */
  at: number;
  /** Picks the replacement among the op's variants (modulo their number). */
  variant: number;
}

type Path = (string | number)[];
type Json = unknown;

export const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom<Op>('drop', 'retype', 'retype', 'retarget', 'nest', 'huge-array', 'huge-string', 'odd-date', 'odd-code'),
  at: fc.nat(),
  variant: fc.nat(),
});

export const mutationsArb = fc.array(mutationArb, { minLength: 1, maxLength: 3 });

const DATE = /^\d{4}(-\d{2}(-\d{2})?)?(T|$)/;
const ODD_DATES = ['2026-02-30', '0000-00-00', '2026-13-01', '9999-12-31T99:99:99Z', '', 'yesterday', '2026-11-20T10:00:00', '1850-01-01', '2099-12-31', '20261120', ' 2026-11-20'];
const ODD_CODES = ['', ' ', 'M06.9 ', 'm06.9', 'J3590\u0000', '\u202eJ3590', 'x'.repeat(5000), 'A1', 'approved', 'satisfied', '727711', '*', '%'];
const REFERENCES = [
  'Organization/does-not-exist',
  'Patient/someone-else',
  'urn:uuid:00000000-0000-0000-0000-000000000000',
  '#contained',
  'http://evil.example.org/fhir/Organization/1',
  '',
  'Claim/pa-kineret-4417',
  'Coverage/cov-medicaid-1',
  'Practitioner',
  '../../../etc/passwd',
];
/** Deep nesting is spliced in as text (JSON.stringify would itself overflow on the deepest). */
export const DEEP_DEPTHS = [65, 200, 5000, 50000];
export const DEEP_TOKEN = (depth: number, kind: 'array' | 'object') => `__DEEP_${kind}_${depth}__`;

function collect(node: Json, path: Path, out: { path: Path; value: Json }[]): void {
  out.push({ path, value: node });
  if (Array.isArray(node)) node.forEach((v, i) => collect(v, [...path, i], out));
  else if (node !== null && typeof node === 'object') for (const [k, v] of Object.entries(node)) collect(v, [...path, k], out);
}

function parentOf(root: Json, path: Path): { parent: Record<string | number, Json>; key: string | number } | undefined {
  if (path.length === 0) return undefined;
  let node = root as Record<string | number, Json>;
  for (const part of path.slice(0, -1)) node = node[part] as Record<string | number, Json>;
  return { parent: node, key: path[path.length - 1] as string | number };
}

function set(root: Json, path: Path, value: Json): void {
  const where = parentOf(root, path);
  if (where) where.parent[where.key] = value;
}

function pick<T>(list: T[], n: number): T | undefined {
  return list.length === 0 ? undefined : list[n % list.length];
}

function retyped(value: Json, variant: number, hugeArray: number): Json {
  const options: Json[] = [
    42,
    -1.5,
    'a string',
    true,
    null,
    {},
    [],
    Array.isArray(value) ? value[0] ?? {} : [value],
    typeof value === 'object' && value !== null ? JSON.stringify(value).slice(0, 200) : { value },
    { coding: 'M06.9' },
    [[value]],
    Array.from({ length: Math.min(hugeArray, 50) }, () => value),
  ];
  return options[variant % options.length];
}

/** Applies the mutations in order to a deep copy of `base`; returns the body to send (a JSON string). */
export function applyMutations(base: Json, mutations: Mutation[], options: { hugeArray: number } = { hugeArray: 3000 }): { body: string; described: string[] } {
  const doc = structuredClone(base);
  const described: string[] = [];
  for (const m of mutations) {
    const nodes: { path: Path; value: Json }[] = [];
    collect(doc, [], nodes);
    const inner = nodes.filter((n) => n.path.length > 0);
    let target: { path: Path; value: Json } | undefined;
    switch (m.op) {
      case 'drop': {
        target = pick(inner, m.at);
        if (!target) break;
        const where = parentOf(doc, target.path);
        if (!where) break;
        if (Array.isArray(where.parent)) where.parent.splice(where.key as number, 1);
        else delete where.parent[where.key];
        break;
      }
      case 'retype':
        target = pick(inner, m.at);
        if (target) set(doc, target.path, retyped(target.value, m.variant, options.hugeArray));
        break;
      case 'retarget': {
        const refs = inner.filter((n) => n.path[n.path.length - 1] === 'reference' && typeof n.value === 'string');
        target = pick(refs, m.at);
        if (!target) break;
        // Half the time another reference of the same request (a real entry of the wrong type), else a foreign one.
        const own = refs.map((r) => r.value as string).filter((r) => r !== target?.value);
        const choice = m.variant % 2 === 0 ? pick(own, m.variant >> 1) : pick(REFERENCES, m.variant >> 1);
        set(doc, target.path, choice ?? REFERENCES[0]);
        break;
      }
      case 'nest':
        target = pick(inner, m.at);
        if (target) set(doc, target.path, DEEP_TOKEN(pick(DEEP_DEPTHS, m.variant) ?? 200, m.variant % 2 === 0 ? 'array' : 'object'));
        break;
      case 'huge-array': {
        const arrays = inner.filter((n) => Array.isArray(n.value) && (n.value as Json[]).length > 0);
        target = pick(arrays, m.at);
        if (target) {
          const first = (target.value as Json[])[0];
          // At most ~20 MB of copies: the mutant must still fit in a request body.
          const count = Math.max(2, Math.min(options.hugeArray, Math.floor(20_000_000 / (JSON.stringify(first) ?? '').length)));
          set(doc, target.path, Array.from({ length: count }, () => structuredClone(first)));
        }
        break;
      }
      case 'huge-string': {
        const strings = inner.filter((n) => typeof n.value === 'string');
        target = pick(strings, m.at);
        // Each mutant stays under ~20 MB (a huge string copied by a huge array would not).
        if (target && JSON.stringify(doc).length < 5_000_000) set(doc, target.path, (target.value as string).padEnd(200_000 + (m.variant % 7), 'x'));
        break;
      }
      case 'odd-date': {
        const dates = inner.filter((n) => typeof n.value === 'string' && DATE.test(n.value));
        target = pick(dates, m.at);
        if (target) set(doc, target.path, pick(ODD_DATES, m.variant));
        break;
      }
      case 'odd-code': {
        const codes = inner.filter((n) => ['code', 'system', 'value', 'status', 'intent', 'use', 'type'].includes(String(n.path[n.path.length - 1])) && typeof n.value === 'string');
        target = pick(codes, m.at);
        if (target) set(doc, target.path, pick(ODD_CODES, m.variant));
        break;
      }
    }
    described.push(`${m.op} ${target ? target.path.join('.') : '(no target)'} v${m.variant}`);
  }
  let body = JSON.stringify(doc);
  body = body.replace(/"__DEEP_(array|object)_(\d+)__"/g, (_all, kind: string, depth: string) => {
    const n = Number(depth);
    return kind === 'array' ? `${'['.repeat(n)}1${']'.repeat(n)}` : `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
  });
  return { body, described };
}
