/**
 * The patient data `$populate` and `$next-question` evaluate the policy CQL against: Bundles the
 * client sends, and/or what the client's FHIR server holds, read with its bearer token through the
 * chart gatherer (src/fhir/chart.ts) with the CRD prefetch queries (`next` pages followed,
 * resources of other patients dropped).
 *
 * Request parameters read here (in a `Parameters` body):
 * - `data` or `patientData` (resource, a Bundle of any type): the patient's record; may repeat.
 * - `fhirServer` (valueUrl / valueUri / valueString, http or https) and `accessToken` (valueString,
 *   the bearer token for it; `fhirAccessToken` is accepted too).
 */
import type { Bundle, BundleEntry, FhirResource, MedicationRequest, OperationOutcomeIssue, Patient, Resource } from 'fhir/r4';
import type { PolicyEngine } from '../engine';
import { chartRequirements } from '../engine/data-requirements';
import { badRequest, warning } from '../fhir/outcomes';
import { resolveRequester } from '../crd/data';
import { gatherChart } from '../fhir/chart';
import { PREFETCH_KEYS, prefetchTemplates } from '../crd/discovery';
import { templateQueries } from '../crd/prefetch';
import { parseReference } from '../fhir/reference';
import { BundleIndex, resourcesOfType } from '../fhir/bundle-index';
import { fetcherFor, type FhirFetcher, type FhirFetcherFactory } from '../fhir/fetcher';
import { isRecord } from '../fhir/json';
import type { ExtraParameter, ReadParameter } from '../fhir/parameters';

export const DATA_PARAMETER_NAMES = ['data', 'patientData'] as const;

export interface DataParameters {
  bundles: Bundle[];
  fhirServer?: { url: string; expression: string };
  accessToken?: { value: string; expression: string };
}

export const emptyDataParameters = (): DataParameters => ({ bundles: [] });


/** A Bundle given as the patient's data; 400 naming the element when it is not one. */
export function dataBundle(resource: unknown, expression: string): Bundle {
  if (!isRecord(resource) || resource.resourceType !== 'Bundle') {
    throw badRequest('The patient data must be a Bundle resource', expression);
  }
  if (resource.entry !== undefined && !Array.isArray(resource.entry)) throw badRequest('Bundle.entry must be an array', `${expression}.entry`);
  return resource as unknown as Bundle;
}

/**
 * The data parameters, declared beside the operation's own (operationRules `extra`): the reader
 * checks their names, counts and types.
 */
export const DATA_PARAMETERS: readonly ExtraParameter[] = [
  { name: 'data', aliases: ['patientData'], max: '*', types: ['Bundle'] },
  { name: 'fhirServer', max: 1, types: ['url', 'uri', 'string'] },
  { name: 'accessToken', aliases: ['fhirAccessToken'], max: 1, types: ['string'] },
];

