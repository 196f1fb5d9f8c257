/**
 * CP.PHAR.244 I.B (CAPS: NOMID/CINCA) and I.C (DIRA), initial approval: every criterion met,
 * unmet and unknown. Bases: nomid-child.json (23.4 kg, 50 mg daily) and dira.json (13.2 kg,
 * 25 mg daily, homozygous pathogenic IL1RN variant); the chart alone meets every criterion.
 */
import type { Bundle, Condition, Observation, PractitionerRole } from 'fhir/r4';
import { add, answer, patch, remove, setDose, statement } from './helpers';
import { runTable, type Row } from './table';

const QR = (linkId: string) => `QuestionnaireResponse/qr-cp-phar-244#${linkId}`;
const CANAKINUMAB: [string, string] = ['853491', 'canakinumab'];
const ETANERCEPT: [string, string] = ['727757', '1 ML etanercept 50 MG/ML Prefilled Syringe'];
const NUCC = 'http://nucc.org/provider-taxonomy';

const setSpecialty = (roleId: string, code: string, display: string) => (b: Bundle) =>
  patch<PractitionerRole>(b, `PractitionerRole/${roleId}`, (r) => { r.specialty = [{ coding: [{ system: NUCC, code, display }] }]; });
const dropSpecialty = (roleId: string) => (b: Bundle) => patch<PractitionerRole>(b, `PractitionerRole/${roleId}`, (r) => { delete r.specialty; });
const verification = (id: string, code: string) => (b: Bundle) =>
  patch<Condition>(b, `Condition/${id}`, (c) => { c.verificationStatus!.coding![0]!.code = code; });

// ---------------------------------------------------------------- I.B CAPS

const NOMID_ORDER = 'MedicationRequest/medreq-kineret';
const NOMID_WEIGHT = 'Observation/obs-weight-2026-11-05';
const OKAFOR = 'PractitionerRole/role-okafor-pediatric-rheumatology';

const capsRows: Row[] = [
  { id: 'I.B.1', status: 'met', fact: 'confirmed, active CINCA syndrome (SNOMED CT 239826001) with M04.2', evidence: ['Condition/cond-nomid'] },
  { id: 'I.B.1', status: 'unmet', fact: 'the NOMID/CINCA Condition is refuted', edit: verification('cond-nomid', 'refuted') },
  {
    id: 'I.B.1', status: 'unknown', fact: 'only ICD-10-CM M04.2, which does not tell NOMID from Muckle-Wells or FCAS',
    edit: (b) => patch<Condition>(b, 'Condition/cond-nomid', (c) => { c.code!.coding = c.code!.coding!.filter((x) => x.code === 'M04.2'); }),
  },
  { id: 'I.B.1', status: 'unknown', fact: 'no Condition in the chart (the order names NOMID)', edit: (b) => remove(b, 'Condition/cond-nomid') },
  {
    id: 'I.B.1', status: 'met', fact: 'only M04.2 in the chart, the questionnaire confirms NOMID/CINCA', evidence: [QR('nomid-diagnosis')],
    edit: (b) => {
      patch<Condition>(b, 'Condition/cond-nomid', (c) => { c.code!.coding = c.code!.coding!.filter((x) => x.code === 'M04.2'); });
      answer(b, { 'nomid-diagnosis': true });
    },
  },

  { id: 'I.B.2', status: 'met', fact: 'pediatric rheumatologist (NUCC 2080P0216X)', evidence: [OKAFOR] },
  { id: 'I.B.2', status: 'unmet', fact: 'general pediatrician (NUCC 208000000X)', edit: setSpecialty('role-okafor-pediatric-rheumatology', '208000000X', 'Pediatrics Physician') },
  { id: 'I.B.2', status: 'unknown', fact: 'the requester role has no specialty', edit: dropSpecialty('role-okafor-pediatric-rheumatology') },

  { id: 'I.B.3', status: 'met', fact: 'medication history with no biologic or JAK inhibitor' },
  {
    id: 'I.B.3', status: 'unmet', fact: 'Ilaris (canakinumab) is being taken now', evidence: ['MedicationStatement/medstmt-ilaris'],
    edit: (b) => add(b, statement(b, 'medstmt-ilaris', CANAKINUMAB, '2026-06-01')),
  },
  { id: 'I.B.3', status: 'unknown', fact: 'no medication history at all', edit: (b) => remove(b, 'MedicationStatement/medstmt-prednisolone') },

  { id: 'I.B.4', status: 'met', fact: '50 mg/day for 23.4 kg (2.1 mg/kg/day), latest of two weights', evidence: [NOMID_ORDER, NOMID_WEIGHT] },
  { id: 'I.B.4', status: 'met', fact: '185 mg/day as one dose for 23.4 kg (<= 187.2 mg, 2 syringes)', evidence: [NOMID_ORDER, NOMID_WEIGHT], edit: (b) => setDose(b, { mg: 185 }) },
  { id: 'I.B.4', status: 'unmet', fact: '200 mg/day for 23.4 kg (8.5 mg/kg/day)', evidence: [NOMID_ORDER, NOMID_WEIGHT], edit: (b) => setDose(b, { mg: 100, perDay: 2 }) },
  {
    id: 'I.B.4', status: 'unmet', fact: '60 mg three times a day: 180 mg is within 8 mg/kg, but 3 syringes exceed the 2 of Appendix E',
    evidence: [NOMID_ORDER, NOMID_WEIGHT], edit: (b) => setDose(b, { mg: 60, perDay: 3 }),
  },
  {
    id: 'I.B.4', status: 'met', fact: 'the latest weight is recorded in pounds (51.6 [lb_av])', evidence: [NOMID_ORDER, NOMID_WEIGHT],
    edit: (b) => patch<Observation>(b, NOMID_WEIGHT, (o) => { o.valueQuantity = { value: 51.6, unit: 'lb', system: 'http://unitsofmeasure.org', code: '[lb_av]' }; }),
  },
  { id: 'I.B.4', status: 'unknown', fact: 'no body weight on record', evidence: [NOMID_ORDER], edit: (b) => remove(b, 'Observation/obs-weight-2026-05-14', NOMID_WEIGHT) },
  { id: 'I.B.4', status: 'unknown', fact: 'the order has no structured dose', evidence: [NOMID_ORDER, NOMID_WEIGHT], edit: (b) => setDose(b, null) },
];

