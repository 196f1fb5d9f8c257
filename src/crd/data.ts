/**
 * Gathers the patient data a hook answer needs: prefetch first, then the client's FHIR server for
 * every key that was not prefetched, so the answer is the same whichever keys the client sent.
 *
 * https://cds-hooks.hl7.org/2.0/#providing-fhir-resources-to-a-cds-service
 * CRD hook-13 (Coverage): http://hl7.org/fhir/us/davinci-crd/hooks.html
 *
 * Supports: prefetch values that are a resource, a search Bundle (its `next` pages are read from
 * the server when they are on the server's origin), `null` (no data) or an OperationOutcome (the
 * client could not get the data: a warning, not re-queried, as CDS Hooks asks); the CRD token
 * forms of prefetch.ts; `next` paging up to `maxPages`; one warning per key that failed; 412 when
 * data is missing and there is no `fhirServer`; dropping resources of another patient.
 * Picking the one active Coverage (none or several: 400, CRD hook-13), its payer, and the order's
 * requester PractitionerRole (read from fhirServer when the data does not hold it).
 *
 * Medication resources referenced by orders are read from fhirServer (resolveOrderMedications).
 * Our own reads run the discovery templates as they are, `_include`s and all.
 */
import { memberState } from '../fhir/address';
import type {
  Coding,
  Coverage,
  FhirResource,
  Medication,
  MedicationRequest,
  Organization,
  Patient,
  RelatedPerson,
  PractitionerRole,
} from 'fhir/r4';
import type { PayerContext } from '../engine/request';
import { badRequest, warning } from '../fhir/outcomes';
import { PREFETCH_KEYS } from './discovery';
import { fetcherFor, type FhirFetcher, type FhirFetcherFactory } from '../fhir/fetcher';
import { gatherChart, type Chart } from '../fhir/chart';
import { templateQueries } from './prefetch';
import { parseReference } from '../fhir/reference';
import { resourcesOfType } from '../fhir/bundle-index';
import { codingsOf, objects } from '../fhir/json';
import type { CdsHooksRequest } from './request';

export type { KeySource } from '../fhir/chart';

export interface PatientData extends Chart {
  /** The MedicationRequests to answer for: draft orders (order-sign), selected ones (order-select), dispatched ones. */
  orders: MedicationRequest[];
}

export interface GatherInput {
  request: CdsHooksRequest;
  /** The service's prefetch templates (discovery.ts `prefetchTemplates`), in evaluation order. */
  prefetchTemplates: Record<string, string>;
  /** Builds the fetcher for `fhirServer`; defaults to fhir-kit-client. */
  fetcher?: FhirFetcherFactory;
  /** Pages read per search, the first included. Default 10. */
  maxPages?: number;
}

/**
 * The hook's chart (src/fhir/chart.ts): every prefetch key of the service, from `request.prefetch`
 * when present, otherwise from `fhirServer`; then the orders the hook answers for.
 */
export async function gatherPatientData(input: GatherInput): Promise<PatientData> {
  const { request } = input;
  const fetcher = request.fhirServer ? fetcherFor(request.fhirServer, request.fhirAuthorization?.access_token, input.fetcher) : undefined;
  const early = fetcher ? startRequesterReads(request, fetcher) : undefined;
  const chart = await gatherChart({
    patientId: request.context.patientId,
    orders: (request.context.draftOrders?.entry ?? []).map((e) => e.resource).filter((r): r is FhirResource => r !== undefined),
    given: request.prefetch,
    queries: templateQueries(input.prefetchTemplates, request.context as unknown as Record<string, unknown>),
    ...(fetcher ? { fetcher } : {}),
    ...(input.maxPages !== undefined ? { maxPages: input.maxPages } : {}),
    patientKey: PREFETCH_KEYS.patient,
  });
  const data: PatientData = { ...chart, orders: [] };
  data.orders = ordersInScope(request, data);
  // A draft order is not on fhirServer, so our own `orders` query cannot `_include` its requester:
  // read it, as the policies' prescriber criteria need it whichever way the chart came.
  for (const order of data.orders) await resolveRequester(order, data, early);
  return data;
}

