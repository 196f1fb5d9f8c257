/**
 * Lines of therapy and progression from the record (cql/PATherapyLines.cql, as CP.PHAR.533 uses it):
 * regimen periods, cycle-by-cycle orders, maintenance, restarts after time off therapy, agents added
 * later, and the IMWG serum M-protein rise from the nadir.
 */
import type { Bundle, FhirResource, MedicationStatement, Observation } from 'fhir/r4';
import { loadConfig } from '../../src/config';
import { buildValueSetIndex, loadValueSets } from '../../src/catalog/terminology';
import { loadLibraries } from '../../src/engine/libraries';
import { codeServiceFor, evaluateExpressions } from '../../src/engine/evaluate';
import { BORTEZOMIB, DARATUMUMAB, LENALIDOMIDE } from './kit';
import type { Drug } from '../support/policy-kit';

const { paths } = loadConfig();
const libraries = loadLibraries(paths.elm);
const codeService = codeServiceFor(buildValueSetIndex(loadValueSets(paths.valueSets)));
const POMALIDOMIDE: Drug = ['1369713', 'pomalidomide'];
const LENALIDOMIDE_25: Drug = ['643720', 'lenalidomide 25 MG Oral Capsule'];
const CARFILZOMIB: Drug = ['1806940', 'carfilzomib 60 MG Injection'];

let counter = 0;
const course = ([code, display]: Drug, start: string, end: string): MedicationStatement => ({
  resourceType: 'MedicationStatement',
  id: `medstmt-${++counter}`,
  status: 'completed',
  medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code, display }] },
  subject: { reference: 'Patient/pt-lines' },
  effectivePeriod: { start, end },
});
const mProtein = (date: string, value: number): Observation => ({
  resourceType: 'Observation',
  id: `obs-mp-${date}`,
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '33358-3' }] },
  subject: { reference: 'Patient/pt-lines' },
  effectiveDateTime: date,
  valueQuantity: { value, unit: 'g/dL', system: 'http://unitsofmeasure.org', code: 'g/dL' },
});
const bundleOf = (...resources: FhirResource[]): Bundle => ({
  resourceType: 'Bundle',
  type: 'collection',
  entry: [{ resourceType: 'Patient', id: 'pt-lines', birthDate: '1960-01-01' } as FhirResource, ...resources].map((resource) => ({ resource })),
});

interface Line {
  number: number;
  agents: string[];
  refs: string[];
}
async function evaluate(bundle: Bundle, names: string[]): Promise<Record<string, unknown>> {
  const results = await evaluateExpressions(libraries, 'CPPHAR533Carvykti', names, bundle, { lineOfBusiness: [], diagnoses: [], priorAuthorizations: [], evaluationDate: new Date('2026-11-20T15:00:00Z') }, codeService);
  return Object.fromEntries(names.map((n) => {
    const r = results.get(n)!;
    if ('error' in r) throw r.error;
    return [n, r.value];
  }));
}
async function lines(...resources: FhirResource[]): Promise<{ number: number; agents: string[] }[]> {
  const { 'Prior Lines': value } = await evaluate(bundleOf(...resources), ['Prior Lines']);
  return (value as Line[]).map((l) => ({ number: l.number, agents: [...l.agents].sort() }));
}

const PI = 'proteasome inhibitor';
const IMID = 'immunomodulatory agent';
const CD38 = 'anti-CD38 antibody';

