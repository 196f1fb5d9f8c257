/**
 * The one Bundle index and reference resolver (PAS request Bundles, CRD/DTR charts, the CLI).
 * Reference resolution inside one Bundle, following the FHIR R4 rules for resolving references in
 * Bundles (https://hl7.org/fhir/R4/bundle.html#references): an absolute reference matches an entry's
 * fullUrl; a relative `Type/id` is resolved against the base of the referring entry's RESTful
 * fullUrl. Senders often mix styles (relative references beside `urn:uuid:` fullUrls), so a
 * relative reference that the strict rule cannot place also matches an entry by `Type/id`.
 */
import type { Bundle, BundleEntry, FhirResource, Reference } from 'fhir/r4';
import { parseReference } from './reference';
import { objects } from './json';
import { expressionOf } from './outcomes';

export interface ResolvedEntry {
  /** Position in `Bundle.entry`. */
  index: number;
  fullUrl: string | undefined;
  resource: FhirResource;
}

/** A reference value found while walking a resource, with its FHIRPath relative to the resource. */
export interface FoundReference {
  path: string;
  reference: Reference;
}

const RESTFUL = /^(.*\/)?([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

function stripHistory(url: string): string {
  return url.replace(/\/_history\/[^/]+$/, '');
}

function isAbsolute(reference: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(reference);
}

export class BundleIndex {
  private readonly byFullUrl = new Map<string, number>();
  private readonly byTypeId = new Map<string, number>();
  /** `Bundle.entry` as sent (positions matter: they name elements in OperationOutcome expressions). */
  readonly entries: BundleEntry[];

  constructor(readonly bundle: Bundle) {
    this.entries = Array.isArray(bundle.entry) ? bundle.entry : [];
    this.entries.forEach((entry, index) => {
      if (typeof entry !== 'object' || entry === null) return;
      const url = typeof entry.fullUrl === 'string' ? stripHistory(entry.fullUrl) : undefined;
      if (url && !this.byFullUrl.has(url)) this.byFullUrl.set(url, index);
      const resource = entry.resource;
      if (resource?.resourceType && (typeof resource.id === 'string' || typeof resource.id === 'number')) {
        const key = `${resource.resourceType}/${resource.id}`;
        if (!this.byTypeId.has(key)) this.byTypeId.set(key, index);
      }
    });
  }

  entry(index: number): ResolvedEntry | undefined {
    const entry = this.entries[index];
    if (typeof entry?.resource !== 'object' || entry.resource === null) return undefined;
    return { index, fullUrl: entry.fullUrl, resource: entry.resource };
  }

  /** Resolve a reference string made inside the entry whose fullUrl is `fromFullUrl`. */
  resolve(reference: string | undefined, fromFullUrl?: string): ResolvedEntry | undefined {
    if (typeof reference !== 'string' || reference === '' || reference.startsWith('#')) return undefined;
    if (typeof fromFullUrl !== 'string') fromFullUrl = undefined;
    const target = stripHistory(reference);
    if (isAbsolute(target)) {
      const index = this.byFullUrl.get(target);
      return index === undefined ? undefined : this.entry(index);
    }
    const restful = fromFullUrl ? RESTFUL.exec(fromFullUrl) : null;
    if (restful?.[1]) {
      const index = this.byFullUrl.get(`${restful[1]}${target}`);
      if (index !== undefined) return this.entry(index);
    }
    const index = this.byTypeId.get(target);
    return index === undefined ? undefined : this.entry(index);
  }

  resolveReference(reference: Reference | undefined, fromFullUrl?: string): ResolvedEntry | undefined {
    if (typeof reference !== 'object' || reference === null) return undefined;
    return this.resolve(reference.reference, fromFullUrl);
  }

  /** Resolve and check the target's type; undefined when it does not resolve or has another type. */
  resolveAs<T extends FhirResource['resourceType']>(
    reference: Reference | undefined,
    fromFullUrl: string | undefined,
    ...types: T[]
  ): (ResolvedEntry & { resource: Extract<FhirResource, { resourceType: T }> }) | undefined {
    const found = this.resolveReference(reference, fromFullUrl);
    if (!found || !(types as string[]).includes(found.resource.resourceType)) return undefined;
    return found as ResolvedEntry & { resource: Extract<FhirResource, { resourceType: T }> };
  }

  /**
   * A resource of a chart (CRD prefetch, DTR data, a CLI bundle) by reference, optionally of one of
   * `types`: the Bundle rules above, and also an absolute RESTful URL on another base than the
   * entries' (an EHR's URL beside entries without fullUrl) by its `Type/id`.
   */
  find<T extends FhirResource['resourceType']>(reference: string | undefined, ...types: T[]): Extract<FhirResource, { resourceType: T }> | undefined {
    const ofType = (found: ResolvedEntry | undefined): Extract<FhirResource, { resourceType: T }> | undefined =>
      found && (types.length === 0 || (types as string[]).includes(found.resource.resourceType))
        ? (found.resource as Extract<FhirResource, { resourceType: T }>)
        : undefined;
    const strict = ofType(this.resolve(reference));
    if (strict || typeof reference !== 'string' || !isAbsolute(reference)) return strict;
    const parsed = parseReference(reference);
    const index = parsed ? this.byTypeId.get(`${parsed.resourceType}/${parsed.id}`) : undefined;
    return index === undefined ? undefined : ofType(this.entry(index));
  }

  /** `Type/id` (from the resource id, or from a RESTful fullUrl), or the fullUrl itself. */
  static localId(entry: ResolvedEntry): string | undefined {
    if (entry.resource.id) return entry.resource.id;
    if (!entry.fullUrl) return undefined;
    const restful = RESTFUL.exec(entry.fullUrl);
    if (restful?.[3]) return restful[3];
    const uuid = /^urn:uuid:(.+)$/i.exec(entry.fullUrl);
    return uuid?.[1] ?? undefined;
  }
}

/** The resources of one type among a Bundle's entries, in entry order (entries that are not objects are skipped). */
export function resourcesOfType<T extends FhirResource>(bundle: Bundle, type: T['resourceType']): T[] {
  return objects(bundle.entry)
    .map((e) => e.resource)
    .filter((r): r is T => typeof r === 'object' && r !== null && r.resourceType === type);
}

/**
 * Every literal reference inside `value` (a resource or part of one), with its FHIRPath. Contained
 * resources and narrative are skipped; `#id` references point inside the resource and are skipped
 * too, unless `local` asks for them.
 */
export function findReferences(value: unknown, path = '', local = false): FoundReference[] {
  const found: FoundReference[] = [];
  // The path is spelled out only where a reference is: a 1,000-item Claim has thousands of nodes.
  const segments: (string | number)[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        segments.push(i);
        walk(node[i]);
        segments.pop();
      }
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    if (typeof record.reference === 'string' && (local || !record.reference.startsWith('#'))) {
      found.push({ path: expressionOf(segments, path), reference: record as Reference });
    }
    for (const key of Object.keys(record)) {
      const child = record[key];
      if (child === null || typeof child !== 'object' || key === 'contained' || key === 'text' || key === 'reference' || key.startsWith('_')) continue;
      segments.push(key);
      walk(child);
      segments.pop();
    }
  };
  walk(value);
  return found;
}
