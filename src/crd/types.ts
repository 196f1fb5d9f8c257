/**
 * Shared CRD / CDS Hooks shapes and the codes that differ between the CRD versions we answer.
 *
 * CDS Hooks 2.0: https://cds-hooks.hl7.org/2.0/
 * Da Vinci CRD 2.0.1: http://hl7.org/fhir/us/davinci-crd/STU2/  (what the conformance test kit checks)
 * Da Vinci CRD 2.2: http://hl7.org/fhir/us/davinci-crd/ (accepted when the client asks for it)
 */
import type { Coding, FhirResource } from 'fhir/r4';

export type HookName = 'order-sign' | 'order-select' | 'order-dispatch';
export const HOOKS: readonly HookName[] = ['order-sign', 'order-select', 'order-dispatch'];

/**
 * CRD versions as declared in `davinci-crd.version` / `davinci-crd.requestedVersion` (major.minor only,
 * per CRD 2.2 "CRD Version declaration"). A request without `requestedVersion` is a 2.0 request:
 * CRD 2.0.1 has no version extension, so its clients never send one.
 */
export type CrdVersion = '2.0' | '2.1' | '2.2';
export const CRD_VERSIONS: readonly CrdVersion[] = ['2.0', '2.1', '2.2'];
export const DEFAULT_CRD_VERSION: CrdVersion = '2.0';

export const COVERAGE_INFORMATION_URL = 'http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information';

/** CRD "temporary" code system: card types (topics) in 2.0.1 and 2.1, reason codes, 2.0.1 detail codes. */
export const CRD_TEMP_SYSTEM = 'http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp';
/** CRD 2.2 moved the card types (and `unsolicited-determ`) to THO. */
export const CDS_HOOKS_CARD_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/cdshooks-card-type';
/** CRD 2.2 moved the coverage-information detail codes (`policy-link`, `allowed-period`...) to THO. */
export const CRD_COVERAGE_DETAIL_SYSTEM = 'http://terminology.hl7.org/CodeSystem/crd-coverage-detail';
/** HCPCS Level II, as CRD and PAS examples spell it. */
export const HCPCS_SYSTEM = 'https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets';

/** Card topic codes we use (CRD cardType value set; identical codes in temp and cdshooks-card-type). */
export type CardTopic = 'coverage-info' | 'guideline' | 'therapy-alternatives-req';

export const CARD_TOPIC_DISPLAY: Record<CardTopic, string> = {
  'coverage-info': 'Coverage Information',
  guideline: 'Guideline',
  'therapy-alternatives-req': 'Required Therapy Alternatives',
};

/** The topic Coding of a card for the CRD version the client asked for. */
export function topicCoding(topic: CardTopic, version: CrdVersion): Coding {
  return {
    system: version === '2.2' ? CDS_HOOKS_CARD_TYPE_SYSTEM : CRD_TEMP_SYSTEM,
    code: topic,
    display: CARD_TOPIC_DISPLAY[topic],
  };
}

// ---- CDS Hooks 2.0 response objects (https://cds-hooks.hl7.org/2.0/#cds-service-response) ----

export interface CdsLink {
  label: string;
  url: string;
  type: 'absolute' | 'smart';
  appContext?: string;
}

export interface CdsAction {
  type: 'create' | 'update' | 'delete';
  description: string;
  resource?: FhirResource;
  resourceId?: string;
}

export interface CdsSuggestion {
  label: string;
  uuid?: string;
  isRecommended?: boolean;
  actions?: CdsAction[];
}

export interface CdsCard {
  uuid?: string;
  summary: string;
  detail?: string;
  indicator: 'info' | 'warning' | 'critical';
  source: { label: string; url?: string; icon?: string; topic?: Coding };
  suggestions?: CdsSuggestion[];
  selectionBehavior?: 'at-most-one' | 'any';
  overrideReasons?: Coding[];
  links?: CdsLink[];
  extension?: Record<string, unknown>;
}

export interface CdsServiceResponse {
  cards: CdsCard[];
  systemActions?: CdsAction[];
}

// ---- Discovery (https://cds-hooks.hl7.org/2.0/#discovery) ----

/** CRD `davinci-crd.configuration-options` entry (StructureDefinition CDSHookServicesExtensionConfiguration). */
export interface ConfigurationOption {
  code: string;
  type: 'boolean' | 'integer';
  name: string;
  description: string;
  default: boolean | number;
}

export interface CdsService {
  hook: HookName;
  id: string;
  title: string;
  description: string;
  prefetch: Record<string, string>;
  usageRequirements?: string;
  extension: {
    'davinci-crd.version': CrdVersion[];
    'davinci-crd.configuration-options': ConfigurationOption[];
  };
}

export interface DiscoveryResponse {
  services: CdsService[];
}
