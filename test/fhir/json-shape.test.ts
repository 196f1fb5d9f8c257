/**
 * assertJsonShape: a 4xx exactly when some object or array nests deeper than MAX_JSON_DEPTH, or
 * an array other than a Bundle's `entry` and a Claim's `item` holds more than MAX_ARRAY_ITEMS;
 * the answer names the element.
 */
import fc from 'fast-check';
import { assertJsonShape, DEFAULT_LIMITS } from '../../src/fhir/structure';
import { OperationOutcomeError } from '../../src/fhir/outcomes';

/** The rule, read recursively: what the iterative check must agree with. */
function breaks(node: unknown, depth: number, key: string | number | undefined, parent: unknown, maxDepth: number, maxItems: number): boolean {
  if (node === null || typeof node !== 'object') return false;
  if (depth > maxDepth) return true;
  if (Array.isArray(node)) {
    const claimItems = key === 'item' && (parent as { resourceType?: unknown } | undefined)?.resourceType === 'Claim';
    if (key !== 'entry' && !claimItems && node.length > maxItems) return true;
    return node.some((child, i) => breaks(child, depth + 1, i, node, maxDepth, maxItems));
  }
  return Object.entries(node).some(([k, child]) => breaks(child, depth + 1, k, node, maxDepth, maxItems));
}

const limits = (maxJsonDepth: number, maxArrayItems: number) => ({ ...DEFAULT_LIMITS, maxJsonDepth, maxArrayItems });

describe('assertJsonShape', () => {
  test('throws exactly when the rule is broken, for any JSON value and limits', () => {
    const claimLike = fc.record({ resourceType: fc.constantFrom('Claim', 'Bundle', 'Patient'), item: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 6 }), entry: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 6 }) });
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue({ maxDepth: 6 }), claimLike), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 4 }), (value, depth, items) => {
        let thrown: unknown;
        try {
          assertJsonShape(value, limits(depth, items));
        } catch (error) {
          thrown = error;
        }
        expect(thrown === undefined).toBe(!breaks(value, 1, undefined, undefined, depth, items));
        if (thrown !== undefined) expect(thrown).toBeInstanceOf(OperationOutcomeError);
      }),
      { numRuns: 500 },
    );
  });

  test('names the element: the deep one (400), or the long array (413)', () => {
    const body = { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'Claim', item: [1, 2, 3], note: [{ a: { b: { c: 1 } } }] } }] };
    const failure = (value: unknown, maxDepth: number, maxItems: number) => {
      try {
        assertJsonShape(value, limits(maxDepth, maxItems));
      } catch (error) {
        return (error as OperationOutcomeError).outcome.issue[0];
      }
      throw new Error('no 4xx');
    };
    expect(failure(body, 6, 10)?.expression).toEqual(['Bundle.entry[0].resource.note[0].a']);
    expect(failure(body, 6, 10)?.diagnostics).toMatch(/MAX_JSON_DEPTH/);
    // A Claim's items are bounded elsewhere (MAX_CLAIM_ITEMS); a note list is not.
    const longNotes = { resourceType: 'Claim', item: [1, 2, 3], note: [{}, {}, {}] };
    expect(failure(longNotes, 10, 2)?.expression).toEqual(['Claim.note']);
    expect(() => assertJsonShape({ resourceType: 'Claim', item: [1, 2, 3] }, limits(10, 2))).not.toThrow();
  });
});
