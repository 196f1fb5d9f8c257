/**
 * Structural checks on a Da Vinci PAS `Claim/$submit` request
 * (https://hl7.org/fhir/us/davinci-pas/STU2/OperationDefinition-Claim-submit.html, PAS 2.2.1).
 *
 * Supports: a PAS request Bundle sent bare or as the `resource` parameter of a Parameters; the
 * cardinalities of profile-pas-request-bundle (identifier, timestamp, type `collection`, entries
 * with fullUrl and resource, Claim first) and the Claim elements adjudication needs (FHIR-required
 * ones plus PAS `identifier`, `insurer`, `item`); reference resolution for the Claim and the
 * resources adjudication reads (Coverage, the requester PractitionerRole, the requested orders).
 * Every problem found is returned at once, as issues of one OperationOutcome (400), each naming its
 * element by a FHIRPath expression rooted at `Bundle` (also when the Bundle came in a Parameters).
 *
 * Does not support: full profile validation (value set bindings, slicing, invariants other than
 * ClaimFirst). PAS item elements that a drug request can do without (item category, location,
 * requestType and certificationType extensions) are reported as warnings, not errors; so are
 * unresolved references one step away from the Claim (e.g. a care-team member's Practitioner).
 */
import type { Bundle, Claim, FhirResource, OperationOutcomeIssue, Reference } from 'fhir/r4';
import { badRequest, badRequestMany, issue, warning, type IssueCode } from '../fhir/outcomes';
import { BundleIndex, findReferences, type ResolvedEntry } from '../fhir/bundle-index';
import { PAS_EXT } from './codes';
import { OPERATION_DEFINITIONS } from '../fhir/operation-definitions';
import { operationRules, readParameters } from '../fhir/parameters';
import { isRecord } from '../fhir/json';

export interface PasRequest {
  /** The request Bundle, unwrapped from Parameters when it came that way. */
  bundle: Bundle;
  /** `Bundle.entry[0].resource`. */
  claim: Claim;
  claimFullUrl: string | undefined;
  index: BundleIndex;
  /** True when the Bundle came as the `resource` parameter of a Parameters. */
  wrapped: boolean;
  /** Non-fatal findings (missing PAS item extensions, unresolved second-level references). */
  warnings: OperationOutcomeIssue[];
}

type Json = Record<string, unknown>;

const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const DATE_TIME = /^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?)?)?$/;
const REQUESTED_SERVICE_TYPES = ['MedicationRequest', 'ServiceRequest', 'DeviceRequest', 'NutritionOrder'];


function hasCode(value: unknown): boolean {
  if (!isRecord(value)) return false;
  const codings = Array.isArray(value.coding) ? value.coding : [];
  return codings.some((c) => isRecord(c) && typeof c.code === 'string' && c.code !== '') || typeof value.text === 'string';
}

function hasLiteralReference(value: unknown): boolean {
  return isRecord(value) && typeof value.reference === 'string' && value.reference.trim() !== '';
}

/** PAS 2.2.1 Claim-submit: the Bundle as `resource`, else the first Bundle parameter. */
export const SUBMIT_RULES = operationRules(OPERATION_DEFINITIONS.submit, { change: { resource: { byType: true } } });

/** The Bundle inside a Parameters (1..1: the reader answers 400 when there is none). */
function unwrapParameters(body: Json): Json {
  return readParameters(body, SUBMIT_RULES).first('resource')!.resource as unknown as Json;
}

class Problems {
  readonly errors: OperationOutcomeIssue[] = [];
  readonly warnings: OperationOutcomeIssue[] = [];
  error(code: IssueCode, text: string, expression: string): void {
    this.errors.push(issue('error', code, text, expression));
  }
  warn(code: IssueCode, text: string, expression: string): void {
    this.warnings.push(warning(code, text, expression));
  }
  throwIfAny(): void {
    if (this.errors.length > 0) throw badRequestMany(this.errors);
  }
}

/**
 * Narrows a `$submit` body to a PAS request. Throws `OperationOutcomeError` (400) naming every
 * structural problem found.
 */
