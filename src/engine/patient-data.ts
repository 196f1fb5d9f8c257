/**
 * Prepares the data a policy library reads: one patient's resources as a collection Bundle,
 * with every resource carrying an id and every intra-bundle reference written `Type/id`.
 *
 * PAS and CDS Hooks bundles often use `urn:uuid:` fullUrls and references; the CQL matches
 * references by id, so they are normalized here once. The caller's bundle is not modified, unless
 * the caller hands it over (`inPlace`: a worker's own copy of a request).
 */
import type { Bundle, BundleEntry, FhirResource, Questionnaire, QuestionnaireResponse, Resource } from 'fhir/r4';
import { patientReference } from '../fhir/reference';


function lastSegment(url: string): string {
  const cut = Math.max(url.lastIndexOf('/'), url.lastIndexOf(':'));
  return url.slice(cut + 1);
}

/** Rewrites `reference` strings that point at a bundle entry's fullUrl to `Type/id` (iteratively: any depth is safe). */
function rewriteReferences(root: unknown, targets: ReadonlyMap<string, string>): void {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) {
      for (const item of node) if (item !== null && typeof item === 'object') stack.push(item);
      continue;
    }
    if (node === null || typeof node !== 'object') continue;
    const record = node as Record<string, unknown>;
    for (const [key, value] of Object.entries(record)) {
      if (key === 'reference' && typeof value === 'string') {
        const target = targets.get(value);
        if (target) record[key] = target;
      } else if (value !== null && typeof value === 'object') {
        stack.push(value);
      }
    }
  }
}

function linkedPatient(resource: Resource): string | undefined | null {
  const ref = patientReference(resource)?.reference;
  if (ref === undefined) return undefined;
  return ref.startsWith('Patient/') ? ref.slice('Patient/'.length) : null;
}

/**
 * An adaptive (SDC) QuestionnaireResponse names its contained Questionnaire (`#id`); the policy
 * CQL looks responses up by the canonical that Questionnaire was derived from.
 */
function nameDerivedQuestionnaire(response: QuestionnaireResponse): void {
  const named: unknown = response.questionnaire;
  if (typeof named !== 'string' || !named.startsWith('#') || !Array.isArray(response.contained)) return;
  const contained = response.contained.find((r): r is Questionnaire => r?.resourceType === 'Questionnaire' && r.id === named.slice(1));
  const canonical = (Array.isArray(contained?.derivedFrom) ? contained.derivedFrom[0] : undefined) ?? contained?.url;
  if (typeof canonical === 'string') response.questionnaire = canonical;
}

/**
 * The bundle with only what a retrieve can read: a resource of a type no library retrieves (a PAS
 * Claim with its 1,000 lines, say) becomes a stub of its type and id, in its place, so that
 * preparePatientData gives every other resource the same id and references as from the whole
 * bundle, and nothing more of it is copied to a worker. The bundle itself when nothing is left out.
 */
export function retrievableOnly(bundle: Bundle, types: ReadonlySet<string>): Bundle {
  if (!Array.isArray(bundle.entry)) return bundle;
  const unread = (e: BundleEntry) => typeof e?.resource?.resourceType === 'string' && e.resource.resourceType !== 'Patient' && !types.has(e.resource.resourceType);
  if (!bundle.entry.some(unread)) return bundle;
  const entry = bundle.entry.map((e): BundleEntry => {
    if (!unread(e)) return e;
    const { resourceType, id } = e.resource as FhirResource;
    return { ...(e.fullUrl !== undefined ? { fullUrl: e.fullUrl } : {}), resource: { resourceType, ...(id !== undefined ? { id } : {}) } as FhirResource };
  });
  return { ...bundle, entry };
}

export interface PatientData {
  bundle: Bundle;
  patientId: string;
}

/**
 * @param source any Bundle (PAS request, CDS Hooks prefetch collection, a Synthea transaction)
 * @param patientId the patient the request is about; when absent, the first Patient in the bundle
 * @param options.inPlace the resources are the caller's to change: prepared without a copy
 */
export function preparePatientData(source: Bundle, patientId?: string, options: { inPlace?: boolean } = {}): PatientData {
  const entries = (Array.isArray(source.entry) ? source.entry : []).filter(
    (e) => typeof e === 'object' && e !== null && typeof e.resource === 'object' && e.resource !== null && typeof e.resource.resourceType === 'string',
  );
  const resources: FhirResource[] = entries.map((e) => (options.inPlace ? (e.resource as FhirResource) : structuredClone(e.resource as FhirResource)));
  const targets = new Map<string, string>();
  let generated = 0;
  resources.forEach((resource, index) => {
    const url = entries[index]?.fullUrl;
    const fullUrl = typeof url === 'string' ? url : undefined;
    if (!resource.id) resource.id = fullUrl ? lastSegment(fullUrl) : `generated-${++generated}`;
    const local = `${resource.resourceType}/${resource.id}`;
    if (fullUrl) targets.set(fullUrl, local);
  });
  for (const resource of resources) {
    rewriteReferences(resource, targets);
    if (resource.resourceType === 'QuestionnaireResponse') nameDerivedQuestionnaire(resource);
  }

  const patient =
    resources.find((r) => r.resourceType === 'Patient' && (patientId === undefined || r.id === patientId)) ??
    resources.find((r) => r.resourceType === 'Patient');
  const id = patient?.id ?? patientId ?? 'unknown-patient';
  const kept = resources.filter((r) => {
    if (r.resourceType === 'Patient') return r === patient;
    const link = linkedPatient(r);
    return link === undefined || link === id;
  });
  // cql-exec-fhir takes the first Patient entry as the subject of the evaluation.
  const ordered: FhirResource[] = patient ? [patient, ...kept.filter((r) => r !== patient)] : [{ resourceType: 'Patient', id }, ...kept];
  return {
    patientId: id,
    bundle: { resourceType: 'Bundle', type: 'collection', entry: ordered.map((resource) => ({ resource })) },
  };
}
