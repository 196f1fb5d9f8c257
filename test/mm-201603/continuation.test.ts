/**
 * 201603 sections x.B (patients currently receiving Kineret): the response and site-of-care criteria
 * met, unmet and unknown, and how a request is recognized as continued therapy.
 * Base: fixtures/mm-201603/ra-continuation.json (Kineret filled every 28 days since May 2026, the
 * prescriber reports a response).
 */
import type { Bundle } from 'fhir/r4';
import { add, remove, statement, type Row } from '../support/policy-kit';
import { KINERET, kit, noExceptions, QR, setBirthDate, SOC_EXCEPTIONS } from './kit';

const { answer, evaluate, load, runTable } = kit;
const ORDER = 'MedicationRequest/medreq-kineret';
const KINERET_FILLS = [1, 2, 3, 4, 5, 6, 7].map((n) => `MedicationDispense/meddisp-kineret-${n}`);
const removeKineretFills = (b: Bundle) => remove(b, ...KINERET_FILLS);
const APPROVAL_ON_FILE = { number: 'MM-PA-2026-0518-3310', policyId: 'mm-201603', start: '2026-05-20', end: '2026-11-15', status: 'approved' as const };

const rows: Row[] = [
  { id: '1.B.i', status: 'met', fact: 'the prescriber reports a response', evidence: [...KINERET_FILLS, QR('positive-response')] },
  { id: '1.B.i', status: 'unmet', fact: 'the prescriber reports no response', evidence: [...KINERET_FILLS, QR('positive-response')], edit: (b) => answer(b, { 'positive-response': false }) },
  { id: '1.B.i', status: 'unknown', fact: 'the response question is unanswered', evidence: KINERET_FILLS, edit: (b) => answer(b, { 'positive-response': null }) },
  { id: '1.B.ii', status: 'met', fact: 'taken at home', evidence: [ORDER] },
  {
    id: '1.B.ii', status: 'unmet', fact: 'hospital outpatient (22), adult, no exception', evidence: [ORDER, ...SOC_EXCEPTIONS.map(QR)],
    options: { placeOfService: '22' }, edit: (b) => answer(b, noExceptions()),
  },
  { id: '1.B.ii', status: 'unknown', fact: 'hospital outpatient (22), adult, exceptions unanswered', evidence: [ORDER], options: { placeOfService: '22' } },
  {
    id: '1.B.ii', status: 'met', fact: 'hospital outpatient, given with dialysis (exception 4)', evidence: [ORDER, QR('soc-chemotherapy-or-dialysis')],
    options: { placeOfService: '22' }, edit: (b) => answer(b, { 'soc-chemotherapy-or-dialysis': true }),
  },
  { id: 'CNR.2', status: 'met', fact: 'methotrexate only, no other biologic' },
];

describe('201603 1.B rheumatoid arthritis, patients currently receiving Kineret', () => {
  runTable({ base: 'ra-continuation', indication: 'RA', phase: 'continuation', baseline: { 'CNR.2': 'met', '1.B.i': 'met', '1.B.ii': 'met' }, rows });
});

describe('201603: recognizing continued therapy', () => {
  test('Kineret being filled now: continuation, approved for 1 year', async () => {
    const decision = await evaluate(load('ra-continuation'));
    expect(decision.phase).toBe('continuation');
    expect(decision.outcome).toBe('approve');
    expect(decision.approvalPeriod).toEqual({ start: '2026-11-20', end: '2027-11-19' });
    expect(decision.reasons).toEqual([{ code: 'criteria-met', text: 'All criteria of 201603 1.B are met.', citation: '201603 1.B' }]);
  });

  test('no Kineret on record and no approval on file: initial therapy (6 months)', async () => {
    const bundle = load('ra-continuation');
    removeKineretFills(bundle);
    const decision = await evaluate(bundle);
    expect(decision.phase).toBe('initial');
    expect(decision.outcome).toBe('approve');
    expect(decision.approvalPeriod).toEqual({ start: '2026-11-20', end: '2027-05-19' });
  });

  test('an approval of this policy on file that ended less than 90 days ago: continuation', async () => {
    const bundle = load('ra-continuation');
    removeKineretFills(bundle);
    const decision = await evaluate(bundle, { priorAuthorizations: [APPROVAL_ON_FILE] });
    expect(decision.phase).toBe('continuation');
    expect(decision.approvalPeriod?.end).toBe('2027-11-19');
  });

  test("another policy's approval, or a denial, on file does not make it continued therapy", async () => {
    const bundle = load('ra-continuation');
    removeKineretFills(bundle);
    const other = await evaluate(bundle, { priorAuthorizations: [{ ...APPROVAL_ON_FILE, policyId: 'cp-phar-244' }] });
    expect(other.phase).toBe('initial');
    const denied = await evaluate(bundle, { priorAuthorizations: [{ ...APPROVAL_ON_FILE, status: 'denied' }] });
    expect(denied.phase).toBe('initial');
  });

  test('the request says continuation (PAS certification type), or the questionnaire does', async () => {
    const bundle = load('ra-continuation');
    removeKineretFills(bundle);
    expect((await evaluate(bundle, { phaseHint: 'continuation' })).phase).toBe('continuation');
    expect((await evaluate(answer(bundle, { 'continued-therapy': true }))).phase).toBe('continuation');
  });

  test('a finished Kineret course long ago is not current therapy', async () => {
    const bundle = load('ra-continuation');
    removeKineretFills(bundle);
    add(bundle, statement(bundle, 'medstmt-kineret-2022', KINERET, '2022-01-10', '2022-07-10'));
    expect((await evaluate(bundle)).phase).toBe('initial');
  });
});

describe.each([
  ['caps-child', 'CAPS', 2],
  ['dira-infant', 'DIRA', 3],
  ['sjia-child', 'SJIA', 4],
  ['stills-adult', 'STILL', 5],
] as const)('201603 %s: section x.B when the request is for continued therapy', (base, indication, n) => {
  const responding = (b: Bundle, value: boolean | null) => answer(b, { 'positive-response': value });
  runTable({
    base,
    indication,
    phase: 'continuation',
    options: { phaseHint: 'continuation' },
    prepare: (b) => { responding(b, true); },
    baseline: { 'CNR.2': 'met', [`${n}.B.i`]: 'met', [`${n}.B.ii`]: 'met' },
    rows: [
      { id: `${n}.B.i`, status: 'met', fact: 'the prescriber reports a response', evidence: [QR('positive-response')] },
      { id: `${n}.B.i`, status: 'unmet', fact: 'the prescriber reports no response', evidence: [QR('positive-response')], edit: (b) => responding(b, false) },
      { id: `${n}.B.i`, status: 'unknown', fact: 'the response question is unanswered', edit: (b) => responding(b, null) },
      { id: `${n}.B.ii`, status: 'met', fact: 'hospital outpatient (22) when the age or home-use rules allow it', evidence: [ORDER], options: { placeOfService: n === 5 ? '11' : '22' } },
      {
        id: `${n}.B.ii`, status: 'unmet', fact: 'an adult at a hospital outpatient site (22), every exception answered no', evidence: [ORDER, ...SOC_EXCEPTIONS.map(QR)],
        options: { placeOfService: '22' }, edit: (b) => answer(setBirthDate(b, '1988-02-02'), noExceptions()),
      },
      { id: `${n}.B.ii`, status: 'unknown', fact: 'an adult at a hospital outpatient site (19), exceptions unanswered', evidence: [ORDER], options: { placeOfService: '19' }, edit: (b) => setBirthDate(b, '1988-02-02') },
    ],
  });
});

