/**
 * serializeInSlices gives JSON.stringify's text, lets the event loop run while it writes a value
 * with long arrays (a 1,000-item answer), and gives a long text as its UTF-8 bytes.
 */
import fc from 'fast-check';
import { serializeInSlices } from '../../src/core/json-text';

/** The text as a string, whatever its length. */
const stringifyInSlices = async (value: unknown, sliceMs: number) => String(await serializeInSlices(value, Infinity, sliceMs));

const bundleOf = (entries: unknown[]) => ({ resourceType: 'Bundle', type: 'collection', entry: entries.map((resource) => ({ resource })) });

describe('serializeInSlices: the text', () => {
  it('writes the same text as JSON.stringify, for any JSON value with or without long arrays', async () => {
    const withLongArrays = fc.record({
      resourceType: fc.constant('Bundle'),
      // Entries that hold long arrays themselves, among others that do not.
      entry: fc.array(fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.record({ item: fc.array(fc.jsonValue({ maxDepth: 2 }), { minLength: 64, maxLength: 70 }) })), { minLength: 64, maxLength: 90 }),
      nested: fc.record({ item: fc.array(fc.jsonValue({ maxDepth: 3 }), { minLength: 70, maxLength: 80 }) }),
    });
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.jsonValue({ maxDepth: 6 }), withLongArrays), async (value) => {
        expect(await stringifyInSlices(value, 0)).toBe(JSON.stringify(value));
      }),
      // Each run with long arrays writes thousands of values: 60 runs cover the shapes.
      { numRuns: 60 },
    );
  }, 120_000);

  it('treats what JSON has no form for as JSON.stringify does: left out of objects, null in arrays', async () => {
    const odd = {
      a: undefined,
      f: () => 1,
      list: Array.from({ length: 70 }, (_, i) => (i % 3 === 0 ? undefined : i % 3 === 1 ? () => i : { n: i, s: Symbol('x'), d: new Date(0) })),
      date: new Date(86400000),
      bare: Object.assign(Object.create(null) as object, { k: 'v' }),
      deep: { a: { b: { c: { d: { e: { f: [1, 2, 3] } } } } } },
      nan: Number.NaN,
    };
    expect(await stringifyInSlices(odd, 0)).toBe(JSON.stringify(odd));
  });

  it('lets other callbacks run while it writes a 1,000-entry Bundle', async () => {
    const big = bundleOf(Array.from({ length: 1000 }, (_, i) => ({ resourceType: 'CommunicationRequest', id: `cr-${i}`, payload: [{ contentString: 'x'.repeat(500) }] })));
    const writing = stringifyInSlices(big, 0);
    let served = false;
    setImmediate(() => (served = true));
    expect(await writing).toBe(JSON.stringify(big));
    expect(served).toBe(true);
  });

  it('writes a value without long arrays in one call: nothing else runs meanwhile', async () => {
    const small = bundleOf([{ resourceType: 'Patient', id: 'p1' }]);
    const writing = stringifyInSlices(small, 0);
    let served = false;
    setImmediate(() => (served = true));
    expect(await writing).toBe(JSON.stringify(small));
    expect(served).toBe(false);
  });
});

describe('serializeInSlices: string or bytes', () => {
  const big = bundleOf(Array.from({ length: 1000 }, (_, i) => ({ resourceType: 'CommunicationRequest', id: `cr-${i}`, note: [{ text: `Größe — ${i} ${'x'.repeat(400)}` }] })));

  it('gives a text shorter than the threshold as a string, a longer one as its UTF-8 bytes', async () => {
    const small = bundleOf([{ resourceType: 'Patient', id: 'p1', name: [{ text: 'Zoë' }] }]);
    expect(await serializeInSlices(small, 1024)).toBe(JSON.stringify(small));
    const bytes = await serializeInSlices(big, 1024, 0);
    expect(Buffer.isBuffer(bytes)).toBe(true);
    expect(bytes).toEqual(Buffer.from(JSON.stringify(big)));
    // At the threshold exactly, bytes.
    const text = JSON.stringify(small);
    expect(Buffer.isBuffer(await serializeInSlices(small, text.length))).toBe(true);
  });

  it('measures the threshold in UTF-8 bytes, for a value with long arrays too', async () => {
    const list = { note: Array.from({ length: 70 }, (_, i) => `Zoë — ${i}`) };
    const text = JSON.stringify(list);
    const bytes = Buffer.byteLength(text);
    expect(await serializeInSlices(list, bytes + 1, 0)).toBe(text);
    expect(await serializeInSlices(list, bytes, 0)).toEqual(Buffer.from(text));
    // Fewer characters than the threshold, but not fewer bytes.
    expect(Buffer.isBuffer(await serializeInSlices(list, text.length + 1, 0))).toBe(true);
    const small = { name: 'Zoë' };
    expect(Buffer.isBuffer(await serializeInSlices(small, JSON.stringify(small).length + 1))).toBe(true);
  });

  it('gives the text of JSON.stringify as bytes, for any JSON value with long arrays', async () => {
    const withLongArrays = fc.record({
      entry: fc.array(fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.record({ item: fc.array(fc.jsonValue({ maxDepth: 1 }), { minLength: 64, maxLength: 70 }) })), { minLength: 64, maxLength: 90 }),
    });
    await fc.assert(
      fc.asyncProperty(withLongArrays, async (value) => {
        expect((await serializeInSlices(value, 0, 0)).toString()).toBe(JSON.stringify(value));
      }),
      { numRuns: 25 },
    );
  });

  it('lets other callbacks run while it writes and encodes', async () => {
    let served = 0;
    const tick = () => {
      served++;
      if (served < 1000) setImmediate(tick);
    };
    setImmediate(tick);
    const before = served;
    await serializeInSlices(big, 0, 0);
    // Each slice of writing or encoding yields once: many more turns than one.
    expect(served - before).toBeGreaterThan(10);
  });
});
