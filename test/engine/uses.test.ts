/**
 * PACommon "Uses" lists each record's use once, as the union of use lists it replaced did: a list
 * whose refs are all different is already distinct; a repeated ref falls back to `distinct`, which
 * removes a use only when it equals another in every element.
 */
import type { Bundle, MedicationDispense } from 'fhir/r4';
import { evaluateExpressions } from '../../src/engine/evaluate';
import { preparePatientData } from '../../src/engine/patient-data';
import { add, EVALUATION_DATE, find, getEngine, patch } from '../support/policy-kit';
import chart from '../../fixtures/cp-phar-244/ra-approvable.json';

interface Use {
  ref: string;
  period: { low: { toString(): string }; high: { toString(): string } };
  known: boolean;
  active: boolean;
}

const engine = getEngine();
/** The chart as a new object: the kit's edits change the bundle they are given. */
const fresh = () => structuredClone(chart) as unknown as Bundle;
const base = fresh();

async function uses(bundle: Bundle, definition: string): Promise<{ ref: string; period: string; known: boolean; active: boolean }[]> {
  const inputs = { lineOfBusiness: [], diagnoses: [], priorAuthorizations: [], evaluationDate: EVALUATION_DATE, orderId: 'medreq-kineret' };
  const results = await evaluateExpressions(engine.libraries, 'CPPHAR244Kineret', [definition], preparePatientData(bundle).bundle, inputs, engine.codeService);
  const result = results.get(definition);
  if (!result || 'error' in result) throw new Error(`${definition} failed`);
  return (result.value as Use[]).map((u) => ({ ref: u.ref, period: `${u.period.low.toString()}..${u.period.high.toString()}`, known: u.known, active: u.active }));
}

const refs = (list: { ref: string }[]) => list.map((u) => u.ref);

describe('PACommon "Uses"', () => {
  test('one use per record, in record order, across requests, statements and dispenses', async () => {
    const tocilizumab = await uses(base, 'Tocilizumab Uses');
    expect(refs(tocilizumab)).toEqual([1, 2, 3, 4, 5].map((n) => `MedicationDispense/meddisp-actemra-${n}`));
    const agents = await uses(base, 'RA Agent Uses');
    expect(refs(agents)).toEqual(expect.arrayContaining(['MedicationRequest/medreq-mtx', 'MedicationStatement/medstmt-adalimumab', 'MedicationRequest/medreq-xeljanz']));
    expect(new Set(refs(agents)).size).toBe(agents.length);
  });

  test('a record given twice is one use', async () => {
    const twice = add(fresh(), structuredClone(find<MedicationDispense>(base, 'MedicationDispense/meddisp-actemra-2')));
    expect(await uses(twice, 'Tocilizumab Uses')).toEqual(await uses(base, 'Tocilizumab Uses'));
  });

  test('two versions of a record are one use when their periods agree, and two when they differ', async () => {
    const version = (edit: (d: MedicationDispense) => void) => {
      const copy = structuredClone(find<MedicationDispense>(base, 'MedicationDispense/meddisp-actemra-2'));
      edit(copy);
      return add(fresh(), copy);
    };
    const noted = await uses(version((d) => (d.note = [{ text: 'second copy' }])), 'Tocilizumab Uses');
    expect(noted).toEqual(await uses(base, 'Tocilizumab Uses'));

    const longer = await uses(version((d) => (d.daysSupply = { value: 60, unit: 'd', system: 'http://unitsofmeasure.org', code: 'd' })), 'Tocilizumab Uses');
    expect(refs(longer)).toEqual([...refs(await uses(base, 'Tocilizumab Uses')), 'MedicationDispense/meddisp-actemra-2']);
    expect(longer[1]?.period).not.toBe(longer[5]?.period);
  });

  test('a record in error or the order being decided is no use', async () => {
    const inError = patch<MedicationDispense>(fresh(), 'MedicationDispense/meddisp-actemra-3', (d) => (d.status = 'entered-in-error'));
    expect(refs(await uses(inError, 'Tocilizumab Uses'))).not.toContain('MedicationDispense/meddisp-actemra-3');
    expect(refs(await uses(base, 'Kineret Uses'))).not.toContain('MedicationRequest/medreq-kineret');
  });
});
