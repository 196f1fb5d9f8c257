/**
 * Molina Kineret guideline, continuation of therapy (CONT.A.1-4, CONTRAINDICATIONS, PRESCRIBER, AGE,
 * QUANTITY): every criterion met, unmet and unknown, with adherence computed as the proportion of
 * days covered (PDC) by Kineret fills (MedicationDispense) in the last 12 months.
 * Bases: ra-continuation.json (RA, Kineret fills every 28 days since 22 May 2026, CDAI 30 -> 9, a
 * Molina approval on file) and sjia-child.json turned into a child on Kineret (JIA titration limits).
 */
import path from 'node:path';
import type { AllergyIntolerance, Bundle, Observation } from 'fhir/r4';
import { REPO_ROOT } from '../../src/config';
import { buildValueSetIndex, loadValueSets } from '../../src/catalog/terminology';
import { loadLibraries } from '../../src/engine/libraries';
import { codeServiceFor, evaluateExpressions } from '../../src/engine/evaluate';
import { preparePatientData } from '../../src/engine/patient-data';
import type { PriorAuthorization } from '../../src/engine/request';
import { add, dispense, EVALUATION_DATE, intolerance, patch, remove, setAge, setDose, setSpecialty, statement, type Row } from '../support/policy-kit';
import { KINERET, kit, QR, TOFACITINIB } from './kit';

const { answer, runTable, evaluate, load } = kit;

const APPROVAL: PriorAuthorization = { number: 'MOL-PA-2026-05-7710', policyId: 'molina-kineret', start: '2026-05-20', end: '2026-11-19', status: 'approved' };
const FILLS = [1, 2, 3, 4, 5, 6, 7].map((n) => `MedicationDispense/meddisp-kineret-${n}`);
const fills = (...n: number[]) => n.map((i) => `MedicationDispense/meddisp-kineret-${i}`);
const CDAI = ['Observation/obs-cdai-2026-05-05', 'Observation/obs-cdai-2026-11-10'];
const removeMedicationHistory = (b: Bundle) =>
  remove(b, (r) => (r.resourceType === 'MedicationRequest' && r.id !== 'medreq-kineret') || r.resourceType === 'MedicationStatement' || r.resourceType === 'MedicationDispense');

/** The proportion of days covered the library computes for a bundle. */
async function pdc(bundle: Bundle): Promise<number | null> {
  const { bundle: data } = preparePatientData(bundle);
  const results = await evaluateExpressions(
    loadLibraries(path.join(REPO_ROOT, 'dist', 'elm')),
    'MolinaKineret',
    ['Proportion Of Days Covered'],
    data,
    { orderId: 'medreq-kineret', lineOfBusiness: [], diagnoses: [], priorAuthorizations: [], evaluationDate: EVALUATION_DATE },
    codeServiceFor(buildValueSetIndex(loadValueSets(path.join(REPO_ROOT, 'catalog', 'valuesets')))),
  );
  const result = results.get('Proportion Of Days Covered');
  if (!result || 'error' in result) throw new Error(result && 'error' in result ? result.error.message : 'not evaluated');
  return result.value as number | null;
}

describe('adherence: proportion of days covered by Kineret fills', () => {
  test('fills every 28 days since 22 May: every day covered', async () => {
    expect(await pdc(load('ra-continuation'))).toBe(1);
  });

  test('one 28-day fill missed: 154 of 182 days (84.6%)', async () => {
    expect(await pdc(remove(load('ra-continuation'), ...fills(4)))).toBeCloseTo(154 / 182, 6);
  });

  test('one fill 10 days late: 172 of 182 days', async () => {
    const bundle = patch(load('ra-continuation'), 'MedicationDispense/meddisp-kineret-4', (d: import('fhir/r4').MedicationDispense) => {
      d.whenHandedOver = '2026-08-24T12:00:00-05:00';
    });
    // The fills after it overlap the late one: overlapping supplies count once.
    expect(await pdc(bundle)).toBeCloseTo(172 / 182, 6);
  });

  test('a fill older than 12 months does not open the window', async () => {
    const bundle = load('ra-continuation');
    add(bundle, dispense(bundle, 'meddisp-kineret-2025', KINERET, '2025-06-01'));
    expect(await pdc(bundle)).toBe(1);
  });

  test('no fills: no proportion (the questionnaire decides)', async () => {
    expect(await pdc(remove(load('ra-continuation'), ...FILLS))).toBeNull();
  });
});

