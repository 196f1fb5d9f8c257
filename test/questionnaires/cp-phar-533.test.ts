/**
 * The DTR standard Questionnaire for CP.PHAR.533 (questionnaires/cp-phar-533-carvykti.json), checked
 * against the CPPHAR533Carvykti CQL and ELM, catalog/policies/cp-phar-533.json, the catalog's value
 * sets and code systems, and pre-populated on the fixtures in fixtures/cp-phar-533/.
 */
import { describeQuestionnaire } from '../support/questionnaire-checks';

describeQuestionnaire({
  library: 'CPPHAR533Carvykti',
  questionnaireId: 'cp-phar-533-carvykti',
  policyFiles: ['cp-phar-533.json'],
  // I: the indication question; III.B (CNS involvement not authorized) is enforced by I.A.6.
  extraSections: ['I', 'III.B'],
  prePopulated: {
    indication: 'Indication Code',
    'continued-therapy': 'Continued Therapy (Chart)',
    'rrmm-diagnosis': 'RRMM Diagnosis (Chart)',
    'oncologist-consulted': 'Prescriber Is Oncologist (Chart)',
    'serum-m-protein': 'Serum M-Protein Value (Chart)',
    'serum-m-protein-date': 'Serum M-Protein Date (Chart)',
    'involved-flc': 'Involved FLC Value (Chart)',
    'flc-ratio-abnormal': 'FLC Ratio Abnormal (Chart)',
    'flc-date': 'FLC Date (Chart)',
    'progressive-disease': 'Progressive Disease (Chart)',
    'lenalidomide-refractory': 'Lenalidomide Refractory (Chart)',
    'prior-lines': 'Prior Line Count Answer (Chart)',
    'prior-pi': 'Prior PI (Chart)',
    'prior-imid': 'Prior IMiD (Chart)',
    'prior-anti-cd38': 'Prior Anti-CD38 (Chart)',
    'no-cns-involvement': 'No CNS Involvement (Chart)',
    'no-prior-anti-bcma': 'No Prior Anti-BCMA (Chart)',
    'no-prior-car-t': 'No Prior CAR-T (Chart)',
    'no-concurrent-car-t': 'No Concurrent CAR-T (Chart)',
    'dose-million-cells': 'Dose Million Cells (Chart)',
  },
  navigation: ['indication', 'continued-therapy', 'other-use-description'],
  fixtures: {
    folder: 'cp-phar-533',
    orderId: 'medreq-carvykti',
    expected: {
      'rrmm-approvable': {
        indication: 'MM',
        'continued-therapy': false,
        'rrmm-diagnosis': true,
        'oncologist-consulted': true,
        'serum-m-protein': 1.1,
        'involved-flc': 6.8,
        'flc-ratio-abnormal': true,
        'progressive-disease': true,
        'lenalidomide-refractory': true,
        'prior-lines': 3,
        'prior-pi': true,
        'prior-imid': true,
        'prior-anti-cd38': true,
        'no-cns-involvement': null,
        'no-prior-anti-bcma': null,
        'no-prior-car-t': null,
        'no-concurrent-car-t': true,
        'dose-million-cells': 61.5,
      },
    },
  },
});
