/**
 * 201603 sections 2.A (CAPS) and 3.A (DIRA), initial therapy: every criterion met, unmet and unknown.
 * Bases: fixtures/mm-201603/caps-child.json (9-year-old with Muckle-Wells syndrome, clinical geneticist,
 * outpatient order, no medication history but a questionnaire that rules out combination use) and
 * dira-infant.json (16-month-old, pathogenic homozygous IL1RN variant, clinical geneticist).
 */
import type { Bundle, Condition, Observation, Patient } from 'fhir/r4';
import { patch, remove, setSpecialty, type Row } from '../support/policy-kit';
import { kit, noExceptions, QR, setBirthDate, setCategory, setConditionStatus, SOC_EXCEPTIONS } from './kit';

const { answer, runTable } = kit;
const GENETICIST = 'role-brandt-genetics';
const ORDER = 'MedicationRequest/medreq-kineret';

// ------------------------------------------------------------------ 2.A CAPS
const capsRows: Row[] = [
  { id: '2.A.i', status: 'met', fact: 'confirmed Muckle-Wells syndrome (SNOMED CT 402417009, ICD-10-CM M04.2)', evidence: ['Condition/cond-mws'] },
  {
    id: '2.A.i', status: 'met', fact: 'ICD-10-CM M04.2 alone: every CAPS phenotype the policy names qualifies', evidence: ['Condition/cond-mws'],
    edit: (b) => patch<Condition>(b, 'Condition/cond-mws', (c) => { c.code!.coding = c.code!.coding!.filter((x) => x.code === 'M04.2'); }),
  },
  { id: '2.A.i', status: 'unmet', fact: 'the CAPS Condition is refuted', edit: (b) => setConditionStatus(b, 'cond-mws', 'refuted') },
  { id: '2.A.i', status: 'unknown', fact: 'the CAPS Condition is only provisional', edit: (b) => setConditionStatus(b, 'cond-mws', 'provisional') },
  { id: '2.A.i', status: 'unknown', fact: 'no CAPS Condition (the request names CAPS)', edit: (b) => remove(b, 'Condition/cond-mws') },
  {
    id: '2.A.i', status: 'met', fact: 'provisional Condition, the questionnaire confirms CAPS', evidence: [QR('caps-diagnosis')],
    edit: (b) => answer(setConditionStatus(b, 'cond-mws', 'provisional'), { 'caps-diagnosis': true }),
  },
  { id: '2.A.ii', status: 'met', fact: 'a clinical geneticist (NUCC 207SG0201X)', evidence: [`PractitionerRole/${GENETICIST}`] },
  {
    id: '2.A.ii', status: 'met', fact: 'a pediatric dermatologist (NUCC 207NP0225X)', evidence: [`PractitionerRole/${GENETICIST}`],
    edit: (b) => setSpecialty(b, GENETICIST, '207NP0225X', 'Pediatric Dermatology Physician'),
  },
  {
    id: '2.A.ii', status: 'met', fact: 'a pediatric rheumatologist (NUCC 2080P0216X)', evidence: [`PractitionerRole/${GENETICIST}`],
    edit: (b) => setSpecialty(b, GENETICIST, '2080P0216X', 'Pediatric Rheumatology Physician'),
  },
  { id: '2.A.ii', status: 'unmet', fact: 'a general pediatrician', edit: (b) => setSpecialty(b, GENETICIST, '208000000X', 'Pediatrics Physician') },
  { id: '2.A.ii', status: 'unknown', fact: 'no specialty recorded', edit: (b) => setSpecialty(b, GENETICIST, null) },
  {
    id: '2.A.ii', status: 'met', fact: 'a general pediatrician, the questionnaire says a specialist was consulted', evidence: [QR('caps-specialist-consulted')],
    edit: (b) => answer(setSpecialty(b, GENETICIST, '208000000X', 'Pediatrics Physician'), { 'caps-specialist-consulted': true }),
  },
  { id: '2.A.iii', status: 'met', fact: 'hospital outpatient (22), the patient is 9 years old (exception 1)', evidence: [ORDER], options: { placeOfService: '22' } },
  { id: '2.A.iii', status: 'met', fact: 'no place of service, outpatient order: under 18 needs no answer', evidence: [ORDER] },
  {
    id: '2.A.iii', status: 'met', fact: 'the 18th birthday is the day after the evaluation date, hospital outpatient', evidence: [ORDER], options: { placeOfService: '22' },
    edit: (b) => setBirthDate(b, '2008-11-21'),
  },
  {
    id: '2.A.iii', status: 'unmet', fact: '18 years old today, hospital outpatient, every exception answered no', evidence: [ORDER, ...SOC_EXCEPTIONS.map(QR)],
    options: { placeOfService: '22' }, edit: (b) => answer(setBirthDate(b, '2008-11-20'), noExceptions()),
  },
  {
    id: '2.A.iii', status: 'unknown', fact: '18 years old, hospital outpatient, no exception documented', evidence: [ORDER], options: { placeOfService: '22' },
    edit: (b) => setBirthDate(b, '2008-11-20'),
  },
  {
    id: '2.A.iii', status: 'unknown', fact: 'no birth date on record, hospital outpatient', evidence: [ORDER], options: { placeOfService: '22' },
    edit: (b) => patch<Patient>(b, 'Patient/pt-mm-caps', (p) => { delete p.birthDate; }),
  },
  {
    id: '2.A.iii', status: 'met', fact: 'adult, taken at home (category community)', evidence: [ORDER],
    edit: (b) => setCategory(setBirthDate(b, '2000-01-01'), 'community'),
  },
  { id: 'CNR.2', status: 'met', fact: 'no medication history, the questionnaire says no combination', evidence: [QR('no-concurrent-biologic')] },
  { id: 'CNR.2', status: 'unknown', fact: 'no medication history, the question left unanswered', edit: (b) => answer(b, { 'no-concurrent-biologic': null }) },
  { id: 'CNR.2', status: 'unmet', fact: 'the questionnaire says another biologic is used at the same time', evidence: [QR('no-concurrent-biologic')], edit: (b) => answer(b, { 'no-concurrent-biologic': false }) },
];

