/**
 * The ELM rewrite (src/engine/elm-rewrite.ts): which queries it makes `return all`, and that every
 * definition of every library gives the same value on every fixture chart with and without it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Library, Repository } from 'cql-execution';
import type { Bundle, Coverage, MedicationRequest } from 'fhir/r4';
import { REPO_ROOT } from '../../src/config';
import { withoutNeedlessDistinct } from '../../src/engine/elm-rewrite';
import { evaluateExpressions, type ExpressionResults } from '../../src/engine/evaluate';
import { ResourceRecord } from '../../src/engine/data-provider';
import type { LibrarySet } from '../../src/engine/libraries';
import { preparePatientData } from '../../src/engine/patient-data';
import { EVALUATION_DATE, getEngine } from '../support/policy-kit';

const alias = (name: string) => ({ type: 'AliasRef', name });
const query = (extra: Record<string, unknown> = {}) => ({ type: 'Query', source: [{ alias: 'C', expression: { type: 'Property', path: 'coding' } }], where: { type: 'Literal' }, ...extra });
const library = (...statements: unknown[]) => ({ library: { statements: { def: statements.map((expression, i) => ({ name: `d${i}`, expression })) } } });
const statement = (elm: ReturnType<typeof library>, i: number) => elm.library.statements.def[i]?.expression as Record<string, unknown>;

describe('withoutNeedlessDistinct', () => {
  test('a query under exists returns all, with or without a sort or a return clause', () => {
    const elm = library(
      { type: 'Exists', operand: query() },
      { type: 'Exists', operand: query({ sort: { by: [] } }) },
      { type: 'Exists', operand: query({ return: { expression: alias('C') } }) },
    );
    const out = withoutNeedlessDistinct(elm);
    expect((statement(out, 0).operand as { return: unknown }).return).toEqual({ distinct: false, expression: alias('C') });
    expect((statement(out, 1).operand as { return: unknown }).return).toEqual({ distinct: false, expression: alias('C') });
    expect((statement(out, 2).operand as { return: unknown }).return).toEqual({ distinct: false, expression: alias('C') });
  });

  test('First of an unsorted query returns all; of a sorted one it stays distinct', () => {
    const out = withoutNeedlessDistinct(library({ type: 'First', source: query() }, { type: 'First', source: query({ sort: { by: [] } }) }));
    expect((statement(out, 0).source as { return?: unknown }).return).toEqual({ distinct: false, expression: alias('C') });
    expect((statement(out, 1).source as { return?: unknown }).return).toBeUndefined();
  });

  test.each(['Union', 'Except', 'Intersect'])('the operands of %s return all', (type) => {
    const out = withoutNeedlessDistinct(library({ type, operand: [query(), query({ return: { expression: alias('C') } })] }));
    for (const operand of statement(out, 0).operand as { return: unknown }[]) expect(operand.return).toEqual({ distinct: false, expression: alias('C') });
  });

  test('a query under collapse, Max, Min, AnyTrue or AllTrue, or as the list of in or contains, returns all', () => {
    const out = withoutNeedlessDistinct(
      library(
        { type: 'Collapse', operand: [query(), { type: 'Quantity' }] },
        ...['Max', 'Min', 'AnyTrue', 'AllTrue'].map((type) => ({ type, source: query({ sort: { by: [] } }) })),
        { type: 'In', operand: [{ type: 'Literal' }, query()] },
        { type: 'Contains', operand: [query(), { type: 'Literal' }] },
      ),
    );
    const returnAll = { distinct: false, expression: alias('C') };
    expect(((statement(out, 0).operand as unknown[])[0] as { return: unknown }).return).toEqual(returnAll);
    for (const i of [1, 2, 3, 4]) expect((statement(out, i).source as { return: unknown }).return).toEqual(returnAll);
    expect(((statement(out, 5).operand as unknown[])[1] as { return: unknown }).return).toEqual(returnAll);
    expect(((statement(out, 6).operand as unknown[])[0] as { return: unknown }).return).toEqual(returnAll);
    expect((statement(out, 5).operand as unknown[])[0]).toEqual({ type: 'Literal' });
  });

  test('a query of one row returns all; so does one without a return clause over a distinct list', () => {
    const one = { type: 'List', element: [{ type: 'Literal' }] };
    const union = { type: 'Union', operand: [{ type: 'ExpressionRef' }, { type: 'ExpressionRef' }] };
    const out = withoutNeedlessDistinct(
      library(
        query({ source: [{ alias: 'C', expression: one }], return: { expression: { type: 'Tuple' } } }),
        query({ source: [{ alias: 'C', expression: union }] }),
        query({ source: [{ alias: 'C', expression: { type: 'Distinct', operand: {} } }], sort: { by: [] } }),
      ),
    );
    expect(statement(out, 0).return).toEqual({ distinct: false, expression: { type: 'Tuple' } });
    expect(statement(out, 1).return).toEqual({ distinct: false, expression: alias('C') });
    expect(statement(out, 2).return).toEqual({ distinct: false, expression: alias('C') });
  });

  test('queries elsewhere, with an aggregate, with several sources, or returning new values from several rows stay as written', () => {
    const twoSources = query({ source: [{ alias: 'A', expression: {} }, { alias: 'B', expression: {} }] });
    const twoRows = { type: 'List', element: [{ type: 'Literal' }, { type: 'Literal' }] };
    const union = { type: 'Union', operand: [{ type: 'ExpressionRef' }, { type: 'ExpressionRef' }] };
    const elm = library(
      query(),
      { type: 'Count', source: query() },
      { type: 'Sum', source: query() },
      { type: 'In', operand: [query(), { type: 'Interval' }] },
      { type: 'Exists', operand: query({ aggregate: { distinct: true } }) },
      { type: 'Exists', operand: twoSources },
      { type: 'Union', operand: [twoSources, query({ aggregate: { distinct: true } })] },
      query({ source: [{ alias: 'C', expression: twoRows }], return: { expression: { type: 'Tuple' } } }),
      query({ source: [{ alias: 'C', expression: union }], return: { expression: { type: 'Tuple' } } }),
    );
    expect(withoutNeedlessDistinct(elm)).toEqual(elm);
  });

  test('nested queries are found, and the input is not changed', () => {
    const elm = library({ type: 'Query', source: [{ alias: 'R', expression: {} }], where: { type: 'Exists', operand: query() } });
    const before = structuredClone(elm);
    const out = withoutNeedlessDistinct(elm);
    expect(elm).toEqual(before);
    expect(((statement(out, 0).where as { operand: { return?: unknown } }).operand.return as { distinct: boolean }).distinct).toBe(false);
  });
});

/** A value as text that is equal exactly when cql-execution's values are the same records, FHIR elements and CQL values. */
function canonical(results: ExpressionResults): Record<string, string> {
  const text = (value: unknown) =>
    JSON.stringify(value, (_key, v: unknown) => {
      if (v instanceof ResourceRecord) return `record ${v.__record}`;
      if (v !== null && typeof v === 'object' && '_json' in v && typeof (v as { getTypeInfo?: unknown }).getTypeInfo === 'function') {
        return `fhir ${JSON.stringify((v as { _json: unknown })._json)}`;
      }
      return v;
    });
  return Object.fromEntries([...results].map(([name, r]) => [name, 'error' in r ? `error ${r.error.causeMessage}` : (text(r.value) ?? 'undefined')]));
}

