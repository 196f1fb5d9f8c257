/**
 * The PAS 2.2.1 request the app sends with "Submit prior authorization", and how it reads the
 * answer. The request Bundle carries the Claim (use `preauthorization`, the order as the item's
 * requestedService, the coverage, the completed QuestionnaireResponse as supportingInfo), the
 * order, the coverage, its payer, the requester and the chart resources the package's criteria
 * read (what the app fetched for pre-population). Pure: no I/O, no DOM.
 */
import type { Bundle, Claim, ClaimResponse, CodeableConcept, Coverage, Extension, FhirResource, OperationOutcome, PractitionerRole, QuestionnaireResponse, Reference } from 'fhir/r4';

const PAS_SD = 'http://hl7.org/fhir/us/davinci-pas/StructureDefinition';
const PAS_TEMP = 'http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes';
const X12_ACTION = 'https://codesystem.x12.org/005010/306';

/** An order the app can request authorization for (MedicationRequest, ServiceRequest, DeviceRequest). */
export interface OrderLike {
  resourceType: string;
  id?: string;
  requester?: Reference;
  reasonCode?: CodeableConcept[];
  medicationCodeableConcept?: CodeableConcept;
  code?: CodeableConcept;
  codeCodeableConcept?: CodeableConcept;
  dispenseRequest?: { quantity?: { value?: number; unit?: string; system?: string; code?: string }; validityPeriod?: { start?: string; end?: string } };
  quantityQuantity?: { value?: number; unit?: string };
}

export interface PasInput {
  /** The EHR's FHIR base: fullUrls are `${ehrBase}/Type/id`. */
  ehrBase: string;
  order: OrderLike;
  coverage: Coverage;
  /** Everything else the request carries: Patient, payer, requester, chart resources. */
  resources: FhirResource[];
  /** The completed QuestionnaireResponse, with the id the EHR gave it. */
  response: QuestionnaireResponse;
  now: Date;
  /** Unique request identifiers (Claim.identifier, Bundle.identifier). */
  newId: () => string;
}

const ref = (r: { resourceType: string; id?: string }): string => `${r.resourceType}/${r.id ?? ''}`;

function productOf(order: OrderLike): CodeableConcept {
  const concept = order.medicationCodeableConcept ?? order.codeCodeableConcept ?? order.code;
  if (!concept) throw new Error(`${ref(order)} names no product or service code`);
  return concept;
}

/**
 * PAS Claim.provider is a PractitionerRole or an Organization (profile-claim): an order requested
 * by a Practitioner is submitted under that practitioner's role the chart holds (the first one with
 * an organization), so that the request names the organization it comes from.
 */
export function providerOf(requester: Reference, resources: readonly FhirResource[]): Reference {
  const match = /(?:^|\/)Practitioner\/([^/]+)$/.exec(requester.reference ?? '');
  if (!match) return { reference: requester.reference! };
  const roles = resources.filter((r): r is PractitionerRole => r.resourceType === 'PractitionerRole' && new RegExp(`(?:^|/)Practitioner/${match[1]}$`).test(r.practitioner?.reference ?? ''));
  const role = roles.find((r) => r.organization?.reference) ?? roles[0];
  return { reference: role ? ref(role) : requester.reference! };
}

