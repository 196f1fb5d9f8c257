/**
 * CP.PHAR.244 II.A (continued therapy) for RA, CAPS and DIRA: every criterion met, unmet and unknown.
 * RA base: ra-continuation.json (on Kineret since May 2026, CDAI 34 -> 22 -> 14, renewal at 100 mg
 * daily) with the May approval on file. CAPS and DIRA bases: nomid-child.json and dira.json turned
 * into members on Kineret (an earlier order at the same dose, a current fill, the approval on file,
 * and the prescriber reporting a positive response).
 */
import type { Bundle, MedicationDispense, MedicationRequest, Observation } from 'fhir/r4';
import { add, answer, KINERET_APPROVAL_ON_FILE, kineretOrder, patch, patientOf, prescription, remove, setDose, statement, type RequestOptions } from './helpers';
import { runTable, type Row } from './table';

const QR = (linkId: string) => `QuestionnaireResponse/qr-cp-phar-244#${linkId}`;
const ON_FILE: RequestOptions = { priorAuthorizations: [KINERET_APPROVAL_ON_FILE] };
const NO_APPROVAL: RequestOptions = { priorAuthorizations: [] };
const XELJANZ: [string, string] = ['1357547', 'tofacitinib 5 MG Oral Tablet [Xeljanz]'];
const CANAKINUMAB: [string, string] = ['853491', 'canakinumab'];

// ---------------------------------------------------------------- RA (II.A.1, II.A.2.a, II.A.3, II.A.4.a)

const RA_KINERET_USES = [...[1, 2, 3, 4, 5, 6, 7].map((n) => `MedicationDispense/meddisp-kineret-${n}`), 'MedicationRequest/medreq-kineret-2026-05'];
const CDAI = ['Observation/obs-cdai-2026-05-05', 'Observation/obs-cdai-2026-08-12', 'Observation/obs-cdai-2026-11-10'];
const setLatestCdai = (value: number) => (b: Bundle) => patch<Observation>(b, 'Observation/obs-cdai-2026-11-10', (o) => { o.valueQuantity!.value = value; });
const onlyBaselineCdai = (b: Bundle) => remove(b, 'Observation/obs-cdai-2026-08-12', 'Observation/obs-cdai-2026-11-10');

function removeAllMedicationHistory(b: Bundle): void {
  remove(b, (r) => (r.resourceType === 'MedicationRequest' && r.id !== 'medreq-kineret') || r.resourceType === 'MedicationStatement' || r.resourceType === 'MedicationDispense');
}

