/**
 * Molina Kineret guideline, moderate to severe rheumatoid arthritis (section A) with the "for all
 * indications" gates (ALL.1-3), prescriber, age and quantity rules: every criterion met, unmet and
 * unknown (ALL.3 also not applicable).
 * Base: fixtures/molina-kineret/ra-mtx-inadequate.json — on methotrexate 20 mg weekly (the highest
 * tolerated, says the questionnaire), CDAI 34 then 28, a treatment goal on record, rheumatologist.
 */
import type { Bundle, Condition, MedicationRequest, MedicationStatement, Observation, Patient } from 'fhir/r4';
import { add, dispense, intolerance, ofType, patch, remove, setDose, setSpecialty, statement, type Row } from '../support/policy-kit';
import { ADALIMUMAB, APREMILAST, ETANERCEPT, HCQ, kit, QR, TOFACITINIB } from './kit';

const { answer, runTable, load } = kit;
const PATIENT = 'Patient/pt-molina-ra';
const ROLE = 'role-osei-rheumatology';
const CDAI_LATEST = 'Observation/obs-cdai-2026-11-04';
const CDAIS = ['Observation/obs-cdai-2026-05-12', CDAI_LATEST];

const latentTb = (b: Bundle) =>
  add(b, {
    resourceType: 'Condition',
    id: 'cond-latent-tb',
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
    code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'Z22.7', display: 'Latent tuberculosis' }], text: 'Latent TB (positive IGRA)' },
    subject: { reference: PATIENT },
    recordedDate: '2026-10-30',
  } satisfies Condition);

const removeMedicationHistory = (b: Bundle) =>
  remove(b, (r) => (r.resourceType === 'MedicationRequest' && r.id !== 'medreq-kineret') || r.resourceType === 'MedicationStatement' || r.resourceType === 'MedicationDispense');

/** Methotrexate stopped in 2025 (so not current). */
const mtxStopped = (b: Bundle) =>
  patch<MedicationStatement>(b, 'MedicationStatement/medstmt-mtx', (s) => {
    s.status = 'stopped';
    s.effectivePeriod = { start: '2025-03-10', end: '2025-06-30' };
  });

const A3_ANSWER_REF = QR('mtx-max-tolerated-dose');

