/**
 * CP.PHAR.244 I.A (rheumatoid arthritis, initial approval): every criterion met, unmet and unknown.
 * Base: fixtures/cp-phar-244/ra-approvable.json, where the chart alone meets every criterion.
 */
import type { Bundle, Condition, MedicationRequest, MedicationStatement, Observation, Patient, PractitionerRole } from 'fhir/r4';
import { add, answer, intolerance, load, ofType, patch, prescription, remove, setDose, statement } from './helpers';
import { runTable, type Row } from './table';
import { ongoingMtxTrialRows } from '../support/policy-kit';

const QR = (linkId: string) => `QuestionnaireResponse/qr-cp-phar-244#${linkId}`;
const ACTEMRA = [1, 2, 3, 4, 5].map((n) => `MedicationDispense/meddisp-actemra-${n}`);

const MTX: [string, string] = ['105585', 'methotrexate 2.5 MG Oral Tablet'];
const HCQ: [string, string] = ['979092', 'hydroxychloroquine sulfate 200 MG Oral Tablet'];
const ETANERCEPT: [string, string] = ['727757', '1 ML etanercept 50 MG/ML Prefilled Syringe'];
const INFLIXIMAB: [string, string] = ['1790546', 'infliximab-dyyb 100 MG Injection [Inflectra]'];
const BARICITINIB: [string, string] = ['2047247', 'baricitinib 2 MG Oral Tablet [Olumiant]'];
const ABATACEPT: [string, string] = ['1145929', '1 ML abatacept 125 MG/ML Prefilled Syringe'];

/** Removes every medication record except the requested Kineret order. */
function removeMedicationHistory(bundle: Bundle): void {
  remove(bundle, (r) =>
    (r.resourceType === 'MedicationRequest' && r.id !== 'medreq-kineret') || r.resourceType === 'MedicationStatement' || r.resourceType === 'MedicationDispense',
  );
}

const setMtxEnd = (end: string) => (b: Bundle) =>
  patch<MedicationRequest>(b, 'MedicationRequest/medreq-mtx', (m) => {
    m.dispenseRequest = { ...m.dispenseRequest, validityPeriod: { start: '2024-03-04', end } };
  });

