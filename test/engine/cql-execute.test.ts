/**
 * cql-execution's nodes without a localId run without the per-node async wrapper
 * (src/engine/cql-execute.ts): the same values, the node's own promise, its own error message; a
 * node with a localId still records its result.
 */
import { Expression, Library, PatientContext, Repository } from 'cql-execution';
import { installLeanExecute } from '../../src/engine/cql-execute';

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