/**
 * The requester reads of the draft orders (order-sign, order-select) whose PractitionerRole the
 * prefetch does not hold, started beside the chart's reads rather than after them: no chart query
 * can bring a draft order's requester, and the read would otherwise add a round trip to the EHR.
 * By URL; resolveRequester awaits one only when the chart did not bring the role after all.
 */
function startRequesterReads(request: CdsHooksRequest, fetcher: FhirFetcher): ReadonlyMap<string, Promise<FhirResource>> {
  const reads = new Map<string, Promise<FhirResource>>();
  if (request.hook === 'order-dispatch') return reads;
  const given = Object.values(request.prefetch ?? {}).flatMap((value) =>
    value?.resourceType === 'Bundle' ? (value.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : [])) : value ? [value] : [],
  );
  const roles = given.filter((r): r is PractitionerRole => r.resourceType === 'PractitionerRole');
  for (const entry of request.context.draftOrders?.entry ?? []) {
    const order = entry.resource;
    if (order?.resourceType !== 'MedicationRequest') continue;
    const url = requesterReadUrl(order, roles);
    if (!url || reads.has(url)) continue;
    const read = fetcher.get(url);
    read.catch(() => undefined); // awaited, and its failure reported, only if needed
    reads.set(url, read);
  }
  return reads;
}

/** What resolveRequester would read from fhirServer for the order's requester, given these roles; undefined when nothing. */
function requesterReadUrl(order: MedicationRequest, roles: PractitionerRole[]): string | undefined {
  const ref = order.requester?.reference?.startsWith('#') ? undefined : parseReference(order.requester?.reference);
  if (ref?.resourceType === 'PractitionerRole') return roles.some((r) => r.id === ref.id) ? undefined : `PractitionerRole/${encodeURIComponent(ref.id)}`;
  if (ref?.resourceType !== 'Practitioner') return undefined;
  return roles.some(ofPractitioner(ref.id)) ? undefined : practitionerRoleSearch(ref.id);
}

const practitionerRoleSearch = (practitionerId: string) => `PractitionerRole?practitioner=${encodeURIComponent(practitionerId)}`;

const ofPractitioner =
  (practitionerId: string) =>
  (r: PractitionerRole): boolean =>
    parseReference(r.practitioner?.reference)?.id === practitionerId && r.active !== false;

function ordersInScope(request: CdsHooksRequest, data: PatientData): MedicationRequest[] {
  const { context, hook } = request;
  const isMedRequest = (r: FhirResource | undefined): r is MedicationRequest => r?.resourceType === 'MedicationRequest';
  if (hook === 'order-dispatch') {
    const wanted = context.dispatchedOrders ?? [];
    const found: MedicationRequest[] = [];
    for (const ref of wanted) {
      const parsed = parseReference(ref);
      if (parsed?.resourceType !== 'MedicationRequest') continue;
      const order = data.bundle.entry?.map((e) => e.resource).find((r) => isMedRequest(r) && r.id === parsed.id);
      if (isMedRequest(order)) found.push(order);
      else data.warnings.push(warning('not-found', `Dispatched order ${ref} could not be read`, 'context.dispatchedOrders'));
    }
    return found;
  }
  const drafts = (context.draftOrders?.entry ?? []).map((e) => e.resource).filter(isMedRequest);
  if (hook === 'order-select') {
    const selected = new Set(context.selections ?? []);
    return drafts.filter((o) => selected.has(`MedicationRequest/${o.id ?? ''}`));
  }
  return drafts;
}

const keyOf = (resource: FhirResource): string | undefined => (resource.id ? `${resource.resourceType}/${resource.id}` : undefined);

function appendToBundle(data: ChartAccess, resource: FhirResource): void {
  const id = keyOf(resource);
  if (id && data.bundle.entry?.some((e) => e.resource && keyOf(e.resource) === id)) return;
  (data.bundle.entry ??= []).push({ resource });
}

