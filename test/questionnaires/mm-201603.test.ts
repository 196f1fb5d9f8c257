/**
 * The DTR standard Questionnaire for Medical Mutual 201603 (questionnaires/mm-201603-kineret.json),
 * checked against the MedicalMutual201603Kineret CQL and ELM, catalog/policies/mm-201603.json, the
 * catalog's value sets and code systems, and pre-populated on the fixtures in fixtures/mm-201603/.
 */
import { describeQuestionnaire } from '../support/questionnaire-checks';

describeQuestionnaire({
  library: 'MedicalMutual201603Kineret',
  questionnaireId: 'mm-201603-kineret',
  policyFiles: ['mm-201603.json'],
  // The indication question cites the numbered sections 1 to 5 and the conditions not recommended (CNR).
  extraSections: ['1', '2', '3', '4', '5', 'CNR'],
  prePopulated: {
    indication: 'Indication Code',
    'continued-therapy': 'Continued Therapy (Chart)',
    'targeted-dmard-trial': 'Targeted DMARD Trial (Chart)',
    'caps-diagnosis': 'CAPS Diagnosis (Chart)',
    'caps-specialist-consulted': 'CAPS Specialist (Chart)',
    'dira-genetic-confirmation': 'DIRA Genetic Confirmation (Chart)',
    'dira-specialist-consulted': 'DIRA Specialist (Chart)',
    'sjia-systemic-agent': 'SJIA Systemic Agent (Chart)',
    'sjia-biologic': 'SJIA Biologic (Chart)',
    'sjia-nsaid-trial': 'SJIA NSAID Trial (Chart)',
    'still-corticosteroid': 'Still Corticosteroid (Chart)',
    'still-csdmard': 'Still Conventional DMARD (Chart)',
    'rheumatologist-consulted': 'Prescriber Is Rheumatologist (Chart)',
    'hospital-based-administration': 'Hospital Based Administration (Chart)',
    'soc-severe-reaction': 'Severe Reaction (Chart)',
    'no-concurrent-biologic': 'No Concurrent Targeted DMARD (Chart)',
  },
  navigation: ['indication', 'continued-therapy', 'medical-director-description', 'other-use-description'],
  fixtures: {
    folder: 'mm-201603',
    expected: {
      'ra-approvable': { indication: 'RA', 'continued-therapy': false, 'targeted-dmard-trial': true, 'rheumatologist-consulted': true, 'hospital-based-administration': false, 'no-concurrent-biologic': true },
      'ra-continuation': { indication: 'RA', 'continued-therapy': true, 'targeted-dmard-trial': true },
      // An outpatient order without a place of service: where it is given is left to the prescriber.
      'caps-child': { indication: 'CAPS', 'caps-diagnosis': true, 'caps-specialist-consulted': true, 'hospital-based-administration': null, 'continued-therapy': null, 'no-concurrent-biologic': null },
      'dira-infant': { indication: 'DIRA', 'dira-genetic-confirmation': true, 'dira-specialist-consulted': true, 'rheumatologist-consulted': false },
      'sjia-child': { indication: 'SJIA', 'sjia-systemic-agent': true, 'sjia-biologic': null, 'sjia-nsaid-trial': true },
      'stills-adult': { indication: 'STILL', 'still-corticosteroid': true, 'still-csdmard': true },
    },
  },
});