const raRows: Row[] = [
  // CONT.A.1 adherence
  { id: 'CONT.A.1', status: 'met', fact: 'fills cover every day since the first fill (PDC 100%)', evidence: FILLS },
  { id: 'CONT.A.1', status: 'unmet', fact: 'one 28-day fill missed (PDC 84.6%)', evidence: fills(1, 2, 3, 5, 6, 7), edit: (b) => remove(b, ...fills(4)) },
  {
    id: 'CONT.A.1', status: 'unmet', fact: 'three fills missed (PDC 54%); the prescriber reports good adherence, the fill history wins',
    evidence: [...fills(1, 2, 6, 7), QR('adherence-85')], edit: (b) => answer(remove(b, ...fills(3, 4, 5)), { 'adherence-85': true }),
  },
  {
    id: 'CONT.A.1', status: 'met', fact: 'three fills missed, because surgery interrupted therapy (prescriber)',
    evidence: [...fills(1, 2, 6, 7), QR('adherence-interrupted')], edit: (b) => answer(remove(b, ...fills(3, 4, 5)), { 'adherence-interrupted': true }),
  },
  {
    id: 'CONT.A.1', status: 'met', fact: 'no fill history, the prescriber verifies adherence of 85% or more', evidence: [QR('adherence-85')],
    edit: (b) => answer(remove(b, ...FILLS), { 'adherence-85': true }),
  },
  {
    id: 'CONT.A.1', status: 'unmet', fact: 'no fill history, the prescriber reports lower adherence not due to surgery or infection',
    evidence: [QR('adherence-85'), QR('adherence-interrupted')], edit: (b) => answer(remove(b, ...FILLS), { 'adherence-85': false, 'adherence-interrupted': false }),
  },
  { id: 'CONT.A.1', status: 'unknown', fact: 'no fill history and no answer', edit: (b) => remove(b, ...FILLS) },

  // CONT.A.2 no intolerable adverse effects
  { id: 'CONT.A.2', status: 'met', fact: 'the prescriber attests no intolerable adverse effects', evidence: [QR('no-intolerable-adverse-effects')] },
  {
    id: 'CONT.A.2', status: 'unmet', fact: 'a Kineret intolerance (severe injection-site reactions) is on record',
    evidence: ['AllergyIntolerance/allergy-kineret', QR('no-intolerable-adverse-effects')],
    edit: (b) => add(b, intolerance(b, 'allergy-kineret', ['72435', 'anakinra'], 'Severe injection-site reactions')),
  },
  {
    id: 'CONT.A.2', status: 'unmet', fact: 'the prescriber reports intolerable adverse effects', evidence: [QR('no-intolerable-adverse-effects')],
    edit: (b) => answer(b, { 'no-intolerable-adverse-effects': false }),
  },
  { id: 'CONT.A.2', status: 'unknown', fact: 'no attestation', edit: (b) => answer(b, { 'no-intolerable-adverse-effects': null }) },
  {
    id: 'CONT.A.2', status: 'met', fact: 'a refuted Kineret intolerance does not count', evidence: [QR('no-intolerable-adverse-effects')],
    edit: (b) => {
      const allergy = intolerance(b, 'allergy-kineret', ['72435', 'anakinra'], 'Rash, later attributed to amoxicillin');
      allergy.verificationStatus!.coding![0]!.code = 'refuted';
      add(b, allergy as AllergyIntolerance);
    },
  },

  // CONT.A.3 positive response (RA: CDAI)
  { id: 'CONT.A.3', status: 'met', fact: 'CDAI 30 -> 9: low disease activity', evidence: CDAI },
  {
    id: 'CONT.A.3', status: 'met', fact: 'CDAI 30 -> 18: improved from baseline', evidence: CDAI,
    edit: (b) => patch<Observation>(b, CDAI[1]!, (o) => { o.valueQuantity!.value = 18; }),
  },
  {
    id: 'CONT.A.3', status: 'unmet', fact: 'CDAI 30 -> 34: worse', evidence: CDAI,
    edit: (b) => patch<Observation>(b, CDAI[1]!, (o) => { o.valueQuantity!.value = 34; }),
  },
  {
    id: 'CONT.A.3', status: 'unknown', fact: 'one CDAI (18) only: neither low nor comparable', evidence: CDAI.slice(1),
    edit: (b) => { remove(b, CDAI[0]!); patch<Observation>(b, CDAI[1]!, (o) => { o.valueQuantity!.value = 18; }); },
  },
  {
    id: 'CONT.A.3', status: 'met', fact: 'no CDAI, the prescriber documents improvement', evidence: [QR('positive-response')],
    edit: (b) => answer(remove(b, ...CDAI), { 'positive-response': true }),
  },

  // CONT.A.4 infection monitoring
  { id: 'CONT.A.4', status: 'met', fact: 'the prescriber attests ongoing infection monitoring', evidence: [QR('infection-monitoring')] },
  { id: 'CONT.A.4', status: 'unmet', fact: 'the prescriber says there is none', evidence: [QR('infection-monitoring')], edit: (b) => answer(b, { 'infection-monitoring': false }) },
  { id: 'CONT.A.4', status: 'unknown', fact: 'no attestation', edit: (b) => answer(b, { 'infection-monitoring': null }) },

  // CONTRAINDICATIONS (not with other biologic therapies)
  { id: 'CONTRAINDICATIONS', status: 'met', fact: 'Kineret and methotrexate only' },
  {
    id: 'CONTRAINDICATIONS', status: 'unmet', fact: 'tofacitinib started in October', evidence: ['MedicationStatement/medstmt-tofacitinib'],
    edit: (b) => add(b, statement(b, 'medstmt-tofacitinib', TOFACITINIB, '2026-10-01')),
  },
  {
    id: 'CONTRAINDICATIONS', status: 'unknown', fact: 'no medication history at all (continuation said by the request)',
    options: { phaseHint: 'continuation' }, also: { 'CONT.A.1': 'unknown' }, edit: removeMedicationHistory,
  },

  // PRESCRIBER, AGE, QUANTITY also apply to renewals
  { id: 'PRESCRIBER', status: 'met', fact: 'rheumatologist', evidence: ['PractitionerRole/role-osei-rheumatology'] },
  { id: 'PRESCRIBER', status: 'unmet', fact: 'an internist without a specialist consultation', edit: (b) => setSpecialty(b, 'role-osei-rheumatology', '207R00000X', 'Internal Medicine') },
  { id: 'PRESCRIBER', status: 'unknown', fact: 'no specialty recorded', edit: (b) => setSpecialty(b, 'role-osei-rheumatology', null) },
  { id: 'AGE', status: 'met', fact: '57 years old', evidence: ['Patient/pt-molina-ra-continuation'] },
  { id: 'AGE', status: 'unmet', fact: '17 years old', evidence: ['Patient/pt-molina-ra-continuation'], edit: (b) => setAge(b, 17) },
  {
    id: 'AGE', status: 'unknown', fact: 'no birthDate', evidence: ['Patient/pt-molina-ra-continuation'],
    edit: (b) => patch(b, 'Patient/pt-molina-ra-continuation', (p: import('fhir/r4').Patient) => { delete p.birthDate; }),
  },
  { id: 'QUANTITY', status: 'met', fact: '100 mg daily', evidence: ['MedicationRequest/medreq-kineret'] },
  { id: 'QUANTITY', status: 'unmet', fact: '100 mg twice daily', evidence: ['MedicationRequest/medreq-kineret'], edit: (b) => setDose(b, { mg: 100, perDay: 2 }) },
  { id: 'QUANTITY', status: 'unknown', fact: 'no structured dose', evidence: ['MedicationRequest/medreq-kineret'], edit: (b) => setDose(b, null) },
];