/** The Coverages of the `coverage` key that are active on `on` (status active, period not ended). */
export function activeCoverages(data: PatientData, on: Date = new Date()): Coverage[] {
  const today = on.toISOString().slice(0, 10);
  return (data.byKey[PREFETCH_KEYS.coverage] ?? []).filter(
    (r): r is Coverage => r.resourceType === 'Coverage' && r.status === 'active' && !(r.period?.end && r.period.end.slice(0, 10) < today),
  );
}

/**
 * The one active Coverage for the hook (CRD 2.2 hook-13: no Coverage, several Coverages → 400).
 * A Coverage whose period ended before `on` is not active.
 */
export function pickCoverage(data: PatientData, on: Date = new Date()): Coverage {
  const candidates = activeCoverages(data, on);
  const failed = data.sources[PREFETCH_KEYS.coverage] === 'failed';
  if (candidates.length === 0) {
    throw badRequest(
      failed
        ? 'The Coverage could not be read from the client, so no active Coverage is accessible (CRD hook-13)'
        : 'No active Coverage for the patient was prefetched or found; CRD needs the primary Coverage (hook-13)',
      `prefetch.${PREFETCH_KEYS.coverage}`,
    );
  }
  if (candidates.length > 1) {
    throw badRequest(
      `${candidates.length} active Coverages are accessible; CRD clients send only the primary Coverage (hook-13)`,
      `prefetch.${PREFETCH_KEYS.coverage}`,
    );
  }
  return candidates[0] as Coverage;
}

type ChartAccess = Pick<PatientData, 'bundle' | 'warnings' | 'fetcher'>;

/** Reads already started (by URL) that a read of the same URL awaits instead of asking again. */
type StartedReads = ReadonlyMap<string, Promise<FhirResource>>;

async function readById<T extends FhirResource>(data: ChartAccess, type: T['resourceType'], id: string, started?: StartedReads): Promise<T | undefined> {
  const local = resourcesOfType<T>(data.bundle, type).find((r) => r.id === id);
  if (local || !data.fetcher) return local;
  const url = `${type}/${encodeURIComponent(id)}`;
  try {
    const fetched = await (started?.get(url) ?? data.fetcher.get(url));
    if (fetched.resourceType !== type) return undefined;
    appendToBundle(data, fetched);
    return fetched as T;
  } catch (error) {
    data.warnings.push(warning('transient', `${type}/${id} could not be read from the client's FHIR server: ${(error as Error).message}`));
    return undefined;
  }
}

/**
 * What the engine needs to know about the payer, from the Coverage: payor identifiers (from the
 * reference itself, a contained Organization, one in the data, or read from fhirServer), line of
 * business (`Coverage.type`), plan values (`Coverage.class` of type plan), the patient's state.
 * A Coverage with no payer identifier at all is a 400 (hook-13). Whether the payer is one this
 * server serves is the catalog's question (also a 400).
 */