// ------------------------------------------------------------------ 3.A DIRA
const pathogenicity = (code: string, display: string) => (b: Bundle) =>
  patch<Observation>(b, 'Observation/obs-il1rn-variant', (o) => {
    const significance = o.component!.find((c) => c.code.coding?.[0]?.code === '53037-8')!;
    significance.valueCodeableConcept = { coding: [{ system: 'http://loinc.org', code, display }] };
  });
const diraRows: Row[] = [
  { id: '3.A.i', status: 'met', fact: 'a pathogenic homozygous IL1RN variant', evidence: ['Observation/obs-il1rn-variant'] },
  { id: '3.A.i', status: 'met', fact: 'a likely pathogenic IL1RN variant', evidence: ['Observation/obs-il1rn-variant'], edit: pathogenicity('LA26332-9', 'Likely pathogenic') },
  { id: '3.A.i', status: 'unknown', fact: 'an IL1RN variant of uncertain significance', evidence: ['Observation/obs-il1rn-variant'], edit: pathogenicity('LA26333-7', 'Uncertain significance') },
  {
    id: '3.A.i', status: 'unmet', fact: 'IL1RN sequencing found no variant', evidence: ['Observation/obs-il1rn-variant'],
    edit: (b) => patch<Observation>(b, 'Observation/obs-il1rn-variant', (o) => {
      o.valueCodeableConcept = { coding: [{ system: 'http://loinc.org', code: 'LA9634-2', display: 'Absent' }] };
      o.component = o.component!.filter((c) => c.code.coding?.[0]?.code === '48018-6');
    }),
  },
  { id: '3.A.i', status: 'unknown', fact: 'the result is still preliminary', edit: (b) => patch<Observation>(b, 'Observation/obs-il1rn-variant', (o) => { o.status = 'preliminary'; }) },
  { id: '3.A.i', status: 'unknown', fact: 'no genetic result on record', edit: (b) => remove(b, 'Observation/obs-il1rn-variant') },
  {
    id: '3.A.i', status: 'met', fact: 'no result on record, the questionnaire says genetic testing confirmed DIRA', evidence: [QR('dira-genetic-confirmation')],
    edit: (b) => answer(remove(b, 'Observation/obs-il1rn-variant'), { 'dira-genetic-confirmation': true }),
  },
  { id: '3.A.ii', status: 'met', fact: 'a clinical geneticist', evidence: [`PractitionerRole/${GENETICIST}`] },
  {
    id: '3.A.ii', status: 'met', fact: 'a rheumatologist', evidence: [`PractitionerRole/${GENETICIST}`],
    edit: (b) => setSpecialty(b, GENETICIST, '2080P0216X', 'Pediatric Rheumatology Physician'),
  },
  {
    id: '3.A.ii', status: 'unknown', fact: 'an allergist-immunologist: whether they specialize in inflammatory conditions is the prescriber\'s to say',
    edit: (b) => setSpecialty(b, GENETICIST, '207K00000X', 'Allergy & Immunology Physician'),
  },
  {
    id: '3.A.ii', status: 'met', fact: 'an allergist-immunologist who specializes in inflammatory conditions (questionnaire)', evidence: [QR('dira-specialist-consulted')],
    edit: (b) => answer(setSpecialty(b, GENETICIST, '207K00000X', 'Allergy & Immunology Physician'), { 'dira-specialist-consulted': true }),
  },
  {
    id: '3.A.ii', status: 'unmet', fact: 'a general pediatrician, the questionnaire says no specialist was consulted', evidence: [QR('dira-specialist-consulted')],
    edit: (b) => answer(setSpecialty(b, GENETICIST, '208000000X', 'Pediatrics Physician'), { 'dira-specialist-consulted': false }),
  },
  { id: '3.A.iii', status: 'met', fact: 'taken at home (category community)', evidence: [ORDER] },
  { id: '3.A.iii', status: 'met', fact: 'hospital outpatient: the infant is under 18', evidence: [ORDER], options: { placeOfService: '19' } },
  { id: '3.A.iii', status: 'unknown', fact: 'a place of service the rule does not name (49, independent clinic), adult', evidence: [ORDER], options: { placeOfService: '49' }, edit: (b) => setBirthDate(b, '1990-03-03') },
];

describe('201603 2.A CAPS, initial therapy', () => {
  runTable({ base: 'caps-child', indication: 'CAPS', baseline: { 'CNR.2': 'met', '2.A.i': 'met', '2.A.ii': 'met', '2.A.iii': 'met' }, rows: capsRows });
});

describe('201603 3.A DIRA, initial therapy', () => {
  runTable({ base: 'dira-infant', indication: 'DIRA', baseline: { 'CNR.2': 'met', '3.A.i': 'met', '3.A.ii': 'met', '3.A.iii': 'met' }, rows: diraRows });
});
