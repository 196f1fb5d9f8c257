/**
 * 201603 sections 4.A (systemic juvenile idiopathic arthritis) and 5.A (Still's disease), initial
 * therapy: every criterion met, unmet and unknown, each route of 4.A.i and 5.A.i on its own.
 * Bases: fixtures/mm-201603/sjia-child.json (7-year-old, pediatric rheumatologist, naproxen for 6 weeks
 * then prednisolone) and stills-adult.json (34-year-old with adult-onset Still's disease, prednisone
 * then methotrexate for 5 months without enough response).
 */
import type { Bundle, MedicationRequest, MedicationStatement } from 'fhir/r4';
import { add, patch, remove, setSpecialty, statement, type Row } from '../support/policy-kit';
import { ACETAMINOPHEN, CANAKINUMAB, ETANERCEPT, kit, MTX, QR, reaction, removeMedicationHistory, SOC_EXCEPTIONS } from './kit';

const { answer, runTable } = kit;
const ORDER = 'MedicationRequest/medreq-kineret';

// ------------------------------------------------------------------ 4.A systemic JIA
const SJIA_NO = { 'sjia-systemic-agent': false, 'sjia-biologic': false, 'sjia-nsaid-trial': false, 'sjia-active-systemic-features': false, 'sjia-mas-concern': false };
const SJIA_ANSWERS = Object.keys(SJIA_NO);
/** Only a short naproxen course (2 weeks) and acetaminophen on record. */
const shortNsaidOnly = (b: Bundle): Bundle => {
  remove(b, 'MedicationRequest/medreq-prednisolone');
  patch<MedicationStatement>(b, 'MedicationStatement/medstmt-naproxen', (s) => { s.effectivePeriod = { start: '2026-08-24', end: '2026-09-07' }; });
  return add(b, statement(b, 'medstmt-acetaminophen', ACETAMINOPHEN, '2026-08-20'));
};
const sjiaRows: Row[] = [
  {
    id: '4.A.i', status: 'met', fact: 'route 1: prednisolone (a systemic agent); also naproxen for 6 weeks (route 3)',
    evidence: ['MedicationRequest/medreq-prednisolone', 'MedicationStatement/medstmt-naproxen'],
  },
  {
    id: '4.A.i', status: 'met', fact: 'route 3 alone: naproxen for 6 weeks', evidence: ['MedicationStatement/medstmt-naproxen'],
    edit: (b) => remove(b, 'MedicationRequest/medreq-prednisolone'),
  },
  {
    id: '4.A.i', status: 'met', fact: 'route 1 alone: methotrexate tried', evidence: ['MedicationStatement/medstmt-mtx', 'MedicationStatement/medstmt-naproxen'],
    edit: (b) => { shortNsaidOnly(b); remove(b, 'MedicationStatement/medstmt-acetaminophen'); add(b, statement(b, 'medstmt-mtx', MTX, '2026-09-08', '2026-10-20')); },
  },
  {
    id: '4.A.i', status: 'met', fact: 'route 2 alone: Ilaris (canakinumab) tried', evidence: ['MedicationStatement/medstmt-ilaris', 'MedicationStatement/medstmt-naproxen'],
    edit: (b) => { shortNsaidOnly(b); remove(b, 'MedicationStatement/medstmt-acetaminophen'); add(b, statement(b, 'medstmt-ilaris', CANAKINUMAB, '2026-09-10', '2026-10-08')); },
  },
  {
    id: '4.A.i', status: 'met', fact: 'route 2 alone: a TNF inhibitor (etanercept) tried', evidence: ['MedicationStatement/medstmt-etanercept', 'MedicationStatement/medstmt-naproxen'],
    edit: (b) => { shortNsaidOnly(b); remove(b, 'MedicationStatement/medstmt-acetaminophen'); add(b, statement(b, 'medstmt-etanercept', ETANERCEPT, '2026-09-10', '2026-10-08')); },
  },
  {
    id: '4.A.i', status: 'met', fact: 'route 4 alone: the prescriber reports severe active systemic features',
    evidence: ['MedicationStatement/medstmt-naproxen', ...SJIA_ANSWERS.map(QR)],
    edit: (b) => answer(shortNsaidOnly(b), { ...SJIA_NO, 'sjia-active-systemic-features': true }),
  },
  {
    id: '4.A.i', status: 'met', fact: 'route 5 alone: concern of macrophage activation syndrome',
    evidence: ['MedicationStatement/medstmt-naproxen', ...SJIA_ANSWERS.map(QR)],
    edit: (b) => answer(shortNsaidOnly(b), { ...SJIA_NO, 'sjia-mas-concern': true }),
  },
  {
    id: '4.A.i', status: 'unmet', fact: 'naproxen for 2 weeks only, and the prescriber answers no to every route',
    evidence: ['MedicationStatement/medstmt-naproxen', ...SJIA_ANSWERS.map(QR)],
    edit: (b) => answer(shortNsaidOnly(b), SJIA_NO),
  },
  { id: '4.A.i', status: 'unknown', fact: 'naproxen for 2 weeks only, nothing answered', evidence: ['MedicationStatement/medstmt-naproxen'], edit: shortNsaidOnly },
  { id: '4.A.ii', status: 'met', fact: 'a pediatric rheumatologist', evidence: ['PractitionerRole/role-iyer-peds-rheumatology'] },
  { id: '4.A.ii', status: 'unmet', fact: 'a general pediatrician', edit: (b) => setSpecialty(b, 'role-iyer-peds-rheumatology', '208000000X', 'Pediatrics Physician') },
  { id: '4.A.ii', status: 'unknown', fact: 'no specialty recorded', edit: (b) => setSpecialty(b, 'role-iyer-peds-rheumatology', null) },
  { id: '4.A.iii', status: 'met', fact: 'hospital outpatient (22) for a 7-year-old', evidence: [ORDER], options: { placeOfService: '22' } },
  {
    id: '4.A.iii', status: 'met', fact: 'hospital outpatient, every prescriber-answered exception no: age alone suffices', evidence: [ORDER, ...SOC_EXCEPTIONS.map(QR)],
    options: { placeOfService: '22' }, edit: (b) => answer(b, Object.fromEntries(SOC_EXCEPTIONS.map((l) => [l, false]))),
  },
];