export async function resolvePayer(coverage: Coverage, data: PatientData): Promise<PayerContext> {
  const identifiers: { system?: string; value?: string }[] = [];
  for (const payor of objects(coverage.payor)) {
    if (payor.identifier?.value) {
      identifiers.push({ ...(payor.identifier.system ? { system: payor.identifier.system } : {}), value: payor.identifier.value });
      continue;
    }
    let org: Organization | undefined;
    if (payor.reference?.startsWith('#')) {
      const id = payor.reference.slice(1);
      org = coverage.contained?.find((c): c is Organization => c.resourceType === 'Organization' && c.id === id);
    } else {
      const ref = parseReference(payor.reference);
      if (ref?.resourceType === 'Organization') org = await readById<Organization>(data, 'Organization', ref.id);
    }
    for (const id of objects(org?.identifier)) {
      if (id.value) identifiers.push({ ...(id.system ? { system: id.system } : {}), value: id.value });
    }
  }
  if (identifiers.length === 0) {
    throw badRequest('The Coverage does not identify its payer (Coverage.payor has no identifier), see CRD hook-13', `prefetch.${PREFETCH_KEYS.coverage}`);
  }
  // Coverage.class.type is required in R4, but a FHIR server's answer is not checked like a request.
  const lineOfBusiness: Coding[] = codingsOf(coverage.type);
  const planValues = objects(coverage.class)
    .filter((c) => codingsOf(c.type).some((t) => t.code === 'plan'))
    .map((c) => c.value);
  const patient = resourcesOfType<Patient>(data.bundle, 'Patient').find((p) => p.id === patientIdOf(coverage, data));
  const subscriberRef = parseReference(coverage.subscriber?.reference);
  const subscriber = subscriberRef
    ? resourcesOfType<Patient | RelatedPerson>(data.bundle, subscriberRef.resourceType === 'RelatedPerson' ? 'RelatedPerson' : 'Patient').find((r) => r.id === subscriberRef.id)
    : undefined;
  const state = memberState(subscriber, patient);
  return { identifiers, lineOfBusiness, planValues, ...(state ? { state } : {}) };
}

function patientIdOf(coverage: Coverage, data: PatientData): string | undefined {
  return parseReference(coverage.beneficiary?.reference)?.id ?? resourcesOfType<Patient>(data.bundle, 'Patient')[0]?.id;
}

/**
 * The order's requester as a PractitionerRole: the referenced PractitionerRole (from the data or
 * read from fhirServer); for a Practitioner requester, a PractitionerRole of that practitioner
 * (from the data, else `PractitionerRole?practitioner=`). Undefined when there is none.
 */
export async function resolveRequester(order: MedicationRequest, data: ChartAccess, started?: StartedReads): Promise<PractitionerRole | undefined> {
  const reference = order.requester?.reference;
  if (!reference) return undefined;
  if (reference.startsWith('#')) {
    const id = reference.slice(1);
    return order.contained?.find((c): c is PractitionerRole => c.resourceType === 'PractitionerRole' && c.id === id);
  }
  const ref = parseReference(reference);
  if (ref?.resourceType === 'PractitionerRole') return readById<PractitionerRole>(data, 'PractitionerRole', ref.id, started);
  if (ref?.resourceType !== 'Practitioner') return undefined;
  const isRole = ofPractitioner(ref.id);
  const local = resourcesOfType<PractitionerRole>(data.bundle, 'PractitionerRole').find(isRole);
  if (local || !data.fetcher) return local;
  const url = practitionerRoleSearch(ref.id);
  try {
    const found = await (started?.get(url) ?? data.fetcher.get(url));
    const role = found.resourceType === 'Bundle'
      ? found.entry?.map((e) => e.resource).find((r): r is PractitionerRole => r?.resourceType === 'PractitionerRole' && isRole(r))
      : undefined;
    if (role) appendToBundle(data, role);
    return role;
  } catch (error) {
    data.warnings.push(warning('transient', `The requester's PractitionerRole could not be read from the client's FHIR server: ${(error as Error).message}`));
    return undefined;
  }
}

/**
 * Reads from fhirServer each Medication an order names by `medicationReference` that is neither
 * contained nor already in the data, so the drug (and its policy) is known. CRD 2.0.1
 * foundation.md: the standard MedicationRequest query `_include`s MedicationRequest:medication;
 * when the client did not include it, the server reads it (CDS Hooks FHIR resource access).
 */
export async function resolveOrderMedications(data: PatientData): Promise<void> {
  for (const order of data.orders) {
    const reference = order.medicationReference?.reference;
    if (!reference || reference.startsWith('#')) continue;
    const ref = parseReference(reference);
    if (ref?.resourceType !== 'Medication') continue;
    const medication = await readById<Medication>(data, 'Medication', ref.id);
    if (!medication) data.warnings.push(warning('not-found', `${reference} (the ordered drug) could not be read`, 'context.draftOrders'));
  }
}
