/** The CP.PHAR.533 suites' kit: fixtures in fixtures/cp-phar-533/, answers to the Carvykti questionnaire. */
import type { Bundle, Condition, MedicationAdministration, MedicationRequest, Observation } from 'fhir/r4';
import { patch, patientOf, policyKit, remove, type Drug } from '../support/policy-kit';

export const QUESTIONNAIRE = 'http://pa.example.org/fhir/Questionnaire/cp-phar-533-carvykti';
export const ORDER_ID = 'medreq-carvykti';
export const kit = policyKit({ fixtures: 'cp-phar-533', questionnaire: QUESTIONNAIRE, qrId: 'qr-cp-phar-533', citationPrefix: 'CP.PHAR.533', orderId: ORDER_ID });
export const QR = kit.qrRef;

export const ICD10 = 'http://hl7.org/fhir/sid/icd-10-cm';
export const SOP = 'urn:oid:2.16.840.1.113883.3.221.5';
export const UCUM = 'http://unitsofmeasure.org';

export const BELANTAMAB: Drug = ['2387834', 'belantamab mafodotin'];
export const IDE_CEL: Drug = ['2536430', 'idecabtagene vicleucel'];
export const TISA_CEL: Drug = ['1986438', 'tisagenlecleucel'];
export const CILTA_CEL: Drug = ['2594775', 'ciltacabtagene autoleucel'];
export const BORTEZOMIB: Drug = ['402243', 'bortezomib 3.5 MG Injection'];
export const LENALIDOMIDE: Drug = ['602910', 'lenalidomide 10 MG Oral Capsule'];
export const DARATUMUMAB: Drug = ['1726439', '20 ML daratumumab 20 MG/ML Injection'];

/** Myeloma therapy on record in the base fixture (lines 1 to 3). */
export const MYELOMA_THERAPY = [
  'MedicationRequest/medreq-bortezomib-vrd',
  'MedicationRequest/medreq-lenalidomide-vrd',
  'MedicationStatement/medstmt-lenalidomide-maintenance',
  'MedicationRequest/medreq-daratumumab-dpd',
  'MedicationRequest/medreq-pomalidomide-dpd',
  'MedicationRequest/medreq-carfilzomib-kcd',
];

export const removeMyelomaTherapy = (b: Bundle): Bundle => remove(b, ...MYELOMA_THERAPY);

/** The M-protein results of the base fixture, by date. */
export const mProtein = (date: string): string => `Observation/obs-mprotein-${date}`;
export const RECENT_LABS = [mProtein('2026-11-05'), 'Observation/obs-kappa-2026-11-05', 'Observation/obs-lambda-2026-11-05', 'Observation/obs-flc-ratio-2026-11-05'];

export function setValue(bundle: Bundle, reference: string, value: number): Bundle {
  return patch<Observation>(bundle, reference, (o) => { o.valueQuantity = { ...o.valueQuantity, value }; });
}

export function setConditionStatus(bundle: Bundle, id: string, verification: string): Bundle {
  return patch<Condition>(bundle, `Condition/${id}`, (c) => { c.verificationStatus!.coding![0]!.code = verification; });
}

export function condition(bundle: Bundle, id: string, code: string, display: string, clinical = 'active'): Condition {
  return {
    resourceType: 'Condition',
    id,
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: clinical }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
    code: { coding: [{ system: ICD10, code, display }], text: display },
    subject: { reference: `Patient/${patientOf(bundle).id}` },
    onsetDateTime: '2024-05-02',
  };
}

/** A completed infusion of a cell therapy or antibody. */
export function administration(bundle: Bundle, id: string, [code, display]: Drug, date: string): MedicationAdministration {
  return {
    resourceType: 'MedicationAdministration',
    id,
    status: 'completed',
    medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code, display }], text: display },
    subject: { reference: `Patient/${patientOf(bundle).id}` },
    effectiveDateTime: `${date}T10:00:00-05:00`,
  };
}

/** Replaces the Carvykti order's dose (value and UCUM code), or removes it. */
export function setCellDose(bundle: Bundle, dose: { value: number; code: string } | null): Bundle {
  return patch<MedicationRequest>(bundle, `MedicationRequest/${ORDER_ID}`, (m) => {
    const instruction = m.dosageInstruction![0]!;
    if (dose === null) delete instruction.doseAndRate;
    else instruction.doseAndRate = [{ doseQuantity: { value: dose.value, unit: dose.code, system: UCUM, code: dose.code } }];
  });
}

/** Replaces the tocilizumab order's dose (mg/kg or mg) and number of doses. */
export function setTocilizumab(bundle: Bundle, dose: { value: number; code: 'mg/kg' | 'mg' } | null, count = 4): Bundle {
  return patch<MedicationRequest>(bundle, 'MedicationRequest/medreq-tocilizumab-crs', (m) => {
    const instruction = m.dosageInstruction![0]!;
    instruction.timing = { repeat: { count } };
    if (dose === null) delete instruction.doseAndRate;
    else instruction.doseAndRate = [{ doseQuantity: { value: dose.value, unit: dose.code, system: UCUM, code: dose.code } }];
  });
}