const rows: Row[] = [
  // ------------------------------------------------------------- ALL.1 no active or latent untreated infection
  { id: 'ALL.1', status: 'met', fact: 'the prescriber attests no untreated infection; none on record', evidence: [QR('no-untreated-infection')] },
  {
    id: 'ALL.1', status: 'unmet', fact: 'the prescriber says there is an untreated infection', evidence: [QR('no-untreated-infection')],
    edit: (b) => answer(b, { 'no-untreated-infection': false }),
  },
  {
    id: 'ALL.1', status: 'unmet', fact: 'latent tuberculosis (Z22.7) on record and no attestation', evidence: ['Condition/cond-latent-tb'],
    edit: (b) => answer(latentTb(b), { 'no-untreated-infection': null }),
  },
  { id: 'ALL.1', status: 'unknown', fact: 'no attestation', edit: (b) => answer(b, { 'no-untreated-infection': null }) },
  {
    id: 'ALL.1', status: 'unknown', fact: 'latent tuberculosis on record, yet the prescriber attests none untreated (the reviewer decides)',
    evidence: ['Condition/cond-latent-tb', QR('no-untreated-infection')], edit: latentTb,
  },

  // ------------------------------------------------------------- ALL.2 no concurrent TNF / biologic / JAK / PDE4
  { id: 'ALL.2', status: 'met', fact: 'fill history and medication list with no TNF inhibitor, biologic, JAK or PDE4 inhibitor' },
  {
    id: 'ALL.2', status: 'unmet', fact: 'apremilast (PDE4 inhibitor) is being taken now', evidence: ['MedicationStatement/medstmt-apremilast'],
    edit: (b) => add(b, statement(b, 'medstmt-apremilast', APREMILAST, '2026-08-01')),
  },
  {
    id: 'ALL.2', status: 'unmet', fact: 'tofacitinib (JAK inhibitor) is being taken now', evidence: ['MedicationStatement/medstmt-tofacitinib'],
    edit: (b) => add(b, statement(b, 'medstmt-tofacitinib', TOFACITINIB, '2026-09-15')),
  },
  {
    id: 'ALL.2', status: 'unmet', fact: 'etanercept (TNF inhibitor) filled 10 days ago for 28 days', evidence: ['MedicationDispense/meddisp-etanercept'],
    edit: (b) => add(b, dispense(b, 'meddisp-etanercept', ETANERCEPT, '2026-11-10')),
  },
  {
    id: 'ALL.2', status: 'unmet', fact: 'nothing on record, but the prescriber says Kineret will be combined with a biologic', evidence: [QR('no-concurrent-biologic')],
    edit: (b) => answer(b, { 'no-concurrent-biologic': false }),
  },
  {
    id: 'ALL.2', status: 'unknown', fact: 'no medication history and no attestation', also: { 'A.3': 'unknown' },
    edit: removeMedicationHistory,
  },
  {
    id: 'ALL.2', status: 'met', fact: 'no medication history, the prescriber attests no concurrent agent', evidence: [QR('no-concurrent-biologic')],
    also: { 'A.3': 'unknown' }, edit: (b) => answer((removeMedicationHistory(b), b), { 'no-concurrent-biologic': true }),
  },

  // ------------------------------------------------------------- ALL.3 non-formulary / non-preferred product
  { id: 'ALL.3', status: 'not-applicable', fact: 'Kineret is preferred on the plan (questionnaire)' },
  {
    id: 'ALL.3', status: 'unknown', fact: "the plan's formulary status of Kineret is not given: the rule applies, and no trial is documented",
    edit: (b) => answer(b, { 'non-preferred-product': null }),
  },
  {
    id: 'ALL.3', status: 'met', fact: 'non-preferred, and a majority of the preferred alternatives were tried and failed',
    evidence: [QR('non-preferred-product'), QR('preferred-alternatives-tried')],
    edit: (b) => answer(b, { 'non-preferred-product': true, 'preferred-alternatives-tried': true }),
  },
  {
    id: 'ALL.3', status: 'unmet', fact: 'non-preferred, and the preferred alternatives were not tried',
    evidence: [QR('non-preferred-product'), QR('preferred-alternatives-tried')],
    edit: (b) => answer(b, { 'non-preferred-product': true, 'preferred-alternatives-tried': false }),
  },

  // ------------------------------------------------------------- A.1 moderate to severe RA
  { id: 'A.1', status: 'met', fact: 'confirmed RA and a latest CDAI of 28 (high activity)', evidence: ['Condition/cond-ra', CDAI_LATEST] },
  {
    id: 'A.1', status: 'unmet', fact: 'the RA Condition is refuted', evidence: [CDAI_LATEST],
    edit: (b) => patch<Condition>(b, 'Condition/cond-ra', (c) => { c.verificationStatus!.coding![0]!.code = 'refuted'; }),
  },
  {
    id: 'A.1', status: 'unmet', fact: 'the latest CDAI is 8 (low activity); nothing else shows the member is not at goal',
    evidence: ['Condition/cond-ra', CDAI_LATEST], also: { 'A.3': 'unknown' },
    edit: (b) => patch<Observation>(b, CDAI_LATEST, (o) => { o.valueQuantity!.value = 8; }),
  },
  {
    id: 'A.1', status: 'unknown', fact: 'no CDAI on record: disease activity is not shown', evidence: ['Condition/cond-ra'], also: { 'A.3': 'unknown' },
    edit: (b) => remove(b, ...CDAIS),
  },
  {
    id: 'A.1', status: 'met', fact: 'no CDAI, the prescriber documents moderate to severe RA', evidence: ['Condition/cond-ra', QR('ra-moderate-severe')], also: { 'A.3': 'unknown' },
    edit: (b) => answer(remove(b, ...CDAIS), { 'ra-moderate-severe': true }),
  },

  // ------------------------------------------------------------- A.2 baseline evaluation and treatment goals
  {
    id: 'A.2', status: 'met', fact: 'a baseline CDAI and a Goal addressing the RA Condition',
    evidence: ['Observation/obs-cdai-2026-05-12', 'Goal/goal-ra-low-activity', QR('baseline-evaluation')],
  },
  {
    id: 'A.2', status: 'unknown', fact: 'no treatment goal on record or in the questionnaire', evidence: ['Observation/obs-cdai-2026-05-12', QR('baseline-evaluation')],
    edit: (b) => remove(b, 'Goal/goal-ra-low-activity'),
  },
  {
    id: 'A.2', status: 'unmet', fact: 'no Goal, the prescriber says no treatment goals are documented',
    evidence: ['Observation/obs-cdai-2026-05-12', QR('baseline-evaluation'), QR('treatment-goals')],
    edit: (b) => answer(remove(b, 'Goal/goal-ra-low-activity'), { 'treatment-goals': false }),
  },
  {
    id: 'A.2', status: 'met', fact: 'a Goal that has been cancelled does not count; the questionnaire documents the goals',
    evidence: ['Observation/obs-cdai-2026-05-12', QR('baseline-evaluation'), QR('treatment-goals')],
    edit: (b) => {
      patch(b, 'Goal/goal-ra-low-activity', (g: import('fhir/r4').Goal) => { g.lifecycleStatus = 'cancelled'; });
      answer(b, { 'treatment-goals': true });
    },
  },

  // ------------------------------------------------------------- A.3 methotrexate / DMARD / biologic step
  {
    id: 'A.3', status: 'met', fact: '(a) on methotrexate now, at the highest tolerated dose, CDAI 28 (not at goal)',
    evidence: ['MedicationStatement/medstmt-mtx', CDAI_LATEST, A3_ANSWER_REF],
  },
  {
    id: 'A.3', status: 'unknown', fact: 'on methotrexate, but whether the dose is the highest tolerated is not said',
    evidence: ['MedicationStatement/medstmt-mtx', CDAI_LATEST], edit: (b) => answer(b, { 'mtx-max-tolerated-dose': null }),
  },
  {
    id: 'A.3', status: 'unmet', fact: 'methotrexate below the tolerated maximum, no contraindication, no biologic tried',
    evidence: ['MedicationStatement/medstmt-mtx', CDAI_LATEST, A3_ANSWER_REF, QR('mtx-contraindicated'), QR('biologic-trial-3-months')],
    edit: (b) => answer(b, { 'mtx-max-tolerated-dose': false, 'mtx-contraindicated': false, 'biologic-trial-3-months': false }),
  },
  {
    id: 'A.3', status: 'met', fact: '(b) methotrexate stopped for hepatotoxicity (AllergyIntolerance), hydroxychloroquine for 4 months',
    evidence: ['MedicationStatement/medstmt-mtx', 'MedicationStatement/medstmt-hcq', 'AllergyIntolerance/allergy-mtx', CDAI_LATEST, A3_ANSWER_REF],
    edit: (b) => {
      mtxStopped(b);
      add(b, intolerance(b, 'allergy-mtx', ['6851', 'methotrexate'], 'ALT more than 3 times the upper limit of normal'));
      add(b, statement(b, 'medstmt-hcq', HCQ, '2025-07-14', '2025-11-17'));
    },
  },
  {
    id: 'A.3', status: 'unmet', fact: '(b) methotrexate not tolerated, hydroxychloroquine only 6 weeks, no biologic tried',
    evidence: ['MedicationStatement/medstmt-mtx', 'MedicationStatement/medstmt-hcq', 'AllergyIntolerance/allergy-mtx', CDAI_LATEST, A3_ANSWER_REF, QR('biologic-trial-3-months')],
    edit: (b) => {
      mtxStopped(b);
      add(b, intolerance(b, 'allergy-mtx', ['6851', 'methotrexate'], 'ALT more than 3 times the upper limit of normal'));
      add(b, statement(b, 'medstmt-hcq', HCQ, '2025-07-14', '2025-08-25'));
      answer(b, { 'biologic-trial-3-months': false });
    },
  },
  {
    id: 'A.3', status: 'met', fact: '(NOTE) methotrexate stopped, but adalimumab was tried for 4 months: no step back to a conventional DMARD',
    evidence: ['MedicationStatement/medstmt-mtx', 'MedicationStatement/medstmt-adalimumab', CDAI_LATEST, A3_ANSWER_REF],
    edit: (b) => {
      mtxStopped(b);
      add(b, statement(b, 'medstmt-adalimumab', ADALIMUMAB, '2025-07-07', '2025-11-10'));
    },
  },
  {
    id: 'A.3', status: 'unknown', fact: 'methotrexate stopped; 4 months of tofacitinib (a JAK inhibitor, not a biologic) does not exempt, and nothing else is said',
    evidence: ['MedicationStatement/medstmt-mtx', CDAI_LATEST, A3_ANSWER_REF],
    edit: (b) => {
      mtxStopped(b);
      add(b, statement(b, 'medstmt-tofacitinib', TOFACITINIB, '2025-07-07', '2025-11-10'));
    },
  },

  // ------------------------------------------------------------- PRESCRIBER
  { id: 'PRESCRIBER', status: 'met', fact: 'rheumatologist (NUCC 207RR0500X)', evidence: [`PractitionerRole/${ROLE}`] },
  { id: 'PRESCRIBER', status: 'met', fact: 'dermatologist (NUCC 207N00000X)', evidence: [`PractitionerRole/${ROLE}`], edit: (b) => setSpecialty(b, ROLE, '207N00000X', 'Dermatology') },
  { id: 'PRESCRIBER', status: 'met', fact: 'clinical geneticist (NUCC 207SG0201X)', evidence: [`PractitionerRole/${ROLE}`], edit: (b) => setSpecialty(b, ROLE, '207SG0201X', 'Clinical Genetics') },
  { id: 'PRESCRIBER', status: 'unmet', fact: 'family physician', edit: (b) => setSpecialty(b, ROLE, '207Q00000X', 'Family Medicine') },
  { id: 'PRESCRIBER', status: 'unknown', fact: 'no specialty recorded', edit: (b) => setSpecialty(b, ROLE, null) },
  {
    id: 'PRESCRIBER', status: 'met', fact: 'family physician in consultation with a rheumatologist (questionnaire)', evidence: [QR('specialist-prescriber')],
    edit: (b) => answer(setSpecialty(b, ROLE, '207Q00000X', 'Family Medicine'), { 'specialist-prescriber': true }),
  },

  // ------------------------------------------------------------- AGE (RA: 18 and older)
  { id: 'AGE', status: 'met', fact: '45 years old', evidence: [PATIENT] },
  { id: 'AGE', status: 'unmet', fact: '17 years old', evidence: [PATIENT], edit: (b) => patch<Patient>(b, PATIENT, (p) => { p.birthDate = '2009-01-10'; }) },
  { id: 'AGE', status: 'unknown', fact: 'no birthDate', evidence: [PATIENT], edit: (b) => patch<Patient>(b, PATIENT, (p) => { delete p.birthDate; }) },

  // ------------------------------------------------------------- QUANTITY (RA: 100 mg daily, 28 syringes / 28 days)
  { id: 'QUANTITY', status: 'met', fact: '100 mg daily, 28 syringes per 28 days', evidence: ['MedicationRequest/medreq-kineret'] },
  { id: 'QUANTITY', status: 'unmet', fact: '150 mg daily', evidence: ['MedicationRequest/medreq-kineret'], edit: (b) => setDose(b, { mg: 150 }) },
  {
    id: 'QUANTITY', status: 'unmet', fact: '100 mg daily but 56 syringes per 28 days', evidence: ['MedicationRequest/medreq-kineret'],
    edit: (b) => patch<MedicationRequest>(b, 'MedicationRequest/medreq-kineret', (m) => { m.dispenseRequest!.quantity!.value = 56; }),
  },
  { id: 'QUANTITY', status: 'unknown', fact: 'no structured dose', evidence: ['MedicationRequest/medreq-kineret'], edit: (b) => setDose(b, null) },
];

