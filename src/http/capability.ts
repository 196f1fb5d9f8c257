/**
 * `GET /fhir/metadata`: what this FHIR endpoint supports, as a CapabilityStatement — exactly the
 * routes it serves (src/http/routes), each operation with its OperationDefinition canonical
 * (versioned where the IG publishes one) from src/fhir/operation-definitions.ts, the table the
 * Parameters reader checks requests against; no more and no less.
 *
 * Instantiates DTR `dtr-payer-service` (questionnaire-package, ValueSet $expand, next-question:
 * all served) and PAS `IntermediaryCapabilities` (`Claim/$submit`, `Claim/$inquire`, Subscription
 * create/update/delete on the PAS topic).
 */
import type {
  CapabilityStatement,
  CapabilityStatementRestResource,
  CapabilityStatementRestResourceOperation,
  CapabilityStatementRestSecurity,
} from 'fhir/r4';
import { BACKPORT, PAS_SUBSCRIPTION_PROFILE, PAS_TOPIC } from '../subscriptions/topic';
import { OPERATION_DEFINITIONS, operationCanonical, type OperationKey } from '../fhir/operation-definitions';

/** The canonical of each operation served, from the table the Parameters reader reads too. */
export const OPERATION = Object.fromEntries(Object.entries(OPERATION_DEFINITIONS).map(([key, d]) => [key, operationCanonical(d)])) as Record<OperationKey, string>;

const PAS_INTERMEDIARY = 'http://hl7.org/fhir/us/davinci-pas/CapabilityStatement/IntermediaryCapabilities';
const DTR_PAYER = 'http://hl7.org/fhir/us/davinci-dtr/CapabilityStatement/dtr-payer-service';

/** What is switched on beyond the always-served routes. */
export interface CapabilityFeatures {
  /** SMART Backend Services on /fhir (SMART_CLIENTS set): the token endpoint. */
  smartTokenUrl?: string;
}

/** The operations on a resource type, in the table's order, each with its OperationDefinition canonical. */
const operationsOn = (type: string): CapabilityStatementRestResourceOperation[] =>
  Object.values(OPERATION_DEFINITIONS)
    .filter((d) => (d.resource as readonly string[]).includes(type))
    .map((d) => ({ name: d.code, definition: operationCanonical(d) }));

/** Read, and search by the parameters src/dtr/resources.ts `searchArtifacts` understands. */
function artifact(type: 'Questionnaire' | 'Library' | 'ValueSet', operation: CapabilityStatementRestResourceOperation[]): CapabilityStatementRestResource {
  return {
    type,
    interaction: [{ code: 'read' }, { code: 'search-type' }],
    searchParam: [
      { name: '_id', type: 'token' },
      { name: 'url', type: 'uri' },
      { name: 'version', type: 'token' },
      { name: 'name', type: 'string' },
    ],
    ...(operation.length > 0 ? { operation } : {}),
  };
}

function security(tokenUrl: string): CapabilityStatementRestSecurity {
  return {
    service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }] }],
    extension: [
      {
        url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
        extension: [{ url: 'token', valueUri: tokenUrl }],
      },
    ],
    description: 'SMART Backend Services (client_credentials, private_key_jwt); metadata and smart-configuration are open.',
  };
}

export function capabilityStatement(publicBaseUrl: string, version: string, date: string, features: CapabilityFeatures = {}): CapabilityStatement {
  const resources: CapabilityStatementRestResource[] = [
    { type: 'Claim', interaction: [{ code: 'read' }], operation: operationsOn('Claim') },
    // Each review decision, update or cancel is a new version of the same ClaimResponse.
    { type: 'ClaimResponse', versioning: 'versioned', interaction: [{ code: 'read' }, { code: 'vread' }, { code: 'history-instance' }] },
    {
      // PAS pended-result notifications (R4 Subscriptions backport): the topic it publishes.
      extension: [{ url: BACKPORT.topicCanonical, valueCanonical: PAS_TOPIC }],
      type: 'Subscription',
      supportedProfile: [PAS_SUBSCRIPTION_PROFILE],
      interaction: [{ code: 'create' }, { code: 'read' }, { code: 'update' }, { code: 'delete' }, { code: 'search-type' }],
      operation: operationsOn('Subscription'),
    },
    artifact('Questionnaire', operationsOn('Questionnaire')),
    artifact('Library', operationsOn('Library')),
    artifact('ValueSet', operationsOn('ValueSet')),
  ];
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date,
    kind: 'instance',
    software: { name: 'pa-server', version },
    implementation: { description: 'Payer prior-authorization server (Da Vinci CRD, DTR, PAS)', url: `${publicBaseUrl}/fhir` },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'application/json'],
    instantiates: [PAS_INTERMEDIARY, DTR_PAYER],
    rest: [
      {
        mode: 'server',
        ...(features.smartTokenUrl ? { security: security(features.smartTokenUrl) } : {}),
        resource: resources,
      },
    ],
  };
}
