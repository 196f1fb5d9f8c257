/**
 * The DTR standard Questionnaire for the Molina Kineret guideline (questionnaires/molina-kineret.json),
 * shared by both Molina catalog entries (all lines and the Texas Marketplace), checked against the
 * MolinaKineret CQL and ELM, the catalog, the value sets and code systems, and pre-populated on the
 * fixtures in fixtures/molina-kineret/.
 */
import { describeQuestionnaire } from '../support/questionnaire-checks';

const SYSTEMIC = { 'jia-subtype': { system: 'http://snomed.info/sct', code: '201796004' } };
const POLYARTICULAR = { 'jia-subtype': { system: 'http://snomed.info/sct', code: '16044751000119106' } };

describeQuestionnaire({
  library: 'MolinaKineret',
  questionnaireId: 'molina-kineret',
  policyFiles: ['molina-kineret.json', 'molina-kineret-tx.json'],
  prePopulated: {
    indication: 'Indication Code',
    'continued-therapy': 'Continued Therapy (Chart)',
    'no-concurrent-biologic': 'No Concurrent Biologic (Chart)',
    'ra-moderate-severe': 'Moderate To Severe RA (Chart)',
    'mtx-current': 'MTX Current (Chart)',
    'not-at-goal': 'Moderate Or High CDAI (Chart)',
    'mtx-contraindicated': 'MTX Intolerance (Chart)',
    'dmard-trial-3-months': 'Other DMARD 3 Months (Chart)',
    'biologic-trial-3-months': 'Biologic Trial 3 Months (Chart)',
    'caps-phenotype': 'CAPS Phenotype (Chart)',
    'nlrp3-mutation': 'NLRP3 Mutation (Chart)',
    'jia-subtype': 'JIA Subtype (Chart)',
    'sjia-trial-failed': 'SJIA Trial Failed (Chart)',
    'pjia-trial-failed': 'PJIA Trial Failed (Chart)',
    'dira-diagnosis': 'DIRA Diagnosis (Chart)',
    'il1rn-mutation': 'IL1RN Mutation (Chart)',
    'treatment-goals': 'Treatment Goals (Chart)',
    'specialist-prescriber': 'Specialist Prescriber (Chart)',
    'adherence-85': 'Adherence 85 (Chart)',
  },
  navigation: ['indication', 'continued-therapy', 'preferred-alternatives-detail', 'consulting-specialist', 'other-use-description'],
  // JIA questions depend on the subtype: check both.
  scenarioAnswers: { JIA: [SYSTEMIC, POLYARTICULAR] },
  neededOnlyWhen: { 'sjia-trial-failed': SYSTEMIC, 'pjia-trial-failed': POLYARTICULAR },
  fixtures: {
    folder: 'molina-kineret',
    expected: {
      'ra-mtx-inadequate': {
        indication: 'RA', 'continued-therapy': false, 'no-concurrent-biologic': true, 'ra-moderate-severe': true, 'mtx-current': true, 'not-at-goal': true,
        'mtx-contraindicated': null, 'treatment-goals': true, 'specialist-prescriber': true, 'adherence-85': null,
      },
      'caps-muckle-wells': { indication: 'CAPS', 'caps-phenotype': '402417009', 'nlrp3-mutation': true, 'specialist-prescriber': true },
      'sjia-child': { indication: 'JIA', 'jia-subtype': '201796004', 'sjia-trial-failed': true, 'pjia-trial-failed': null },
      'dira-infant': { indication: 'DIRA', 'dira-diagnosis': true, 'il1rn-mutation': true },
      'ra-continuation': { indication: 'RA', 'continued-therapy': true, 'adherence-85': true },
      'ra-texas-marketplace': { indication: 'RA', 'treatment-goals': null, 'mtx-current': true },
    },
  },
});