export function parsePasRequest(body: unknown): PasRequest {
  if (!isRecord(body)) {
    throw badRequest(
      'The request body must be a FHIR resource (a JSON object): a PAS request Bundle, or a Parameters carrying one.',
      'Bundle',
      'structure',
    );
  }
  const wrapped = body.resourceType === 'Parameters';
  const raw = wrapped ? unwrapParameters(body) : body;
  if (raw.resourceType !== 'Bundle') {
    const got = typeof raw.resourceType === 'string' ? raw.resourceType : 'a resource without resourceType';
    throw badRequest(`Expected a PAS request Bundle (or a Parameters carrying one), got ${got}.`, 'Bundle', 'invalid');
  }

  const problems = new Problems();
  checkBundle(raw, problems);
  const bundle = raw as unknown as Bundle;
  const entries = bundle.entry ?? [];
  const index = new BundleIndex(bundle);
  const first = entries[0]?.resource;
  if (first?.resourceType !== 'Claim') {
    const claimAt = entries.findIndex((e) => e.resource?.resourceType === 'Claim');
    problems.error(
      'invalid',
      `The first entry of a PAS request Bundle must be the Claim (PAS rule ClaimFirst); found ${first?.resourceType ?? 'nothing'}` +
        (claimAt > 0 ? ` (a Claim is at entry ${claimAt}).` : '.'),
      'Bundle.entry[0].resource',
    );
    problems.throwIfAny();
  }
  const claim = first as Claim;
  const claimFullUrl = entries[0]?.fullUrl;
  checkClaim(claim as unknown as Json, problems);
  checkReferences(claim, claimFullUrl, index, problems);
  problems.throwIfAny();
  return { bundle, claim, claimFullUrl, index, wrapped, warnings: problems.warnings };
}

function checkBundle(bundle: Json, problems: Problems): void {
  if (bundle.type !== 'collection') {
    problems.error(
      'value',
      `Bundle.type must be "collection" for a PAS request, got ${JSON.stringify(bundle.type ?? null)}.`,
      'Bundle.type',
    );
  }
  if (!isRecord(bundle.identifier) || typeof bundle.identifier.value !== 'string') {
    problems.error('required', 'Bundle.identifier (the submitter transaction identifier) is required by the PAS request Bundle profile.', 'Bundle.identifier');
  }
  if (typeof bundle.timestamp !== 'string') {
    problems.error('required', 'Bundle.timestamp is required by the PAS request Bundle profile.', 'Bundle.timestamp');
  } else if (!INSTANT.test(bundle.timestamp)) {
    problems.error('value', `Bundle.timestamp must be a FHIR instant (date, time and zone), got "${bundle.timestamp}".`, 'Bundle.timestamp');
  }
  const entries = bundle.entry;
  if (!Array.isArray(entries) || entries.length === 0) {
    problems.error('required', 'The PAS request Bundle has no entries; it must hold the Claim and the resources it references.', 'Bundle.entry');
    problems.throwIfAny();
    return;
  }
  const notObjects = entries.flatMap((entry: unknown, i) => (isRecord(entry) ? [] : [i]));
  if (notObjects.length > 0) {
    for (const i of notObjects) problems.error('structure', 'Each Bundle entry must be an object.', `Bundle.entry[${i}]`);
    problems.throwIfAny();
  }
  const seen = new Map<string, number>();
  (entries as Json[]).forEach((entry, i) => {
    const at = `Bundle.entry[${i}]`;
    if (!isRecord(entry.resource) || typeof entry.resource.resourceType !== 'string') {
      problems.error('required', 'Each entry of a PAS request Bundle must hold a resource with a resourceType.', `${at}.resource`);
    }
    if (typeof entry.fullUrl !== 'string' || entry.fullUrl === '') {
      problems.error('required', 'Each entry of a PAS request Bundle must have a fullUrl.', `${at}.fullUrl`);
    } else if (seen.has(entry.fullUrl)) {
      problems.error('duplicate', `fullUrl "${entry.fullUrl}" is also used by entry ${seen.get(entry.fullUrl)}.`, `${at}.fullUrl`);
    } else {
      seen.set(entry.fullUrl, i);
    }
    for (const key of ['request', 'response', 'search']) {
      if (key in entry) problems.warn('informational', `Bundle.entry.${key} is not used in a PAS request Bundle and was ignored.`, `${at}.${key}`);
    }
  });
}

/** Claim elements this server reads that FHIR JSON carries as arrays. */
const CLAIM_ARRAYS = ['identifier', 'extension', 'careTeam', 'supportingInfo', 'diagnosis', 'insurance', 'item'];
const ITEM_ARRAYS = ['extension', 'diagnosisSequence', 'careTeamSequence', 'informationSequence', 'modifier'];

