/**
 * `GET /fhir/metadata`: what this FHIR endpoint supports, as a CapabilityStatement.
 * Declares the PAS server and DTR payer roles it plays and the operations it serves.
 */
import type { CapabilityStatement } from 'fhir/r4';
import { BACKPORT, PAS_SUBSCRIPTION_PROFILE, PAS_TOPIC } from '../subscriptions/topic';

export function capabilityStatement(publicBaseUrl: string, version: string, date: string): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date,
    kind: 'instance',
    software: { name: 'pa-server', version },
    implementation: { description: 'Payer prior-authorization server (Da Vinci CRD, DTR, PAS)', url: `${publicBaseUrl}/fhir` },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'application/json'],
    instantiates: [
      'http://hl7.org/fhir/us/davinci-pas/CapabilityStatement/IntermediaryCapabilities',
      'http://hl7.org/fhir/us/davinci-dtr/CapabilityStatement/dtr-payer-service',
    ],
    rest: [
      {
        mode: 'server',
        resource: [
          {
            type: 'Claim',
            interaction: [{ code: 'read' }],
            operation: [
              { name: 'submit', definition: 'http://hl7.org/fhir/us/davinci-pas/OperationDefinition/Claim-submit' },
              { name: 'inquire', definition: 'http://hl7.org/fhir/us/davinci-pas/OperationDefinition/Claim-inquiry' },
            ],
          },
          { type: 'ClaimResponse', interaction: [{ code: 'read' }] },
          {
            // PAS pended-result notifications (R4 Subscriptions backport): the topic it publishes.
            extension: [{ url: BACKPORT.topicCanonical, valueCanonical: PAS_TOPIC }],
            type: 'Subscription',
            supportedProfile: [PAS_SUBSCRIPTION_PROFILE],
            interaction: [{ code: 'create' }, { code: 'read' }, { code: 'update' }, { code: 'delete' }, { code: 'search-type' }],
            operation: [{ name: 'status', definition: BACKPORT.statusOperation }],
          },
          {
            type: 'Questionnaire',
            interaction: [{ code: 'read' }, { code: 'search-type' }],
            searchParam: [{ name: 'url', type: 'uri' }],
            operation: [
              {
                name: 'questionnaire-package',
                definition: 'http://hl7.org/fhir/us/davinci-dtr/OperationDefinition/questionnaire-package',
              },
              { name: 'populate', definition: 'http://hl7.org/fhir/uv/sdc/OperationDefinition/Questionnaire-populate' },
              { name: 'next-question', definition: 'http://hl7.org/fhir/uv/sdc/OperationDefinition/Questionnaire-next-question' },
            ],
          },
          { type: 'Library', interaction: [{ code: 'read' }, { code: 'search-type' }], searchParam: [{ name: 'url', type: 'uri' }] },
          {
            type: 'ValueSet',
            interaction: [{ code: 'read' }, { code: 'search-type' }],
            searchParam: [{ name: 'url', type: 'uri' }],
            operation: [{ name: 'expand', definition: 'http://hl7.org/fhir/OperationDefinition/ValueSet-expand' }],
          },
        ],
      },
    ],
  };
}
