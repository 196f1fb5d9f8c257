/**
 * What a validated PAS request says, in the terms the policy engine and the response need: who the
 * patient and payer are, what each Claim item asks for (product codes, the order behind it, place
 * of service, initial or continued therapy, diagnoses), the QuestionnaireResponses sent as
 * supporting information, and one patient data Bundle for the CQL.
 *
 * Supports: the PAS 2.2.1 Claim (profile-claim), items pointing at their order through
 * extension-requestedService, `certificationType` on the item (or on the Claim, as a claim update
 * carries it), diagnoses coded on the Claim or referenced as Conditions, QuestionnaireResponses
 * referenced directly or inside a referenced Bundle.
 * Does not support: several patients in one request (resources about another Patient are left out
 * of the patient Bundle), Claim.procedure, item details (`Claim.item.detail`).
 */
import type {
  Bundle,
  BundleEntry,
  Claim,
  ClaimItem,
  Coding,
  Coverage,
  FhirResource,
  Identifier,
  MedicationRequest,
  OperationOutcomeIssue,
  Organization,
  Patient,
  Period,
  Practitioner,
  PractitionerRole,
  QuestionnaireResponse,
  Reference,
} from 'fhir/r4';
import type { TherapyPhase } from '../catalog/types';
import type { EvaluationRequest, PayerContext, PriorAuthorization } from '../engine/request';
import { warning } from '../fhir/outcomes';
import { medicationCodes as medicationCodesOf, orderDiagnoses, payerContext } from '../fhir/order-context';
import { BundleIndex, type ResolvedEntry } from '../fhir/bundle-index';
import { patientReferences } from '../fhir/reference';
import { codingsOf as codings, objects as list } from '../fhir/json';
import { CERTIFICATION_TYPE, HCPCS_SYSTEMS, PAS_EXT, SYSTEM } from './codes';
import type { PasRequest } from './validate';

/** A resource of the request Bundle with where it sits. */
export interface Entry<T extends FhirResource> {
  resource: T;
  fullUrl: string | undefined;
  /** Position in the request `Bundle.entry`. */
  index: number;
}

export interface PasItem {
  /** `Claim.item.sequence`, echoed as `ClaimResponse.item.itemSequence`. */
  sequence: number;
  /** Position in `Claim.item`. */
  index: number;
  item: ClaimItem;
  productOrService: Coding[];
  hcpcs: Coding[];
  ndc: Coding[];
  /** The order the item points to (extension-requestedService): MedicationRequest, ServiceRequest... */
  request?: Entry<FhirResource>;
  medicationRequest?: Entry<MedicationRequest>;
  /** Codes of the ordered medication (medicationCodeableConcept, or the referenced Medication). */
  medicationCodes: Coding[];
  rxnorm: Coding[];
  /** Every code naming the product: productOrService, then the order's medication codes. */
  drugCodes: Coding[];
  /** Id of the requested MedicationRequest as it appears in `patientBundle`. */
  orderId?: string;
  /** `Claim.item.locationCodeableConcept` (CMS place of service preferred). */
  placeOfService?: Coding;
  /** The X12 1322 certificationType coding, item-level or else Claim-level. */
  certificationType?: Coding;
  /** `initial` for X12 1322 `I`; `continuation` for `R` (renewal) and `4` (extension); else none. */
  phaseHint?: TherapyPhase;
  /** The item's diagnoses (its diagnosisSequence, else all the Claim's) plus the order's reasons. */
  diagnoses: Coding[];
  /** extension-itemTraceNumber values, echoed in the response. */
  traceNumbers: Identifier[];
  servicedPeriod?: Period;
}

export interface PasContext {
  request: PasRequest;
  claim: Claim;
  claimFullUrl: string | undefined;
  patient: Entry<Patient>;
  patientId: string;
  /** The focal Coverage (else the first). */
  coverage: Entry<Coverage>;
  insurer: Entry<Organization>;
  /** `Claim.provider`: the requester. */
  provider: Entry<Practitioner | PractitionerRole | Organization>;
  payer: PayerContext;
  /** Claim-level diagnoses, in `Claim.diagnosis.sequence` order. */
  diagnoses: Coding[];
  questionnaireResponses: QuestionnaireResponse[];
  items: PasItem[];
  /** The Patient first, then every resource about that patient (cql-exec-fhir takes the first Patient). */
  patientBundle: Bundle;
  /** The request's warnings, then any met while extracting. */
  warnings: OperationOutcomeIssue[];
}

