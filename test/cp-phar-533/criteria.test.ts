/**
 * CP.PHAR.533 I.A (relapsed or refractory multiple myeloma, initial approval): every criterion met,
 * unmet and unknown. Every request goes to committee review, so even all-met pends (never approves).
 * Base: fixtures/cp-phar-533/rrmm-approvable.json (65-year-old, hematologist-oncologist, three prior
 * lines: VRd + transplant + lenalidomide maintenance, DPd, KCd; progression on lenalidomide maintenance
 * and after KCd; serum M-protein 1.1 g/dL this month; 0.75 x 10^6 CAR+ T cells/kg at 82 kg; up to 4
 * tocilizumab doses of 8 mg/kg; questionnaire rules out CNS involvement, BCMA and CAR-T therapy).
 */
import type { Bundle, Condition, MedicationRequest, Observation, Patient, QuestionnaireResponse } from 'fhir/r4';
import { add, patch, remove, setSpecialty, statement, type Row } from '../support/policy-kit';
import {
  administration, BELANTAMAB, condition, IDE_CEL, kit, mProtein, MYELOMA_THERAPY, ORDER_ID, QR, RECENT_LABS, removeMyelomaTherapy,
  setCellDose, setConditionStatus, setTocilizumab, setValue, TISA_CEL,
} from './kit';

const { answer, runTable } = kit;
const ORDER = `MedicationRequest/${ORDER_ID}`;
const WEIGHT = 'Observation/obs-weight-2026-11-05';
const TOCI = 'MedicationRequest/medreq-tocilizumab-crs';
const ROLE = 'role-raman-hemonc';
const LAST_LINE_PROGRESSION = mProtein('2026-09-21');
const LENALIDOMIDE_PROGRESSION = mProtein('2024-01-08');

/** No recent labs and no progression on record: I.A.4 rests on the questionnaire. */
const noDiseaseStatus = (b: Bundle): Bundle => remove(b, ...RECENT_LABS, LAST_LINE_PROGRESSION);
const withoutAnswer = (linkId: string) => (b: Bundle) =>
  patch<QuestionnaireResponse>(b, 'QuestionnaireResponse/qr-cp-phar-533', (qr) => { qr.item = qr.item!.filter((i) => i.linkId !== linkId); });