const rows: Row[] = [
  // ------------------------------------------------------------- I.A.1 diagnosis of RA
  { id: 'I.A.1', status: 'met', fact: 'confirmed, active RA Condition (SNOMED CT and ICD-10-CM)', evidence: ['Condition/cond-ra'] },
  {
    id: 'I.A.1', status: 'met', fact: 'RA coded in ICD-10-CM only (M05.79)', evidence: ['Condition/cond-ra'],
    edit: (b) => patch<Condition>(b, 'Condition/cond-ra', (c) => { c.code!.coding = c.code!.coding!.filter((x) => x.code === 'M05.79'); }),
  },
  {
    id: 'I.A.1', status: 'unmet', fact: 'the RA Condition is refuted',
    edit: (b) => patch<Condition>(b, 'Condition/cond-ra', (c) => { c.verificationStatus!.coding![0]!.code = 'refuted'; }),
  },
  {
    id: 'I.A.1', status: 'unmet', fact: 'the RA Condition is resolved',
    edit: (b) => patch<Condition>(b, 'Condition/cond-ra', (c) => { c.clinicalStatus!.coding![0]!.code = 'resolved'; }),
  },
  { id: 'I.A.1', status: 'unknown', fact: 'no RA Condition in the chart (the request names RA)', edit: (b) => remove(b, 'Condition/cond-ra') },
  {
    id: 'I.A.1', status: 'unknown', fact: 'the RA Condition is only provisional',
    edit: (b) => patch<Condition>(b, 'Condition/cond-ra', (c) => { c.verificationStatus!.coding![0]!.code = 'provisional'; }),
  },
  {
    id: 'I.A.1', status: 'met', fact: 'no Condition, the questionnaire attests the 2010 ACR criteria', evidence: [QR('ra-acr-criteria')],
    edit: (b) => answer(remove(b, 'Condition/cond-ra'), { 'ra-acr-criteria': true }),
  },
  {
    id: 'I.A.1', status: 'unmet', fact: 'no Condition, the questionnaire says the ACR criteria are not met', evidence: [QR('ra-acr-criteria')],
    edit: (b) => answer(remove(b, 'Condition/cond-ra'), { 'ra-acr-criteria': false }),
  },

  // ------------------------------------------------------------- I.A.2 rheumatologist
  { id: 'I.A.2', status: 'met', fact: 'the requester PractitionerRole is rheumatology (NUCC 207RR0500X)', evidence: ['PractitionerRole/role-marquez-rheumatology'] },
  {
    id: 'I.A.2', status: 'met', fact: 'the order names the Practitioner, whose role is rheumatology', evidence: ['PractitionerRole/role-marquez-rheumatology'],
    edit: (b) => patch<MedicationRequest>(b, 'MedicationRequest/medreq-kineret', (m) => { m.requester = { reference: 'Practitioner/pract-marquez' }; }),
  },
  {
    id: 'I.A.2', status: 'unmet', fact: 'the requester is a family physician (NUCC 207Q00000X) with no consultation recorded',
    edit: (b) => patch<PractitionerRole>(b, 'PractitionerRole/role-marquez-rheumatology', (r) => {
      r.specialty = [{ coding: [{ system: 'http://nucc.org/provider-taxonomy', code: '207Q00000X', display: 'Family Medicine Physician' }] }];
    }),
  },
  {
    id: 'I.A.2', status: 'unknown', fact: 'the requester role has no specialty',
    edit: (b) => patch<PractitionerRole>(b, 'PractitionerRole/role-marquez-rheumatology', (r) => { delete r.specialty; }),
  },
  { id: 'I.A.2', status: 'unknown', fact: "the requester's PractitionerRole is not in the bundle", edit: (b) => remove(b, 'PractitionerRole/role-marquez-rheumatology') },
  {
    id: 'I.A.2', status: 'met', fact: 'a family physician, the questionnaire names the consulting rheumatologist', evidence: [QR('rheumatologist-consulted')],
    edit: (b) => {
      patch<PractitionerRole>(b, 'PractitionerRole/role-marquez-rheumatology', (r) => {
        r.specialty = [{ coding: [{ system: 'http://nucc.org/provider-taxonomy', code: '207Q00000X', display: 'Family Medicine Physician' }] }];
      });
      answer(b, { 'rheumatologist-consulted': true, 'consulting-rheumatologist': 'Dr. Priya Natarajan, MD (rheumatology), Emory Clinic' });
    },
  },

  // ------------------------------------------------------------- I.A.3 age >= 18
  { id: 'I.A.3', status: 'met', fact: 'born 1978 (48 years old)', evidence: ['Patient/pt-ra-approvable'] },
  {
    id: 'I.A.3', status: 'met', fact: 'the 18th birthday is the evaluation date', evidence: ['Patient/pt-ra-approvable'],
    edit: (b) => patch<Patient>(b, 'Patient/pt-ra-approvable', (p) => { p.birthDate = '2008-11-20'; }),
  },
  {
    id: 'I.A.3', status: 'unmet', fact: 'the 18th birthday is the day after the evaluation date', evidence: ['Patient/pt-ra-approvable'],
    edit: (b) => patch<Patient>(b, 'Patient/pt-ra-approvable', (p) => { p.birthDate = '2008-11-21'; }),
  },
  {
    id: 'I.A.3', status: 'unknown', fact: 'the Patient has no birthDate', evidence: ['Patient/pt-ra-approvable'],
    edit: (b) => patch<Patient>(b, 'Patient/pt-ra-approvable', (p) => { delete p.birthDate; }),
  },

  // ------------------------------------------------------------- I.A.4 methotrexate
  { id: 'I.A.4', status: 'met', fact: 'methotrexate for 6 months (MedicationRequest validity period), stopped', evidence: ['MedicationRequest/medreq-mtx'] },
  {
    id: 'I.A.4', status: 'met', fact: 'methotrexate exactly 3 months, stopped', evidence: ['MedicationRequest/medreq-mtx'],
    edit: setMtxEnd('2024-06-04'),
  },
  {
    id: 'I.A.4', status: 'met', fact: 'methotrexate 30-day supply with 2 refills (90 days), stopped', evidence: ['MedicationRequest/medreq-mtx'],
    edit: (b) => patch<MedicationRequest>(b, 'MedicationRequest/medreq-mtx', (m) => {
      m.dispenseRequest = { numberOfRepeatsAllowed: 2, expectedSupplyDuration: { value: 30, unit: 'days', system: 'http://unitsofmeasure.org', code: 'd' } };
    }),
  },
  {
    id: 'I.A.4', status: 'unmet', fact: 'methotrexate 28-day supply with 2 refills (84 days), stopped', evidence: ['MedicationRequest/medreq-mtx'],
    edit: (b) => patch<MedicationRequest>(b, 'MedicationRequest/medreq-mtx', (m) => {
      m.dispenseRequest = { numberOfRepeatsAllowed: 2, expectedSupplyDuration: { value: 28, unit: 'days', system: 'http://unitsofmeasure.org', code: 'd' } };
    }),
  },
  { id: 'I.A.4', status: 'unmet', fact: 'methotrexate only 2 months, stopped, no intolerance', evidence: ['MedicationRequest/medreq-mtx'], edit: setMtxEnd('2024-05-06') },
  { id: 'I.A.4', status: 'unknown', fact: 'no methotrexate record', edit: (b) => remove(b, 'MedicationRequest/medreq-mtx') },
  {
    id: 'I.A.4', status: 'unknown', fact: 'methotrexate recorded at one point in time, duration unknown', evidence: ['MedicationStatement/medstmt-mtx-undated'],
    edit: (b) => {
      remove(b, 'MedicationRequest/medreq-mtx');
      const s = statement(b, 'medstmt-mtx-undated', MTX, '2024-03-04', '2024-03-04');
      delete s.effectivePeriod;
      s.effectiveDateTime = '2024-03-04';
      add(b, s);
    },
  },
  // A trial still going: failed only when another agent followed it, not a renewal (the policy kit).
  ...ongoingMtxTrialRows('I.A.4', MTX),
  {
    id: 'I.A.4', status: 'met', fact: 'MTX intolerance (AllergyIntolerance) and hydroxychloroquine 4 months, stopped (4.b)',
    evidence: ['MedicationRequest/medreq-mtx', 'MedicationRequest/medreq-hcq', 'AllergyIntolerance/allergy-mtx'],
    edit: (b) => {
      setMtxEnd('2024-04-15')(b);
      add(b, intolerance(b, 'allergy-mtx', ['6851', 'methotrexate'], 'Transaminases more than 3 times the upper limit of normal'));
      add(b, prescription(b, 'medreq-hcq', HCQ, '2024-04-22', { supplyDays: 30, repeats: 3, doseMg: 400 }));
    },
  },
  {
    id: 'I.A.4', status: 'unmet', fact: 'MTX 6 weeks then intolerance, hydroxychloroquine only 1 month (4.b not met)',
    evidence: ['MedicationRequest/medreq-mtx', 'MedicationRequest/medreq-hcq', 'AllergyIntolerance/allergy-mtx'],
    edit: (b) => {
      setMtxEnd('2024-04-15')(b);
      add(b, intolerance(b, 'allergy-mtx', ['6851', 'methotrexate'], 'Transaminases more than 3 times the upper limit of normal'));
      add(b, prescription(b, 'medreq-hcq', HCQ, '2024-04-22', { supplyDays: 30, repeats: 0, doseMg: 400 }));
    },
  },
  {
    id: 'I.A.4', status: 'unknown', fact: 'MTX 6 weeks then intolerance, no conventional DMARD on record',
    evidence: ['MedicationRequest/medreq-mtx', 'AllergyIntolerance/allergy-mtx'],
    edit: (b) => {
      setMtxEnd('2024-04-15')(b);
      add(b, intolerance(b, 'allergy-mtx', ['6851', 'methotrexate'], 'Transaminases more than 3 times the upper limit of normal'));
    },
  },
  {
    id: 'I.A.4', status: 'met', fact: 'no MTX record, the questionnaire attests a failed MTX trial', evidence: [QR('mtx-trial-failed')],
    edit: (b) => answer(remove(b, 'MedicationRequest/medreq-mtx'), { 'mtx-trial-failed': true }),
  },

  // ------------------------------------------------------------- I.A.5.a adalimumab
  { id: 'I.A.5.a', status: 'met', fact: 'adalimumab 4 months (MedicationStatement), stopped', evidence: ['MedicationStatement/medstmt-adalimumab'] },
  {
    id: 'I.A.5.a', status: 'unmet', fact: 'adalimumab only 2 months, stopped, tolerated', evidence: ['MedicationStatement/medstmt-adalimumab'],
    // With no TNF blocker failed, the Xeljanz step (5.c) does not apply and is met.
    edit: (b) => patch<MedicationStatement>(b, 'MedicationStatement/medstmt-adalimumab', (s) => { s.effectivePeriod = { start: '2024-09-16', end: '2024-11-18' }; }),
  },
  { id: 'I.A.5.a', status: 'unknown', fact: 'no adalimumab or other TNF blocker on record', edit: (b) => remove(b, 'MedicationStatement/medstmt-adalimumab') },
  {
    id: 'I.A.5.a', status: 'met', fact: 'adalimumab stopped after 1 month for intolerance (AllergyIntolerance)', evidence: ['MedicationStatement/medstmt-adalimumab'],
    edit: (b) => {
      patch<MedicationStatement>(b, 'MedicationStatement/medstmt-adalimumab', (s) => { s.effectivePeriod = { start: '2024-09-16', end: '2024-10-14' }; });
      add(b, intolerance(b, 'allergy-adalimumab', ['327361', 'adalimumab'], 'Recurrent injection-site cellulitis'));
    },
  },
  {
    id: 'I.A.5.a', status: 'met', fact: 'no adalimumab, but etanercept and infliximab each failed after 3+ months',
    evidence: ['MedicationStatement/medstmt-etanercept', 'MedicationStatement/medstmt-infliximab'],
    edit: (b) => {
      remove(b, 'MedicationStatement/medstmt-adalimumab');
      add(b, statement(b, 'medstmt-etanercept', ETANERCEPT, '2024-06-03', '2024-09-09', { status: 'stopped' }));
      add(b, statement(b, 'medstmt-infliximab', INFLIXIMAB, '2024-09-16', '2025-01-27', { status: 'stopped' }));
    },
  },
  {
    id: 'I.A.5.a', status: 'unknown', fact: 'no adalimumab; one TNF blocker (etanercept) renewed once is not two TNF blockers',
    evidence: ['MedicationRequest/medreq-etanercept-1', 'MedicationRequest/medreq-etanercept-2'],
    edit: (b) => {
      remove(b, 'MedicationStatement/medstmt-adalimumab');
      add(b, prescription(b, 'medreq-etanercept-1', ETANERCEPT, '2024-09-16', { supplyDays: 28, repeats: 3 }));
      add(b, prescription(b, 'medreq-etanercept-2', ETANERCEPT, '2025-01-06', { supplyDays: 28, repeats: 3 }));
    },
  },
  {
    id: 'I.A.5.a', status: 'met', fact: 'no adalimumab record, the questionnaire attests adalimumab failure', evidence: [QR('adalimumab-failed')],
    edit: (b) => answer(remove(b, 'MedicationStatement/medstmt-adalimumab'), { 'adalimumab-failed': true }),
  },

  // ------------------------------------------------------------- I.A.5.b Actemra
  { id: 'I.A.5.b', status: 'met', fact: 'Actemra dispensed monthly for 4 months, then no more', evidence: ACTEMRA },
  {
    id: 'I.A.5.b', status: 'unmet', fact: 'Actemra dispensed twice (56 days), tolerated', evidence: ACTEMRA.slice(0, 2),
    edit: (b) => remove(b, ...ACTEMRA.slice(2)),
  },
  { id: 'I.A.5.b', status: 'unknown', fact: 'no Actemra on record', edit: (b) => remove(b, ...ACTEMRA) },
  {
    id: 'I.A.5.b', status: 'met', fact: 'one Actemra fill, then intolerance (AllergyIntolerance)', evidence: ACTEMRA.slice(0, 1),
    edit: (b) => {
      remove(b, ...ACTEMRA.slice(1));
      add(b, intolerance(b, 'allergy-tocilizumab', ['612865', 'tocilizumab'], 'Neutropenia (ANC 0.8 x10^9/L)'));
    },
  },
  {
    id: 'I.A.5.b', status: 'met', fact: 'no Actemra record, the questionnaire attests Actemra failure', evidence: [QR('tocilizumab-failed')],
    edit: (b) => answer(remove(b, ...ACTEMRA), { 'tocilizumab-failed': true }),
  },

  // ------------------------------------------------------------- I.A.5.c Xeljanz
  { id: 'I.A.5.c', status: 'met', fact: 'Xeljanz 120 days (30-day supply, 3 refills), stopped, after a TNF blocker failed', evidence: ['MedicationRequest/medreq-xeljanz'] },
  {
    id: 'I.A.5.c', status: 'unmet', fact: 'Xeljanz one 30-day fill only, after a TNF blocker failed', evidence: ['MedicationRequest/medreq-xeljanz'],
    edit: (b) => patch<MedicationRequest>(b, 'MedicationRequest/medreq-xeljanz', (m) => { m.dispenseRequest!.numberOfRepeatsAllowed = 0; }),
  },
  { id: 'I.A.5.c', status: 'unknown', fact: 'a TNF blocker failed and no Xeljanz is on record', edit: (b) => remove(b, 'MedicationRequest/medreq-xeljanz') },
  {
    id: 'I.A.5.c', status: 'met', fact: 'no TNF blocker has failed (adalimumab 2 months, tolerated): the Xeljanz step does not apply',
    also: { 'I.A.5.a': 'unmet' },
    edit: (b) => {
      remove(b, 'MedicationRequest/medreq-xeljanz');
      patch<MedicationStatement>(b, 'MedicationStatement/medstmt-adalimumab', (s) => { s.effectivePeriod = { start: '2024-09-16', end: '2024-11-18' }; });
    },
  },
  {
    id: 'I.A.5.c', status: 'met', fact: 'no Xeljanz, the questionnaire reports cardiovascular risk outweighing the benefit', evidence: [QR('tofacitinib-cardiovascular-risk')],
    edit: (b) => answer(remove(b, 'MedicationRequest/medreq-xeljanz'), { 'tofacitinib-cardiovascular-risk': true }),
  },

  // ------------------------------------------------------------- I.A.6 baseline score
  // I.A.6 cannot be unmet: "documentation of a baseline score" is either shown or not yet shown (unknown).
  { id: 'I.A.6', status: 'met', fact: 'a CDAI (LOINC 75842-5) on record', evidence: ['Observation/obs-cdai-2026-10-28'] },
  { id: 'I.A.6', status: 'unknown', fact: 'no CDAI on record and no questionnaire score', edit: (b) => remove(b, 'Observation/obs-cdai-2026-10-28') },
  {
    id: 'I.A.6', status: 'unknown', fact: 'the only CDAI was entered in error',
    edit: (b) => patch<Observation>(b, 'Observation/obs-cdai-2026-10-28', (o) => { o.status = 'entered-in-error'; }),
  },
  {
    id: 'I.A.6', status: 'met', fact: 'no CDAI, a baseline RAPID3 in the questionnaire', evidence: [QR('baseline-rapid3')],
    edit: (b) => answer(remove(b, 'Observation/obs-cdai-2026-10-28'), { 'baseline-rapid3': 14.5 }),
  },

  // ------------------------------------------------------------- I.A.7 no combination with a bDMARD / JAK inhibitor
  { id: 'I.A.7', status: 'met', fact: 'medication history with no active biologic or JAK inhibitor' },
  {
    id: 'I.A.7', status: 'unmet', fact: 'Olumiant (baricitinib) is being taken now', evidence: ['MedicationStatement/medstmt-olumiant'],
    edit: (b) => add(b, statement(b, 'medstmt-olumiant', BARICITINIB, '2026-01-12')),
  },
  {
    id: 'I.A.7', status: 'unmet', fact: 'Orencia (abatacept) dispensed 2 weeks ago with a 28-day supply', evidence: ['MedicationDispense/meddisp-orencia'],
    edit: (b) =>
      add(b, {
        resourceType: 'MedicationDispense', id: 'meddisp-orencia', status: 'completed',
        medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: ABATACEPT[0], display: ABATACEPT[1] }] },
        subject: { reference: 'Patient/pt-ra-approvable' }, whenHandedOver: '2026-11-06T10:00:00-05:00',
        quantity: { value: 4, unit: 'syringe' }, daysSupply: { value: 28, unit: 'days', system: 'http://unitsofmeasure.org', code: 'd' },
      }),
  },
  {
    id: 'I.A.7', status: 'unknown', fact: 'the bundle carries no medication history at all',
    also: { 'I.A.4': 'unknown', 'I.A.5.a': 'unknown', 'I.A.5.b': 'unknown', 'I.A.5.c': 'unknown' },
    edit: removeMedicationHistory,
  },
  {
    id: 'I.A.7', status: 'met', fact: 'no medication history, the questionnaire attests no combination use', evidence: [QR('no-combination')],
    also: { 'I.A.4': 'unknown', 'I.A.5.a': 'unknown', 'I.A.5.b': 'unknown', 'I.A.5.c': 'unknown' },
    edit: (b) => {
      removeMedicationHistory(b);
      answer(b, { 'no-combination': true });
    },
  },
  {
    id: 'I.A.7', status: 'unmet', fact: 'the questionnaire says Kineret will be combined with a biologic', evidence: [QR('no-combination')],
    also: { 'I.A.4': 'unknown', 'I.A.5.a': 'unknown', 'I.A.5.b': 'unknown', 'I.A.5.c': 'unknown' },
    edit: (b) => {
      removeMedicationHistory(b);
      answer(b, { 'no-combination': false });
    },
  },
  {
    id: 'I.A.7', status: 'unmet', fact: 'the record shows no current biologic, but the prescriber says Kineret will be combined with one', evidence: [QR('no-combination')],
    edit: (b) => answer(b, { 'no-combination': false }),
  },

  // ------------------------------------------------------------- I.A.8 dose
  { id: 'I.A.8', status: 'met', fact: '100 mg once daily, 28 syringes per 28 days', evidence: ['MedicationRequest/medreq-kineret'] },
  {
    id: 'I.A.8', status: 'unmet', fact: '100 mg twice daily (200 mg/day)', evidence: ['MedicationRequest/medreq-kineret'],
    edit: (b) => setDose(b, { mg: 100, perDay: 2 }),
  },
  {
    id: 'I.A.8', status: 'unmet', fact: 'dose written as 2 syringes once daily', evidence: ['MedicationRequest/medreq-kineret'],
    edit: (b) => setDose(b, { syringes: 2 }),
  },
  {
    id: 'I.A.8', status: 'unmet', fact: '100 mg daily but 56 syringes dispensed per 28 days', evidence: ['MedicationRequest/medreq-kineret'],
    edit: (b) => patch<MedicationRequest>(b, 'MedicationRequest/medreq-kineret', (m) => { m.dispenseRequest!.quantity!.value = 56; }),
  },
  {
    id: 'I.A.8', status: 'unknown', fact: 'the order has dosage text but no structured dose', evidence: ['MedicationRequest/medreq-kineret'],
    edit: (b) => setDose(b, null),
  },
];

describe('CP.PHAR.244 I.A rheumatoid arthritis, initial approval', () => {
  runTable({
    base: 'ra-approvable',
    baseline: Object.fromEntries(['I.A.1', 'I.A.2', 'I.A.3', 'I.A.4', 'I.A.5.a', 'I.A.5.b', 'I.A.5.c', 'I.A.6', 'I.A.7', 'I.A.8'].map((id) => [id, 'met'])),
    rows,
  });

  test('every I.A criterion of the catalog has a met, an unmet (where the policy allows) and an unknown row', () => {
    for (const id of ['I.A.1', 'I.A.2', 'I.A.3', 'I.A.4', 'I.A.5.a', 'I.A.5.b', 'I.A.5.c', 'I.A.6', 'I.A.7', 'I.A.8']) {
      const have = new Set(rows.filter((r) => r.id === id).map((r) => r.status));
      expect([id, have.has('met'), have.has('unknown'), have.has('unmet') || id === 'I.A.6']).toEqual([id, true, true, true]);
    }
  });

  test('the fixture has no QuestionnaireResponse: every base status comes from the chart', () => {
    expect(ofType(load('ra-approvable'), 'QuestionnaireResponse')).toHaveLength(0);
  });
});
