/**
 * NH.PHAR.244 I.A (rheumatoid arthritis, initial approval): every criterion met, unmet and unknown.
 * Base: fixtures/nh-phar-244/ra-one-preferred-product.json — methotrexate 6 months, adalimumab 4 months
 * and Xeljanz 4 months, all stopped; never Actemra. The chart alone meets every criterion.
 */
import type { Bundle, Condition, MedicationRequest, MedicationStatement, Observation, Patient } from 'fhir/r4';
import { add, dispense, intolerance, ofType, patch, remove, setDose, setSpecialty, statement, ongoingMtxTrialRows } from '../support/policy-kit';
import type { Row } from '../support/policy-kit';
import { ACTEMRA, ADALIMUMAB, BARICITINIB, HCQ, kit, MTX, QR, removeMedicationHistory, XELJANZ } from './kit';

const { answer, runTable, load } = kit;
const ROLE = 'role-marquez-rheumatology';
const PATIENT = 'Patient/pt-ra-approvable';

const setMtxEnd = (end: string) => (b: Bundle) =>
  patch<MedicationRequest>(b, 'MedicationRequest/medreq-mtx', (m) => {
    m.dispenseRequest = { ...m.dispenseRequest, validityPeriod: { start: '2024-03-04', end } };
  });
const shortAdalimumab = (b: Bundle) =>
  patch<MedicationStatement>(b, 'MedicationStatement/medstmt-adalimumab', (s) => { s.effectivePeriod = { start: '2024-09-16', end: '2024-11-18' }; });
const shortXeljanz = (b: Bundle) =>
  patch<MedicationRequest>(b, 'MedicationRequest/medreq-xeljanz', (m) => { m.dispenseRequest!.numberOfRepeatsAllowed = 0; });
const PREFERRED = ['MedicationRequest/medreq-xeljanz', 'MedicationStatement/medstmt-adalimumab'];

