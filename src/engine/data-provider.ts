/**
 * The patient data the CQL reads, through cql-execution's public `PatientObject` interface and
 * cql-exec-fhir's public `FHIRWrapper` (no private fields of either library).
 *
 * cql-exec-fhir's own Patient scans the whole bundle and wraps every resource of the type in a
 * new FHIRObject (a getter per element) on each retrieve, and the engine then reads each record's
 * code through more wrappers to apply the value-set filter. With a policy's dozens of retrieves
 * over a chart of thousands of resources that dominated evaluation time. Here, per evaluation:
 * resources are grouped by type once; a coded retrieve keeps only the raw resources whose codes
 * can match (exact system|code, as cql-execution compares them; a resource whose code cannot be
 * read raw, e.g. a medicationReference, is kept); each resource is wrapped at most once, and each
 * retrieve's result is reused. The engine still applies its own filter to what is returned, so
 * results are unchanged.
 *
 * Records are handed to the engine as ResourceRecords. cql-execution compares records by value
 * (distinct queries, union, equality): for a FHIRObject that means reading and normalizing every
 * element of the resource, recursively, which was most of the evaluation time. A ResourceRecord's
 * only enumerable property is a key that is equal for two records exactly when their resources
 * are equal (type and id, and content when two resources share them), so the same comparisons
 * give the same answers at the cost of one string.
 */
import { FHIRWrapper } from 'cql-exec-fhir';
import type { PatientObject, RecordObject, RetrieveDetails } from 'cql-execution';
import type { Bundle, FhirResource } from 'fhir/r4';
import type { CutFhirModel } from '../core/knowledge';
import { KEYED, keyedOnce, wrapRecord } from './cql-memo';

// Parsing the full FHIR model info costs 150–400 ms: once per process (per worker thread), and only
// for a resource type the cut model does not cover.
let sharedWrapper: FHIRWrapper | undefined;
function fullModelWrapper(): FHIRWrapper {
  sharedWrapper ??= FHIRWrapper.FHIRv401();
  return sharedWrapper;
}

type Wrapped = ReturnType<FHIRWrapper['wrap']>;

export interface ResourceWrapper {
  wrap(resource: FhirResource): Wrapped;
  /** Parses the model info now rather than on the first wrap. */
  load(): void;
}

/**
 * Wraps a resource with the model info cut to the types the ELM reaches (scripts/fhir-model.mjs)
 * when it covers the resource's type, otherwise with the full R4 model. cql-exec-fhir looks up only
 * declared element types, all of which the cut model keeps for a covered type, so both read alike.
 */
export function resourceWrapper(cut?: CutFhirModel): ResourceWrapper {
  const covered = new Set(cut?.types ?? []);
  let cutWrapper: FHIRWrapper | undefined;
  const forCovered = () => (cut ? (cutWrapper ??= new FHIRWrapper(cut.xml)) : fullModelWrapper());
  return {
    // The library's own wrap for a first resource, which installs the memos (./cql-memo); the same objects, built faster, after it.
    wrap: (resource) => wrapRecord(covered.has(resource.resourceType) ? forCovered() : fullModelWrapper(), resource),
    load: () => void forCovered(),
  };
}

interface CodeLike {
  code?: unknown;
  system?: unknown;
}

const codeKey = (c: CodeLike) => `${typeof c.system === 'string' ? c.system : ''}|${typeof c.code === 'string' ? c.code : ''}`;

/** The retrieve's codes (a list of Codes or an expanded ValueSet) as a cache key and a member set. */
function retrieveCodeKeys(codes: RetrieveDetails['codes']): { key: string; members: ReadonlySet<string> } | undefined {
  if (!codes) return undefined;
  if (Array.isArray(codes)) {
    const members = new Set((codes as CodeLike[]).map(codeKey));
    return { key: [...members].sort().join(','), members };
  }
  const vs = codes as { oid?: string; version?: string; codes?: CodeLike[]; memberKeys?: ReadonlySet<string> };
  if (!Array.isArray(vs.codes)) return undefined;
  // A HashedValueSet (./terminology) carries its member set; a plain one is hashed here.
  return { key: `vs:${vs.oid ?? ''}|${vs.version ?? ''}`, members: vs.memberKeys ?? new Set(vs.codes.map(codeKey)) };
}

