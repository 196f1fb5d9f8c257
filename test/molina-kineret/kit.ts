/** The Molina Kineret suites' kit: fixtures in fixtures/molina-kineret/, answers to the Molina questionnaire. */
import { policyKit, type Drug } from '../support/policy-kit';

export const QUESTIONNAIRE = 'http://pa.example.org/fhir/Questionnaire/molina-kineret';
export const PREFIX = 'Molina Kineret guideline';
export const kit = policyKit({ fixtures: 'molina-kineret', questionnaire: QUESTIONNAIRE, qrId: 'qr-molina-kineret', citationPrefix: PREFIX });
export const QR = kit.qrRef;
export const SNOMED = 'http://snomed.info/sct';
export const ICD10 = 'http://hl7.org/fhir/sid/icd-10-cm';

export const MTX: Drug = ['105585', 'methotrexate 2.5 MG Oral Tablet'];
export const HCQ: Drug = ['979092', 'hydroxychloroquine sulfate 200 MG Oral Tablet'];
export const ADALIMUMAB: Drug = ['727703', '0.8 ML adalimumab 50 MG/ML Prefilled Syringe'];
export const ETANERCEPT: Drug = ['727757', '1 ML etanercept 50 MG/ML Prefilled Syringe'];
export const TOFACITINIB: Drug = ['1357547', 'tofacitinib 5 MG Oral Tablet [Xeljanz]'];
export const APREMILAST: Drug = ['1492727', 'apremilast'];
export const NAPROXEN: Drug = ['198014', 'naproxen 500 MG Oral Tablet'];
export const PREDNISOLONE: Drug = ['312614', 'prednisolone 1 MG/ML Oral Solution'];
export const KINERET: Drug = ['727711', '0.67 ML anakinra 149 MG/ML Prefilled Syringe'];

/** Answer options of the questionnaire's choice items (SNOMED CT). */
export const SYSTEMIC_JIA = { system: SNOMED, code: '201796004', display: 'Systemic-onset juvenile idiopathic arthritis' };
export const POLYARTICULAR_JIA = { system: SNOMED, code: '16044751000119106', display: 'Polyarticular juvenile idiopathic arthritis' };
export const FCAS = { system: SNOMED, code: '238687000', display: 'Familial cold autoinflammatory syndrome' };
export const MUCKLE_WELLS = { system: SNOMED, code: '402417009', display: 'Muckle-Wells syndrome' };
export const CINCA = { system: SNOMED, code: '239826001', display: 'CINCA syndrome' };