describe('lines of therapy from medication history', () => {
  test('agents started within 30 days of each other are one regimen', async () => {
    expect(await lines(course(BORTEZOMIB, '2024-01-02', '2024-05-01'), course(LENALIDOMIDE, '2024-01-20', '2024-05-01'))).toEqual([{ number: 1, agents: [IMID, PI] }]);
  });

  test('cycle-by-cycle orders of the same agents stay one line', async () => {
    const cycles = ['2024-01-02', '2024-01-23', '2024-02-13', '2024-03-05', '2024-03-26', '2024-04-16'].flatMap((d) => {
      const end = new Date(Date.parse(d) + 20 * 86400000).toISOString().slice(0, 10);
      return [course(BORTEZOMIB, d, end), course(LENALIDOMIDE_25, d, end)];
    });
    expect(await lines(...cycles)).toEqual([{ number: 1, agents: [IMID, PI] }]);
  });

  test('maintenance with an agent of the line, months after induction (transplant in between), is the same line', async () => {
    expect(await lines(course(BORTEZOMIB, '2022-01-03', '2022-05-02'), course(LENALIDOMIDE_25, '2022-01-03', '2022-05-02'), course(LENALIDOMIDE, '2022-09-01', '2024-02-01'))).toEqual([
      { number: 1, agents: [IMID, PI] },
    ]);
  });

  test('an agent added more than 30 days into a line opens a new line', async () => {
    expect(await lines(course(LENALIDOMIDE, '2024-01-02', '2024-12-01'), course(DARATUMUMAB, '2024-03-01', '2024-12-01'))).toEqual([
      { number: 1, agents: [IMID] },
      { number: 2, agents: [CD38] },
    ]);
  });

  test('a switch to new agents after progression opens a new line, even when one agent of the class was used before', async () => {
    expect(await lines(course(LENALIDOMIDE, '2022-01-03', '2023-06-01'), course(POMALIDOMIDE, '2023-06-15', '2024-02-01'), course(DARATUMUMAB, '2023-06-15', '2024-02-01'))).toEqual([
      { number: 1, agents: [IMID] },
      { number: 2, agents: [CD38, IMID] },
    ]);
  });

  test('the same agents resumed after more than 180 days off therapy are a new line', async () => {
    expect(await lines(course(BORTEZOMIB, '2021-01-04', '2021-06-01'), course(BORTEZOMIB, '2022-03-01', '2022-07-01'))).toEqual([
      { number: 1, agents: [PI] },
      { number: 2, agents: [PI] },
    ]);
  });

  test('a switch within a class (bortezomib to carfilzomib) without a new class counts short: one line, never too many', async () => {
    expect(await lines(course(BORTEZOMIB, '2023-01-02', '2023-08-01'), course(CARFILZOMIB, '2023-09-01', '2024-03-01'))).toEqual([{ number: 1, agents: [PI] }]);
  });

  test('no myeloma therapy on record: no lines, and the count is 0', async () => {
    expect(await lines()).toEqual([]);
  });
});

describe('lenalidomide-refractory disease from the serum M-protein (IMWG: +25% from the nadir and at least +0.5 g/dL)', () => {
  const onLenalidomide = course(LENALIDOMIDE, '2023-01-02', '2024-06-30');
  const refractory = async (...observations: Observation[]) =>
    (await evaluate(bundleOf(onLenalidomide, ...observations), ['Lenalidomide Refractory (Chart)']))['Lenalidomide Refractory (Chart)'];

  test('a rise from 0.4 to 1.0 g/dL on lenalidomide: refractory', async () => {
    expect(await refractory(mProtein('2023-03-01', 0.8), mProtein('2023-09-01', 0.4), mProtein('2024-03-01', 1.0))).toBe(true);
  });

  test('a rise within 60 days after the last dose: refractory; later: not shown', async () => {
    expect(await refractory(mProtein('2023-09-01', 0.4), mProtein('2024-08-20', 1.0))).toBe(true);
    expect(await refractory(mProtein('2023-09-01', 0.4), mProtein('2024-09-15', 1.0))).toBeNull();
  });

  test('a 50% rise of only 0.3 g/dL is not progression', async () => {
    expect(await refractory(mProtein('2023-09-01', 0.6), mProtein('2024-03-01', 0.9))).toBeNull();
  });

  test('a rise of 0.6 g/dL that is under 25% of a high nadir is not progression', async () => {
    expect(await refractory(mProtein('2023-09-01', 3.0), mProtein('2024-03-01', 3.6))).toBeNull();
  });

  test('values before lenalidomide started are not the nadir', async () => {
    expect(await refractory(mProtein('2022-06-01', 0.1), mProtein('2023-03-01', 0.5))).toBeNull();
  });
});