const rows: Row[] = [
  // ------------------------------------------------------------- I.A.1 diagnosis of RA
  { id: 'I.A.1', status: 'met', fact: 'confirmed, active RA Condition (SNOMED CT and ICD-10-CM)', evidence: ['Condition/cond-ra'] },
  {
    id: 'I.A.1', status: 'unmet', fact: 'the RA Condition is refuted',
    edit: (b) => patch<Condition>(b, 'Condition/cond-ra', (c) => { c.verificationStatus!.coding![0]!.code = 'refuted'; }),
  },
  { id: 'I.A.1', status: 'unknown', fact: 'no RA Condition in the chart (the order names RA)', edit: (b) => remove(b, 'Condition/cond-ra') },
  {
    id: 'I.A.1', status: 'met', fact: 'no Condition, the questionnaire attests the ACR criteria', evidence: [QR('ra-acr-criteria')],
    edit: (b) => answer(remove(b, 'Condition/cond-ra'), { 'ra-acr-criteria': true }),
  },
  {
    id: 'I.A.1', status: 'unmet', fact: 'no Condition, the questionnaire says the ACR criteria are not met', evidence: [QR('ra-acr-criteria')],
    edit: (b) => answer(remove(b, 'Condition/cond-ra'), { 'ra-acr-criteria': false }),
  },

  // ------------------------------------------------------------- I.A.2 rheumatologist
  { id: 'I.A.2', status: 'met', fact: 'the requester PractitionerRole is rheumatology (NUCC 207RR0500X)', evidence: [`PractitionerRole/${ROLE}`] },
  { id: 'I.A.2', status: 'unmet', fact: 'the requester is a family physician', edit: (b) => setSpecialty(b, ROLE, '207Q00000X', 'Family Medicine Physician') },
  { id: 'I.A.2', status: 'unknown', fact: 'the requester role has no specialty', edit: (b) => setSpecialty(b, ROLE, null) },
  {
    id: 'I.A.2', status: 'met', fact: 'a family physician who consulted a rheumatologist (questionnaire)', evidence: [QR('rheumatologist-consulted')],
    edit: (b) => answer(setSpecialty(b, ROLE, '207Q00000X', 'Family Medicine Physician'), { 'rheumatologist-consulted': true }),
  },

  // ------------------------------------------------------------- I.A.3 age >= 18
  { id: 'I.A.3', status: 'met', fact: 'born 1978', evidence: [PATIENT] },
  {
    id: 'I.A.3', status: 'unmet', fact: 'the 18th birthday is the day after the evaluation date', evidence: [PATIENT],
    edit: (b) => patch<Patient>(b, PATIENT, (p) => { p.birthDate = '2008-11-21'; }),
  },
  { id: 'I.A.3', status: 'unknown', fact: 'no birthDate', evidence: [PATIENT], edit: (b) => patch<Patient>(b, PATIENT, (p) => { delete p.birthDate; }) },

  // ------------------------------------------------------------- I.A.4 methotrexate
  { id: 'I.A.4', status: 'met', fact: 'methotrexate for 6 months, stopped', evidence: ['MedicationRequest/medreq-mtx'] },
  { id: 'I.A.4', status: 'unmet', fact: 'methotrexate only 2 months, stopped, no intolerance', evidence: ['MedicationRequest/medreq-mtx'], edit: setMtxEnd('2024-05-06') },
  { id: 'I.A.4', status: 'unknown', fact: 'no methotrexate record', edit: (b) => remove(b, 'MedicationRequest/medreq-mtx') },
  // A trial still going: failed only when another agent followed it, not a renewal (the policy kit).
  ...ongoingMtxTrialRows('I.A.4', MTX),
  {
    id: 'I.A.4', status: 'met', fact: 'MTX intolerance and hydroxychloroquine 4 months (4.b)',
    evidence: ['MedicationRequest/medreq-mtx', 'MedicationStatement/medstmt-hcq', 'AllergyIntolerance/allergy-mtx'],
    edit: (b) => {
      setMtxEnd('2024-04-15')(b);
      add(b, intolerance(b, 'allergy-mtx', ['6851', 'methotrexate'], 'Transaminases more than 3 times the upper limit of normal'));
      add(b, statement(b, 'medstmt-hcq', HCQ, '2024-04-22', '2024-08-26'));
    },
  },
  {
    id: 'I.A.4', status: 'met', fact: 'no MTX record, the questionnaire attests a failed MTX trial', evidence: [QR('mtx-trial-failed')],
    edit: (b) => answer(remove(b, 'MedicationRequest/medreq-mtx'), { 'mtx-trial-failed': true }),
  },

  // ------------------------------------------------------------- I.A.5 one or more preferred products
  { id: 'I.A.5', status: 'met', fact: 'adalimumab 4 months and Xeljanz 4 months, both stopped', evidence: PREFERRED },
  {
    id: 'I.A.5', status: 'met', fact: 'only Actemra, dispensed monthly for 4 months, then stopped',
    evidence: [1, 2, 3, 4].map((n) => `MedicationDispense/meddisp-actemra-${n}`),
    edit: (b) => {
      remove(b, 'MedicationStatement/medstmt-adalimumab', 'MedicationRequest/medreq-xeljanz');
      for (const [n, date] of [[1, '2025-02-10'], [2, '2025-03-10'], [3, '2025-04-07'], [4, '2025-05-05']] as const) {
        add(b, dispense(b, `meddisp-actemra-${n}`, ACTEMRA, date));
      }
    },
  },
  {
    id: 'I.A.5', status: 'met', fact: 'adalimumab stopped after 2 months for intolerance (AllergyIntolerance), no other preferred product',
    evidence: ['MedicationStatement/medstmt-adalimumab', 'AllergyIntolerance/allergy-adalimumab'],
    edit: (b) => {
      remove(b, 'MedicationRequest/medreq-xeljanz');
      shortAdalimumab(b);
      add(b, intolerance(b, 'allergy-adalimumab', ['327361', 'adalimumab'], 'Recurrent injection-site cellulitis'));
    },
  },
  {
    id: 'I.A.5', status: 'unmet', fact: 'adalimumab, Actemra and Xeljanz each tried for less than 3 months, tolerated',
    evidence: [...PREFERRED, 'MedicationDispense/meddisp-actemra-1'],
    edit: (b) => {
      shortAdalimumab(b);
      shortXeljanz(b);
      add(b, dispense(b, 'meddisp-actemra-1', ACTEMRA, '2025-02-10'));
    },
  },
  {
    id: 'I.A.5', status: 'unknown', fact: 'adalimumab only 2 months, and no record of the other preferred products',
    evidence: ['MedicationStatement/medstmt-adalimumab'],
    edit: (b) => {
      remove(b, 'MedicationRequest/medreq-xeljanz');
      shortAdalimumab(b);
    },
  },
  {
    id: 'I.A.5', status: 'unknown', fact: 'no preferred product on record',
    edit: (b) => remove(b, 'MedicationStatement/medstmt-adalimumab', 'MedicationRequest/medreq-xeljanz'),
  },
  {
    id: 'I.A.5', status: 'met', fact: 'no preferred product on record, the questionnaire attests one failed', evidence: [QR('preferred-product-failed')],
    edit: (b) => answer(remove(b, 'MedicationStatement/medstmt-adalimumab', 'MedicationRequest/medreq-xeljanz'), { 'preferred-product-failed': true }),
  },
  {
    id: 'I.A.5', status: 'unmet', fact: 'no preferred product on record, the questionnaire says none failed', evidence: [QR('preferred-product-failed')],
    edit: (b) => answer(remove(b, 'MedicationStatement/medstmt-adalimumab', 'MedicationRequest/medreq-xeljanz'), { 'preferred-product-failed': false }),
  },

  // ------------------------------------------------------------- I.A.6 baseline score
  // I.A.6 cannot be unmet: a baseline score is either documented or not yet shown (unknown).
  { id: 'I.A.6', status: 'met', fact: 'a CDAI on record', evidence: ['Observation/obs-cdai-2026-10-28'] },
  { id: 'I.A.6', status: 'unknown', fact: 'no CDAI and no questionnaire score', edit: (b) => remove(b, 'Observation/obs-cdai-2026-10-28') },
  {
    id: 'I.A.6', status: 'unknown', fact: 'the only CDAI was entered in error',
    edit: (b) => patch<Observation>(b, 'Observation/obs-cdai-2026-10-28', (o) => { o.status = 'entered-in-error'; }),
  },
  {
    id: 'I.A.6', status: 'met', fact: 'no CDAI, a baseline RAPID3 in the questionnaire', evidence: [QR('baseline-rapid3')],
    edit: (b) => answer(remove(b, 'Observation/obs-cdai-2026-10-28'), { 'baseline-rapid3': 14.5 }),
  },

  // ------------------------------------------------------------- I.A.7 no combination (III.B: not authorized)
  { id: 'I.A.7', status: 'met', fact: 'medication history with no active biologic or JAK inhibitor' },
  {
    id: 'I.A.7', status: 'unmet', fact: 'Olumiant (baricitinib) is being taken now', evidence: ['MedicationStatement/medstmt-olumiant'],
    edit: (b) => add(b, statement(b, 'medstmt-olumiant', BARICITINIB, '2026-01-12')),
  },
  {
    id: 'I.A.7', status: 'unmet', fact: 'nothing on record, but the questionnaire says Kineret will be combined with a biologic', evidence: [QR('no-combination')],
    edit: (b) => answer(b, { 'no-combination': false }),
  },
  {
    id: 'I.A.7', status: 'unknown', fact: 'the bundle carries no medication history at all',
    also: { 'I.A.4': 'unknown', 'I.A.5': 'unknown' },
    edit: removeMedicationHistory,
  },
  {
    id: 'I.A.7', status: 'met', fact: 'no medication history, the questionnaire attests no combination use', evidence: [QR('no-combination')],
    also: { 'I.A.4': 'unknown', 'I.A.5': 'unknown' },
    edit: (b) => answer((removeMedicationHistory(b), b), { 'no-combination': true }),
  },

  // ------------------------------------------------------------- I.A.8 dose
  { id: 'I.A.8', status: 'met', fact: '100 mg once daily, 28 syringes per 28 days', evidence: ['MedicationRequest/medreq-kineret'] },
  { id: 'I.A.8', status: 'unmet', fact: '100 mg twice daily (200 mg/day)', evidence: ['MedicationRequest/medreq-kineret'], edit: (b) => setDose(b, { mg: 100, perDay: 2 }) },
  { id: 'I.A.8', status: 'unmet', fact: 'dose written as 2 syringes once daily', evidence: ['MedicationRequest/medreq-kineret'], edit: (b) => setDose(b, { syringes: 2 }) },
  { id: 'I.A.8', status: 'unknown', fact: 'no structured dose', evidence: ['MedicationRequest/medreq-kineret'], edit: (b) => setDose(b, null) },
];