const BASELINE = {
  'ALL.1': 'met', 'ALL.2': 'met', 'ALL.3': 'not-applicable', 'A.1': 'met', 'A.2': 'met', 'A.3': 'met', PRESCRIBER: 'met', AGE: 'met', QUANTITY: 'met',
} as const;

describe('Molina Kineret guideline A: moderate to severe rheumatoid arthritis, initial', () => {
  runTable({ base: 'ra-mtx-inadequate', indication: 'RA', baseline: BASELINE, rows });

  test('every criterion has a met, an unmet and an unknown row', () => {
    for (const id of Object.keys(BASELINE)) {
      const have = new Set(rows.filter((r) => r.id === id).map((r) => r.status));
      expect([id, have.has('met'), have.has('unmet'), have.has('unknown')]).toEqual([id, true, true, true]);
    }
  });

  test('all met: approved for 6 months', async () => {
    const decision = await kit.evaluate(load('ra-mtx-inadequate'));
    expect(decision.policy?.id).toBe('molina-kineret');
    expect(decision.outcome).toBe('approve');
    expect(decision.approvalPeriod).toEqual({ start: '2026-11-20', end: '2027-05-19' });
  });

  test('the attestations come from the questionnaire: without it the request pends on ALL.1', async () => {
    const bundle = load('ra-mtx-inadequate');
    remove(bundle, 'QuestionnaireResponse/qr-molina-kineret');
    const decision = await kit.evaluate(bundle);
    expect(decision.outcome).toBe('pend');
    expect(decision.reasons.map((r) => r.citation)).toEqual(
      expect.arrayContaining(['Molina Kineret guideline ALL.1', 'Molina Kineret guideline ALL.3', 'Molina Kineret guideline A.3']),
    );
    expect(ofType(bundle, 'QuestionnaireResponse')).toHaveLength(0);
  });
});