function checkArrays(value: Json, keys: string[], at: string, problems: Problems): boolean {
  let ok = true;
  for (const key of keys) {
    if (key in value && !Array.isArray(value[key])) {
      problems.error('structure', `${key} must be a JSON array.`, `${at}.${key}`);
      ok = false;
    }
  }
  return ok;
}

function checkClaim(claim: Json, problems: Problems): void {
  const at = 'Bundle.entry[0].resource';
  if (!checkArrays(claim, CLAIM_ARRAYS, at, problems)) problems.throwIfAny();
  if (claim.use !== 'preauthorization') {
    problems.error('value', `Claim.use must be "preauthorization" for Claim/$submit, got ${JSON.stringify(claim.use ?? null)}.`, `${at}.use`);
  }
  if (typeof claim.status !== 'string') {
    problems.error('required', 'Claim.status is required.', `${at}.status`);
  } else if (claim.status !== 'active') {
    problems.error('value', `Claim.status must be "active" in a PAS request, got "${claim.status}".`, `${at}.status`);
  }
  if (!Array.isArray(claim.identifier) || !claim.identifier.some((id) => isRecord(id) && typeof id.value === 'string')) {
    problems.error('required', 'Claim.identifier is required by the PAS Claim profile (1..2).', `${at}.identifier`);
  }
  if (!hasCode(claim.type)) problems.error('required', 'Claim.type is required.', `${at}.type`);
  if (!hasLiteralReference(claim.patient)) {
    problems.error('required', 'Claim.patient must reference the Patient entry of the Bundle.', `${at}.patient`);
  }
  if (typeof claim.created !== 'string') {
    problems.error('required', 'Claim.created is required.', `${at}.created`);
  } else if (!DATE_TIME.test(claim.created)) {
    problems.error('value', `Claim.created must be a FHIR dateTime, got "${claim.created}".`, `${at}.created`);
  }
  if (!hasLiteralReference(claim.insurer)) {
    problems.error('required', 'Claim.insurer is required by the PAS Claim profile and must reference an Organization entry.', `${at}.insurer`);
  }
  if (!hasLiteralReference(claim.provider)) {
    problems.error('required', 'Claim.provider must reference the requesting provider entry of the Bundle.', `${at}.provider`);
  }
  if (!hasCode(claim.priority)) problems.error('required', 'Claim.priority is required.', `${at}.priority`);

  for (const key of ['identifier', 'extension', 'careTeam', 'supportingInfo', 'diagnosis'] as const) {
    const list = claim[key];
    if (Array.isArray(list)) {
      list.forEach((member: unknown, i) => {
        if (!isRecord(member)) problems.error('structure', `Each Claim.${key} must be an object.`, `${at}.${key}[${i}]`);
      });
    }
  }
  const insurance = claim.insurance;
  if (!Array.isArray(insurance) || insurance.length === 0) {
    problems.error('required', 'Claim.insurance is required: at least one entry referencing the Coverage.', `${at}.insurance`);
  } else {
    insurance.forEach((ins: unknown, i) => {
      if (!isRecord(ins) || !hasLiteralReference(ins.coverage)) {
        problems.error('required', 'Claim.insurance.coverage must reference a Coverage entry of the Bundle.', `${at}.insurance[${i}].coverage`);
      }
    });
  }

  const items = claim.item;
  if (!Array.isArray(items) || items.length === 0) {
    problems.error('required', 'Claim.item is required by the PAS Claim profile: at least one requested service.', `${at}.item`);
    return;
  }
  const sequences = new Map<number, number>();
  items.forEach((item: unknown, i) => {
    const itemAt = `${at}.item[${i}]`;
    if (!isRecord(item)) {
      problems.error('structure', 'Each Claim.item must be an object.', itemAt);
      return;
    }
    if (!checkArrays(item, ITEM_ARRAYS, itemAt, problems)) return;
    const sequence = item.sequence;
    if (typeof sequence !== 'number' || !Number.isInteger(sequence) || sequence < 1) {
      problems.error('required', 'Claim.item.sequence (a positive integer) is required.', `${itemAt}.sequence`);
    } else if (sequences.has(sequence)) {
      problems.error('duplicate', `Claim.item.sequence ${sequence} is also used by item ${sequences.get(sequence)}.`, `${itemAt}.sequence`);
    } else {
      sequences.set(sequence, i);
    }
    if (!hasCode(item.productOrService)) {
      problems.error('required', 'Claim.item.productOrService is required (HCPCS, NDC or another code of the requested service).', `${itemAt}.productOrService`);
    }
    const extensions = Array.isArray(item.extension) ? item.extension.filter(isRecord) : [];
    if (!extensions.some((e) => e.url === PAS_EXT.certificationType)) {
      problems.warn('required', 'The PAS Claim profile requires the certificationType item extension; the request was read as not saying initial or continued.', `${itemAt}.extension`);
    }
    if (!extensions.some((e) => e.url === PAS_EXT.serviceItemRequestType)) {
      problems.warn('required', 'The PAS Claim profile requires the serviceItemRequestType item extension.', `${itemAt}.extension`);
    }
    if (!hasCode(item.category)) problems.warn('required', 'The PAS Claim profile requires Claim.item.category.', `${itemAt}.category`);
    if (!hasCode(item.locationCodeableConcept)) {
      problems.warn('required', 'The PAS Claim profile requires Claim.item.locationCodeableConcept (place of service).', `${itemAt}.locationCodeableConcept`);
    }
  });
}