const raRows: Row[] = [
  { id: 'II.A.1', status: 'met', fact: 'the initial approval (May 2026) is on file', evidence: RA_KINERET_USES },
  { id: 'II.A.1', status: 'unknown', fact: 'taking Kineret per the chart, no approval on file: the benefit it was paid under is unknown', evidence: RA_KINERET_USES, options: NO_APPROVAL },
  {
    id: 'II.A.1', status: 'unmet', fact: 'no approval on file, the questionnaire says Kineret is not received via the plan nor under continuity of care',
    evidence: [...RA_KINERET_USES, QR('currently-receiving')], options: NO_APPROVAL, edit: (b) => answer(b, { 'currently-receiving': false }),
  },
  {
    id: 'II.A.1', status: 'met', fact: 'no approval on file, the questionnaire attests continuity of care',
    evidence: [...RA_KINERET_USES, QR('currently-receiving')], options: NO_APPROVAL, edit: (b) => answer(b, { 'currently-receiving': true }),
  },

  { id: 'II.A.2.a', status: 'met', fact: 'CDAI fell from 34 (baseline) to 14', evidence: CDAI },
  {
    id: 'II.A.2.a', status: 'unmet', fact: 'CDAI rose to 38 and the RAPID3 rose from 12 to 15 (CDAI was reassessed)',
    evidence: [...CDAI, QR('current-rapid3'), QR('baseline-rapid3')],
    edit: (b) => {
      setLatestCdai(38)(b);
      answer(b, { 'current-rapid3': 15, 'baseline-rapid3': 12, 'cdai-not-possible': false });
    },
  },
  // A rising CDAI alone leaves II.A.2.a unknown, not unmet: the policy accepts a fall in CDAI *or* RAPID3.
  { id: 'II.A.2.a', status: 'unknown', fact: 'CDAI rose to 38, no RAPID3 given', evidence: CDAI, edit: setLatestCdai(38) },
  { id: 'II.A.2.a', status: 'unknown', fact: 'only the baseline CDAI is on record', evidence: CDAI.slice(0, 1), edit: onlyBaselineCdai },
  {
    id: 'II.A.2.a', status: 'met', fact: 'only the baseline CDAI (34, high); the current CDAI (12) is given in the questionnaire',
    evidence: [CDAI[0]!, QR('current-cdai')],
    edit: (b) => answer(onlyBaselineCdai(b), { 'current-cdai': 12 }),
  },
  {
    id: 'II.A.2.a', status: 'met', fact: 'CDAI could not be reassessed; RAPID3 11 (moderate) is better than the initial CDAI 34 (high)',
    evidence: [CDAI[0]!, QR('current-rapid3')],
    edit: (b) => answer(onlyBaselineCdai(b), { 'cdai-not-possible': true, 'current-rapid3': 11 }),
  },

  { id: 'II.A.3', status: 'met', fact: 'only Kineret and methotrexate are being taken' },
  {
    id: 'II.A.3', status: 'unmet', fact: 'Xeljanz was started last month', evidence: ['MedicationRequest/medreq-xeljanz'],
    edit: (b) => add(b, prescription(b, 'medreq-xeljanz', XELJANZ, '2026-10-26', { status: 'active', supplyDays: 30, repeats: 5, doseMg: 5 })),
  },
  {
    id: 'II.A.3', status: 'unknown', fact: 'the bundle carries no medication history (only the approval on file says Kineret was given)',
    // Without the earlier order, the request is not known to be a dose increase, so the dose limit applies.
    also: { 'II.A.4.a': 'met' },
    edit: removeAllMedicationHistory,
  },

  { id: 'II.A.4.a', status: 'not-applicable', fact: 'the renewal keeps 100 mg daily' },
  {
    id: 'II.A.4.a', status: 'met', fact: 'increase from 100 mg every other day to 100 mg daily', evidence: ['MedicationRequest/medreq-kineret'],
    edit: (b) => setDose(b, { mg: 100, everyDays: 2 }, 'medreq-kineret-2026-05'),
  },
  { id: 'II.A.4.a', status: 'unmet', fact: 'increase from 100 mg to 100 mg twice daily', evidence: ['MedicationRequest/medreq-kineret'], edit: (b) => setDose(b, { mg: 100, perDay: 2 }) },
  { id: 'II.A.4.a', status: 'unknown', fact: 'the renewal has no structured dose', evidence: ['MedicationRequest/medreq-kineret'], edit: (b) => setDose(b, null) },
];

// ---------------------------------------------------------------- CAPS and DIRA (II.A.1, II.A.2.b, II.A.3, II.A.4.b)

/** Makes the base a member on Kineret: an earlier order at the requested dose and a fill that covers today. */
function onKineret(bundle: Bundle): void {
  const current = kineretOrder(bundle);
  const previous: MedicationRequest = {
    ...structuredClone(current),
    id: 'medreq-kineret-prev',
    status: 'active',
    authoredOn: '2026-05-18T10:00:00-04:00',
    dispenseRequest: { ...current.dispenseRequest, validityPeriod: { start: '2026-05-18', end: '2026-11-17' } },
  };
  const fill: MedicationDispense = {
    resourceType: 'MedicationDispense',
    id: 'meddisp-kineret-current',
    status: 'completed',
    medicationCodeableConcept: current.medicationCodeableConcept!,
    subject: { reference: `Patient/${patientOf(bundle).id}` },
    authorizingPrescription: [{ reference: 'MedicationRequest/medreq-kineret-prev' }],
    quantity: { value: 28, unit: 'syringe', system: 'http://unitsofmeasure.org', code: '{syringe}' },
    daysSupply: { value: 28, unit: 'days', system: 'http://unitsofmeasure.org', code: 'd' },
    whenHandedOver: '2026-11-02T12:00:00-05:00',
  };
  add(bundle, previous, fill);
  answer(bundle, { 'positive-response': true });
}

const KINERET_USES = ['MedicationDispense/meddisp-kineret-current', 'MedicationRequest/medreq-kineret-prev'];

