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
 * requester PractitionerRole.
 *
 * Medication resources referenced by orders are read from fhirServer (resolveOrderMedications).
 * Our own reads run the discovery templates as they are, `_include`s and all.
 */
import { memberState } from '../fhir/address';
import type {
  Bundle,
  BundleEntry,
  Coding,
  Coverage,
  FhirResource,
  Medication,
  MedicationRequest,
  OperationOutcome,
  OperationOutcomeIssue,
  Organization,
  Patient,
  RelatedPerson,
  PractitionerRole,
} from 'fhir/r4';
import type { PayerContext } from '../engine/request';
import { badRequest, preconditionFailed, warning } from '../fhir/outcomes';
import { PREFETCH_KEYS } from './discovery';
import { createFhirKitFetcher, type FhirFetcher, type FhirFetcherFactory } from './fhir-fetcher';
import { parseReference, substituteTokens, templateDependencies } from './prefetch';
import { codingsOf, objects } from '../fhir/json';
import type { CdsHooksRequest } from './request';

export type KeySource = 'prefetch' | 'fetched' | 'not-needed' | 'failed';

export interface PatientData {
  /** Collection Bundle: the context orders, then each key's resources, without duplicates. */
  bundle: Bundle;
  byKey: Record<string, FhirResource[]>;
  /** Where each key's data came from (for audit and CRD metrics). */
  sources: Record<string, KeySource>;
  /** Non-fatal problems (keys that failed, truncated pages, dropped resources). */
  warnings: OperationOutcomeIssue[];
  /** The MedicationRequests to answer for: draft orders (order-sign), selected ones (order-select), dispatched ones. */
  orders: MedicationRequest[];
  /** Fetcher bound to the request's fhirServer, when there is one. */
  fetcher?: FhirFetcher;
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

interface KeyResult {
  resources: FhirResource[];
  source: KeySource;
  missing?: boolean;
}

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

function keyOf(resource: FhirResource): string | undefined {
  return resource.id ? `${resource.resourceType}/${resource.id}` : undefined;
}

function asSearchBundle(resources: FhirResource[]): Bundle {
  return { resourceType: 'Bundle', type: 'searchset', entry: resources.map((resource) => ({ resource })) };
}

function outcomeWarnings(outcome: OperationOutcome, key: string, origin: string): OperationOutcomeIssue[] {
  return outcome.issue.map((i) =>
    warning(i.code, `${origin} for prefetch key "${key}": ${i.diagnostics ?? i.details?.text ?? i.code}`, `prefetch.${key}`),
  );
}

/** The Patient a resource belongs to (`subject`, `patient` or `beneficiary`), when it says. */
function patientOf(resource: FhirResource): string | undefined {
  const r = resource as unknown as Record<string, { reference?: string } | undefined>;
  for (const field of ['subject', 'patient', 'beneficiary']) {
    const ref = parseReference(r[field]?.reference);
    if (ref) return ref.resourceType === 'Patient' ? ref.id : `${ref.resourceType}/${ref.id}`;
  }
  return undefined;
}

/** Our templates may read earlier keys (`%orders`); a cycle would wait forever, so refuse it. */
function assertNoCycles(templates: Record<string, string>): void {
  const done = new Set<string>();
  const visit = (key: string, path: string[]): void => {
    if (done.has(key)) return;
    if (path.includes(key)) throw new Error(`Prefetch templates depend on each other in a cycle: ${[...path, key].join(' -> ')}`);
    const template = templates[key];
    if (template !== undefined) for (const dep of templateDependencies(template)) visit(dep, [...path, key]);
    done.add(key);
  };
  for (const key of Object.keys(templates)) visit(key, []);
}

/**
 * Reads every prefetch key of the service: from `request.prefetch` when present, otherwise from
 * `fhirServer`. Throws 412 when keys are missing and there is no `fhirServer`; 400 when the
 * prefetched Patient is not `context.patientId`.
 */
export async function gatherPatientData(input: GatherInput): Promise<PatientData> {
  const { request } = input;
  const maxPages = input.maxPages ?? 10;
  const warnings: OperationOutcomeIssue[] = [];
  const fetcher = request.fhirServer
    ? (input.fetcher ?? createFhirKitFetcher)({
        baseUrl: request.fhirServer,
        ...(request.fhirAuthorization ? { accessToken: request.fhirAuthorization.access_token } : {}),
      })
    : undefined;

  async function collect(key: string, first: FhirResource, origin: string): Promise<FhirResource[]> {
    if (first.resourceType !== 'Bundle') return [first];
    const resources: FhirResource[] = [];
    let page: Bundle | undefined = first;
    for (let pages = 1; page; pages += 1) {
      for (const entry of page.entry ?? []) {
        const res = entry.resource;
        if (!res) continue;
        if (res.resourceType === 'OperationOutcome' || entry.search?.mode === 'outcome') {
          if (res.resourceType === 'OperationOutcome') warnings.push(...outcomeWarnings(res, key, origin));
          continue;
        }
        resources.push(res);
      }
      const next: string | undefined = page.link?.find((l) => l.relation === 'next')?.url;
      if (!next) break;
      if (!fetcher) {
        warnings.push(warning('incomplete', `Prefetch key "${key}" is paginated and there is no fhirServer to read the other pages`, `prefetch.${key}`));
        break;
      }
      if (pages >= maxPages) {
        warnings.push(warning('too-costly', `Prefetch key "${key}": only the first ${maxPages} pages were read`, `prefetch.${key}`));
        break;
      }
      try {
        const fetched = await fetcher.get(next);
        page = fetched.resourceType === 'Bundle' ? fetched : undefined;
      } catch (error) {
        warnings.push(warning('incomplete', `Prefetch key "${key}": a further page could not be read (${(error as Error).message})`, `prefetch.${key}`));
        break;
      }
    }
    return resources;
  }

  async function fromPrefetch(key: string, value: FhirResource | null): Promise<KeyResult> {
    if (value === null) return { resources: [], source: 'prefetch' };
    if (value.resourceType === 'OperationOutcome') {
      warnings.push(...outcomeWarnings(value, key, 'The CDS client reported a problem'));
      return { resources: [], source: 'failed' };
    }
    return { resources: await collect(key, value, 'The CDS client reported a problem'), source: 'prefetch' };
  }

  assertNoCycles(input.prefetchTemplates);
  const started = new Map<string, Promise<KeyResult>>();

  function run(key: string): Promise<KeyResult> {
    const existing = started.get(key);
    if (existing) return existing;
    const promise = resolveKey(key);
    started.set(key, promise);
    return promise;
  }

  async function resolveKey(key: string): Promise<KeyResult> {
    if (hasOwn(request.prefetch, key)) return fromPrefetch(key, request.prefetch[key] ?? null);
    const template = input.prefetchTemplates[key];
    if (template === undefined) return { resources: [], source: 'not-needed' };
    const prefetched: Record<string, FhirResource> = {};
    for (const dep of templateDependencies(template)) {
      if (input.prefetchTemplates[dep] === undefined) continue;
      prefetched[dep] = asSearchBundle((await run(dep)).resources);
    }
    const url = substituteTokens(template, { context: request.context as unknown as Record<string, unknown>, prefetched });
    if (url === null) return { resources: [], source: 'not-needed' };
    if (!fetcher) return { resources: [], source: 'failed', missing: true };
    try {
      const first = await fetcher.get(url);
      if (first.resourceType === 'OperationOutcome') {
        warnings.push(...outcomeWarnings(first, key, 'The FHIR server reported a problem'));
        return { resources: [], source: 'failed' };
      }
      return { resources: await collect(key, first, 'The FHIR server reported a problem'), source: 'fetched' };
    } catch (error) {
      warnings.push(
        warning('transient', `Prefetch key "${key}" could not be read from the client's FHIR server: ${(error as Error).message}`, `prefetch.${key}`),
      );
      return { resources: [], source: 'failed' };
    }
  }

  const keys = Object.keys(input.prefetchTemplates);
  const results = await Promise.all(keys.map((key) => run(key)));

  const missing = keys.filter((_key, i) => results[i]?.missing);
  if (missing.length > 0) {
    throw preconditionFailed(
      `The request has no fhirServer and these prefetch keys were not sent: ${missing.join(', ')}. Send them (null when there is no data) or give fhirServer access.`,
    );
  }

  const patientId = request.context.patientId;
  const byKey: Record<string, FhirResource[]> = {};
  const sources: Record<string, KeySource> = {};
  keys.forEach((key, i) => {
    const result = results[i] as KeyResult;
    sources[key] = result.source;
    byKey[key] = result.resources.filter((res) => {
      if (res.resourceType === 'Patient') {
        if (res.id === patientId) return true;
        if (key === PREFETCH_KEYS.patient) throw badRequest(`prefetch.${key} is not the Patient named by context.patientId`, `prefetch.${key}`);
        return false;
      }
      const owner = patientOf(res);
      if (owner === undefined || owner === patientId) return true;
      warnings.push(warning('invalid', `A ${res.resourceType} of another patient was left out of prefetch key "${key}"`, `prefetch.${key}`));
      return false;
    });
  });

  const contextOrders = (request.context.draftOrders?.entry ?? []).map((e) => e.resource).filter((r): r is FhirResource => r !== undefined);
  const entries: BundleEntry[] = [];
  const seen = new Set<string>();
  const base = request.fhirServer;
  for (const res of [...contextOrders, ...keys.flatMap((k) => byKey[k] ?? [])]) {
    const id = keyOf(res);
    if (id) {
      if (seen.has(id)) continue;
      seen.add(id);
    }
    entries.push(id && base ? { fullUrl: `${base}/${id}`, resource: res } : { resource: res });
  }
  const bundle: Bundle = { resourceType: 'Bundle', type: 'collection', entry: entries };

  const data: PatientData = { bundle, byKey, sources, warnings, orders: [] };
  if (fetcher) data.fetcher = fetcher;
  data.orders = ordersInScope(request, data);
  return data;
}

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

function appendToBundle(data: PatientData, resource: FhirResource): void {
  const id = keyOf(resource);
  if (id && data.bundle.entry?.some((e) => e.resource && keyOf(e.resource) === id)) return;
  (data.bundle.entry ??= []).push({ resource });
}

function resourcesOfType<T extends FhirResource>(data: PatientData, type: T['resourceType']): T[] {
  return (data.bundle.entry ?? []).map((e) => e.resource).filter((r): r is T => r?.resourceType === type);
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

async function readById<T extends FhirResource>(data: PatientData, type: T['resourceType'], id: string): Promise<T | undefined> {
  const local = resourcesOfType<T>(data, type).find((r) => r.id === id);
  if (local || !data.fetcher) return local;
  try {
    const fetched = await data.fetcher.get(`${type}/${encodeURIComponent(id)}`);
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
  const patient = resourcesOfType<Patient>(data, 'Patient').find((p) => p.id === patientIdOf(coverage, data));
  const subscriberRef = parseReference(coverage.subscriber?.reference);
  const subscriber = subscriberRef
    ? resourcesOfType<Patient | RelatedPerson>(data, subscriberRef.resourceType === 'RelatedPerson' ? 'RelatedPerson' : 'Patient').find((r) => r.id === subscriberRef.id)
    : undefined;
  const state = memberState(subscriber, patient);
  return { identifiers, lineOfBusiness, planValues, ...(state ? { state } : {}) };
}

function patientIdOf(coverage: Coverage, data: PatientData): string | undefined {
  return parseReference(coverage.beneficiary?.reference)?.id ?? resourcesOfType<Patient>(data, 'Patient')[0]?.id;
}

/**
 * The order's requester as a PractitionerRole: the referenced PractitionerRole (from the data or
 * read from fhirServer); for a Practitioner requester, a PractitionerRole of that practitioner
 * (from the data, else `PractitionerRole?practitioner=`). Undefined when there is none.
 */
export async function resolveRequester(order: MedicationRequest, data: PatientData): Promise<PractitionerRole | undefined> {
  const reference = order.requester?.reference;
  if (!reference) return undefined;
  if (reference.startsWith('#')) {
    const id = reference.slice(1);
    return order.contained?.find((c): c is PractitionerRole => c.resourceType === 'PractitionerRole' && c.id === id);
  }
  const ref = parseReference(reference);
  if (ref?.resourceType === 'PractitionerRole') return readById<PractitionerRole>(data, 'PractitionerRole', ref.id);
  if (ref?.resourceType !== 'Practitioner') return undefined;
  const ofPractitioner = (r: PractitionerRole): boolean => parseReference(r.practitioner?.reference)?.id === ref.id && r.active !== false;
  const local = resourcesOfType<PractitionerRole>(data, 'PractitionerRole').find(ofPractitioner);
  if (local || !data.fetcher) return local;
  try {
    const found = await data.fetcher.get(`PractitionerRole?practitioner=${encodeURIComponent(ref.id)}`);
    const role = found.resourceType === 'Bundle'
      ? found.entry?.map((e) => e.resource).find((r): r is PractitionerRole => r?.resourceType === 'PractitionerRole' && ofPractitioner(r))
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