export function buildPasRequest(input: PasInput): Bundle {
  const { order, coverage, response, now } = input;
  const insurer = coverage.payor?.[0];
  if (!insurer?.reference) throw new Error(`${ref(coverage)} names no payer (Coverage.payor)`);
  if (!order.requester?.reference) throw new Error(`${ref(order)} names no requester`);
  if (!coverage.beneficiary?.reference) throw new Error(`${ref(coverage)} names no beneficiary`);
  const diagnoses = (order.reasonCode ?? []).filter((c) => c.coding?.some((x) => x.code));
  const requestId = input.newId();
  const quantity = order.dispenseRequest?.quantity ?? order.quantityQuantity;
  const period = order.dispenseRequest?.validityPeriod;
  const system = `${input.ehrBase.replace(/\/+$/, '')}/sid/prior-auth-request`;
  const claim: Claim = {
    resourceType: 'Claim',
    id: `pa-${requestId}`,
    meta: { profile: [`${PAS_SD}/profile-claim`] },
    identifier: [{ system, value: requestId }],
    status: 'active',
    type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/claim-type', code: order.resourceType === 'MedicationRequest' ? 'pharmacy' : 'professional' }] },
    use: 'preauthorization',
    patient: { reference: coverage.beneficiary.reference },
    created: now.toISOString(),
    insurer: { reference: insurer.reference },
    provider: providerOf(order.requester, input.resources),
    priority: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/processpriority', code: 'normal' }] },
    insurance: [{ sequence: 1, focal: true, coverage: { reference: ref(coverage) } }],
    supportingInfo: [
      {
        sequence: 1,
        category: { coding: [{ system: PAS_TEMP, code: 'additionalInformation' }] },
        valueReference: { reference: ref(response) },
      },
    ],
    item: [
      {
        sequence: 1,
        extension: [
          { url: `${PAS_SD}/extension-itemTraceNumber`, valueIdentifier: { system: `${system}/item`, value: `${requestId}-1` } },
          { url: `${PAS_SD}/extension-requestedService`, valueReference: { reference: ref(order) } },
        ] as Extension[],
        category: { coding: [{ system: 'https://codesystem.x12.org/005010/1365', code: '1', display: 'Medical Care' }] },
        productOrService: productOf(order),
        ...(diagnoses.length > 0 ? { diagnosisSequence: diagnoses.map((_, i) => i + 1) } : {}),
        ...(quantity?.value !== undefined ? { quantity: { value: quantity.value, ...(quantity.unit ? { unit: quantity.unit } : {}) } } : {}),
        ...(period?.start ? { servicedPeriod: { start: period.start, ...(period.end ? { end: period.end } : {}) } } : { servicedDate: now.toISOString().slice(0, 10) }),
      },
    ],
  };
  if (diagnoses.length > 0) {
    claim.diagnosis = diagnoses.map((concept, i) => ({
      sequence: i + 1,
      diagnosisCodeableConcept: concept,
      ...(i === 0 ? { type: [{ coding: [{ system: PAS_TEMP, code: 'principal' }] }] } : {}),
    }));
  }
  const seen = new Set<string>([ref(claim)]);
  const entries: FhirResource[] = [claim];
  // The response before the chart: the chart may hold an older (draft) copy of it.
  for (const resource of [order as FhirResource, coverage, response, ...input.resources]) {
    if (!resource.id || seen.has(ref(resource))) continue;
    seen.add(ref(resource));
    entries.push(resource);
  }
  const base = input.ehrBase.replace(/\/+$/, '');
  return {
    resourceType: 'Bundle',
    meta: { profile: [`${PAS_SD}/profile-pas-request-bundle`] },
    identifier: { system: `${base}/sid/pas-transaction`, value: input.newId() },
    type: 'collection',
    timestamp: now.toISOString(),
    entry: entries.map((resource) => ({ fullUrl: `${base}/${ref(resource)}`, resource })),
  };
}

export interface PasResult {
  kind: 'approved' | 'pended' | 'denied' | 'other';
  /** X12 306 action code (A1 certified, A3 not certified, A4 pended, …). */
  code?: string;
  number?: string;
  period?: { start?: string; end?: string };
  disposition?: string;
  /** processNote texts: the criteria still missing or the reason for the denial, with their citations. */
  notes: string[];
  claimResponseId?: string;
}

/** Reads the ClaimResponse of a PAS response Bundle. */
export function readPasResponse(body: Bundle | OperationOutcome): PasResult {
  if (body.resourceType !== 'Bundle') throw new Error('The payer did not answer with a PAS response Bundle');
  const claimResponse = body.entry?.map((e) => e.resource).find((r): r is ClaimResponse => r?.resourceType === 'ClaimResponse');
  if (!claimResponse) throw new Error('The PAS response Bundle holds no ClaimResponse');
  const codes = (claimResponse.item ?? [])
    .flatMap((i) => i.adjudication ?? [])
    .flatMap((a) => a.extension ?? [])
    .filter((e) => e.url === `${PAS_SD}/extension-reviewAction`)
    .map((e) => e.extension?.find((s) => s.url === `${PAS_SD}/extension-reviewActionCode`)?.valueCodeableConcept?.coding?.find((c) => c.system === X12_ACTION)?.code)
    .filter((c): c is string => c !== undefined);
  const code = codes[0];
  const kind: PasResult['kind'] = code === 'A1' ? 'approved' : code === 'A3' ? 'denied' : code === 'A4' ? 'pended' : 'other';
  const result: PasResult = { kind, notes: (claimResponse.processNote ?? []).map((n) => n.text ?? '').filter((t) => t !== '') };
  if (code) result.code = code;
  if (claimResponse.preAuthRef) result.number = claimResponse.preAuthRef;
  if (claimResponse.preAuthPeriod) result.period = { ...claimResponse.preAuthPeriod };
  if (claimResponse.disposition) result.disposition = claimResponse.disposition;
  if (claimResponse.id) result.claimResponseId = claimResponse.id;
  return result;
}
