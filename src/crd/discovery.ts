/**
 * CDS Hooks discovery (`GET /cds-services`) for the prior-authorization services, and the CRD
 * configuration and version extensions that travel with each service and each request.
 *
 * https://cds-hooks.hl7.org/2.0/#discovery
 * CRD 2.0.1 configuration options: http://hl7.org/fhir/us/davinci-crd/STU2/deviations.html#configuration-options-extension
 * CRD 2.2 version declaration: http://hl7.org/fhir/us/davinci-crd/deviations.html#crd-version-declaration
 *
 * Supports: order-sign, order-select and order-dispatch services for MedicationRequest orders;
 * prefetch templates in CDS Hooks token syntax, with the CRD 2.2 FHIRPath-style tokens for data that
 * hangs off the orders and the Coverage (the requester's PractitionerRole, or the roles of a requester
 * given as a Practitioner; the dispatched orders; the payor Organization); one boolean
 * configuration option per response type we return plus `max-cards`; versions 2.0, 2.1 and 2.2.
 *
 * Does not support: other hooks (appointment-book, encounter-*), other order types.
 */
import type { Coding, OperationOutcomeIssue } from 'fhir/r4';
import { badRequest, warning } from '../fhir/outcomes';
import {
  CRD_VERSIONS,
  DEFAULT_CRD_VERSION,
  HOOKS,
  type CdsService,
  type ConfigurationOption,
  type CrdVersion,
  type DiscoveryResponse,
  type HookName,
} from './types';

export const SERVICE_IDS: Record<HookName, string> = {
  'order-sign': 'pa-order-sign',
  'order-select': 'pa-order-select',
  'order-dispatch': 'pa-order-dispatch',
};

/** Prefetch keys. CRD says clients must read the key names from discovery; these are ours. */
export const PREFETCH_KEYS = {
  patient: 'patient',
  coverage: 'coverage',
  /** The Coverage's payor Organization: its identifiers tell which payer (and policies) apply. */
  payer: 'payer',
  /** order-dispatch only: the dispatched MedicationRequests (not in the hook context as resources). */
  orders: 'orders',
  practitionerRoles: 'practitionerRoles',
  /** The roles of a requester given as a Practitioner (the specialty is on the PractitionerRole). */
  practitionerRolesByPractitioner: 'practitionerRolesByPractitioner',
  conditions: 'conditions',
  medicationRequests: 'medicationRequests',
  medicationStatements: 'medicationStatements',
  medicationDispenses: 'medicationDispenses',
  observations: 'observations',
  allergies: 'allergies',
} as const;

export type PrefetchKey = (typeof PREFETCH_KEYS)[keyof typeof PREFETCH_KEYS];

export interface DiscoveryOptions {
  /**
   * Observation codes the catalog's policies read (typically LOINC). The `observations` template
   * asks for exactly these; without any, it asks for laboratory Observations.
   */
  observationCodes?: Pick<Coding, 'system' | 'code'>[];
}

function observationQuery(codes: Pick<Coding, 'system' | 'code'>[] | undefined): string {
  const tokens = [...new Set((codes ?? []).filter((c) => c.code).map((c) => (c.system ? `${c.system}|${c.code}` : `${c.code}`)))];
  tokens.sort();
  const filter = tokens.length > 0 ? `code=${tokens.join(',')}` : 'category=laboratory';
  return `Observation?patient={{context.patientId}}&${filter}`;
}

/**
 * Prefetch templates, in evaluation order (`%orders` must come before the templates that read it).
 * The requester comes from the order itself, in the CRD 2.2 syntax
 * (`...requester.resolve().ofType(PractitionerRole).id`, or the roles of a Practitioner requester,
 * whose specialty the policies read), and the payer from `Coverage.payor`; the CRD 2.0.1 form
 * (`{{context.draftOrders.MedicationRequest.id}}` with `_include`) is understood by data.ts too.
 */