// ---------------------------------------------------------------- I.C DIRA

const DIRA_ORDER = 'MedicationRequest/medreq-kineret';
const DIRA_WEIGHT = 'Observation/obs-weight-2026-11-03';
const VARIANT = 'Observation/obs-il1rn-variant';

const setSignificance = (code: string, display: string) => (b: Bundle) =>
  patch<Observation>(b, VARIANT, (o) => {
    const c = o.component!.find((x) => x.code.coding?.[0]?.code === '53037-8')!;
    c.valueCodeableConcept = { coding: [{ system: 'http://loinc.org', code, display }] };
  });

const diraRows: Row[] = [
  { id: 'I.C.1', status: 'met', fact: 'DIRA Condition and a pathogenic homozygous IL1RN variant', evidence: ['Condition/cond-dira', VARIANT] },
  { id: 'I.C.1', status: 'met', fact: 'the IL1RN variant is likely pathogenic', evidence: ['Condition/cond-dira', VARIANT], edit: setSignificance('LA26332-9', 'Likely pathogenic') },
  { id: 'I.C.1', status: 'unmet', fact: 'the DIRA Condition is refuted', evidence: [VARIANT], edit: verification('cond-dira', 'refuted') },
  { id: 'I.C.1', status: 'unknown', fact: 'no IL1RN result on record (M04.8 alone does not prove DIRA)', evidence: ['Condition/cond-dira'], edit: (b) => remove(b, VARIANT) },
  { id: 'I.C.1', status: 'unknown', fact: 'the IL1RN variant is of uncertain significance', evidence: ['Condition/cond-dira', VARIANT], edit: setSignificance('LA26333-7', 'Uncertain significance') },
  {
    id: 'I.C.1', status: 'unknown', fact: 'the IL1RN result is preliminary', evidence: ['Condition/cond-dira', VARIANT],
    edit: (b) => patch<Observation>(b, VARIANT, (o) => { o.status = 'preliminary'; }),
  },
  {
    id: 'I.C.1', status: 'met', fact: 'no IL1RN result in the chart, the questionnaire attests loss-of-function mutations', evidence: ['Condition/cond-dira', QR('il1rn-mutation')],
    edit: (b) => answer(remove(b, VARIANT), { 'il1rn-mutation': true }),
  },

  { id: 'I.C.2', status: 'met', fact: 'pediatric rheumatologist (NUCC 2080P0216X)', evidence: [OKAFOR] },
  { id: 'I.C.2', status: 'unmet', fact: 'medical geneticist (NUCC 207SG0201X)', edit: setSpecialty('role-okafor-pediatric-rheumatology', '207SG0201X', 'Clinical Genetics (M.D.) Physician') },
  { id: 'I.C.2', status: 'unknown', fact: 'the requester role has no specialty', edit: dropSpecialty('role-okafor-pediatric-rheumatology') },
  {
    id: 'I.C.2', status: 'met', fact: 'medical geneticist, the questionnaire names the consulting rheumatologist', evidence: [QR('rheumatologist-consulted')],
    edit: (b) => {
      setSpecialty('role-okafor-pediatric-rheumatology', '207SG0201X', 'Clinical Genetics (M.D.) Physician')(b);
      answer(b, { 'rheumatologist-consulted': true });
    },
  },

  { id: 'I.C.3', status: 'met', fact: 'medication history with no biologic or JAK inhibitor' },
  {
    id: 'I.C.3', status: 'unmet', fact: 'etanercept is being taken now', evidence: ['MedicationStatement/medstmt-etanercept'],
    edit: (b) => add(b, statement(b, 'medstmt-etanercept', ETANERCEPT, '2026-09-01')),
  },
  { id: 'I.C.3', status: 'unknown', fact: 'no medication history at all', edit: (b) => remove(b, 'MedicationStatement/medstmt-prednisolone') },
  {
    id: 'I.C.3', status: 'met', fact: 'no medication history, the questionnaire attests no combination use', evidence: [QR('no-combination')],
    edit: (b) => answer(remove(b, 'MedicationStatement/medstmt-prednisolone'), { 'no-combination': true }),
  },

  { id: 'I.C.4', status: 'met', fact: '25 mg/day for 13.2 kg (1.9 mg/kg/day)', evidence: [DIRA_ORDER, DIRA_WEIGHT] },
  { id: 'I.C.4', status: 'met', fact: '105 mg/day for 13.2 kg (8 mg/kg/day allows 105.6 mg)', evidence: [DIRA_ORDER, DIRA_WEIGHT], edit: (b) => setDose(b, { mg: 105 }) },
  { id: 'I.C.4', status: 'unmet', fact: '110 mg/day for 13.2 kg (8.3 mg/kg/day)', evidence: [DIRA_ORDER, DIRA_WEIGHT], edit: (b) => setDose(b, { mg: 110 }) },
  { id: 'I.C.4', status: 'unknown', fact: 'no body weight on record', evidence: [DIRA_ORDER], edit: (b) => remove(b, DIRA_WEIGHT) },
];

describe('CP.PHAR.244 I.B CAPS (NOMID/CINCA), initial approval', () => {
  runTable({ base: 'nomid-child', baseline: { 'I.B.1': 'met', 'I.B.2': 'met', 'I.B.3': 'met', 'I.B.4': 'met' }, rows: capsRows });
});

describe('CP.PHAR.244 I.C DIRA, initial approval', () => {
  runTable({ base: 'dira', baseline: { 'I.C.1': 'met', 'I.C.2': 'met', 'I.C.3': 'met', 'I.C.4': 'met' }, rows: diraRows });
});

test('every I.B and I.C criterion has met, unmet and unknown rows', () => {
  for (const [rows, ids] of [
    [capsRows, ['I.B.1', 'I.B.2', 'I.B.3', 'I.B.4']],
    [diraRows, ['I.C.1', 'I.C.2', 'I.C.3', 'I.C.4']],
  ] as const) {
    for (const id of ids) {
      expect([id, [...new Set(rows.filter((r) => r.id === id).map((r) => r.status))].sort()]).toEqual([id, ['met', 'unknown', 'unmet']]);
    }
  }
});
