/**
 * Adaptive forms (DTR 2.0.1 dtr-questionnaire-adapt-search / SDC adaptive): how the app tells a
 * package's adaptive Questionnaire from a static one, and the form it derives from. Pure: no I/O.
 */
import type { Questionnaire, QuestionnaireResponse } from 'fhir/r4';

const QUESTIONNAIRE_ADAPTIVE = 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-questionnaireAdaptive';
const ADAPTIVE_PROFILES = [
  'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-questionnaire-adapt-search',
  'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-questionnaire-adapt',
  'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-adapt',
];

/** True when the Questionnaire is driven by `$next-question`: the SDC questionnaireAdaptive extension, or an adaptive profile. */
export function isAdaptive(questionnaire: Questionnaire): boolean {
  const flagged = (questionnaire.extension ?? []).some((e) => e.url === QUESTIONNAIRE_ADAPTIVE && (e.valueBoolean === true || typeof e.valueUri === 'string'));
  return flagged || (questionnaire.meta?.profile ?? []).some((p) => ADAPTIVE_PROFILES.includes(p.split('|')[0] ?? ''));
}

/** The url (no version) of the static form an adaptive Questionnaire derives from. */
export function derivedFromUrl(questionnaire: Questionnaire): string | undefined {
  return questionnaire.derivedFrom?.[0]?.split('|')[0];
}

/** The Questionnaire a `$next-question` response contains and names as `#id`. */
export function containedForm(response: QuestionnaireResponse): Questionnaire | undefined {
  const id = response.questionnaire?.startsWith('#') ? response.questionnaire.slice(1) : undefined;
  return response.contained?.find((r): r is Questionnaire => r.resourceType === 'Questionnaire' && (id === undefined || r.id === id));
}
