/**
 * Canonical URLs DTR uses: profiles, extensions and code systems, each checked against the
 * Da Vinci DTR 2.0.1 package (hl7.fhir.us.davinci-dtr), SDC 3.0.0 and the FHIR extensions pack.
 */

export const DTR_PROFILE = {
  /** http://hl7.org/fhir/us/davinci-dtr/STU2/StructureDefinition-dtr-std-questionnaire.html */
  stdQuestionnaire: 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-std-questionnaire',
  questionnaireResponse: 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-questionnaireresponse',
  packageBundle: 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/DTR-QPackageBundle',
  packageInput: 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-qpackage-input-parameters',
  packageOutput: 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-qpackage-output-parameters',
} as const;

/** The operation this server implements (for the CapabilityStatement's `operation.definition`). */
export const QUESTIONNAIRE_PACKAGE_OPERATION = 'http://hl7.org/fhir/us/davinci-dtr/OperationDefinition/questionnaire-package';

export const SDC_LIBRARY_PROFILE = 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-library';

export const EXT = {
  cqfLibrary: 'http://hl7.org/fhir/StructureDefinition/cqf-library',
  launchContext: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-launchContext',
  initialExpression: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-initialExpression',
  calculatedExpression: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression',
  candidateExpression: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-candidateExpression',
  contextExpression: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-contextExpression',
  enableWhenExpression: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression',
  answerExpression: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-answerExpression',
  itemPopulationContext: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-itemPopulationContext',
  variable: 'http://hl7.org/fhir/StructureDefinition/variable',
  hidden: 'http://hl7.org/fhir/StructureDefinition/questionnaire-hidden',
  unitValueSet: 'http://hl7.org/fhir/StructureDefinition/questionnaire-unitValueSet',
  unitOption: 'http://hl7.org/fhir/StructureDefinition/questionnaire-unitOption',
  referenceResource: 'http://hl7.org/fhir/StructureDefinition/questionnaire-referenceResource',
  assembleExpectation: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-assemble-expectation',
  endpoint: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-endpoint',
  /** DTR QuestionnaireResponse extensions (DTR 2.0.1). */
  qrContext: 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/qr-context',
  intendedUse: 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/intendedUse',
  informationOrigin: 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/information-origin',
} as const;

export const LAUNCH_CONTEXT_SYSTEM = 'http://hl7.org/fhir/uv/sdc/CodeSystem/launchContext';
export const LIBRARY_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/library-type';
/** CRD DocReason codes (`withpa`: include in the prior authorization), bound by DTR intendedUse. */
export const CRD_TEMP_SYSTEM = 'http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp';

/** Resource types DTR accepts as the `order` of a package request (DTR 2.0.1 input profile). */
export const ORDER_TYPES = [
  'Appointment',
  'Encounter',
  'CommunicationRequest',
  'DeviceRequest',
  'ImmunizationRecommendation',
  'MedicationRequest',
  'NutritionOrder',
  'ServiceRequest',
  'SupplyRequest',
  'VisionPrescription',
] as const;

/** Splits `url|version` into its parts. */
export function splitCanonical(canonical: string): { url: string; version?: string } {
  const bar = canonical.indexOf('|');
  if (bar < 0) return { url: canonical };
  const version = canonical.slice(bar + 1);
  return version ? { url: canonical.slice(0, bar), version } : { url: canonical.slice(0, bar) };
}