export function prefetchTemplates(hook: HookName, options: DiscoveryOptions = {}): Record<string, string> {
  const chart = {
    [PREFETCH_KEYS.conditions]: 'Condition?patient={{context.patientId}}',
    [PREFETCH_KEYS.medicationRequests]: 'MedicationRequest?patient={{context.patientId}}',
    [PREFETCH_KEYS.medicationStatements]: 'MedicationStatement?patient={{context.patientId}}',
    [PREFETCH_KEYS.medicationDispenses]: 'MedicationDispense?patient={{context.patientId}}',
    [PREFETCH_KEYS.observations]: observationQuery(options.observationCodes),
    [PREFETCH_KEYS.allergies]: 'AllergyIntolerance?patient={{context.patientId}}',
  };
  const head = {
    [PREFETCH_KEYS.patient]: 'Patient/{{context.patientId}}',
    [PREFETCH_KEYS.coverage]: 'Coverage?patient={{context.patientId}}&status=active',
    // Coverage.payor is usually a plain reference; without the Organization a client that sends
    // no fhirServer could not tell us its payer (hook-13).
    [PREFETCH_KEYS.payer]: 'Organization?_id={{%coverage.entry.resource.ofType(Coverage).payor.resolve().ofType(Organization).id}}',
  };
  if (hook === 'order-dispatch') {
    return {
      ...head,
      [PREFETCH_KEYS.orders]: 'MedicationRequest?_id={{context.dispatchedOrders.resolve().ofType(MedicationRequest).id}}',
      [PREFETCH_KEYS.practitionerRoles]:
        'PractitionerRole?_id={{%orders.entry.resource.ofType(MedicationRequest).requester.resolve().ofType(PractitionerRole).id}}',
      [PREFETCH_KEYS.practitionerRolesByPractitioner]:
        'PractitionerRole?practitioner={{%orders.entry.resource.ofType(MedicationRequest).requester.resolve().ofType(Practitioner).id}}',
      ...chart,
    };
  }
  return {
    ...head,
    [PREFETCH_KEYS.practitionerRoles]:
      'PractitionerRole?_id={{context.draftOrders.entry.resource.ofType(MedicationRequest).requester.resolve().ofType(PractitionerRole).id}}',
    [PREFETCH_KEYS.practitionerRolesByPractitioner]:
      'PractitionerRole?practitioner={{context.draftOrders.entry.resource.ofType(MedicationRequest).requester.resolve().ofType(Practitioner).id}}',
    ...chart,
  };
}

// ---- configuration options ----

/**
 * The options we honour. CRD 2.0.1 CDSHookServicesExtensionConfiguration.code has a required
 * binding to the CRD Card Types value set (CodeSystem temp, descendants of `_cardType`), so
 * discovery offers only codes from it: `coverage-info` (the system action and the Instructions
 * card, whose topic it is), `guideline` and `therapy-alternatives-req`.
 * Requests may also carry `unsolicited-determ` (a card-type code since CRD 2.1; 2.2 "what if"
 * calls SHALL send it false) and `max-cards` (used by the CRD 2.2 example requests): both are
 * obeyed, but not offered in discovery, where they would break the 2.0.1 binding.
 */
export const OPTION_CODES = {
  coverageInfo: 'coverage-info',
  unsolicitedDeterm: 'unsolicited-determ',
  guideline: 'guideline',
  therapyAlternativesReq: 'therapy-alternatives-req',
  maxCards: 'max-cards',
} as const;

/** CRD 2.0.1 ValueSet cardType: the codes a discovery configuration option may use. */
export const CARD_TYPE_CODES: readonly string[] = [
  'coverage-info', 'claim', 'insurance', 'limits', 'network', 'appropriate-use', 'cost', 'therapy-alternatives-opt',
  'therapy-alternatives-req', 'clinical-reminder', 'duplicate-therapy', 'contraindication', 'guideline', 'off-guideline',
];

export const DEFAULT_MAX_CARDS = 10;

function configurationOptions(): ConfigurationOption[] {
  return [
    {
      code: OPTION_CODES.coverageInfo,
      type: 'boolean',
      name: 'Coverage Information',
      description:
        'Adds the coverage-information extension to each order and a card listing the policy criteria not met or not documented, with their citations.',
      default: true,
    },
    {
      code: OPTION_CODES.guideline,
      type: 'boolean',
      name: 'Policy Reference',
      description: "A card linking to the payer's coverage policy for the ordered drug.",
      default: true,
    },
    {
      code: OPTION_CODES.therapyAlternativesReq,
      type: 'boolean',
      name: 'Required Therapy Alternatives',
      description: 'A card proposing preferred products the policy requires the patient to try first, when that trial is not documented.',
      default: true,
    },
  ];
}

const TITLES: Record<HookName, { title: string; description: string }> = {
  'order-sign': {
    title: 'Prior authorization requirements at order signing',
    description:
      'For each drug order the payer has a policy for: whether prior authorization is needed, whether the chart already satisfies the policy (then the authorization is granted on the spot), and which documentation is missing, with the questionnaire that collects it.',
  },
  'order-select': {
    title: 'Prior authorization requirements at order selection',
    description:
      'Early notice, while a drug is being selected, of whether the payer requires prior authorization and which policy criteria are not yet met; never asks for documentation.',
  },
  'order-dispatch': {
    title: 'Prior authorization requirements at order dispatch',
    description:
      'For each dispatched drug order the payer has a policy for: whether prior authorization is needed or already satisfied, and what documentation is missing.',
  },
};