type ResourceType = FhirResource['resourceType'];

/** Reference paths in the Claim whose target must be one of these types. */
function expectedTypesForClaimPath(path: string): ResourceType[] | undefined {
  if (path === 'patient') return ['Patient'];
  if (path === 'insurer') return ['Organization'];
  if (path === 'provider') return ['Practitioner', 'PractitionerRole', 'Organization'];
  if (/^insurance\[\d+\]\.coverage$/.test(path)) return ['Coverage'];
  return undefined;
}

function typeOf(resource: FhirResource): string {
  return resource.resourceType;
}

/**
 * Every reference in the Claim must resolve (but `related.claim`, the request an update replaces); so must every reference in its Coverage(s), the
 * requester PractitionerRole's practitioner and organization, and the subject of each requested
 * order. Other references one step from the Claim only warn.
 */
function checkReferences(claim: Claim, claimFullUrl: string | undefined, index: BundleIndex, problems: Problems): void {
  const at = 'Bundle.entry[0].resource';
  const strict = new Set<number>([0]);
  const targets = new Map<number, ResolvedEntry>();

  for (const { path, reference } of findReferences(claim, '', true)) {
    // An update names the earlier request, which the payer holds, not the Bundle (profile-claim-update).
    if (/^related\[\d+\]\.claim$/.test(path)) continue;
    const expected = expectedTypesForClaimPath(path);
    // A contained (`#id`) reference stays inside the Claim; those with an expected type are read from the Bundle's entries.
    if (reference.reference?.startsWith('#')) {
      if (expected) problems.error('not-found', `Claim.${path.replace(/\[\d+\]/g, '')} "${reference.reference}" names a contained resource; it must be an entry of the Bundle.`, `${at}.${path}`);
      continue;
    }
    const target = index.resolveReference(reference, claimFullUrl);
    if (!target) {
      problems.error('not-found', `Reference "${reference.reference}" does not resolve to an entry of the Bundle (by fullUrl or Type/id).`, `${at}.${path}`);
      continue;
    }
    if (expected && !expected.includes(target.resource.resourceType)) {
      problems.error('invalid', `Claim.${path} must reference ${expected.join(' or ')}; "${reference.reference}" is a ${typeOf(target.resource)}.`, `${at}.${path}`);
      continue;
    }
    if (/^item\[\d+\]\.extension\[\d+\]\.valueReference$/.test(path) && isRequestedService(claim, path)) {
      if (!REQUESTED_SERVICE_TYPES.includes(target.resource.resourceType)) {
        problems.error('invalid', `The requestedService extension must reference a ${REQUESTED_SERVICE_TYPES.join(', ')}; "${reference.reference}" is a ${typeOf(target.resource)}.`, `${at}.${path}`);
        continue;
      }
      checkNamed(target, ['subject'], index, problems, strict);
    }
    targets.set(target.index, target);
    if (expected?.includes('Coverage')) checkAll(target, index, problems, strict);
    if (path === 'provider' && target.resource.resourceType === 'PractitionerRole') {
      checkNamed(target, ['practitioner', 'organization'], index, problems, strict);
      const practitioner = index.resolveReference(target.resource.practitioner, target.fullUrl);
      if (practitioner && practitioner.resource.resourceType !== 'Practitioner') {
        problems.error('invalid', `PractitionerRole.practitioner must reference a Practitioner; it is a ${typeOf(practitioner.resource)}.`, `Bundle.entry[${target.index}].resource.practitioner`);
      }
    }
  }

  for (const target of targets.values()) {
    if (strict.has(target.index)) continue;
    for (const { path, reference } of findReferences(target.resource)) {
      if (!index.resolveReference(reference, target.fullUrl)) {
        problems.warn('not-found', `Reference "${reference.reference}" does not resolve to an entry of the Bundle.`, `Bundle.entry[${target.index}].resource.${path}`);
      }
    }
  }
  checkCoverageBeneficiary(claim, claimFullUrl, index, problems);
}

