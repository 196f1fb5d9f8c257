/**
 * The OperationDefinitions of the operations this server offers, as the IGs publish them (canonical
 * url, version, code, resource, and each `in` parameter's name, cardinality, type and parts); the
 * documentation stays in the IGs. The Parameters reader (./parameters) checks requests against
 * them and the CapabilityStatement (src/http/capability.ts) names them, so both read one table.
 *
 * Sources: DTR 2.0.1 and PAS 2.2.1 packages; SDC (unversioned canonical, as the DTR payer service
 * CapabilityStatement names it); FHIR R4 core; the R4 Subscriptions backport.
 */
import type { OperationDefinition, OperationDefinitionParameter } from 'fhir/r4';

type In = Pick<OperationDefinitionParameter, 'name' | 'min' | 'max' | 'type'> & { part?: In[] };

function definition(
  url: string,
  version: string | undefined,
  name: string,
  code: string,
  resource: string,
  scope: { type: boolean; instance: boolean },
  parameters: In[],
): OperationDefinition {
  const withUse = ({ part, ...p }: In): OperationDefinitionParameter => ({ ...p, use: 'in', ...(part ? { part: part.map(withUse) } : {}) });
  return {
    resourceType: 'OperationDefinition',
    id: url.slice(url.lastIndexOf('/') + 1),
    url,
    ...(version ? { version } : {}),
    name,
    status: 'active',
    kind: 'operation',
    code,
    resource: [resource],
    system: false,
    type: scope.type,
    instance: scope.instance,
    parameter: parameters.map(withUse),
  };
}

const TYPE = { type: true, instance: false };

export const OPERATION_DEFINITIONS = {
  submit: definition('http://hl7.org/fhir/us/davinci-pas/OperationDefinition/Claim-submit', '2.2.1', 'ClaimSubmit', 'submit', 'Claim', TYPE, [
    { name: 'resource', min: 1, max: '1', type: 'Bundle' },
  ]),
  inquire: definition('http://hl7.org/fhir/us/davinci-pas/OperationDefinition/Claim-inquiry', '2.2.1', 'ClaimInquiry', 'inquire', 'Claim', TYPE, [
    { name: 'resource', min: 1, max: '1', type: 'Bundle' },
  ]),
  questionnairePackage: definition(
    'http://hl7.org/fhir/us/davinci-dtr/OperationDefinition/questionnaire-package',
    '2.0.1',
    'QuestionnairePackage',
    'questionnaire-package',
    'Questionnaire',
    TYPE,
    [
      { name: 'coverage', min: 0, max: '*', type: 'Coverage' },
      { name: 'order', min: 0, max: '*', type: 'Resource' },
      { name: 'referenced', min: 0, max: '*', type: 'Resource' },
      { name: 'questionnaire', min: 0, max: '*', type: 'canonical' },
      { name: 'context', min: 0, max: '1', type: 'string' },
      { name: 'changedsince', min: 0, max: '1', type: 'dateTime' },
    ],
  ),
  logQuestionnaireErrors: definition(
    'http://hl7.org/fhir/us/davinci-dtr/OperationDefinition/log-questionnaire-errors',
    '2.0.1',
    'LogQuestionnaireErrors',
    'log-questionnaire-errors',
    'Questionnaire',
    TYPE,
    [
      { name: 'Questionnaire', min: 1, max: '1', type: 'canonical' },
      { name: 'OperationOutcome', min: 1, max: '1', type: 'OperationOutcome' },
    ],
  ),
  populate: definition('http://hl7.org/fhir/uv/sdc/OperationDefinition/Questionnaire-populate', undefined, 'PopulateQuestionnaire', 'populate', 'Questionnaire', { type: true, instance: true }, [
    { name: 'identifier', min: 0, max: '1', type: 'Identifier' },
    { name: 'canonical', min: 0, max: '1', type: 'uri' },
    { name: 'questionnaire', min: 0, max: '1', type: 'Questionnaire' },
    { name: 'questionnaireRef', min: 0, max: '1', type: 'Reference' },
    { name: 'subject', min: 1, max: '1', type: 'Reference' },
    {
      name: 'context',
      min: 0,
      max: '*',
      part: [
        { name: 'name', min: 0, max: '*', type: 'string' },
        { name: 'content', min: 0, max: '*', type: 'Reference' },
      ],
    },
    { name: 'local', min: 0, max: '1', type: 'boolean' },
    { name: 'launchContext', min: 0, max: '1', type: 'Extension' },
  ]),
  nextQuestion: definition('http://hl7.org/fhir/uv/sdc/OperationDefinition/Questionnaire-next-question', undefined, 'NextQuestion', 'next-question', 'Questionnaire', TYPE, [
    { name: 'questionnaire-response', min: 1, max: '1', type: 'Resource' },
  ]),
  expand: definition('http://hl7.org/fhir/OperationDefinition/ValueSet-expand', undefined, 'ValueSetExpand', 'expand', 'ValueSet', { type: true, instance: true }, [
    { name: 'url', min: 0, max: '1', type: 'uri' },
    { name: 'valueSet', min: 0, max: '1', type: 'ValueSet' },
    { name: 'valueSetVersion', min: 0, max: '1', type: 'string' },
    { name: 'filter', min: 0, max: '1', type: 'string' },
    { name: 'offset', min: 0, max: '1', type: 'integer' },
    { name: 'count', min: 0, max: '1', type: 'integer' },
  ]),
  subscriptionStatus: definition(
    'http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-status',
    undefined,
    'SubscriptionStatus',
    'status',
    'Subscription',
    { type: true, instance: true },
    [],
  ),
} as const satisfies Record<string, OperationDefinition>;

export type OperationKey = keyof typeof OPERATION_DEFINITIONS;

/** The canonical a CapabilityStatement names: `url|version` where the IG publishes a version. */
export function operationCanonical(definition: OperationDefinition): string {
  return definition.version ? `${definition.url}|${definition.version}` : definition.url!;
}
