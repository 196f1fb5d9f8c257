/**
 * NH.PHAR.244 I.B (CAPS: NOMID / CINCA), I.C (DIRA), I.D (COVID-19) and I.E (other uses), initial
 * approval: every criterion met, unmet and unknown.
 * Bases: fixtures/nh-phar-244/nomid-child.json (7-year-old, 23.4 kg, 50 mg daily, pediatric
 * rheumatologist), dira.json (2-year-old, 13.2 kg, 25 mg daily, IL1RN pathogenic variant),
 * covid-outpatient.json (adult with COVID-19 pneumonia, internist).
 */
import type { Condition, Observation } from 'fhir/r4';
import { add, patch, remove, setDose, setSpecialty, statement, type Row } from '../support/policy-kit';
import { ETANERCEPT, kit, QR } from './kit';

const { answer, runTable, evaluate, load } = kit;
const PEDS_RHEUM = 'role-okafor-pediatric-rheumatology';

// ------------------------------------------------------------------ I.B CAPS
const NOMID_ORDER = ['MedicationRequest/medreq-kineret', 'Observation/obs-weight-2026-11-05'];
const capsRows: Row[] = [
  { id: 'I.B.1', status: 'met', fact: 'confirmed CINCA syndrome (SNOMED CT 239826001)', evidence: ['Condition/cond-nomid'] },
  {
    id: 'I.B.1', status: 'unknown', fact: 'only ICD-10-CM M04.2, which every CAPS phenotype shares',
    edit: (b) => patch<Condition>(b, 'Condition/cond-nomid', (c) => { c.code!.coding = c.code!.coding!.filter((x) => x.code === 'M04.2'); }),
  },
  {
    id: 'I.B.1', status: 'unmet', fact: 'the NOMID Condition is refuted',
    edit: (b) => patch<Condition>(b, 'Condition/cond-nomid', (c) => { c.verificationStatus!.coding![0]!.code = 'refuted'; }),
  },
  {
    id: 'I.B.1', status: 'met', fact: 'only M04.2, the questionnaire names NOMID', evidence: [QR('nomid-diagnosis')],
    edit: (b) => {
      patch<Condition>(b, 'Condition/cond-nomid', (c) => { c.code!.coding = c.code!.coding!.filter((x) => x.code === 'M04.2'); });
      answer(b, { 'nomid-diagnosis': true });
    },
  },
  { id: 'I.B.2', status: 'met', fact: 'pediatric rheumatologist (NUCC 2080P0216X)', evidence: [`PractitionerRole/${PEDS_RHEUM}`] },
  { id: 'I.B.2', status: 'unmet', fact: 'a general pediatrician', edit: (b) => setSpecialty(b, PEDS_RHEUM, '208000000X', 'Pediatrics Physician') },
  { id: 'I.B.2', status: 'unknown', fact: 'no specialty recorded', edit: (b) => setSpecialty(b, PEDS_RHEUM, null) },
  { id: 'I.B.3', status: 'met', fact: 'medication history (prednisolone) with no biologic or JAK inhibitor' },
  {
    id: 'I.B.3', status: 'unmet', fact: 'etanercept is being taken now', evidence: ['MedicationStatement/medstmt-etanercept'],
    edit: (b) => add(b, statement(b, 'medstmt-etanercept', ETANERCEPT, '2026-06-01')),
  },
  { id: 'I.B.3', status: 'unknown', fact: 'no medication history at all', edit: (b) => remove(b, 'MedicationStatement/medstmt-prednisolone') },
  { id: 'I.B.4', status: 'met', fact: '50 mg daily for 23.4 kg (limit 187 mg, 2 syringes)', evidence: NOMID_ORDER },
  { id: 'I.B.4', status: 'unmet', fact: '200 mg daily for 23.4 kg', evidence: NOMID_ORDER, edit: (b) => setDose(b, { mg: 200 }) },
  {
    id: 'I.B.4', status: 'unmet', fact: '50 mg three times a day: 150 mg is under 8 mg/kg but needs 3 syringes (Appendix E allows 2)',
    evidence: NOMID_ORDER, edit: (b) => setDose(b, { mg: 50, perDay: 3 }),
  },
  {
    id: 'I.B.4', status: 'unknown', fact: 'no body weight on record', evidence: ['MedicationRequest/medreq-kineret'],
    edit: (b) => remove(b, 'Observation/obs-weight-2026-05-14', 'Observation/obs-weight-2026-11-05'),
  },
];