export function buildService(hook: HookName, options: DiscoveryOptions = {}): CdsService {
  return {
    hook,
    id: SERVICE_IDS[hook],
    title: TITLES[hook].title,
    description: TITLES[hook].description,
    prefetch: prefetchTemplates(hook, options),
    usageRequirements:
      'Send the primary active Coverage of a payer this server serves. Data not prefetched is read from fhirServer with fhirAuthorization.',
    extension: {
      'davinci-crd.version': [...CRD_VERSIONS],
      'davinci-crd.configuration-options': configurationOptions(),
    },
  };
}

/** The `GET /cds-services` document. */
export function buildDiscovery(options: DiscoveryOptions = {}): DiscoveryResponse {
  return { services: HOOKS.map((hook) => buildService(hook, options)) };
}

/** The hook a service id serves, or undefined for an unknown id (404 for the caller). */
export function hookForServiceId(id: string): HookName | undefined {
  return HOOKS.find((hook) => SERVICE_IDS[hook] === id);
}

// ---- request extensions ----

export interface CrdConfiguration {
  coverageInfo: boolean;
  unsolicitedDeterm: boolean;
  guideline: boolean;
  therapyAlternativesReq: boolean;
  maxCards: number;
}

export const DEFAULT_CONFIGURATION: Readonly<CrdConfiguration> = Object.freeze({
  coverageInfo: true,
  unsolicitedDeterm: true,
  guideline: true,
  therapyAlternativesReq: true,
  maxCards: DEFAULT_MAX_CARDS,
});

const BOOLEAN_OPTIONS: [keyof CrdConfiguration, string][] = [
  ['coverageInfo', OPTION_CODES.coverageInfo],
  ['unsolicitedDeterm', OPTION_CODES.unsolicitedDeterm],
  ['guideline', OPTION_CODES.guideline],
  ['therapyAlternativesReq', OPTION_CODES.therapyAlternativesReq],
];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads `extension["davinci-crd.configuration"]` of a hook request. Known options are obeyed,
 * unknown ones ignored, none required (CRD dev-14..17). A known option with a value of the wrong
 * type is ignored with a warning (CRD: handle nonsensical settings gracefully).
 */
export function parseConfiguration(extension: unknown): { config: CrdConfiguration; warnings: OperationOutcomeIssue[] } {
  const config: CrdConfiguration = { ...DEFAULT_CONFIGURATION };
  const warnings: OperationOutcomeIssue[] = [];
  const raw = isRecord(extension) ? extension['davinci-crd.configuration'] : undefined;
  if (raw === undefined || raw === null) return { config, warnings };
  const where = 'extension.davinci-crd.configuration';
  if (!isRecord(raw)) {
    warnings.push(warning('invalid', 'davinci-crd.configuration is not an object; defaults apply', where));
    return { config, warnings };
  }
  for (const [field, code] of BOOLEAN_OPTIONS) {
    const value = raw[code];
    if (value === undefined) continue;
    if (typeof value === 'boolean') (config[field] as boolean) = value;
    else warnings.push(warning('invalid', `Configuration option "${code}" must be a boolean; default used`, `${where}.${code}`));
  }
  const maxCards = raw[OPTION_CODES.maxCards];
  if (maxCards !== undefined) {
    if (typeof maxCards === 'number' && Number.isInteger(maxCards) && maxCards >= 0) config.maxCards = maxCards;
    else warnings.push(warning('invalid', 'Configuration option "max-cards" must be a non-negative integer; default used', `${where}.max-cards`));
  }
  return { config, warnings };
}

/**
 * Reads `extension["davinci-crd.requestedVersion"]` (CRD 2.2). Absent: 2.0 (CRD 2.0.1 clients do
 * not know the extension). A patch level is ignored ("2.0.1" is 2.0). An unsupported version is a
 * 400, as CRD requires an error for versions the service does not support.
 */
export function parseRequestedVersion(extension: unknown): CrdVersion {
  const raw = isRecord(extension) ? extension['davinci-crd.requestedVersion'] : undefined;
  if (raw === undefined || raw === null) return DEFAULT_CRD_VERSION;
  const where = 'extension.davinci-crd.requestedVersion';
  if (typeof raw !== 'string') throw badRequest('davinci-crd.requestedVersion must be a string', where);
  const match = /^(\d+)\.(\d+)(?:\.\d+)?$/.exec(raw.trim());
  const version = match ? `${match[1]}.${match[2]}` : raw;
  if (!(CRD_VERSIONS as readonly string[]).includes(version)) {
    throw badRequest(`CRD version "${raw}" is not supported; supported versions: ${CRD_VERSIONS.join(', ')}`, where, 'not-supported');
  }
  return version as CrdVersion;
}