function isRequestedService(claim: Claim, path: string): boolean {
  const match = /^item\[(\d+)\]\.extension\[(\d+)\]/.exec(path);
  if (!match) return false;
  return claim.item?.[Number(match[1])]?.extension?.[Number(match[2])]?.url === PAS_EXT.requestedService;
}

/** Errors for every unresolved reference in `target`. */
function checkAll(target: ResolvedEntry, index: BundleIndex, problems: Problems, strict: Set<number>): void {
  if (strict.has(target.index)) return;
  strict.add(target.index);
  for (const { path, reference } of findReferences(target.resource)) {
    if (!index.resolveReference(reference, target.fullUrl)) {
      problems.error('not-found', `Reference "${reference.reference}" does not resolve to an entry of the Bundle.`, `Bundle.entry[${target.index}].resource.${path}`);
    }
  }
  if (target.resource.resourceType === 'Coverage') {
    const beneficiary = index.resolveReference(target.resource.beneficiary, target.fullUrl);
    if (beneficiary && beneficiary.resource.resourceType !== 'Patient') {
      problems.error('invalid', `Coverage.beneficiary must reference a Patient; it is a ${typeOf(beneficiary.resource)}.`, `Bundle.entry[${target.index}].resource.beneficiary`);
    }
    const payors: unknown = target.resource.payor;
    if (!Array.isArray(payors) || payors.length === 0) {
      problems.error('required', 'Coverage.payor (1..*) must list the payer.', `Bundle.entry[${target.index}].resource.payor`);
      return;
    }
    (payors as Reference[]).forEach((payor, i) => {
      const found = index.resolveReference(payor, target.fullUrl);
      if (found && !['Organization', 'Patient', 'RelatedPerson'].includes(found.resource.resourceType)) {
        problems.error('invalid', `Coverage.payor must reference an Organization, Patient or RelatedPerson; it is a ${typeOf(found.resource)}.`, `Bundle.entry[${target.index}].resource.payor[${i}]`);
      }
    });
  }
}

/** Errors for unresolved references in the named top-level elements of `target`; warnings after. */
function checkNamed(target: ResolvedEntry, names: string[], index: BundleIndex, problems: Problems, strict: Set<number>): void {
  if (strict.has(target.index)) return;
  strict.add(target.index);
  for (const { path, reference } of findReferences(target.resource)) {
    if (index.resolveReference(reference, target.fullUrl)) continue;
    const top = path.split(/[.[]/)[0] ?? path;
    const text = `Reference "${reference.reference}" does not resolve to an entry of the Bundle.`;
    const expression = `Bundle.entry[${target.index}].resource.${path}`;
    if (names.includes(top)) problems.error('not-found', text, expression);
    else problems.warn('not-found', text, expression);
  }
}

/** The Coverage should be the patient's own; a mismatch is worth a warning, not a rejection. */
function checkCoverageBeneficiary(claim: Claim, claimFullUrl: string | undefined, index: BundleIndex, problems: Problems): void {
  const patient = index.resolveReference(claim.patient, claimFullUrl);
  if (!patient) return;
  (claim.insurance ?? []).forEach((ins, i) => {
    if (!isRecord(ins)) return;
    const coverage = index.resolveAs(ins.coverage, claimFullUrl, 'Coverage');
    if (!coverage) return;
    const beneficiary = index.resolveReference(coverage.resource.beneficiary, coverage.fullUrl);
    if (beneficiary && beneficiary.index !== patient.index) {
      problems.warn('business-rule', 'Coverage.beneficiary is not the Claim.patient.', `Bundle.entry[0].resource.insurance[${i}].coverage`);
    }
  });
}