// ------------------------------------------------------------------ I.C DIRA
const DIRA_ORDER = ['MedicationRequest/medreq-kineret', 'Observation/obs-weight-2026-11-03'];
const diraRows: Row[] = [
  { id: 'I.C.1', status: 'met', fact: 'DIRA Condition and a pathogenic homozygous IL1RN variant', evidence: ['Condition/cond-dira', 'Observation/obs-il1rn-variant'] },
  { id: 'I.C.1', status: 'unknown', fact: 'no genetic result on record', evidence: ['Condition/cond-dira'], edit: (b) => remove(b, 'Observation/obs-il1rn-variant') },
  {
    id: 'I.C.1', status: 'unknown', fact: 'the IL1RN variant is of uncertain significance', evidence: ['Condition/cond-dira', 'Observation/obs-il1rn-variant'],
    edit: (b) => patch<Observation>(b, 'Observation/obs-il1rn-variant', (o) => {
      o.component![2]!.valueCodeableConcept = { coding: [{ system: 'http://loinc.org', code: 'LA26333-7', display: 'Uncertain significance' }] };
    }),
  },
  {
    id: 'I.C.1', status: 'unmet', fact: 'the DIRA Condition is refuted', evidence: ['Observation/obs-il1rn-variant'],
    edit: (b) => patch<Condition>(b, 'Condition/cond-dira', (c) => { c.verificationStatus!.coding![0]!.code = 'refuted'; }),
  },
  {
    id: 'I.C.1', status: 'met', fact: 'no genetic result on record, the questionnaire attests IL1RN mutations', evidence: ['Condition/cond-dira', QR('il1rn-mutation')],
    edit: (b) => answer(remove(b, 'Observation/obs-il1rn-variant'), { 'il1rn-mutation': true }),
  },
  { id: 'I.C.2', status: 'met', fact: 'pediatric rheumatologist', evidence: [`PractitionerRole/${PEDS_RHEUM}`] },
  { id: 'I.C.2', status: 'unmet', fact: 'a dermatologist', edit: (b) => setSpecialty(b, PEDS_RHEUM, '207N00000X', 'Dermatology Physician') },
  { id: 'I.C.2', status: 'unknown', fact: 'no specialty recorded', edit: (b) => setSpecialty(b, PEDS_RHEUM, null) },
  { id: 'I.C.3', status: 'met', fact: 'medication history with no biologic or JAK inhibitor' },
  {
    id: 'I.C.3', status: 'unmet', fact: 'etanercept is being taken now', evidence: ['MedicationStatement/medstmt-etanercept'],
    edit: (b) => add(b, statement(b, 'medstmt-etanercept', ETANERCEPT, '2026-06-01')),
  },
  { id: 'I.C.3', status: 'unknown', fact: 'no medication history at all', edit: (b) => remove(b, 'MedicationStatement/medstmt-prednisolone') },
  { id: 'I.C.4', status: 'met', fact: '25 mg daily for 13.2 kg (limit 105.6 mg)', evidence: DIRA_ORDER },
  { id: 'I.C.4', status: 'unmet', fact: '110 mg daily for 13.2 kg', evidence: DIRA_ORDER, edit: (b) => setDose(b, { mg: 110 }) },
  {
    id: 'I.C.4', status: 'unknown', fact: 'the weight is recorded without a unit', evidence: DIRA_ORDER,
    edit: (b) => patch<Observation>(b, 'Observation/obs-weight-2026-11-03', (o) => { o.valueQuantity = { value: 13.2 }; }),
  },
];

describe('NH.PHAR.244 I.B CAPS (NOMID / CINCA), initial approval', () => {
  runTable({ base: 'nomid-child', indication: 'CAPS', baseline: { 'I.B.1': 'met', 'I.B.2': 'met', 'I.B.3': 'met', 'I.B.4': 'met' }, rows: capsRows });
});

describe('NH.PHAR.244 I.C DIRA, initial approval', () => {
  runTable({ base: 'dira', indication: 'DIRA', baseline: { 'I.C.1': 'met', 'I.C.2': 'met', 'I.C.3': 'met', 'I.C.4': 'met' }, rows: diraRows });
});