// ------------------------------------------------------------------ 5.A Still's disease
const STILL_ROUTE_EVIDENCE = ['MedicationRequest/medreq-mtx', 'MedicationStatement/medstmt-prednisone'];
const setMtxEnd = (end: string) => (b: Bundle) =>
  patch<MedicationRequest>(b, 'MedicationRequest/medreq-mtx', (m) => { m.dispenseRequest = { ...m.dispenseRequest, validityPeriod: { start: '2026-04-06', end } }; });
const stillRows: Row[] = [
  { id: '5.A.i', status: 'met', fact: 'route 1: prednisone, then methotrexate for 5 months without enough response', evidence: STILL_ROUTE_EVIDENCE },
  {
    id: '5.A.i', status: 'met', fact: 'route 1: prednisone, methotrexate for 3 weeks then stopped for intolerance',
    evidence: [...STILL_ROUTE_EVIDENCE, 'AllergyIntolerance/allergy-mtx'],
    edit: (b) => { setMtxEnd('2026-04-27')(b); add(b, reaction(b, 'allergy-mtx', MTX, 'moderate', 'Mouth ulcers and transaminases three times normal')); },
  },
  { id: '5.A.i', status: 'unmet', fact: 'methotrexate for 4 weeks only, stopped, no intolerance; routes 2 and 3 answered no',
    evidence: [...STILL_ROUTE_EVIDENCE, QR('still-active-systemic-features'), QR('still-mas-concern')],
    edit: (b) => answer(setMtxEnd('2026-05-04')(b), { 'still-active-systemic-features': false, 'still-mas-concern': false }),
  },
  {
    id: '5.A.i', status: 'unknown', fact: 'no corticosteroid on record (1.a unknown), nothing answered', evidence: ['MedicationRequest/medreq-mtx'],
    edit: (b) => remove(b, 'MedicationStatement/medstmt-prednisone'),
  },
  {
    id: '5.A.i', status: 'met', fact: 'no corticosteroid on record, the questionnaire says one was tried', evidence: ['MedicationRequest/medreq-mtx', QR('still-corticosteroid')],
    edit: (b) => answer(remove(b, 'MedicationStatement/medstmt-prednisone'), { 'still-corticosteroid': true }),
  },
  {
    id: '5.A.i', status: 'met', fact: 'route 3 alone: concern of macrophage activation syndrome, no medication history',
    evidence: [QR('still-mas-concern')], also: { 'CNR.2': 'unknown' },
    edit: (b) => { removeMedicationHistory(b); answer(b, { 'still-mas-concern': true }); },
  },
  {
    id: '5.A.i', status: 'met', fact: 'route 2 alone: severe active systemic features, no medication history',
    evidence: [QR('still-active-systemic-features')], also: { 'CNR.2': 'unknown' },
    edit: (b) => { removeMedicationHistory(b); answer(b, { 'still-active-systemic-features': true }); },
  },
  { id: '5.A.ii', status: 'met', fact: 'a rheumatologist', evidence: ['PractitionerRole/role-osei-rheumatology'] },
  { id: '5.A.ii', status: 'unmet', fact: 'an internist', edit: (b) => setSpecialty(b, 'role-osei-rheumatology', '207R00000X', 'Internal Medicine Physician') },
  { id: '5.A.ii', status: 'unknown', fact: 'no specialty', edit: (b) => setSpecialty(b, 'role-osei-rheumatology', null) },
  { id: '5.A.iii', status: 'met', fact: 'taken at home', evidence: [ORDER] },
  { id: '5.A.iii', status: 'unknown', fact: 'hospital outpatient (19), adult, no exception documented', evidence: [ORDER], options: { placeOfService: '19' } },
];

describe('201603 4.A systemic JIA, initial therapy', () => {
  runTable({ base: 'sjia-child', indication: 'SJIA', baseline: { 'CNR.2': 'met', '4.A.i': 'met', '4.A.ii': 'met', '4.A.iii': 'met' }, rows: sjiaRows });
});

describe("201603 5.A Still's disease, initial therapy", () => {
  runTable({ base: 'stills-adult', indication: 'STILL', baseline: { 'CNR.2': 'met', '5.A.i': 'met', '5.A.ii': 'met', '5.A.iii': 'met' }, rows: stillRows });
});
