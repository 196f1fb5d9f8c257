/**
 * CDS Hooks discovery (`GET /cds-services`) for the prior-authorization services, and the CRD
 * configuration and version extensions that travel with each service and each request.
 *
 * https://cds-hooks.hl7.org/2.0/#discovery
 * CRD 2.0.1 configuration options: http://hl7.org/fhir/us/davinci-crd/STU2/deviations.html#configuration-options-extension
 * CRD 2.2 version declaration: http://hl7.org/fhir/us/davinci-crd/deviations.html#crd-version-declaration
 *
 * Supports: order-sign, order-select and order-dispatch services for MedicationRequest orders;
 * prefetch templates a CRD 2.0.1 client can fill (CDS Hooks tokens, the 2.0.1 context-resource
 * token, `_include`); configuration options from the card-type value set; versions 2.0, 2.1, 2.2.
 *
 * Does not support: other hooks (appointment-book, encounter-*), other order types.
 */
import type { OperationOutcomeIssue } from 'fhir/r4';
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
import { isRecord } from '../fhir/json';
import type { ChartRequirement } from '../engine/data-requirements';

export const SERVICE_IDS: Record<HookName, string> = {
  'order-sign': 'pa-order-sign',
  'order-select': 'pa-order-select',
  'order-dispatch': 'pa-order-dispatch',
};

/** Prefetch keys. CRD says clients must read the key names from discovery; these are ours. */
export const PREFETCH_KEYS = {
  patient: 'patient',
  /** The active Coverages with their payor Organizations (`_include=Coverage:payor`). */
  coverage: 'coverage',
  /** The orders answered for, with their requester PractitionerRole and Medication. */
  orders: 'orders',
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
   * What the catalog's CQL reads (src/engine/data-requirements.ts `chartRequirements`): one chart
   * key per FHIR type. Without it, a default chart: conditions, medications, laboratory results
   * and allergies.
   */
  requirements?: ChartRequirement[];
}

/** Types with keys of their own (patient, coverage) or read with the orders (`_include`s). */
const NOT_CHART_KEYS = new Set(['Patient', 'Coverage', 'Practitioner', 'PractitionerRole', 'Organization', 'Medication']);

/** The key names these types have always had; any other type's key is its name, camel-case and plural. */
const CHART_KEYS: Record<string, string> = {
  Condition: PREFETCH_KEYS.conditions,
  MedicationRequest: PREFETCH_KEYS.medicationRequests,
  MedicationStatement: PREFETCH_KEYS.medicationStatements,
  MedicationDispense: PREFETCH_KEYS.medicationDispenses,
  Observation: PREFETCH_KEYS.observations,
  AllergyIntolerance: PREFETCH_KEYS.allergies,
};

/** The prefetch key that holds a type's chart resources (`Goal` → `goals`). */
export function chartKey(type: string): string {
  const known = CHART_KEYS[type];
  if (known) return known;
  const camel = `${type.charAt(0).toLowerCase()}${type.slice(1)}`;
  return /[^aeiou]y$/.test(camel) ? `${camel.slice(0, -1)}ies` : `${camel}s`;
}

/** The patient's resources of the type, only those with the codes when every retrieve of it is coded. */
function chartQuery(requirement: ChartRequirement): string {
  const query = `${requirement.type}?patient={{context.patientId}}`;
  const tokens = [...new Set((requirement.codes ?? []).map((c) => (c.system ? `${c.system}|${c.code}` : `${c.code}`)))].sort();
  return tokens.length > 0 ? `${query}&code=${tokens.join(',')}` : query;
}

const DEFAULT_CHART: Record<string, string> = {
  [PREFETCH_KEYS.conditions]: 'Condition?patient={{context.patientId}}',
  [PREFETCH_KEYS.medicationRequests]: 'MedicationRequest?patient={{context.patientId}}',
  [PREFETCH_KEYS.medicationStatements]: 'MedicationStatement?patient={{context.patientId}}',
  [PREFETCH_KEYS.medicationDispenses]: 'MedicationDispense?patient={{context.patientId}}',
  [PREFETCH_KEYS.observations]: 'Observation?patient={{context.patientId}}&category=laboratory',
  [PREFETCH_KEYS.allergies]: 'AllergyIntolerance?patient={{context.patientId}}',
};

/** One key per type the policies read, in type order. */
function chartTemplates(requirements: ChartRequirement[] | undefined): Record<string, string> {
  if (!requirements) return DEFAULT_CHART;
  return Object.fromEntries(requirements.filter((r) => !NOT_CHART_KEYS.has(r.type)).map((r) => [chartKey(r.type), chartQuery(r)]));
}

/**
 * What every order query includes: CRD 2.0.1 foundation.md, "MedicationRequest" row of the query
 * table, with the requester of any type and, for a Practitioner requester, that practitioner's
 * PractitionerRoles (the policies read the prescriber's specialty from the role).
 */
const ORDER_INCLUDES =
  '_include=MedicationRequest:requester&_include=MedicationRequest:medication' +
  '&_include:iterate=PractitionerRole:organization&_include:iterate=PractitionerRole:practitioner' +
  '&_revinclude:iterate=PractitionerRole:practitioner';

/**
 * Prefetch templates a CRD 2.0.1 client can fill: plain CDS Hooks tokens, the CRD 2.0.1
 * `context.draftOrders.MedicationRequest.id` token (deviations.md, "Additional prefetch
 * capabilities": clients SHALL recognize it) and `_include` (foundation.md, "Prefetch": the standard
 * queries use it). No CRD 2.2 FHIRPath tokens: a 2.0.1 client cannot evaluate them, and the
 * `_include`s fetch the same data (the payor Organization, the requester's PractitionerRole, the
 * Medication). What a template leaves out (a Practitioner requester's roles) is read from
 * fhirServer when needed, as foundation.md asks for order-specific data.
 * order-dispatch's `dispatchedOrders` are reference strings no 2.0.1 token can turn into ids, so its
 * `orders` key asks for the patient's active MedicationRequests, among them the dispatched ones.
 * The chart keys follow the policies' data requirements: one `Type?patient=` search per type the
 * CQL retrieves (with `code=` when every retrieve of the type is coded), so the prefetch holds
 * everything the criteria read and a new policy library needs no change here.
 */
export function prefetchTemplates(hook: HookName, options: DiscoveryOptions = {}): Record<string, string> {
  return {
    [PREFETCH_KEYS.patient]: 'Patient/{{context.patientId}}',
    [PREFETCH_KEYS.coverage]: 'Coverage?patient={{context.patientId}}&status=active&_include=Coverage:payor',
    [PREFETCH_KEYS.orders]:
      hook === 'order-dispatch'
        ? `MedicationRequest?patient={{context.patientId}}&status=active&${ORDER_INCLUDES}`
        : `MedicationRequest?_id={{context.draftOrders.MedicationRequest.id}}&${ORDER_INCLUDES}`,
    ...chartTemplates(options.requirements),
  };
}

// ---- configuration options ----

/**
 * The options we honour. CRD 2.0.1 CDSHookServicesExtensionConfiguration.code has a required
 * binding to the CRD Card Types value set (CodeSystem temp, descendants of `_cardType`), so
 * discovery offers only codes from it: `coverage-info` (the system action and the Instructions,
 * Launch SMART Application and Request Form Completion cards, whose topic it is; the value set has
 * no code of its own for form completion), `guideline` and `therapy-alternatives-req`.
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
        'Adds the coverage-information extension to each order, a card listing the policy criteria not met or not documented, and, when documentation is needed, the DTR app launch and a form-completion Task.',
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