const IDS = ['I.A.1', 'I.A.2', 'I.A.3', 'I.A.4', 'I.A.5', 'I.A.6', 'I.A.7', 'I.A.8'];

describe('NH.PHAR.244 I.A rheumatoid arthritis, initial approval', () => {
  runTable({ base: 'ra-one-preferred-product', indication: 'RA', baseline: Object.fromEntries(IDS.map((id) => [id, 'met'])), rows });

  test('every I.A criterion has a met, an unmet (where the policy allows) and an unknown row', () => {
    for (const id of IDS) {
      const have = new Set(rows.filter((r) => r.id === id).map((r) => r.status));
      expect([id, have.has('met'), have.has('unknown'), have.has('unmet') || id === 'I.A.6']).toEqual([id, true, true, true]);
    }
  });

  test('the base has no QuestionnaireResponse and never Actemra: every base status comes from the chart', () => {
    const bundle = load('ra-one-preferred-product');
    expect(ofType(bundle, 'QuestionnaireResponse')).toHaveLength(0);
    expect(JSON.stringify(bundle)).not.toContain(ACTEMRA[0]);
    expect(JSON.stringify(bundle)).toContain(ADALIMUMAB[0]);
    expect(JSON.stringify(bundle)).toContain(XELJANZ[0]);
    expect(JSON.stringify(bundle)).toContain(MTX[0]);
  });
});
