/**
 * The one topic this server publishes (PAS 2.2.1 `PASSubscriptionTopic`) and the URLs of the
 * R4 Subscriptions backport (http://hl7.org/fhir/uv/subscriptions-backport/) the PAS Subscription
 * profile builds on.
 */
export const PAS_TOPIC = 'http://hl7.org/fhir/us/davinci-pas/SubscriptionTopic/PASSubscriptionTopic';
export const PAS_SUBSCRIPTION_PROFILE = 'http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-subscription';
/** The topic's only filter: the submitting provider organization's identifier. */
export const ORG_FILTER = 'orgIdentifier';

export const BACKPORT = {
  filterCriteria: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria',
  payloadContent: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content',
  statusProfile: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4',
  notificationProfile: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-notification-r4',
  /** Declared on the CapabilityStatement's Subscription resource, one per topic. */
  topicCanonical: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/capabilitystatement-subscriptiontopic-canonical',
  statusOperation: 'http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-status',
} as const;
