/** The Medical Mutual 201603 suites' kit: fixtures in fixtures/mm-201603/, answers to the 201603 questionnaire. */
import type { AllergyIntolerance, Bundle, Condition, MedicationRequest } from 'fhir/r4';
import { patch, patientOf, policyKit, remove, type Drug } from '../support/policy-kit';

export const QUESTIONNAIRE = 'http://pa.example.org/fhir/Questionnaire/mm-201603-kineret';
export const kit = policyKit({ fixtures: 'mm-201603', questionnaire: QUESTIONNAIRE, qrId: 'qr-mm-201603', citationPrefix: '201603' });
export const QR = kit.qrRef;

export const HUMIRA: Drug = ['727705', '0.8 ML adalimumab 50 MG/ML Prefilled Syringe [Humira]'];
export const ETANERCEPT: Drug = ['727757', '1 ML etanercept 50 MG/ML Prefilled Syringe'];
export const ABATACEPT: Drug = ['1145929', '1 ML abatacept 125 MG/ML Prefilled Syringe'];
export const MTX: Drug = ['105585', 'methotrexate 2.5 MG Oral Tablet'];
export const KINERET: Drug = ['727711', '0.67 ML anakinra 149 MG/ML Prefilled Syringe'];
export const CANAKINUMAB: Drug = ['853491', 'canakinumab'];
export const ACETAMINOPHEN: Drug = ['313782', 'acetaminophen 325 MG Oral Tablet'];
export const NAPROXEN: Drug = ['198014', 'naproxen 500 MG Oral Tablet'];

export const ICD10 = 'http://hl7.org/fhir/sid/icd-10-cm';
export const SOP = 'urn:oid:2.16.840.1.113883.3.221.5';

/** The five site-of-care exceptions the prescriber answers (age under 18 comes from the record). */
export const SOC_EXCEPTIONS = ['soc-clinically-unstable', 'soc-severe-reaction', 'soc-chemotherapy-or-dialysis', 'soc-impairment-no-caregiver', 'soc-unmanaged-adverse-events'];
export const noExceptions = (): Record<string, boolean> => Object.fromEntries(SOC_EXCEPTIONS.map((l) => [l, false]));

/** Removes every medication record except the requested Kineret order. */
export function removeMedicationHistory(bundle: Bundle): void {
  remove(bundle, (r) =>
    (r.resourceType === 'MedicationRequest' && r.id !== 'medreq-kineret') || r.resourceType === 'MedicationStatement' || r.resourceType === 'MedicationDispense',
  );
}

/** Sets the requested order's category (community = taken at home, outpatient, inpatient). */
export function setCategory(bundle: Bundle, code: string): Bundle {
  return patch<MedicationRequest>(bundle, 'MedicationRequest/medreq-kineret', (m) => {
    m.category = [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/medicationrequest-category', code }] }];
  });
}

export function setBirthDate(bundle: Bundle, birthDate: string): Bundle {
  patientOf(bundle).birthDate = birthDate;
  return bundle;
}

export function setConditionStatus(bundle: Bundle, id: string, verification: string): Bundle {
  return patch<Condition>(bundle, `Condition/${id}`, (c) => { c.verificationStatus!.coding![0]!.code = verification; });
}

/** A reaction to a drug, coded with RxNorm, of the given severity. */
export function reaction(bundle: Bundle, id: string, [code, display]: Drug, severity: 'mild' | 'moderate' | 'severe', text: string): AllergyIntolerance {
  return {
    resourceType: 'AllergyIntolerance',
    id,
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification', code: 'confirmed' }] },
    type: 'intolerance',
    category: ['medication'],
    code: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code, display }], text: display },
    patient: { reference: `Patient/${patientOf(bundle).id}` },
    recordedDate: '2025-06-10',
    reaction: [{ manifestation: [{ text }], severity }],
  };
}
