/**
 * NH.PHAR.244 II.A (continued therapy, all indications): every criterion met, unmet and unknown.
 * Bases: fixtures/nh-phar-244/ra-continuation.json (Kineret since May 2026, CDAI 34 -> 22 -> 14,
 * an NH.PHAR.244 approval on file) and nomid-child.json turned into a member already on Kineret.
 */
import type { Bundle, MedicationRequest, Observation } from 'fhir/r4';
import type { PriorAuthorization } from '../../src/engine/request';
import { add, patch, remove, setDose, statement, type Row } from '../support/policy-kit';
import { ETANERCEPT, kit, KINERET, QR, removeMedicationHistory } from './kit';

const { answer, runTable, evaluate, load } = kit;

const NH_APPROVAL: PriorAuthorization = { number: 'NH-PA-2026-05-0031', policyId: 'nh-phar-244', start: '2026-05-20', end: '2026-11-19', status: 'approved' };
const KINERET_RECORDS = [
  'MedicationRequest/medreq-kineret-2026-05',
  ...[1, 2, 3, 4, 5, 6, 7].map((n) => `MedicationDispense/meddisp-kineret-${n}`),
];
const CDAI = ['Observation/obs-cdai-2026-05-05', 'Observation/obs-cdai-2026-08-12', 'Observation/obs-cdai-2026-11-10'];

const setPreviousDose = (mg: number) => (b: Bundle) =>
  patch<MedicationRequest>(b, 'MedicationRequest/medreq-kineret-2026-05', (m) => { m.dosageInstruction![0]!.doseAndRate![0]!.doseQuantity!.value = mg; });

const raRows: Row[] = [
  // II.A.1
  { id: 'II.A.1', status: 'met', fact: 'an NH.PHAR.244 approval is on file (previously met the initial criteria)', evidence: KINERET_RECORDS },
  { id: 'II.A.1', status: 'unknown', fact: 'no approval on file: the record cannot show the benefit Kineret was paid under', evidence: KINERET_RECORDS, options: { priorAuthorizations: [] } },
  {
    id: 'II.A.1', status: 'unknown', fact: "an approval under another plan's policy (CP.PHAR.244) does not count", evidence: KINERET_RECORDS,
    options: { priorAuthorizations: [{ ...NH_APPROVAL, policyId: 'cp-phar-244' }] },
  },
  {
    id: 'II.A.1', status: 'met', fact: 'no approval on file, the questionnaire says Kineret is received through the plan', evidence: [...KINERET_RECORDS, QR('currently-receiving')],
    options: { priorAuthorizations: [] }, edit: (b) => answer(b, { 'currently-receiving': true }),
  },
  {
    id: 'II.A.1', status: 'unmet', fact: 'no approval on file, the questionnaire says no', evidence: [...KINERET_RECORDS, QR('currently-receiving')],
    options: { priorAuthorizations: [] }, edit: (b) => answer(b, { 'currently-receiving': false }),
  },
  // II.A.2.a
  { id: 'II.A.2.a', status: 'met', fact: 'CDAI fell from 34 to 14', evidence: CDAI },
  {
    id: 'II.A.2.a', status: 'unknown', fact: 'CDAI rose from 34 to 38, and no RAPID3 is given (it might have fallen)', evidence: CDAI,
    edit: (b) => patch<Observation>(b, 'Observation/obs-cdai-2026-11-10', (o) => { o.valueQuantity!.value = 38; }),
  },
  {
    id: 'II.A.2.a', status: 'unmet', fact: 'CDAI rose from 34 to 38 and RAPID3 from 14 to 16', evidence: [...CDAI, QR('baseline-rapid3'), QR('current-rapid3')],
    edit: (b) => {
      patch<Observation>(b, 'Observation/obs-cdai-2026-11-10', (o) => { o.valueQuantity!.value = 38; });
      answer(b, { 'baseline-rapid3': 14, 'current-rapid3': 16, 'cdai-not-possible': false });
    },
  },
  {
    id: 'II.A.2.a', status: 'unknown', fact: 'only the baseline CDAI is on record', evidence: CDAI.slice(0, 1),
    edit: (b) => remove(b, ...CDAI.slice(1)),
  },
  {
    id: 'II.A.2.a', status: 'met', fact: 'CDAI cannot be reassessed; RAPID3 of 5 (low) against a high baseline CDAI', evidence: [...CDAI.slice(0, 1), QR('current-rapid3')],
    edit: (b) => answer(remove(b, ...CDAI.slice(1)), { 'cdai-not-possible': true, 'current-rapid3': 5 }),
  },
  // II.A.3 (III.B: not authorized)
  { id: 'II.A.3', status: 'met', fact: 'Kineret and methotrexate only' },
  {
    id: 'II.A.3', status: 'unmet', fact: 'etanercept is being taken now', evidence: ['MedicationStatement/medstmt-etanercept'],
    edit: (b) => add(b, statement(b, 'medstmt-etanercept', ETANERCEPT, '2026-09-01')),
  },
  {
    id: 'II.A.3', status: 'unknown', fact: 'no medication history (continued therapy said by the request)',
    // Without the earlier order, the new one cannot be shown not to be an increase: the dose limit applies (and is met).
    options: { phaseHint: 'continuation' }, edit: removeMedicationHistory, also: { 'II.A.4.a': 'met' },
  },
  // II.A.4.a (dose increases only)
  { id: 'II.A.4.a', status: 'not-applicable', fact: 'the same 100 mg daily as before' },
  {
    id: 'II.A.4.a', status: 'met', fact: 'an increase from 50 mg to 100 mg daily', evidence: ['MedicationRequest/medreq-kineret'],
    edit: setPreviousDose(50),
  },
  {
    id: 'II.A.4.a', status: 'unmet', fact: 'an increase from 100 mg to 200 mg daily', evidence: ['MedicationRequest/medreq-kineret'],
    edit: (b) => setDose(b, { mg: 100, perDay: 2 }),
  },
  {
    id: 'II.A.4.a', status: 'unknown', fact: 'the new order has no structured dose', evidence: ['MedicationRequest/medreq-kineret'],
    edit: (b) => setDose(b, null),
  },
];