/** Codings of a raw resource's code property, or undefined when they cannot be read without resolving a reference. */
function rawCodings(resource: Record<string, unknown>, property: string): CodeLike[] | undefined {
  if (resource[`${property}Reference`] !== undefined) return undefined;
  const codings: CodeLike[] = [];
  for (const value of [resource[property], resource[`${property}CodeableConcept`], resource[`${property}Coding`]]) {
    for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
      const v = item as { coding?: CodeLike[]; code?: unknown };
      if (Array.isArray(v.coding)) codings.push(...v.coding);
      else if (typeof v.code === 'string') codings.push(v);
    }
  }
  return codings;
}

export class EvaluationTimeout extends Error {
  constructor() {
    super('the evaluation time budget ran out');
    this.name = 'EvaluationTimeout';
  }
}

/** JSON with object keys sorted, so that equal content gives equal text. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** One resource as a cql-execution record: cql-exec-fhir's FHIRObject behind a value-equality key. */
export class ResourceRecord implements RecordObject {
  readonly #fhir: Wrapped;
  readonly #json: FhirResource;
  constructor(
    /** The only enumerable property: what cql-execution's equality and distinct compare. */
    readonly __record: string,
    fhir: Wrapped,
    json: FhirResource,
  ) {
    this.#fhir = fhir;
    this.#json = json;
  }
  /**
   * The resource JSON (read by the decision's evidence and DTR answers under the name a FHIRObject
   * gives it): our own copy, not cql-exec-fhir's `_json` field.
   */
  get _json(): FhirResource {
    return this.#json;
  }
  get _typeInfo(): unknown {
    return this.#fhir.getTypeInfo();
  }
  // The FHIRObject keeps its element reads (./cql-memo); the codes and dates made from them are kept here.
  readonly #values = new Map<string, unknown>();
  #memo(kind: string, field: string, read: () => unknown): unknown {
    const key = `${kind}:${field}`;
    if (this.#values.has(key)) return this.#values.get(key);
    const value = read();
    this.#values.set(key, value);
    return value;
  }
  get(field: string): unknown {
    return this.#fhir.get(field);
  }
  getId(): unknown {
    return this.#fhir.getId();
  }
  getCode(field: string): unknown {
    return this.#memo('code', field, () => this.#fhir.getCode(field));
  }
  getDate(field: string): unknown {
    return this.#fhir.getDate(field);
  }
  getInterval(field: string): unknown {
    return this.#fhir.getInterval(field);
  }
  getDateOrInterval(field: string): unknown {
    return this.#memo('dateOrInterval', field, () => this.#fhir.getDateOrInterval(field));
  }
  getTypeInfo(): unknown {
    return this.#fhir.getTypeInfo();
  }
  _is(typeSpecifier: unknown): boolean {
    return this.#fhir._is(typeSpecifier);
  }
  /** The same frozen list for every record of a type, whose distinct key is then built once (./cql-memo). */
  _typeHierarchy(): ReturnType<Wrapped['_typeHierarchy']> {
    const type = this.#json.resourceType;
    let hierarchy = hierarchies.get(type);
    if (!hierarchy) {
      hierarchy = keyedOnce(this.#fhir._typeHierarchy().map((t) => Object.freeze(t)));
      Object.freeze(hierarchy);
      hierarchies.set(type, hierarchy);
    }
    return hierarchy;
  }
  /** A record never changes: its distinct key is computed once (./cql-memo). */
  get [KEYED](): true {
    return true;
  }
}

const hierarchies = new Map<string, ReturnType<Wrapped['_typeHierarchy']>>();

interface Slot {
  resource: FhirResource;
  key: string;
  record?: ResourceRecord;
}

/**
 * One patient's record for one evaluation. `bundle` holds that patient's resources, the Patient
 * first (see preparePatientData). Implements cql-execution's PatientObject by delegating the
 * record methods to the wrapped Patient resource.
 */
export class IndexedPatient implements PatientObject {
  // Private fields are not enumerable: nothing in cql-execution walks into the index.
  readonly #byType = new Map<string, Slot[]>();
  readonly #cache = new Map<string, RecordObject[]>();
  readonly #wrapper: ResourceWrapper;
  readonly #self: ResourceRecord;