function codingKey(c: Coding): string {
  return `${c.system ?? ''}|${c.code ?? ''}`;
}

function uniqueCodings(all: Coding[]): Coding[] {
  const seen = new Set<string>();
  return all.filter((c) => {
    if (typeof c !== 'object' || c === null || typeof c.code !== 'string' || c.code === '') return false;
    const key = codingKey(c);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function asEntry<T extends FhirResource>(found: ResolvedEntry): Entry<T> {
  return { resource: found.resource as T, fullUrl: found.fullUrl, index: found.index };
}

/** Resolves a reference the validator has already checked; a miss here is a programming error. */
function required<T extends FhirResource['resourceType']>(
  index: BundleIndex,
  reference: Reference | undefined,
  from: string | undefined,
  what: string,
  ...types: T[]
): Entry<Extract<FhirResource, { resourceType: T }>> {
  const found = index.resolveAs(reference, from, ...types);
  if (!found) throw new Error(`extractPasContext: ${what} does not resolve; call parsePasRequest first`);
  return asEntry(found);
}

export function extractPasContext(req: PasRequest): PasContext {
  const { claim, claimFullUrl, index } = req;
  const warnings = [...req.warnings];
  const patient = required(index, claim.patient, claimFullUrl, 'Claim.patient', 'Patient');
  const insurer = required(index, claim.insurer, claimFullUrl, 'Claim.insurer', 'Organization');
  const provider = required(index, claim.provider, claimFullUrl, 'Claim.provider', 'Practitioner', 'PractitionerRole', 'Organization');
  const insurance = list(claim.insurance);
  const chosen = insurance.find((i) => i.focal) ?? insurance[0];
  const coverage = required(index, chosen?.coverage, claimFullUrl, 'Claim.insurance.coverage', 'Coverage');
  const patientId = BundleIndex.localId(patient) ?? 'patient';

  const claimDiagnoses = diagnosesBySequence(claim, claimFullUrl, index);
  const diagnoses = uniqueCodings([...claimDiagnoses.values()].flat());
  const nested = nestedBundles(claim, claimFullUrl, index);
  const items = list(claim.item).map((item, i) => extractItem(claim, item, i, claimFullUrl, index, claimDiagnoses, diagnoses));

  return {
    request: req,
    claim,
    claimFullUrl,
    patient,
    patientId,
    coverage,
    insurer,
    provider,
    payer: payerOf(claim, insurer, coverage, patient, index, warnings),
    diagnoses,
    questionnaireResponses: questionnaireResponses(claim, claimFullUrl, index, nested, patient),
    items,
    patientBundle: patientBundle(index, patient, nested),
    warnings,
  };
}

/** Builds the engine's input for one Claim item. */
export function toEvaluationRequest(
  ctx: PasContext,
  item: PasItem,
  priorAuthorizations: PriorAuthorization[],
  now: Date,
): EvaluationRequest {
  return {
    bundle: ctx.patientBundle,
    patientId: ctx.patientId,
    payer: ctx.payer,
    drug: { codes: item.drugCodes, ...(item.orderId ? { orderId: item.orderId } : {}) },
    diagnoses: item.diagnoses,
    ...(item.phaseHint ? { phaseHint: item.phaseHint } : {}),
    ...(item.placeOfService ? { placeOfService: item.placeOfService } : {}),
    priorAuthorizations,
    evaluationDate: now,
  };
}

function diagnosesBySequence(claim: Claim, from: string | undefined, index: BundleIndex): Map<number, Coding[]> {
  const result = new Map<number, Coding[]>();
  const sorted = list(claim.diagnosis).sort((a, b) => a.sequence - b.sequence);
  for (const dx of sorted) {
    const found = codings(dx.diagnosisCodeableConcept);
    const condition = index.resolveAs(dx.diagnosisReference, from, 'Condition');
    if (condition) found.push(...codings(condition.resource.code));
    result.set(dx.sequence, found);
  }
  return result;
}

function extensionValue(extensions: ClaimItem['extension'], url: string) {
  return list(extensions).find((e) => e.url === url);
}

function extractItem(
  claim: Claim,
  item: ClaimItem,
  i: number,
  from: string | undefined,
  index: BundleIndex,
  claimDiagnoses: Map<number, Coding[]>,
  allDiagnoses: Coding[],
): PasItem {
  const productOrService = codings(item.productOrService);
  const requestRef = extensionValue(item.extension, PAS_EXT.requestedService)?.valueReference;
  const requested = requestRef ? index.resolveReference(requestRef, from) : undefined;
  const request = requested ? asEntry<FhirResource>(requested) : undefined;
  const medicationRequest =
    request?.resource.resourceType === 'MedicationRequest' ? (request as Entry<MedicationRequest>) : undefined;
  const medicationCodes = medicationRequest ? medicationCodesOf(index, medicationRequest.resource, medicationRequest.fullUrl) : [];

  const certification =
    extensionValue(item.extension, PAS_EXT.certificationType) ?? extensionValue(claim.extension, PAS_EXT.certificationType);
  const certCodings = codings(certification?.valueCodeableConcept);
  const certificationType = certCodings.find((c) => c.system === SYSTEM.x12CertificationType) ?? certCodings[0];

  const sequences = Array.isArray(item.diagnosisSequence) ? item.diagnosisSequence : [];
  const itemDiagnoses =
    sequences.length > 0 ? sequences.flatMap((s) => claimDiagnoses.get(s) ?? []) : allDiagnoses;
  const reasons = medicationRequest ? orderDiagnoses(index, medicationRequest.resource, medicationRequest.fullUrl) : [];

  const locations = codings(item.locationCodeableConcept);
  const placeOfService = locations.find((c) => c.system === SYSTEM.placeOfService) ?? locations[0];
  const servicedPeriod = item.servicedPeriod ?? (item.servicedDate ? { start: item.servicedDate, end: item.servicedDate } : undefined);
  const traceNumbers = list(item.extension)
    .filter((e) => e.url === PAS_EXT.itemTraceNumber && typeof e.valueIdentifier === 'object' && e.valueIdentifier !== null)
    .map((e) => e.valueIdentifier as Identifier);

  const phaseHint = phaseOf(certificationType);
  const orderId = medicationRequest ? BundleIndex.localId(medicationRequest) : undefined;
  return {
    sequence: item.sequence,
    index: i,
    item,
    productOrService,
    hcpcs: productOrService.filter((c) => c.system !== undefined && HCPCS_SYSTEMS.includes(c.system)),
    ndc: [...productOrService, ...medicationCodes].filter((c) => c.system === SYSTEM.ndc),
    ...(request ? { request } : {}),
    ...(medicationRequest ? { medicationRequest } : {}),
    medicationCodes,
    rxnorm: medicationCodes.filter((c) => c.system === SYSTEM.rxnorm),
    drugCodes: uniqueCodings([...productOrService, ...medicationCodes]),
    ...(orderId ? { orderId } : {}),
    ...(placeOfService ? { placeOfService } : {}),
    ...(certificationType ? { certificationType } : {}),
    ...(phaseHint ? { phaseHint } : {}),
    diagnoses: uniqueCodings([...itemDiagnoses, ...reasons]),
    traceNumbers,
    ...(servicedPeriod ? { servicedPeriod } : {}),
  };
}

function phaseOf(coding: Coding | undefined): TherapyPhase | undefined {
  if (!coding?.code || (coding.system && coding.system !== SYSTEM.x12CertificationType)) return undefined;
  if ((CERTIFICATION_TYPE.initial as readonly string[]).includes(coding.code)) return 'initial';
  if ((CERTIFICATION_TYPE.continuation as readonly string[]).includes(coding.code)) return 'continuation';
  return undefined;
}

/** The payer context, the Claim's insurer first; warns when nothing identifies the payer. */
function payerOf(
  claim: Claim,
  insurer: Entry<Organization>,
  coverage: Entry<Coverage>,
  patient: Entry<Patient>,
  index: BundleIndex,
  warnings: OperationOutcomeIssue[],
): PayerContext {
  const claimed = [...list(insurer.resource.identifier), claim.insurer?.identifier];
  const payer = payerContext(coverage.resource, patient.resource, index, { from: coverage.fullUrl, claimed });
  if (payer.identifiers.length === 0) {
    warnings.push(warning('incomplete', 'Neither Claim.insurer nor Coverage.payor carries an identifier; the payer cannot be matched to a policy.', 'Bundle.entry[0].resource.insurer'));
  }
  return payer;
}

/** Bundles sent as supporting information (e.g. a DTR response with its evidence). */
function nestedBundles(claim: Claim, from: string | undefined, index: BundleIndex): Bundle[] {
  return list(claim.supportingInfo)
    .map((info) => index.resolveAs(info.valueReference, from, 'Bundle')?.resource)
    .filter((b): b is Bundle => b !== undefined);
}

function questionnaireResponses(
  claim: Claim,
  from: string | undefined,
  index: BundleIndex,
  nested: Bundle[],
  patient: Entry<Patient>,
): QuestionnaireResponse[] {
  const found: QuestionnaireResponse[] = [];
  const add = (qr: QuestionnaireResponse) => {
    if (!found.includes(qr)) found.push(qr);
  };
  for (const info of list(claim.supportingInfo)) {
    const qr = index.resolveAs(info.valueReference, from, 'QuestionnaireResponse');
    if (qr) add(qr.resource);
  }
  for (const bundle of nested) {
    for (const e of list(bundle.entry)) if (e.resource?.resourceType === 'QuestionnaireResponse') add(e.resource);
  }
  index.entries.forEach((e, i) => {
    if (e.resource?.resourceType !== 'QuestionnaireResponse') return;
    if (belongsTo({ resource: e.resource, fullUrl: e.fullUrl, index: i }, patient, index)) add(e.resource);
  });
  return found;
}

/** False when the resource is about a Patient other than `patient`. */
function belongsTo(entry: ResolvedEntry, patient: Entry<Patient>, index: BundleIndex): boolean {
  for (const { reference: ref } of patientReferences(entry.resource)) {
    if (!ref.reference) continue;
    const target = index.resolveReference(ref, entry.fullUrl);
    if (target) {
      if (target.resource.resourceType === 'Patient' && target.index !== patient.index) return false;
    } else {
      const id = /(?:^|\/)Patient\/([^/]+)$/.exec(ref.reference)?.[1];
      if (id && patient.resource.id && id !== patient.resource.id) return false;
    }
  }
  return true;
}

/** A shallow copy with an id when the sender gave only a fullUrl, so references by id work in CQL. */
function withId(entry: ResolvedEntry): BundleEntry {
  const id = entry.resource.id ?? BundleIndex.localId(entry);
  const resource = id && !entry.resource.id ? ({ ...entry.resource, id } as FhirResource) : entry.resource;
  return { ...(entry.fullUrl ? { fullUrl: entry.fullUrl } : {}), resource };
}

function patientBundle(index: BundleIndex, patient: Entry<Patient>, nested: Bundle[]): Bundle {
  const entries: BundleEntry[] = [withId(patient)];
  index.entries.forEach((e, i) => {
    if (!e.resource || i === patient.index) return;
    const entry: ResolvedEntry = { resource: e.resource, fullUrl: e.fullUrl, index: i };
    if (e.resource.resourceType === 'Patient') return;
    if (e.resource.resourceType === 'Bundle') return; // flattened below
    if (!belongsTo(entry, patient, index)) return;
    entries.push(withId(entry));
  });
  for (const bundle of nested) {
    list(bundle.entry).forEach((e, i) => {
      if (typeof e.resource !== 'object' || e.resource === null || e.resource.resourceType === 'Patient') return;
      entries.push(withId({ resource: e.resource, fullUrl: e.fullUrl, index: -1 - i }));
    });
  }
  return { resourceType: 'Bundle', type: 'collection', entry: entries };
}