/** The same chart with every list inside each resource, and the list of resources, given twice: a distinct step now has duplicates to remove. */
function doubled(bundle: Bundle): Bundle {
  const twice = (v: unknown): unknown =>
    Array.isArray(v) ? [...v, ...v].map(twice) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, twice(x)])) : v;
  const entries = (bundle.entry ?? []).map((e) => ({ ...e, resource: twice(e.resource) as typeof e.resource }));
  return { ...bundle, entry: [...entries, ...entries.slice(1)] };
}

/** Every chart fixture (a collection Bundle whose first entry is its Patient), as written and doubled. */
function charts(): { name: string; bundle: Bundle }[] {
  const root = path.join(REPO_ROOT, 'fixtures');
  return fs
    .readdirSync(root)
    .flatMap((dir) => fs.readdirSync(path.join(root, dir)).map((file) => path.join(dir, file)))
    .map((file) => ({ name: file, bundle: JSON.parse(fs.readFileSync(path.join(root, file), 'utf8')) as Bundle }))
    .filter(({ bundle }) => bundle.resourceType === 'Bundle' && bundle.entry?.[0]?.resource?.resourceType === 'Patient')
    .flatMap(({ name, bundle }) => [
      { name, bundle },
      { name: `${name}, doubled`, bundle: doubled(bundle) },
    ]);
}

describe('every definition gives the same value with the rewritten ELM', () => {
  const engine = getEngine();
  const rewritten = engine.libraries;
  const raw = Object.fromEntries([...rewritten.libraries].map(([name, lib]) => [name, lib.elm]));
  const repository = new Repository(raw);
  const asWritten: LibrarySet = { ...rewritten, executable: (name) => new Library(raw[name], repository) };
  const found = charts();

  test('there are charts to compare on, and queries the rewrite changed', () => {
    expect(found.length).toBeGreaterThanOrEqual(40);
    const changed = Object.values(raw).filter((elm) => JSON.stringify(withoutNeedlessDistinct(elm)) !== JSON.stringify(elm));
    expect(changed.length).toBeGreaterThanOrEqual(5);
  });

  test.each([...rewritten.libraries.keys()])('%s', async (name) => {
    const definitions = Object.keys(rewritten.executable(name).expressions).filter((d) => d !== 'Patient');
    for (const { name: chart, bundle } of found) {
      const data = preparePatientData(bundle).bundle;
      const order = bundle.entry?.find((e) => e.resource?.resourceType === 'MedicationRequest')?.resource as MedicationRequest | undefined;
      const coverage = bundle.entry?.find((e) => e.resource?.resourceType === 'Coverage')?.resource as Coverage | undefined;
      const inputs = {
        lineOfBusiness: coverage?.type?.coding ?? [],
        diagnoses: (order?.reasonCode ?? []).flatMap((c) => c.coding ?? []),
        priorAuthorizations: [],
        evaluationDate: EVALUATION_DATE,
        ...(order?.id ? { orderId: order.id } : {}),
      };
      const before = canonical(await evaluateExpressions(asWritten, name, definitions, data, inputs, engine.codeService));
      const after = canonical(await evaluateExpressions(rewritten, name, definitions, data, inputs, engine.codeService));
      expect({ chart, values: after }).toEqual({ chart, values: before });
    }
  });
});