test('every I.B and I.C criterion has a met, an unmet and an unknown row', () => {
  for (const [rows, ids] of [[capsRows, ['I.B.1', 'I.B.2', 'I.B.3', 'I.B.4']], [diraRows, ['I.C.1', 'I.C.2', 'I.C.3', 'I.C.4']]] as const) {
    for (const id of ids) {
      const have = new Set(rows.filter((r) => r.id === id).map((r) => r.status));
      expect([id, [...have].sort()]).toEqual([id, ['met', 'unknown', 'unmet']]);
    }
  }
});

// ------------------------------------------------------------------ I.D COVID-19, I.E other uses
describe('NH.PHAR.244 I.D COVID-19 (emergency use authorization)', () => {
  test('I.D.1 unmet: outpatient (office, POS 11) initiation is denied, citing I.D.1', async () => {
    const decision = await evaluate(load('covid-outpatient'), { placeOfService: '11' });
    expect(decision.indication?.id).toBe('COVID19');
    expect(decision.criteria).toEqual([expect.objectContaining({ id: 'I.D.1', citation: 'NH.PHAR.244 I.D.1', status: 'unmet', onUnmet: 'deny' })]);
    expect(decision.outcome).toBe('deny');
    expect(decision.reasons).toEqual([expect.objectContaining({ code: 'not-authorized', citation: 'NH.PHAR.244 I.D.1' })]);
  });

  test('I.D.1 met: inpatient (POS 21) — the policy gives no approval duration, so a physician reviewer decides', async () => {
    const decision = await evaluate(load('covid-outpatient'), { placeOfService: '21' });
    expect(decision.criteria[0]).toMatchObject({ id: 'I.D.1', status: 'met' });
    expect(decision.outcome).toBe('pend');
    expect(decision.reviewRoute).toBe('physician-reviewer');
    expect(decision.approvalPeriod).toBeUndefined();
  });

  test('I.D.1 unknown: the request does not say where Kineret is given', async () => {
    const decision = await evaluate(load('covid-outpatient'));
    expect(decision.criteria[0]).toMatchObject({ id: 'I.D.1', status: 'unknown' });
    expect(decision.outcome).toBe('pend');
  });

  test('II.B.1 unmet: outpatient continuation is denied', async () => {
    const decision = await evaluate(load('covid-outpatient'), { placeOfService: '11', phaseHint: 'continuation' });
    expect(decision.phase).toBe('continuation');
    expect(decision.criteria).toEqual([expect.objectContaining({ id: 'II.B.1', citation: 'NH.PHAR.244 II.B.1', status: 'unmet' })]);
    expect(decision.outcome).toBe('deny');
  });

  test('II.B.1 met (inpatient) pends and unknown (no place of service) pends', async () => {
    const met = await evaluate(load('covid-outpatient'), { placeOfService: '21', phaseHint: 'continuation' });
    expect([met.criteria[0]?.status, met.outcome]).toEqual(['met', 'pend']);
    const unknown = await evaluate(load('covid-outpatient'), { phaseHint: 'continuation' });
    expect([unknown.criteria[0]?.status, unknown.outcome]).toEqual(['unknown', 'pend']);
  });
});

describe('NH.PHAR.244 I.E / II.C other diagnoses', () => {
  test("a use the policy does not list (adult-onset Still's disease) goes to off-label review, citing I.E", async () => {
    const bundle = load('ra-one-preferred-product');
    const stills = [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'M06.1', display: "Adult-onset Still's disease" }];
    remove(bundle, 'Condition/cond-ra');
    const decision = await evaluate(bundle, { diagnoses: stills });
    expect(decision.indication?.id).toBe('OTHER');
    expect(decision.outcome).toBe('pend');
    expect(decision.reviewRoute).toBe('physician-reviewer');
    expect(decision.reasons).toEqual([expect.objectContaining({ code: 'review-required', citation: 'NH.PHAR.244 I.E' })]);
    expect(decision.reasons[0]?.text).toContain('CP.PMN.53');
  });

  test('continued therapy for an unlisted use is referred the same way, citing II.C', async () => {
    const bundle = load('ra-one-preferred-product');
    remove(bundle, 'Condition/cond-ra');
    const decision = await evaluate(bundle, { diagnoses: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'M06.1' }], phaseHint: 'continuation' });
    expect(decision.reasons).toEqual([expect.objectContaining({ code: 'review-required', citation: 'NH.PHAR.244 II.C' })]);
  });
});