const RA_BASELINE = {
  'CONT.A.1': 'met', 'CONT.A.2': 'met', 'CONT.A.3': 'met', 'CONT.A.4': 'met', CONTRAINDICATIONS: 'met', PRESCRIBER: 'met', AGE: 'met', QUANTITY: 'met',
} as const;

describe('Molina Kineret guideline, continuation of therapy: rheumatoid arthritis', () => {
  runTable({ base: 'ra-continuation', indication: 'RA', phase: 'continuation', options: { priorAuthorizations: [APPROVAL] }, baseline: RA_BASELINE, rows: raRows });

  test('all met: approved for 12 months', async () => {
    const decision = await evaluate(load('ra-continuation'), { priorAuthorizations: [APPROVAL] });
    expect(decision.outcome).toBe('approve');
    expect(decision.approvalPeriod).toEqual({ start: '2026-11-20', end: '2027-11-19' });
  });

  test('continued therapy is recognised from the fills alone, without an approval on file', async () => {
    const decision = await evaluate(load('ra-continuation'));
    expect(decision.phase).toBe('continuation');
  });
});

/** The systemic JIA child, on Kineret 40 mg daily since June under a Molina approval; the new order is 80 mg. */
function sjiaOnKineret(b: Bundle): void {
  for (const [n, date] of [[1, '2026-06-01'], [2, '2026-06-29'], [3, '2026-07-27'], [4, '2026-08-24'], [5, '2026-09-21'], [6, '2026-10-19'], [7, '2026-11-16']] as const) {
    add(b, dispense(b, `meddisp-kineret-${n}`, KINERET, date));
  }
  setDose(b, { mg: 80 });
  answer(b, { 'positive-response': true, 'no-intolerable-adverse-effects': true, 'infection-monitoring': true });
}
const JIA_DOSE = ['MedicationRequest/medreq-kineret', 'Observation/obs-weight-2026-11-06'];
const jiaRows: Row[] = [
  { id: 'CONT.A.3', status: 'met', fact: 'the prescriber documents a positive response', evidence: [QR('positive-response')] },
  { id: 'CONT.A.3', status: 'unmet', fact: 'the prescriber documents no response', evidence: [QR('positive-response')], edit: (b) => answer(b, { 'positive-response': false }) },
  { id: 'CONT.A.3', status: 'unknown', fact: 'no answer about the response', edit: (b) => answer(b, { 'positive-response': null }) },
  { id: 'QUANTITY', status: 'met', fact: 'systemic JIA titrated to 80 mg daily for 22 kg (limit 4 mg/kg = 88 mg)', evidence: JIA_DOSE },
  { id: 'QUANTITY', status: 'unmet', fact: 'systemic JIA, 90 mg daily for 22 kg', evidence: JIA_DOSE, edit: (b) => setDose(b, { mg: 90 }) },
  {
    id: 'QUANTITY', status: 'unmet', fact: 'systemic JIA, 210 mg daily for 60 kg: over the 200 mg maximum', evidence: JIA_DOSE,
    edit: (b) => {
      patch<Observation>(b, 'Observation/obs-weight-2026-11-06', (o) => { o.valueQuantity!.value = 60; });
      setDose(b, { mg: 105, perDay: 2 });
    },
  },
  { id: 'QUANTITY', status: 'unknown', fact: 'no body weight on record', evidence: ['MedicationRequest/medreq-kineret'], edit: (b) => remove(b, 'Observation/obs-weight-2026-11-06') },
];

describe('Molina Kineret guideline, continuation of therapy: systemic JIA', () => {
  runTable({
    base: 'sjia-child',
    prepare: sjiaOnKineret,
    indication: 'JIA',
    phase: 'continuation',
    options: { priorAuthorizations: [{ ...APPROVAL, start: '2026-05-28', end: '2026-11-27' }] },
    baseline: { ...RA_BASELINE },
    rows: jiaRows,
  });
});

test('every continuation criterion has a met, an unmet and an unknown row', () => {
  const rows = [...raRows, ...jiaRows];
  for (const id of Object.keys(RA_BASELINE)) {
    const have = new Set(rows.filter((r) => r.id === id).map((r) => r.status));
    expect([id, [...have].sort()]).toEqual([id, ['met', 'unknown', 'unmet']]);
  }
});

