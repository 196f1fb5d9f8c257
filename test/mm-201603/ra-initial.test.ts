/**
 * 201603 section 1.A (rheumatoid arthritis, initial therapy) and Conditions Not Recommended 2
 * (combination with a biologic or targeted synthetic DMARD): every criterion met, unmet and unknown.
 * Base: fixtures/mm-201603/ra-approvable.json (commercial member, rheumatologist, Humira filled for
 * 6 months and stopped, methotrexate ongoing, Kineret taken at home): the record alone meets everything.
 */
import type { Bundle, MedicationRequest } from 'fhir/r4';
import { add, patch, remove, setSpecialty, statement, type Row } from '../support/policy-kit';
import { ABATACEPT, ACETAMINOPHEN, ETANERCEPT, HUMIRA, KINERET, kit, MTX, noExceptions, QR, reaction, removeMedicationHistory, setCategory, SOC_EXCEPTIONS } from './kit';

const { answer, runTable } = kit;
const ROLE = 'role-osei-rheumatology';
const ORDER = 'MedicationRequest/medreq-kineret';
const HUMIRA_FILLS = [1, 2, 3, 4, 5, 6, 7].map((n) => `MedicationDispense/meddisp-humira-${n}`);
const removeHumira = (b: Bundle) => remove(b, (r) => r.resourceType === 'MedicationDispense' && (r.id ?? '').startsWith('meddisp-humira-'));