function weightBasedRows(otherMed: string, weightRef: string, increase: { withinMg: number; aboveMg: number }, fromMg: number): Row[] {
  return [
    { id: 'II.A.1', status: 'met', fact: 'the initial approval is on file', evidence: KINERET_USES },
    { id: 'II.A.1', status: 'unknown', fact: 'taking Kineret per the chart, no approval on file', evidence: KINERET_USES, options: NO_APPROVAL },
    {
      id: 'II.A.1', status: 'unmet', fact: 'no approval on file, the questionnaire says Kineret is not received via the plan',
      evidence: [...KINERET_USES, QR('currently-receiving')], options: NO_APPROVAL, edit: (b) => answer(b, { 'currently-receiving': false }),
    },

    { id: 'II.A.2.b', status: 'met', fact: 'the prescriber reports a positive response', evidence: [QR('positive-response')] },
    { id: 'II.A.2.b', status: 'unmet', fact: 'the prescriber reports no positive response', evidence: [QR('positive-response')], edit: (b) => answer(b, { 'positive-response': false }) },
    // The chart cannot show "responding positively" for CAPS/DIRA: without the questionnaire it is unknown.
    { id: 'II.A.2.b', status: 'unknown', fact: 'no questionnaire answer about response', edit: (b) => remove(b, 'QuestionnaireResponse/qr-cp-phar-244') },

    { id: 'II.A.3', status: 'met', fact: 'no biologic or JAK inhibitor besides Kineret' },
    {
      id: 'II.A.3', status: 'unmet', fact: 'Ilaris (canakinumab) is being taken too', evidence: ['MedicationStatement/medstmt-ilaris'],
      edit: (b) => add(b, statement(b, 'medstmt-ilaris', CANAKINUMAB, '2026-10-01')),
    },
    {
      id: 'II.A.3', status: 'unknown', fact: 'no medication history in the bundle (the approval on file makes it continued therapy)',
      also: { 'II.A.4.b': 'met' },
      edit: (b) => remove(b, 'MedicationRequest/medreq-kineret-prev', 'MedicationDispense/meddisp-kineret-current', otherMed),
    },

    { id: 'II.A.4.b', status: 'not-applicable', fact: 'the renewal keeps the same dose' },
    {
      id: 'II.A.4.b', status: 'met', fact: `increase from ${fromMg} to ${increase.withinMg} mg/day, within 8 mg/kg/day`, evidence: ['MedicationRequest/medreq-kineret', weightRef],
      edit: (b) => setDose(b, { mg: increase.withinMg }),
    },
    {
      id: 'II.A.4.b', status: 'unmet', fact: `increase from ${fromMg} to ${increase.aboveMg} mg/day, above 8 mg/kg/day`, evidence: ['MedicationRequest/medreq-kineret', weightRef],
      edit: (b) => setDose(b, { mg: increase.aboveMg }),
    },
    {
      id: 'II.A.4.b', status: 'unknown', fact: `increase to ${increase.withinMg} mg/day with no body weight on record`, evidence: ['MedicationRequest/medreq-kineret'],
      edit: (b) => remove(setDose(b, { mg: increase.withinMg }), (r) => r.resourceType === 'Observation' && r.code.coding?.[0]?.code === '29463-7'),
    },
  ];
}

describe('CP.PHAR.244 II.A continued therapy, RA', () => {
  runTable({
    base: 'ra-continuation',
    options: ON_FILE,
    baseline: { 'II.A.1': 'met', 'II.A.2.a': 'met', 'II.A.3': 'met', 'II.A.4.a': 'not-applicable' },
    rows: raRows,
  });
});

describe('CP.PHAR.244 II.A continued therapy, CAPS (NOMID/CINCA)', () => {
  runTable({
    base: 'nomid-child',
    prepare: onKineret,
    options: ON_FILE,
    baseline: { 'II.A.1': 'met', 'II.A.2.b': 'met', 'II.A.3': 'met', 'II.A.4.b': 'not-applicable' },
    rows: weightBasedRows('MedicationStatement/medstmt-prednisolone', 'Observation/obs-weight-2026-11-05', { withinMg: 100, aboveMg: 190 }, 50),
  });
});

describe('CP.PHAR.244 II.A continued therapy, DIRA', () => {
  runTable({
    base: 'dira',
    prepare: onKineret,
    options: ON_FILE,
    baseline: { 'II.A.1': 'met', 'II.A.2.b': 'met', 'II.A.3': 'met', 'II.A.4.b': 'not-applicable' },
    rows: weightBasedRows('MedicationStatement/medstmt-prednisolone', 'Observation/obs-weight-2026-11-03', { withinMg: 50, aboveMg: 110 }, 25),
  });
});

test('every II.A criterion has met, unmet and unknown rows (II.A.4 also not-applicable)', () => {
  const caps = weightBasedRows('x', 'y', { withinMg: 1, aboveMg: 2 }, 0);
  for (const [rows, ids] of [
    [raRows, ['II.A.1', 'II.A.2.a', 'II.A.3', 'II.A.4.a']],
    [caps, ['II.A.1', 'II.A.2.b', 'II.A.3', 'II.A.4.b']],
  ] as const) {
    for (const id of ids) {
      const want = id.startsWith('II.A.4') ? ['met', 'not-applicable', 'unknown', 'unmet'] : ['met', 'unknown', 'unmet'];
      expect([id, [...new Set(rows.filter((r) => r.id === id).map((r) => r.status))].sort()]).toEqual([id, want]);
    }
  }
});
