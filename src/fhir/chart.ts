/**
 * The chart gatherer, one for every protocol: a member's patient, coverage, orders and clinical
 * resources, from what the client sent (CRD prefetch, DTR data) and, for what it did not send,
 * from its FHIR server (through an injected fetcher, fhir-kit-client by default).
 *
 * https://cds-hooks.hl7.org/2.0/#providing-fhir-resources-to-a-cds-service
 *
 * Supports: given values that are a resource, a search Bundle (its `next` pages read from the
 * server when they are on the server's origin), `null` (no data) or an OperationOutcome (the
 * client could not get the data: a warning, not re-queried); queries that read earlier keys;
 * `next` paging up to `maxPages`; one warning per key that failed; 412 when data is missing and
 * there is no server; resources of another patient dropped.
 * The warnings name `prefetch.KEY`; callers whose keys are not prefetch keys (DTR) rename them.
 */
import type { Bundle, BundleEntry, FhirResource, OperationOutcome, OperationOutcomeIssue } from 'fhir/r4';
import { badRequest, preconditionFailed, warning } from './outcomes';
import type { FhirFetcher } from './fetcher';
import { parseReference, patientReference } from './reference';

export type KeySource = 'prefetch' | 'fetched' | 'not-needed' | 'failed';

/** How each key of the chart is read from a FHIR server when the client did not send it. */
export interface ChartQueries {
  /** Every key, in evaluation order. */
  keys: string[];
  /** The earlier keys a key's query reads. */
  dependsOn(key: string): string[];
  /** The query URL (relative to the server), null when the key needs no data here, undefined when it has no query. */
  url(key: string, earlier: Record<string, Bundle>): string | null | undefined;
}

export interface ChartSource {
  /** The member the chart is for; other patients' resources are dropped. */
  patientId: string;
  /** The orders the chart is gathered for; first in the bundle. */
  orders: FhirResource[];
  /** What the client sent, by key (CRD prefetch); a key present here is not read from the server. */
  given: Record<string, FhirResource | null | undefined>;
  queries: ChartQueries;
  /** Reads the client's FHIR server (`fetcherFor`); its base URL is the fullUrl base of what it read. */
  fetcher?: FhirFetcher;
  /** Pages read per search, the first included. Default 10. */
  maxPages?: number;
  /** The key holding the member's Patient: another Patient there is a 400. */
  patientKey?: string;
}

export interface Chart {
  /** Collection Bundle: the orders, then each key's resources, without duplicates. */
  bundle: Bundle;
  byKey: Record<string, FhirResource[]>;
  /** Where each key's data came from (for audit and metrics). */
  sources: Record<string, KeySource>;
  /** Non-fatal problems (keys that failed, truncated pages, dropped resources). */
  warnings: OperationOutcomeIssue[];
  /** Fetcher bound to the client's server, when there is one. */
  fetcher?: FhirFetcher;
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
export function patientOf(resource: FhirResource): string | undefined {
  const ref = parseReference(patientReference(resource)?.reference);
  if (ref) return ref.resourceType === 'Patient' ? ref.id : `${ref.resourceType}/${ref.id}`;
  return undefined;
}

/**
 * Reads every key: from `given` when present, otherwise from the server. Throws 412 when keys are
 * missing and there is no server; 400 when the given Patient is not `patientId`.
 */
export async function gatherChart(source: ChartSource): Promise<Chart> {
  const { queries } = source;
  const maxPages = source.maxPages ?? 10;
  const warnings: OperationOutcomeIssue[] = [];
  const { fetcher } = source;

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

  async function fromGiven(key: string, value: FhirResource | null): Promise<KeyResult> {
    if (value === null) return { resources: [], source: 'prefetch' };
    if (value.resourceType === 'OperationOutcome') {
      warnings.push(...outcomeWarnings(value, key, 'The CDS client reported a problem'));
      return { resources: [], source: 'failed' };
    }
    return { resources: await collect(key, value, 'The CDS client reported a problem'), source: 'prefetch' };
  }

  const started = new Map<string, Promise<KeyResult>>();

  function run(key: string): Promise<KeyResult> {
    const existing = started.get(key);
    if (existing) return existing;
    const promise = resolveKey(key);
    started.set(key, promise);
    return promise;
  }

  async function resolveKey(key: string): Promise<KeyResult> {
    if (hasOwn(source.given, key)) return fromGiven(key, source.given[key] ?? null);
    if (!queries.keys.includes(key)) return { resources: [], source: 'not-needed' };
    const earlier: Record<string, Bundle> = {};
    for (const dep of queries.dependsOn(key)) {
      if (!queries.keys.includes(dep)) continue;
      earlier[dep] = asSearchBundle((await run(dep)).resources);
    }
    const url = queries.url(key, earlier);
    if (url === undefined || url === null) return { resources: [], source: 'not-needed' };
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

  const keys = queries.keys;
  const results = await Promise.all(keys.map((key) => run(key)));

  const missing = keys.filter((_key, i) => results[i]?.missing);
  if (missing.length > 0) {
    throw preconditionFailed(
      `The request has no fhirServer and these prefetch keys were not sent: ${missing.join(', ')}. Send them (null when there is no data) or give fhirServer access.`,
    );
  }

  const { patientId } = source;
  const byKey: Record<string, FhirResource[]> = {};
  const sources: Record<string, KeySource> = {};
  keys.forEach((key, i) => {
    const result = results[i] as KeyResult;
    sources[key] = result.source;
    byKey[key] = result.resources.filter((res) => {
      if (res.resourceType === 'Patient') {
        if (res.id === patientId) return true;
        if (key === source.patientKey) throw badRequest(`prefetch.${key} is not the Patient named by context.patientId`, `prefetch.${key}`);
        return false;
      }
      const owner = patientOf(res);
      if (owner === undefined || owner === patientId) return true;
      warnings.push(warning('invalid', `A ${res.resourceType} of another patient was left out of prefetch key "${key}"`, `prefetch.${key}`));
      return false;
    });
  });

  const entries: BundleEntry[] = [];
  const seen = new Set<string>();
  const base = fetcher?.baseUrl;
  for (const res of [...source.orders, ...keys.flatMap((k) => byKey[k] ?? [])]) {
    const id = keyOf(res);
    if (id) {
      if (seen.has(id)) continue;
      seen.add(id);
    }
    entries.push(id && base ? { fullUrl: `${base}/${id}`, resource: res } : { resource: res });
  }
  const chart: Chart = { bundle: { resourceType: 'Bundle', type: 'collection', entry: entries }, byKey, sources, warnings };
  if (fetcher) chart.fetcher = fetcher;
  return chart;
}
