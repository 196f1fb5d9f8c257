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
 */
import { FHIRWrapper } from 'cql-exec-fhir';
import type { PatientObject, RecordObject, RetrieveDetails } from 'cql-execution';
import type { Bundle, FhirResource } from 'fhir/r4';

// Parsing the FHIR model info costs ~120 ms: once per process (per worker thread).
let sharedWrapper: FHIRWrapper | undefined;
export function fhirWrapper(): FHIRWrapper {
  sharedWrapper ??= FHIRWrapper.FHIRv401();
  return sharedWrapper;
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

type Wrapped = ReturnType<FHIRWrapper['wrap']>;

/**
 * One patient's record for one evaluation. `bundle` holds that patient's resources, the Patient
 * first (see preparePatientData). Implements cql-execution's PatientObject by delegating the
 * record methods to the wrapped Patient resource.
 */
export class IndexedPatient implements PatientObject {
  private readonly byType = new Map<string, { resource: FhirResource; wrapped?: Wrapped }[]>();
  private readonly cache = new Map<string, RecordObject[]>();
  private readonly self: Wrapped;

  constructor(
    bundle: Bundle,
    private readonly wrapper: FHIRWrapper = fhirWrapper(),
  ) {
    for (const entry of bundle.entry ?? []) {
      const resource = entry.resource;
      if (!resource?.resourceType) continue;
      let list = this.byType.get(resource.resourceType);
      if (!list) this.byType.set(resource.resourceType, (list = []));
      list.push({ resource });
    }
    const patient = this.byType.get('Patient')?.[0];
    if (!patient) throw new Error('the patient data holds no Patient resource');
    this.self = this.wrap(patient);
  }

  private wrap(slot: { resource: FhirResource; wrapped?: Wrapped }): Wrapped {
    slot.wrapped ??= this.wrapper.wrap(slot.resource);
    return slot.wrapped;
  }

  findRecords(profile: string | null, details?: RetrieveDetails): RecordObject[] {
    const datatype = details?.datatype ?? profile ?? '';
    const type = datatype.replace(/^\{[^}]*\}/, '').replace(/^FHIR\./, '');
    const property = details?.codeProperty;
    const coded = property ? retrieveCodeKeys(details.codes) : undefined;
    const key = `${type}|${property ?? ''}|${coded?.key ?? ''}`;
    let records = this.cache.get(key);
    if (!records) {
      let slots = this.byType.get(type) ?? [];
      if (coded && property) {
        slots = slots.filter((slot) => {
          const codings = rawCodings(slot.resource as unknown as Record<string, unknown>, property);
          return codings === undefined || codings.some((c) => coded.members.has(codeKey(c)));
        });
      }
      records = slots.map((slot) => this.wrap(slot));
      this.cache.set(key, records);
    }
    // The engine filters and may sort the list it gets: hand out a copy.
    return records.slice();
  }

  findRecord(profile: string | null, details?: RetrieveDetails): RecordObject | undefined {
    return this.findRecords(profile, details)[0];
  }

  get(field: string): unknown {
    return this.self.get(field);
  }
  getId(): unknown {
    return this.self.getId();
  }
  getCode(field: string): unknown {
    return this.self.getCode(field);
  }
  getDate(field: string): unknown {
    return this.self.getDate(field);
  }
  getInterval(field: string): unknown {
    return this.self.getInterval(field);
  }
  getDateOrInterval(field: string): unknown {
    return this.self.getDateOrInterval(field);
  }
  _is(typeSpecifier: unknown): boolean {
    return this.self._is(typeSpecifier);
  }
  _typeHierarchy(): ReturnType<Wrapped['_typeHierarchy']> {
    return this.self._typeHierarchy();
  }
}