  readonly #deadline: number;

  /** @param deadline `performance.now()` past which a retrieve throws EvaluationTimeout */
  constructor(bundle: Bundle, options: { deadline?: number; wrapper?: ResourceWrapper } = {}) {
    this.#wrapper = options.wrapper ?? resourceWrapper();
    this.#deadline = options.deadline ?? Infinity;
    const byId = new Map<string, { resource: FhirResource; key: string; text?: string }[]>();
    (bundle.entry ?? []).forEach((entry, index) => {
      const resource = entry.resource;
      if (!resource?.resourceType) return;
      let list = this.#byType.get(resource.resourceType);
      if (!list) this.#byType.set(resource.resourceType, (list = []));
      const id = `${resource.resourceType}/${resource.id ?? `#${index}`}`;
      // Two resources of one type and id are one value only when their content is the same.
      const prior = byId.get(id);
      let key = id;
      if (!prior) byId.set(id, [{ resource, key }]);
      else {
        const text = canonical(resource);
        const same = prior.find((p) => (p.text ??= canonical(p.resource)) === text);
        key = same?.key ?? `${id}#${prior.length + 1}`;
        if (!same) prior.push({ resource, key, text });
      }
      list.push({ resource, key });
    });
    const patient = this.#byType.get('Patient')?.[0];
    if (!patient) throw new Error('the patient data holds no Patient resource');
    this.#self = this.#record(patient);
  }

  #record(slot: Slot): ResourceRecord {
    slot.record ??= new ResourceRecord(slot.key, this.#wrapper.wrap(slot.resource), slot.resource);
    return slot.record;
  }

  findRecords(profile: string | null, details?: RetrieveDetails): RecordObject[] {
    // A retrieve is where a long evaluation can be stopped: the definition then fails alone.
    if (performance.now() > this.#deadline) throw new EvaluationTimeout();
    const datatype = details?.datatype ?? profile ?? '';
    const type = datatype.replace(/^\{[^}]*\}/, '').replace(/^FHIR\./, '');
    const property = details?.codeProperty;
    const coded = property ? retrieveCodeKeys(details.codes) : undefined;
    const key = `${type}|${property ?? ''}|${coded?.key ?? ''}`;
    let records = this.#cache.get(key);
    if (!records) {
      let slots = this.#byType.get(type) ?? [];
      if (coded && property) {
        slots = slots.filter((slot) => {
          const codings = rawCodings(slot.resource as unknown as Record<string, unknown>, property);
          return codings === undefined || codings.some((c) => coded.members.has(codeKey(c)));
        });
      }
      records = slots.map((slot) => this.#record(slot));
      this.#cache.set(key, records);
    }
    // The engine filters and may sort the list it gets: hand out a copy.
    return records.slice();
  }

  findRecord(profile: string | null, details?: RetrieveDetails): RecordObject | undefined {
    return this.findRecords(profile, details)[0];
  }

  get(field: string): unknown {
    return this.#self.get(field);
  }
  getId(): unknown {
    return this.#self.getId();
  }
  getCode(field: string): unknown {
    return this.#self.getCode(field);
  }
  getDate(field: string): unknown {
    return this.#self.getDate(field);
  }
  getDateOrInterval(field: string): unknown {
    return this.#self.getDateOrInterval(field);
  }
  _is(typeSpecifier: unknown): boolean {
    return this.#self._is(typeSpecifier);
  }
  _typeHierarchy(): ReturnType<Wrapped['_typeHierarchy']> {
    return this.#self._typeHierarchy();
  }
}