describe('NH.PHAR.244 II.A continued therapy, rheumatoid arthritis', () => {
  runTable({
    base: 'ra-continuation',
    indication: 'RA',
    phase: 'continuation',
    options: { priorAuthorizations: [NH_APPROVAL] },
    baseline: { 'II.A.1': 'met', 'II.A.2.a': 'met', 'II.A.3': 'met', 'II.A.4.a': 'not-applicable' },
    rows: raRows,
  });

  test('all met: approved for 12 months', async () => {
    const decision = await evaluate(load('ra-continuation'), { priorAuthorizations: [NH_APPROVAL] });
    expect(decision.outcome).toBe('approve');
    expect(decision.approvalPeriod).toEqual({ start: '2026-11-20', end: '2027-11-19' });
  });
});

/** The NOMID child, already on Kineret 25 mg daily under an NH approval; the new order is 50 mg. */
function nomidOnKineret(b: Bundle): void {
  add(b, {
    resourceType: 'MedicationRequest',
    id: 'medreq-kineret-2026-05',
    status: 'active',
    intent: 'order',
    medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: KINERET[0], display: KINERET[1] }] },
    subject: { reference: 'Patient/pt-nomid-child' },
    authoredOn: '2026-05-18',
    dosageInstruction: [{ timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } }, doseAndRate: [{ doseQuantity: { value: 25, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' } }] }],
    dispenseRequest: { validityPeriod: { start: '2026-05-18', end: '2026-11-30' }, numberOfRepeatsAllowed: 5, expectedSupplyDuration: { value: 28, unit: 'days', system: 'http://unitsofmeasure.org', code: 'd' } },
  });
  answer(b, { 'positive-response': true });
}

const NOMID_ORDER = ['MedicationRequest/medreq-kineret', 'Observation/obs-weight-2026-11-05'];
const capsRows: Row[] = [
  { id: 'II.A.2.b', status: 'met', fact: 'the prescriber reports a positive response', evidence: [QR('positive-response')] },
  { id: 'II.A.2.b', status: 'unmet', fact: 'the prescriber reports no response', evidence: [QR('positive-response')], edit: (b) => answer(b, { 'positive-response': false }) },
  { id: 'II.A.2.b', status: 'unknown', fact: 'no answer about the response', edit: (b) => answer(b, { 'positive-response': null }) },
  { id: 'II.A.4.b', status: 'met', fact: 'an increase from 25 mg to 50 mg daily for 23.4 kg', evidence: NOMID_ORDER },
  { id: 'II.A.4.b', status: 'unmet', fact: 'an increase to 200 mg daily for 23.4 kg', evidence: NOMID_ORDER, edit: (b) => setDose(b, { mg: 200 }) },
  {
    id: 'II.A.4.b', status: 'unknown', fact: 'an increase, and no body weight on record', evidence: ['MedicationRequest/medreq-kineret'],
    edit: (b) => remove(b, 'Observation/obs-weight-2026-05-14', 'Observation/obs-weight-2026-11-05'),
  },
  { id: 'II.A.4.b', status: 'not-applicable', fact: 'the same 25 mg daily as before', edit: (b) => setDose(b, { mg: 25 }) },
];

describe('NH.PHAR.244 II.A continued therapy, CAPS (NOMID)', () => {
  runTable({
    base: 'nomid-child',
    prepare: nomidOnKineret,
    indication: 'CAPS',
    phase: 'continuation',
    options: { priorAuthorizations: [{ ...NH_APPROVAL, start: '2026-05-18', end: '2026-11-17' }] },
    baseline: { 'II.A.1': 'met', 'II.A.2.b': 'met', 'II.A.3': 'met', 'II.A.4.b': 'met' },
    rows: capsRows,
  });
});

test('every continued-therapy criterion has a met, an unmet and an unknown row', () => {
  const rows = [...raRows, ...capsRows];
  for (const id of ['II.A.1', 'II.A.2.a', 'II.A.2.b', 'II.A.3', 'II.A.4.a', 'II.A.4.b']) {
    const have = new Set(rows.filter((r) => r.id === id).map((r) => r.status));
    expect([id, have.has('met'), have.has('unmet'), have.has('unknown')]).toEqual([id, true, true, true]);
  }
});