const rows: Row[] = [
  // ------------------------------------------------------------- 1.A.i biologic or targeted synthetic DMARD trial
  { id: '1.A.i', status: 'met', fact: 'Humira filled every 28 days for 7 fills (about 6 months), stopped', evidence: HUMIRA_FILLS },
  {
    id: '1.A.i', status: 'met', fact: 'etanercept for 4 months on a MedicationStatement', evidence: ['MedicationStatement/medstmt-etanercept'],
    edit: (b) => { removeHumira(b); add(b, statement(b, 'medstmt-etanercept', ETANERCEPT, '2025-01-06', '2025-05-12')); },
  },
  {
    id: '1.A.i', status: 'met', fact: 'no targeted DMARD taken, but an intolerance to Humira is recorded', evidence: ['AllergyIntolerance/allergy-humira'],
    edit: (b) => { removeHumira(b); add(b, reaction(b, 'allergy-humira', HUMIRA, 'moderate', 'Injection-site reactions and recurrent sinusitis')); },
  },
  {
    id: '1.A.i', status: 'unmet', fact: 'Humira filled twice (8 weeks), stopped', evidence: HUMIRA_FILLS.slice(0, 2),
    edit: (b) => remove(b, ...HUMIRA_FILLS.slice(2)),
  },
  {
    id: '1.A.i', status: 'unmet', fact: 'Humira started 7 weeks ago and still taken (combination use too)', evidence: ['MedicationStatement/medstmt-humira-current'],
    also: { 'CNR.2': 'unmet' },
    edit: (b) => { removeHumira(b); add(b, statement(b, 'medstmt-humira-current', HUMIRA, '2026-10-01')); },
  },
  {
    id: '1.A.i', status: 'unknown', fact: 'only conventional DMARDs on record (methotrexate does not count)',
    edit: removeHumira,
  },
  {
    id: '1.A.i', status: 'unknown', fact: 'an earlier 6-month course of Kineret itself does not count as a trial of another agent',
    edit: (b) => { removeHumira(b); add(b, statement(b, 'medstmt-kineret-2023', KINERET, '2023-01-09', '2023-07-10')); },
  },
  {
    id: '1.A.i', status: 'unknown', fact: 'Humira recorded at one point in time, duration unknown', evidence: ['MedicationStatement/medstmt-humira-undated'],
    edit: (b) => {
      removeHumira(b);
      const s = statement(b, 'medstmt-humira-undated', HUMIRA, '2025-10-01', '2025-10-01');
      delete s.effectivePeriod;
      s.effectiveDateTime = '2025-10-01';
      add(b, s);
    },
  },
  {
    id: '1.A.i', status: 'met', fact: 'no targeted DMARD on record, the questionnaire attests a 3-month trial', evidence: [QR('targeted-dmard-trial')],
    edit: (b) => answer(removeHumira(b), { 'targeted-dmard-trial': true }),
  },
  {
    id: '1.A.i', status: 'unmet', fact: 'no targeted DMARD on record, the questionnaire says none was tried', evidence: [QR('targeted-dmard-trial')],
    edit: (b) => answer(removeHumira(b), { 'targeted-dmard-trial': false }),
  },

  // ------------------------------------------------------------- 1.A.ii rheumatologist
  { id: '1.A.ii', status: 'met', fact: 'the requester is a rheumatologist (NUCC 207RR0500X)', evidence: [`PractitionerRole/${ROLE}`] },
  {
    id: '1.A.ii', status: 'met', fact: 'the order names the Practitioner, whose role is rheumatology', evidence: [`PractitionerRole/${ROLE}`],
    edit: (b) => patch<MedicationRequest>(b, 'MedicationRequest/medreq-kineret', (m) => { m.requester = { reference: 'Practitioner/pract-osei' }; }),
  },
  { id: '1.A.ii', status: 'unmet', fact: 'a family physician, no consultation on record', edit: (b) => setSpecialty(b, ROLE, '207Q00000X', 'Family Medicine Physician') },
  { id: '1.A.ii', status: 'unknown', fact: 'the requester role carries no specialty', edit: (b) => setSpecialty(b, ROLE, null) },
  {
    id: '1.A.ii', status: 'met', fact: 'a family physician, the questionnaire says a rheumatologist was consulted', evidence: [QR('rheumatologist-consulted')],
    edit: (b) => answer(setSpecialty(b, ROLE, '207Q00000X', 'Family Medicine Physician'), { 'rheumatologist-consulted': true }),
  },

  // ------------------------------------------------------------- 1.A.iii site of care
  { id: '1.A.iii', status: 'met', fact: 'no place of service; the order is taken at home (category community)', evidence: [ORDER] },
  { id: '1.A.iii', status: 'met', fact: 'place of service 11 (office)', evidence: [ORDER], options: { placeOfService: '11' } },
  { id: '1.A.iii', status: 'met', fact: 'place of service 12 (home), whatever the order category', evidence: [ORDER], options: { placeOfService: '12' }, edit: (b) => setCategory(b, 'outpatient') },
  {
    id: '1.A.iii', status: 'unmet', fact: 'place of service 22 (on-campus outpatient hospital), adult, every exception answered no',
    evidence: [ORDER, ...SOC_EXCEPTIONS.map(QR)], options: { placeOfService: '22' }, edit: (b) => answer(b, noExceptions()),
  },
  {
    id: '1.A.iii', status: 'unmet', fact: 'place of service 19 (off-campus outpatient hospital), every exception answered no',
    evidence: [ORDER, ...SOC_EXCEPTIONS.map(QR)], options: { placeOfService: '19' }, edit: (b) => answer(b, noExceptions()),
  },
  { id: '1.A.iii', status: 'unknown', fact: 'place of service 22, adult, no exception documented', evidence: [ORDER], options: { placeOfService: '22' } },
  {
    id: '1.A.iii', status: 'met', fact: 'place of service 22, the patient is clinically unstable (exception 2)',
    evidence: [ORDER, QR('soc-clinically-unstable')], options: { placeOfService: '22' }, edit: (b) => answer(b, { 'soc-clinically-unstable': true }),
  },
  {
    id: '1.A.iii', status: 'met', fact: 'place of service 22, a severe reaction to Kineret on record (exception 3)',
    evidence: [ORDER, 'AllergyIntolerance/allergy-kineret'], options: { placeOfService: '22' },
    edit: (b) => add(b, reaction(b, 'allergy-kineret', KINERET, 'severe', 'Anaphylaxis after a dose given at home')),
  },
  {
    id: '1.A.iii', status: 'unknown', fact: 'place of service 22, only a mild reaction to Kineret on record', evidence: [ORDER], options: { placeOfService: '22' },
    edit: (b) => add(b, reaction(b, 'allergy-kineret', KINERET, 'mild', 'Injection-site erythema')),
  },
  {
    id: '1.A.iii', status: 'met', fact: 'place of service 22, no caregiver for a cognitively impaired patient (exception 5)',
    evidence: [ORDER, QR('soc-impairment-no-caregiver')], options: { placeOfService: '22' }, edit: (b) => answer(b, { 'soc-impairment-no-caregiver': true }),
  },
  { id: '1.A.iii', status: 'unknown', fact: 'no place of service, an outpatient order, nothing answered', evidence: [ORDER], edit: (b) => setCategory(b, 'outpatient') },
  {
    id: '1.A.iii', status: 'met', fact: 'no place of service, the questionnaire says it is not given at a hospital-based site',
    evidence: [ORDER, QR('hospital-based-administration')], edit: (b) => answer(setCategory(b, 'outpatient'), { 'hospital-based-administration': false }),
  },
  {
    id: '1.A.iii', status: 'unmet', fact: 'no place of service, the questionnaire says hospital-based, no exception applies',
    evidence: [ORDER, QR('hospital-based-administration'), ...SOC_EXCEPTIONS.map(QR)],
    edit: (b) => answer(setCategory(b, 'outpatient'), { 'hospital-based-administration': true, ...noExceptions() }),
  },
  {
    id: '1.A.iii', status: 'met', fact: 'a place of service outweighs the questionnaire: office (11) although it says hospital-based',
    evidence: [ORDER, QR('hospital-based-administration')], options: { placeOfService: '11' }, edit: (b) => answer(b, { 'hospital-based-administration': true }),
  },

  // ------------------------------------------------------------- Conditions Not Recommended 2
  { id: 'CNR.2', status: 'met', fact: 'medication history with no biologic or targeted synthetic DMARD now (methotrexate is allowed)' },
  {
    id: 'CNR.2', status: 'unmet', fact: 'Orencia is being taken now', evidence: ['MedicationStatement/medstmt-orencia'],
    edit: (b) => add(b, statement(b, 'medstmt-orencia', ABATACEPT, '2026-09-01')),
  },
  {
    id: 'CNR.2', status: 'unmet', fact: 'Orencia now, although the questionnaire says no combination', evidence: ['MedicationStatement/medstmt-orencia', QR('no-concurrent-biologic')],
    edit: (b) => answer(add(b, statement(b, 'medstmt-orencia', ABATACEPT, '2026-09-01')), { 'no-concurrent-biologic': true }),
  },
  {
    id: 'CNR.2', status: 'met', fact: 'a conventional DMARD only, taken together with Kineret',
    edit: (b) => add(b, statement(b, 'medstmt-mtx-current', MTX, '2026-06-02')),
  },
  {
    id: 'CNR.2', status: 'unknown', fact: 'no medication history at all', also: { '1.A.i': 'unknown' },
    edit: removeMedicationHistory,
  },
  {
    id: 'CNR.2', status: 'met', fact: 'no medication history, the questionnaire says no combination', evidence: [QR('no-concurrent-biologic')], also: { '1.A.i': 'unknown' },
    edit: (b) => { removeMedicationHistory(b); answer(b, { 'no-concurrent-biologic': true }); },
  },
  {
    id: 'CNR.2', status: 'met', fact: 'a non-DMARD medicine is enough to show there is medication history',
    edit: (b) => add(b, statement(b, 'medstmt-acetaminophen-2', ACETAMINOPHEN, '2026-01-01')),
  },
];

describe('201603 1.A rheumatoid arthritis, initial therapy', () => {
  runTable({
    base: 'ra-approvable',
    indication: 'RA',
    baseline: { 'CNR.2': 'met', '1.A.i': 'met', '1.A.ii': 'met', '1.A.iii': 'met' },
    rows,
  });
});
