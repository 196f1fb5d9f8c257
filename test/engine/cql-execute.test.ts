/**
 * cql-execution's nodes without a localId run without the per-node async wrapper
 * (src/engine/cql-execute.ts): the same values, the node's own promise, its own error message; a
 * node with a localId still records its result.
 */
import { Expression, Library, PatientContext, Repository } from 'cql-execution';
import { installLeanExecute, installLeanQueries } from '../../src/engine/cql-execute';
import { libraryOf } from '../../src/engine/replace-once';

const INTEGER = '{urn:hl7-org:elm-types:r1}Integer';
const literal = (value: number, localId?: string) => ({ type: 'Literal', valueType: INTEGER, value: String(value), ...(localId ? { localId } : {}) });
const define = (name: string, expression: object) => ({ name, context: 'Patient', accessLevel: 'Public', expression });

const elm = {
  library: {
    identifier: { id: 'LeanExecute', version: '1.0.0' },
    schemaIdentifier: { id: 'urn:hl7-org:elm', version: 'r1' },
    usings: { def: [{ localIdentifier: 'System', uri: 'urn:hl7-org:elm-types:r1' }] },
    statements: {
      def: [
        define('Sum', { type: 'Add', operand: [literal(1), { type: 'Multiply', operand: [literal(2), literal(3)] }] }),
        define('Tracked', { type: 'Add', localId: '7', operand: [literal(4, '8'), literal(5)] }),
        define('Two In One', { type: 'SingletonFrom', operand: { type: 'List', element: [literal(1), literal(2)] } }),
      ],
    },
  },
};

const library = new Library(elm as never, new Repository({}));
const patient = { getId: () => 'p1', findRecords: () => [] };
const contextOf = () => new PatientContext(library, patient as never);

beforeAll(() => installLeanExecute());

test('definitions give the values cql-execution gives', async () => {
  expect(await library.expressions['Sum']!.execute(contextOf())).toBe(7);
  expect(await library.expressions['Tracked']!.execute(contextOf())).toBe(9);
});

test('a node without a localId hands back the promise of its own exec', async () => {
  const node = library.expressions['Sum']! as unknown as { exec(ctx: unknown): Promise<unknown>; execute(ctx: unknown): Promise<unknown> };
  const own = Promise.resolve(42);
  const exec = node.exec;
  node.exec = () => own;
  try {
    expect(node.execute(contextOf())).toBe(own);
  } finally {
    node.exec = exec;
  }
});

test('a node with a localId still records its result', async () => {
  const context = contextOf();
  await library.expressions['Tracked']!.execute(context);
  expect(context.getLocalIdResult('7')).toBe(9);
  expect(context.getLocalIdResult('8')).toBe(4);
});

test('an error reaches the caller with its own message, not rewrapped', async () => {
  const failure = library.expressions['Two In One']!.execute(contextOf());
  await expect(failure).rejects.toThrow(/SingletonFrom/);
  await expect(failure).rejects.not.toThrow(/Encountered unexpected error/);
});

test('installing twice wraps once', () => {
  const installed = Expression.prototype.execute;
  installLeanExecute();
  expect(Expression.prototype.execute).toBe(installed);
});

describe('one-source queries run directly', () => {
  const alias = (name: string) => ({ type: 'AliasRef', name });
  const list = (...items: object[]) => ({ type: 'List', element: items });
  const NULL = { type: 'Null' };
  const query = (source: object, extra: Record<string, unknown> = {}, more: object[] = []) => ({
    type: 'Query',
    source: [{ alias: 'X', expression: source }, ...more],
    ...extra,
  });
  const greater = (a: object, b: object) => ({ type: 'Greater', operand: [a, b] });
  const queries: Record<string, object> = {
    'distinct by default, nulls and a null where dropped': query(list(literal(1), literal(2), literal(2), NULL, literal(3)), { where: greater(alias('X'), literal(1)) }),
    'return all keeps duplicates': query(list(literal(2), literal(2), literal(3)), { return: { distinct: false, expression: { type: 'Multiply', operand: [alias('X'), literal(10)] } } }),
    'return distinct': query(list(literal(2), literal(2), literal(3)), { return: { expression: { type: 'Multiply', operand: [alias('X'), literal(10)] } } }),
    'a single value in, a single value out': query(literal(5), { where: greater(alias('X'), literal(1)) }),
    'a single value filtered out': query(literal(5), { where: greater(alias('X'), literal(10)) }),
    'a null source': query(NULL),
    'an empty list': query(list()),
    'let clauses': query(list(literal(1), literal(4)), {
      let: [{ identifier: 'Y', expression: { type: 'Add', operand: [alias('X'), literal(1)] } }],
      return: { distinct: false, expression: { type: 'QueryLetRef', name: 'Y' } },
    }),
    'sorted descending': query(list(literal(3), literal(1), literal(2)), { return: { distinct: false, expression: alias('X') }, sort: { by: [{ type: 'ByDirection', direction: 'desc' }] } }),
    'two sources (the library)': query(list(literal(1), literal(2)), { return: { distinct: false, expression: { type: 'Add', operand: [alias('X'), alias('Y')] } } }, [{ alias: 'Y', expression: list(literal(10), literal(20)) }]),
  };
  const queryLibrary = new Library(
    { library: { ...elm.library, identifier: { id: 'LeanQueries', version: '1.0.0' }, statements: { def: Object.entries(queries).map(([name, e]) => define(name, e)) } } } as never,
    new Repository({}),
  );
  type Exec = (ctx: unknown) => Promise<unknown>;
  const node = (name: string) => (queryLibrary.expressions[name] as unknown as { expression: { exec: Exec } }).expression;
  // The library's own exec: cql-execution is loaded once per jest worker (test/host), so an earlier
  // suite's engine may have installed the lean one already; it keeps the library's.
  const libraryExec = libraryOf(Object.getPrototypeOf(node('an empty list')).exec as Exec);

  beforeAll(() => installLeanQueries());

  test.each(Object.keys(queries))('%s: the value the library gives', async (name) => {
    const ours = await node(name).exec(contextOf());
    const theirs = await libraryExec.call(node(name), contextOf());
    expect(ours).toEqual(theirs);
    expect(Object.getPrototypeOf(node(name)).exec).not.toBe(libraryExec);
  });

  test('the values, spelled out', async () => {
    const value = async (name: string) => node(name).exec(contextOf());
    expect(await value('distinct by default, nulls and a null where dropped')).toEqual([2, 3]);
    expect(await value('return all keeps duplicates')).toEqual([20, 20, 30]);
    expect(await value('return distinct')).toEqual([20, 30]);
    expect(await value('a single value in, a single value out')).toBe(5);
    expect(await value('a single value filtered out')).toBeUndefined();
    expect(await value('a null source')).toBeNull();
    expect(await value('let clauses')).toEqual([2, 5]);
    expect(await value('sorted descending')).toEqual([3, 2, 1]);
    expect(await value('two sources (the library)')).toEqual([11, 21, 12, 22]);
  });
});