/** Reads one of the data parameters into `into`; false when `p` is not one of them. */
export function readDataParameter(p: ReadParameter, into: DataParameters): boolean {
  switch (p.name) {
    case 'data':
      into.bundles.push(dataBundle(p.resource, p.valueExpression));
      return true;
    case 'fhirServer': {
      const url = (p.value as string).trim();
      if (!/^https?:\/\//i.test(url) || !URL.canParse(url)) throw badRequest('fhirServer must be the http(s) base URL of the FHIR server holding the patient record', `${p.expression}.valueUrl`);
      into.fhirServer = { url: url.replace(/\/+$/, ''), expression: p.expression };
      return true;
    }
    case 'accessToken':
      into.accessToken = { value: (p.value as string).trim(), expression: p.expression };
      return true;
    default:
      return false;
  }
}

/** Cross-parameter rules: a token needs a server to go to. */
export function checkDataParameters(data: DataParameters): void {
  if (data.accessToken && !data.fhirServer) {
    throw badRequest('accessToken is given without fhirServer: the token is only ever sent to that server', data.accessToken.expression, 'required');
  }
}

export interface GatheredData {
  /** Collection Bundle: the client's Bundles' resources, then what was read from fhirServer, each once. */
  bundle: Bundle;
  issues: OperationOutcomeIssue[];
  fetcher?: FhirFetcher;
}

const keyOf = (r: Resource): string | undefined => (r.id ? `${r.resourceType}/${r.id}` : undefined);

/** Adds resources not yet in the bundle (by `Type/id`; resources without an id are always added). */
export function addResources(bundle: Bundle, resources: (Resource | undefined)[]): void {
  const entries = (bundle.entry ??= []);
  const present = new Set(entries.map((e) => (e.resource ? keyOf(e.resource) : undefined)).filter((k): k is string => k !== undefined));
  for (const resource of resources) {
    if (!resource) continue;
    const key = keyOf(resource);
    if (key && present.has(key)) continue;
    if (key) present.add(key);
    entries.push({ resource: resource as FhirResource });
  }
}

/** Finds a resource by reference (`Type/id`, an absolute URL ending so, or an entry's fullUrl). */
export function findResource(bundle: Bundle, reference: string | undefined): FhirResource | undefined {
  return new BundleIndex(bundle).find(reference);
}

/**
 * Merges the client's Bundles and, with `fhirServer`, the patient's record read from it. `order`
 * (the request the documentation is for) lets the requester's PractitionerRole be read too.
 */
export async function gatherData(
  params: DataParameters,
  patientId: string,
  order: Resource | undefined,
  deps: { engine: PolicyEngine; fetcherFactory?: FhirFetcherFactory },
): Promise<GatheredData> {
  const bundle: Bundle = { resourceType: 'Bundle', type: 'collection', entry: [] };
  const entries: BundleEntry[] = [];
  for (const given of params.bundles) {
    for (const entry of given.entry ?? []) {
      if (isRecord(entry) && isRecord(entry.resource) && typeof entry.resource.resourceType === 'string') entries.push(entry);
    }
  }
  // Keep fullUrls: the engine resolves urn:uuid references through them.
  const seen = new Set<string>();
  for (const entry of entries) {
    const key = entry.resource ? keyOf(entry.resource) : undefined;
    if (key && seen.has(key)) continue;
    if (key) seen.add(key);
    bundle.entry!.push(entry.fullUrl ? { fullUrl: entry.fullUrl, resource: entry.resource! } : { resource: entry.resource! });
  }
  const issues: OperationOutcomeIssue[] = [];
  if (!params.fhirServer) return { bundle, issues };

  const gathered = await gatherChart({
    patientId,
    orders: order?.resourceType === 'MedicationRequest' ? [order as MedicationRequest] : [],
    given: {},
    // The CRD prefetch queries: the same chart whichever protocol asks.
    queries: templateQueries(prefetchTemplates('order-sign', { requirements: chartRequirements(deps.engine.libraries, deps.engine.valueSets) }), {
      patientId,
      draftOrders: { resourceType: 'Bundle', type: 'collection', entry: order?.resourceType === 'MedicationRequest' ? [{ resource: order as MedicationRequest }] : [] },
    }),
    fetcher: fetcherFor(params.fhirServer.url, params.accessToken ? params.accessToken.value : undefined, deps.fetcherFactory),
    patientKey: PREFETCH_KEYS.patient,
  });
  // The chart's warnings name prefetch keys; here they are reads from fhirServer.
  for (const w of gathered.warnings) issues.push({ ...w, expression: [params.fhirServer.expression] });
  for (const entry of gathered.bundle.entry ?? []) {
    const key = entry.resource ? keyOf(entry.resource) : undefined;
    if (!entry.resource || (key && seen.has(key))) continue;
    if (key) seen.add(key);
    bundle.entry!.push(entry);
  }
  return { bundle, issues, ...(gathered.fetcher ? { fetcher: gathered.fetcher } : {}) };
}

/**
 * A resource the client named by reference: from the data, else read from fhirServer. Undefined
 * (with a warning) when it cannot be had.
 */
export async function resolveReference(
  data: GatheredData,
  reference: string,
  expression: string,
): Promise<FhirResource | undefined> {
  const local = findResource(data.bundle, reference);
  if (local) return local;
  const parsed = parseReference(reference);
  if (parsed && data.fetcher) {
    try {
      const fetched = await data.fetcher.get(`${parsed.resourceType}/${encodeURIComponent(parsed.id)}`);
      if (fetched.resourceType === parsed.resourceType) {
        addResources(data.bundle, [fetched]);
        return fetched;
      }
    } catch (error) {
      data.issues.push(warning('transient', `${reference} could not be read from fhirServer: ${(error as Error).message}`, expression));
      return undefined;
    }
  }
  data.issues.push(warning('not-found', `${reference} is neither in the patient data nor readable from a fhirServer`, expression));
  return undefined;
}

/**
 * The order's requester as a PractitionerRole (the policy reads its specialty), read from fhirServer
 * when the data lacks it: the referenced role, or a role of the requesting Practitioner (CRD's
 * resolveRequester).
 */
export async function addRequesterRole(data: GatheredData, order: Resource | undefined, expression: string): Promise<void> {
  if (!data.fetcher || order?.resourceType !== 'MedicationRequest') return;
  const requester = (order as MedicationRequest).requester?.reference;
  const ref = parseReference(requester);
  const have = (data.bundle.entry ?? []).some(
    (e) =>
      e.resource?.resourceType === 'PractitionerRole' &&
      (ref?.resourceType === 'PractitionerRole' ? e.resource.id === ref.id : parseReference(e.resource.practitioner?.reference)?.id === ref?.id),
  );
  if (!ref || have) return;
  const warnings: OperationOutcomeIssue[] = [];
  await resolveRequester(order as MedicationRequest, { bundle: data.bundle, warnings, fetcher: data.fetcher });
  for (const w of warnings) data.issues.push({ ...w, expression: [expression] });
}

/** 400 when the data holds Patients and none of them is the subject (never pre-fill from another chart). */
export function checkSubject(bundle: Bundle, patientId: string, expression: string): void {
  const patients = resourcesOfType<Patient>(bundle, 'Patient');
  if (patients.length > 0 && !patients.some((p) => p.id === patientId)) {
    throw badRequest(`The patient data is about ${patients.map((p) => `Patient/${p.id ?? '?'}`).join(', ')}, not the subject Patient/${patientId}`, expression);
  }
}