const rows: Row[] = [
  // ------------------------------------------------------------- I.A.1 relapsed or refractory MM
  { id: 'I.A.1', status: 'met', fact: 'confirmed myeloma coded in relapse (C90.02)', evidence: ['Condition/cond-mm'] },
  {
    id: 'I.A.1', status: 'met', fact: 'coded "not having achieved remission" (C90.00), refractory to lenalidomide on record', evidence: ['Condition/cond-mm'],
    edit: (b) => patch<Condition>(b, 'Condition/cond-mm', (c) => { c.code!.coding = [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'C90.00' }]; }),
  },
  { id: 'I.A.1', status: 'unmet', fact: 'the myeloma Condition is refuted', edit: (b) => setConditionStatus(b, 'cond-mm', 'refuted') },
  { id: 'I.A.1', status: 'unknown', fact: 'the myeloma Condition is only provisional', edit: (b) => setConditionStatus(b, 'cond-mm', 'provisional') },
  {
    id: 'I.A.1', status: 'unknown', fact: 'coded in remission (C90.01), M-protein 0.7 g/dL but no progression or lenalidomide failure on record',
    evidence: ['Condition/cond-mm'],
    edit: (b) => {
      patch<Condition>(b, 'Condition/cond-mm', (c) => { c.code!.coding = [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'C90.01' }]; });
      remove(b, LAST_LINE_PROGRESSION, LENALIDOMIDE_PROGRESSION, mProtein('2025-05-19'));
      setValue(b, mProtein('2026-11-05'), 0.7);
    },
  },
  {
    id: 'I.A.1', status: 'met', fact: 'provisional Condition, the questionnaire says relapsed/refractory', evidence: [QR('rrmm-diagnosis')],
    edit: (b) => answer(setConditionStatus(b, 'cond-mm', 'provisional'), { 'rrmm-diagnosis': true }),
  },

  // ------------------------------------------------------------- I.A.2 oncologist or hematologist
  { id: 'I.A.2', status: 'met', fact: 'hematology & oncology (NUCC 207RH0003X)', evidence: [`PractitionerRole/${ROLE}`] },
  { id: 'I.A.2', status: 'met', fact: 'medical oncology (NUCC 207RX0202X)', evidence: [`PractitionerRole/${ROLE}`], edit: (b) => setSpecialty(b, ROLE, '207RX0202X', 'Medical Oncology Physician') },
  { id: 'I.A.2', status: 'unmet', fact: 'an internist', edit: (b) => setSpecialty(b, ROLE, '207R00000X', 'Internal Medicine Physician') },
  { id: 'I.A.2', status: 'unknown', fact: 'no specialty recorded', edit: (b) => setSpecialty(b, ROLE, null) },
  {
    id: 'I.A.2', status: 'met', fact: 'an internist who consulted an oncologist (questionnaire)', evidence: [QR('oncologist-consulted')],
    edit: (b) => answer(setSpecialty(b, ROLE, '207R00000X', 'Internal Medicine Physician'), { 'oncologist-consulted': true }),
  },

  // ------------------------------------------------------------- I.A.3 age
  { id: 'I.A.3', status: 'met', fact: '65 years old', evidence: ['Patient/pt-rrmm'] },
  { id: 'I.A.3', status: 'met', fact: '18 today', evidence: ['Patient/pt-rrmm'], edit: (b) => patch<Patient>(b, 'Patient/pt-rrmm', (p) => { p.birthDate = '2008-11-20'; }) },
  { id: 'I.A.3', status: 'unmet', fact: '18 tomorrow', evidence: ['Patient/pt-rrmm'], edit: (b) => patch<Patient>(b, 'Patient/pt-rrmm', (p) => { p.birthDate = '2008-11-21'; }) },
  { id: 'I.A.3', status: 'unknown', fact: 'no birth date', evidence: ['Patient/pt-rrmm'], edit: (b) => patch<Patient>(b, 'Patient/pt-rrmm', (p) => { delete p.birthDate; }) },

  // ------------------------------------------------------------- I.A.4 measurable or progressive disease
  { id: 'I.A.4', status: 'met', fact: 'serum M-protein 1.1 g/dL 15 days ago (and progression after the last line)', evidence: [...RECENT_LABS, LAST_LINE_PROGRESSION] },
  {
    id: 'I.A.4', status: 'met', fact: 'serum M-protein 0.3 g/dL, but involved kappa 150 mg/L (15 mg/dL) with a ratio of 15.8', evidence: [...RECENT_LABS],
    edit: (b) => { setValue(b, mProtein('2026-11-05'), 0.3); setValue(b, mProtein('2026-09-21'), 0.35); setValue(b, 'Observation/obs-kappa-2026-11-05', 150); setValue(b, 'Observation/obs-flc-ratio-2026-11-05', 15.8); },
  },
  {
    id: 'I.A.4', status: 'met', fact: 'no result in the last 30 days, progression after the last line (M-protein 0.3 to 0.9 g/dL during KCd)', evidence: [LAST_LINE_PROGRESSION],
    edit: (b) => remove(b, ...RECENT_LABS),
  },
  {
    id: 'I.A.4', status: 'met', fact: 'the serum M-protein of 1.1 g/dL is 35 days old, but the disease progressed', evidence: [LAST_LINE_PROGRESSION, 'Observation/obs-kappa-2026-11-05', 'Observation/obs-lambda-2026-11-05', 'Observation/obs-flc-ratio-2026-11-05'],
    edit: (b) => patch<Observation>(b, mProtein('2026-11-05'), (o) => { o.effectiveDateTime = '2026-10-16T08:30:00-05:00'; }),
  },
  { id: 'I.A.4', status: 'unknown', fact: 'no recent result and no progression on record', edit: noDiseaseStatus },
  {
    id: 'I.A.4', status: 'unmet', fact: 'M-protein 0.3 g/dL, normal FLC ratio, urine 150 mg/24 h, no progression (record and questionnaire)',
    evidence: [...RECENT_LABS, QR('urine-m-protein'), QR('progressive-disease')],
    edit: (b) => {
      setValue(b, mProtein('2026-11-05'), 0.3);
      setValue(b, mProtein('2026-09-21'), 0.35);
      setValue(b, 'Observation/obs-flc-ratio-2026-11-05', 1.2);
      answer(b, { 'urine-m-protein': 150, 'urine-m-protein-date': '2026-11-12', 'progressive-disease': false });
    },
  },
  {
    id: 'I.A.4', status: 'met', fact: 'no lab on record, the questionnaire reports serum M-protein 0.8 g/dL on 2026-11-10', evidence: [QR('serum-m-protein')],
    edit: (b) => answer(noDiseaseStatus(b), { 'serum-m-protein': 0.8, 'serum-m-protein-date': '2026-11-10' }),
  },
  {
    id: 'I.A.4', status: 'unknown', fact: 'the reported serum M-protein is from 2026-09-01, older than 30 days', evidence: [QR('serum-m-protein')],
    edit: (b) => answer(noDiseaseStatus(b), { 'serum-m-protein': 0.8, 'serum-m-protein-date': '2026-09-01' }),
  },
  {
    id: 'I.A.4', status: 'met', fact: 'urine M-protein 350 mg/24 h on 2026-11-12 (questionnaire; no LOINC code verified)', evidence: [QR('urine-m-protein')],
    edit: (b) => answer(noDiseaseStatus(b), { 'urine-m-protein': 350, 'urine-m-protein-date': '2026-11-12' }),
  },
  {
    id: 'I.A.4', status: 'unknown', fact: 'urine M-protein 350 mg/24 h without a date', evidence: [QR('urine-m-protein')],
    edit: (b) => answer(noDiseaseStatus(b), { 'urine-m-protein': 350 }),
  },
  {
    id: 'I.A.4', status: 'met', fact: 'involved FLC 12 mg/dL with an abnormal ratio on 2026-11-14 (questionnaire)', evidence: [QR('involved-flc')],
    edit: (b) => answer(noDiseaseStatus(b), { 'involved-flc': 12, 'flc-ratio-abnormal': true, 'flc-date': '2026-11-14' }),
  },
  {
    id: 'I.A.4', status: 'met', fact: 'progression by IMWG criteria reported in the questionnaire (e.g. a new lesion)', evidence: [QR('progressive-disease')],
    edit: (b) => answer(noDiseaseStatus(b), { 'progressive-disease': true }),
  },

  // ------------------------------------------------------------- I.A.5 prior lines of therapy
  { id: 'I.A.5', status: 'met', fact: 'three lines with a PI, an IMiD and daratumumab; progression on lenalidomide maintenance', evidence: [...MYELOMA_THERAPY, LENALIDOMIDE_PROGRESSION] },
  {
    id: 'I.A.5', status: 'met', fact: 'b alone: three lines on record, no lenalidomide progression on record', evidence: MYELOMA_THERAPY,
    edit: (b) => remove(b, LENALIDOMIDE_PROGRESSION),
  },
  {
    id: 'I.A.5', status: 'met', fact: 'a alone: lenalidomide-refractory after VRd, no anti-CD38 antibody on record',
    evidence: MYELOMA_THERAPY.filter((r) => !r.includes('daratumumab')).concat(LENALIDOMIDE_PROGRESSION),
    edit: (b) => remove(b, 'MedicationRequest/medreq-daratumumab-dpd'),
  },
  {
    id: 'I.A.5', status: 'unknown', fact: 'no myeloma therapy on record', also: { 'I.A.1': 'met' },
    edit: removeMyelomaTherapy,
  },
  {
    id: 'I.A.5', status: 'met', fact: 'no therapy on record; the questionnaire reports 4 lines with a PI, an IMiD and an anti-CD38 antibody',
    evidence: [QR('prior-lines'), QR('prior-pi'), QR('prior-imid'), QR('prior-anti-cd38')],
    edit: (b) => answer(removeMyelomaTherapy(b), { 'prior-lines': 4, 'prior-pi': true, 'prior-imid': true, 'prior-anti-cd38': true }),
  },
  {
    id: 'I.A.5', status: 'met', fact: 'no therapy on record; lenalidomide-refractory after one line with a PI and an IMiD (questionnaire)',
    evidence: [QR('lenalidomide-refractory'), QR('prior-lines'), QR('prior-pi'), QR('prior-imid')],
    edit: (b) => answer(removeMyelomaTherapy(b), { 'lenalidomide-refractory': true, 'prior-lines': 1, 'prior-pi': true, 'prior-imid': true }),
  },
  {
    id: 'I.A.5', status: 'unmet', fact: 'no therapy on record; two lines, not lenalidomide-refractory (questionnaire)',
    evidence: [QR('lenalidomide-refractory'), QR('prior-lines')],
    edit: (b) => answer(removeMyelomaTherapy(b), { 'lenalidomide-refractory': false, 'prior-lines': 2 }),
  },
  {
    id: 'I.A.5', status: 'unmet', fact: 'three lines but never an anti-CD38 antibody, and not lenalidomide-refractory (questionnaire)',
    evidence: [QR('lenalidomide-refractory'), QR('prior-lines'), QR('prior-pi'), QR('prior-imid'), QR('prior-anti-cd38')],
    edit: (b) => answer(removeMyelomaTherapy(b), { 'lenalidomide-refractory': false, 'prior-lines': 3, 'prior-pi': true, 'prior-imid': true, 'prior-anti-cd38': false }),
  },

  // ------------------------------------------------------------- I.A.6 no CNS involvement
  { id: 'I.A.6', status: 'met', fact: 'the questionnaire rules out CNS involvement; nothing on record', evidence: [QR('no-cns-involvement')] },
  { id: 'I.A.6', status: 'unknown', fact: 'nothing on record, unanswered (absence of codes proves nothing)', edit: withoutAnswer('no-cns-involvement') },
  { id: 'I.A.6', status: 'unmet', fact: 'the questionnaire reports CNS involvement', evidence: [QR('no-cns-involvement')], edit: (b) => answer(b, { 'no-cns-involvement': false }) },
  {
    id: 'I.A.6', status: 'unmet', fact: 'a history of epilepsy (G40.909) on record outweighs the questionnaire', evidence: ['Condition/cond-epilepsy', QR('no-cns-involvement')],
    edit: (b) => add(b, condition(b, 'cond-epilepsy', 'G40.909', 'Epilepsy, unspecified, not intractable, without status epilepticus', 'inactive')),
  },
  {
    id: 'I.A.6', status: 'unmet', fact: 'leptomeningeal disease (C79.32) on record', evidence: ['Condition/cond-meningeal', QR('no-cns-involvement')],
    edit: (b) => add(b, condition(b, 'cond-meningeal', 'C79.32', 'Secondary malignant neoplasm of cerebral meninges')),
  },
  {
    id: 'I.A.6', status: 'met', fact: 'a refuted stroke entry does not count', evidence: [QR('no-cns-involvement')],
    edit: (b) => {
      const stroke = condition(b, 'cond-stroke', 'I63.9', 'Cerebral infarction, unspecified', 'resolved');
      stroke.verificationStatus!.coding![0]!.code = 'refuted';
      add(b, stroke);
    },
  },

  // ------------------------------------------------------------- I.A.7 no prior anti-BCMA therapy
  { id: 'I.A.7', status: 'met', fact: 'none on record, the questionnaire confirms', evidence: [QR('no-prior-anti-bcma')] },
  { id: 'I.A.7', status: 'unknown', fact: 'none on record, unanswered (teclistamab and elranatamab have no verified codes)', edit: withoutAnswer('no-prior-anti-bcma') },
  {
    id: 'I.A.7', status: 'unmet', fact: 'Blenrep in 2023 on record', evidence: ['MedicationStatement/medstmt-blenrep', QR('no-prior-anti-bcma')],
    edit: (b) => add(b, statement(b, 'medstmt-blenrep', BELANTAMAB, '2023-03-01', '2023-08-15')),
  },
  { id: 'I.A.7', status: 'unmet', fact: 'the questionnaire reports prior anti-BCMA therapy', evidence: [QR('no-prior-anti-bcma')], edit: (b) => answer(b, { 'no-prior-anti-bcma': false }) },

  // ------------------------------------------------------------- I.A.8 no prior CAR-T
  { id: 'I.A.8', status: 'met', fact: 'none on record, the questionnaire confirms; the requested Carvykti order is not prior therapy', evidence: [QR('no-prior-car-t')] },
  { id: 'I.A.8', status: 'unknown', fact: 'none on record, unanswered', edit: withoutAnswer('no-prior-car-t') },
  {
    id: 'I.A.8', status: 'unmet', fact: 'an Abecma infusion in 2025 (a BCMA-directed CAR-T: I.A.7 too)', evidence: ['MedicationAdministration/medadmin-abecma', QR('no-prior-car-t')],
    also: { 'I.A.7': 'unmet' },
    edit: (b) => add(b, administration(b, 'medadmin-abecma', IDE_CEL, '2025-03-12')),
  },
  {
    id: 'I.A.8', status: 'unmet', fact: 'a Kymriah course on record (CD19-directed: I.A.7 unaffected)', evidence: ['MedicationStatement/medstmt-kymriah', QR('no-prior-car-t')],
    edit: (b) => add(b, statement(b, 'medstmt-kymriah', TISA_CEL, '2019-05-02', '2019-05-02')),
  },

  // ------------------------------------------------------------- I.A.9 no concurrent CAR-T
  { id: 'I.A.9', status: 'met', fact: 'medication history, no other CAR-T ordered (the requested order excluded)' },
  {
    id: 'I.A.9', status: 'met', fact: 'the Carvykti order already signed (active) is still the requested one',
    edit: (b) => patch<MedicationRequest>(b, ORDER, (m) => { m.status = 'active'; }),
  },
  {
    id: 'I.A.9', status: 'unmet', fact: 'an active Abecma order at the same time (I.A.7 too)', evidence: ['MedicationRequest/medreq-abecma'], also: { 'I.A.7': 'unmet' },
    edit: (b) => {
      const abecma = structuredClone(kit.requestedOrder(b));
      abecma.id = 'medreq-abecma';
      abecma.status = 'active';
      abecma.medicationCodeableConcept = { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: IDE_CEL[0], display: IDE_CEL[1] }] };
      add(b, abecma);
    },
  },
  {
    id: 'I.A.9', status: 'unknown', fact: 'no medication record besides the Carvykti order', also: { 'I.A.5': 'unknown', 'I.A approval duration': 'not-applicable' },
    edit: (b) => remove(b, (r) => (r.resourceType === 'MedicationRequest' && r.id !== ORDER_ID) || r.resourceType === 'MedicationStatement'),
  },
  {
    id: 'I.A.9', status: 'met', fact: 'no medication record, the questionnaire confirms no other CAR-T', evidence: [QR('no-concurrent-car-t')], also: { 'I.A.5': 'unknown', 'I.A approval duration': 'not-applicable' },
    edit: (b) => answer(remove(b, (r) => (r.resourceType === 'MedicationRequest' && r.id !== ORDER_ID) || r.resourceType === 'MedicationStatement'), { 'no-concurrent-car-t': true }),
  },

  // ------------------------------------------------------------- I.A.10 dose
  { id: 'I.A.10', status: 'met', fact: '0.75 x 10^6 cells/kg at 82 kg = 61.5 x 10^6', evidence: [ORDER, WEIGHT] },
  { id: 'I.A.10', status: 'met', fact: 'exactly 1 x 10^8 cells (10*8{cells})', evidence: [ORDER, WEIGHT], edit: (b) => setCellDose(b, { value: 1, code: '10*8{cells}' }) },
  { id: 'I.A.10', status: 'met', fact: '9.5 x 10^7 cells written as a plain count', evidence: [ORDER, WEIGHT], edit: (b) => setCellDose(b, { value: 95000000, code: '{cells}' }) },
  { id: 'I.A.10', status: 'unmet', fact: '1.5 x 10^6 cells/kg at 82 kg = 123 x 10^6', evidence: [ORDER, WEIGHT], edit: (b) => setCellDose(b, { value: 1.5, code: '10*6{cells}/kg' }) },
  { id: 'I.A.10', status: 'unmet', fact: '110 x 10^6 cells', evidence: [ORDER, WEIGHT], edit: (b) => setCellDose(b, { value: 110, code: '10*6{cells}' }) },
  {
    id: 'I.A.10', status: 'unknown', fact: 'a per-kilogram dose and no body weight on record (tocilizumab unknown too)', evidence: [ORDER],
    also: { 'I.A approval duration': 'unknown' }, edit: (b) => remove(b, WEIGHT),
  },
  { id: 'I.A.10', status: 'unknown', fact: 'the order carries no dose', evidence: [ORDER, WEIGHT], edit: (b) => setCellDose(b, null) },
  {
    id: 'I.A.10', status: 'met', fact: 'no dose on the order, the questionnaire gives 80 million cells', evidence: [ORDER, WEIGHT, QR('dose-million-cells')],
    edit: (b) => answer(setCellDose(b, null), { 'dose-million-cells': 80 }),
  },

  // ------------------------------------------------------------- approval duration: tocilizumab
  { id: 'I.A approval duration', status: 'met', fact: '4 doses of 8 mg/kg at 82 kg (656 mg)', evidence: [TOCI, WEIGHT] },
  { id: 'I.A approval duration', status: 'met', fact: '4 doses of 800 mg', evidence: [TOCI, WEIGHT], edit: (b) => setTocilizumab(b, { value: 800, code: 'mg' }) },
  { id: 'I.A approval duration', status: 'unmet', fact: '6 doses', evidence: [TOCI, WEIGHT], edit: (b) => setTocilizumab(b, { value: 8, code: 'mg/kg' }, 6) },
  { id: 'I.A approval duration', status: 'unmet', fact: '12 mg/kg at 82 kg (984 mg)', evidence: [TOCI, WEIGHT], edit: (b) => setTocilizumab(b, { value: 12, code: 'mg/kg' }) },
  { id: 'I.A approval duration', status: 'unknown', fact: 'a tocilizumab order without a dose', evidence: [TOCI, WEIGHT], edit: (b) => setTocilizumab(b, null) },
  { id: 'I.A approval duration', status: 'not-applicable', fact: 'no tocilizumab requested', edit: (b) => remove(b, TOCI) },
];

describe('CP.PHAR.533 I.A relapsed or refractory multiple myeloma, initial approval', () => {
  runTable({
    base: 'rrmm-approvable',
    indication: 'MM',
    approvable: false,
    baseline: {
      'I.A.1': 'met', 'I.A.2': 'met', 'I.A.3': 'met', 'I.A.4': 'met', 'I.A.5': 'met', 'I.A.6': 'met', 'I.A.7': 'met', 'I.A.8': 'met', 'I.A.9': 'met', 'I.A.10': 'met',
      'I.A approval duration': 'met',
    },
    rows,
  });
});
