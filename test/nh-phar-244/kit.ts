/** The NH.PHAR.244 suites' kit: fixtures in fixtures/nh-phar-244/, answers to the NH.PHAR.244 questionnaire. */
import type { Bundle } from 'fhir/r4';
import { policyKit, remove, type Drug } from '../support/policy-kit';

export const QUESTIONNAIRE = 'http://pa.example.org/fhir/Questionnaire/nh-phar-244-kineret';
export const kit = policyKit({ fixtures: 'nh-phar-244', questionnaire: QUESTIONNAIRE, qrId: 'qr-nh-phar-244', citationPrefix: 'NH.PHAR.244' });
export const QR = kit.qrRef;

export const MTX: Drug = ['105585', 'methotrexate 2.5 MG Oral Tablet'];
export const HCQ: Drug = ['979092', 'hydroxychloroquine sulfate 200 MG Oral Tablet'];
export const ADALIMUMAB: Drug = ['727703', '0.8 ML adalimumab 50 MG/ML Prefilled Syringe'];
export const ACTEMRA: Drug = ['1441530', '0.9 ML tocilizumab 180 MG/ML Prefilled Syringe [Actemra]'];
export const XELJANZ: Drug = ['1357547', 'tofacitinib 5 MG Oral Tablet [Xeljanz]'];
export const ETANERCEPT: Drug = ['727757', '1 ML etanercept 50 MG/ML Prefilled Syringe'];
export const BARICITINIB: Drug = ['2047247', 'baricitinib 2 MG Oral Tablet [Olumiant]'];
export const KINERET: Drug = ['727711', '0.67 ML anakinra 149 MG/ML Prefilled Syringe'];

/** Removes every medication record except the requested Kineret order. */
export function removeMedicationHistory(bundle: Bundle): void {
  remove(bundle, (r) =>
    (r.resourceType === 'MedicationRequest' && r.id !== 'medreq-kineret') || r.resourceType === 'MedicationStatement' || r.resourceType === 'MedicationDispense',
  );
}
