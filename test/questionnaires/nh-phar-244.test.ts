/**
 * The DTR standard Questionnaire for NH.PHAR.244 (questionnaires/nh-phar-244-kineret.json), checked
 * against the NHPHAR244Kineret CQL and ELM, catalog/policies/nh-phar-244.json, the catalog's value
 * sets and code systems, and pre-populated on the fixtures in fixtures/nh-phar-244/.
 */
import { describeQuestionnaire } from '../support/questionnaire-checks';

describeQuestionnaire({
  library: 'NHPHAR244Kineret',
  questionnaireId: 'nh-phar-244-kineret',
  policyFiles: ['nh-phar-244.json'],
  // III.B (combination use not authorized) is enforced by the no-combination criteria.
  extraSections: ['III.B'],
  prePopulated: {
    indication: 'Indication Code',
    'continued-therapy': 'Continued Therapy (Chart)',
    'ra-acr-criteria': 'RA Diagnosis (Chart)',
    'mtx-trial-failed': 'MTX Trial Failed (Chart)',
    'mtx-intolerance': 'MTX Intolerance (Chart)',
    'cdmard-trial-failed': 'Conventional DMARD Step (Chart)',
    'preferred-product-failed': 'Preferred Product Step (Chart)',
    'baseline-cdai': 'Baseline CDAI Value (Chart)',
    'nomid-diagnosis': 'NOMID Diagnosis (Chart)',
    'il1rn-mutation': 'DIRA Confirmed (Chart)',
    'rheumatologist-consulted': 'Prescriber Is Rheumatologist (Chart)',
    'no-combination': 'No Combination Use (Chart)',
    'current-cdai': 'Current CDAI Value (Chart)',
  },
  navigation: ['indication', 'continued-therapy', 'consulting-rheumatologist', 'cdai-not-possible-reason', 'covid-inpatient', 'other-use-description'],
  fixtures: {
    folder: 'nh-phar-244',
    expected: {
      'ra-one-preferred-product': { indication: 'RA', 'continued-therapy': false, 'ra-acr-criteria': true, 'mtx-trial-failed': true, 'preferred-product-failed': true, 'baseline-cdai': 31, 'no-combination': true },
      'ra-continuation': { indication: 'RA', 'continued-therapy': true, 'baseline-cdai': 34, 'current-cdai': 14 },
      'nomid-child': { indication: 'CAPS', 'nomid-diagnosis': true, 'ra-acr-criteria': null },
      dira: { indication: 'DIRA', 'il1rn-mutation': true },
      'covid-outpatient': { indication: 'COVID19' },
    },
  },
});
