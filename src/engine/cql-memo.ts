/**
 * Four memos on the CQL libraries' own objects, and one cheaper construction, for the CPU and the
 * garbage of an evaluation (issue 11). Each memo caches a pure function of an object on that object
 * (see `SLOT`), so a value lives no longer than the object that made it, and none changes what is
 * computed. (One edge:
 * cql-execution sets the offset of a `start of`/`end of` equal to its year-1 or year-9999 bound in
 * place; a FHIR value of exactly that instant keeps the new offset for the rest of its evaluation.)
 *
 * - A cql-exec-fhir FHIRObject builds a new FHIRObject (a getter per element) for a nested element,
 *   and parses a date-time string again through luxon, on every read. A policy reads the same
 *   elements of a record in many definitions: ~590 reads per typical evaluation. Each read of an
 *   element now gives the value of its first read. The records themselves are wrapped once per
 *   evaluation (./data-provider), so this reaches the elements under them.
 * - cql-execution compares two DateTimes of different offsets by converting one through luxon.
 *   That includes each arithmetic result's overflow check against its MIN/MAX constants (offset 0)
 *   and each `start of`/`end of`: ~210 conversions per typical evaluation. A DateTime now keeps its
 *   conversion to each offset, and hands out a copy, since some callers adjust what they get.
 * - cql-execution's distinct and set operators key each element (toNormalizedKey). A record's key
 *   is its one enumerable property and its type hierarchy, built anew each time: ~50 µs a key, and
 *   ~40 keys (2 ms) per approvable evaluation. An object marked KEYED never changes (a record, and
 *   the type hierarchy it shares with every record of its type), so its key is computed once.
 *
 * - cql-exec-fhir's model info looks a class up by name (`findClass`) with string rewrites, for every
 *   FHIRObject it builds and each of that class's bases. The model never changes once loaded, so
 *   each name's class is looked up once per model.
 * - A new FHIRObject walks its class's bases for the element names and defines one getter for each,
 *   one at a time. For the records the engine wraps (./data-provider), `wrapRecord` builds the same
 *   object (prototype, hidden fields, enumerable getters in the same order) from one descriptor map
 *   per class: 2–3× faster per object. So does the first read of a complex element below a record
 *   (a CodeableConcept, a list of Codings…: `readElement`); primitives, choices and paths, whose
 *   JSON the library merges or picks by type, are still read by the library.
 *
 * Measured on the approvable CP.PHAR.244 request: the first two, `engine.evaluate` p50 7.1–8.9 →
 * 5.5–5.7 ms; over HTTP with 8 clients (PGlite, heap growing 50, two rounds) 109–112 → 120–130
 * req/s, the CQL workers' CPU per request −12–15%, their GC helpers' −20%. The third, the records'
 * distinct keys 2.1 → 0.7 ms per evaluation (instrumented toDistinctList, 200 runs after 100). The
 * last two, 42.6 → 40.9 M instructions per evaluation (callgrind, node --predictable). The complex
 * elements: CPU per evaluation 5.9–6.0 → 4.7–5.2 ms (in-process, 1,000 after 200).
 */
import { DateTime } from 'cql-execution';
import type { FHIRWrapper } from 'cql-exec-fhir';

type Wrapped = ReturnType<FHIRWrapper['wrap']>;

// The module whose exported toNormalizedKey cql-execution's distinct and set operators call.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const immutableUtil = require('cql-execution/lib/util/immutableUtil') as { toNormalizedKey: Normalize };

// A registered symbol: a second copy of this module (a test runner's module registry) finds the
// memos already in place on the libraries' shared classes instead of wrapping them again.
const INSTALLED = Symbol.for('pa.memoInstalled');

type Memoized = Record<symbol, unknown>;
type Normalize = ((value: unknown) => unknown) & Memoized;

/**
 * The caches live on each object, under one non-enumerable string key. cql-execution's equality
 * reads enumerable keys (`Object.keys`); Immutable.js, which makes its distinct keys, reads those and
 * every symbol. So neither sees it. (Symbols did show: a converted DateTime then differed from an
 * equal one in distinct.) A frozen object (a value in a shared, frozen decision) gets no cache.
 */
const SLOT = '__paMemo';

interface Slot {
  reads?: Map<string, unknown>;
  conversions?: Map<string, DateTime>;
  key?: { value: unknown };
  classes?: Map<string, ClassInfo | undefined>;
  getters?: PropertyDescriptorMap;
  plans?: Map<string, ElementPlan | null>;
}

/** What cql-exec-fhir's model info and its classes show (lib/load.js; neither class is exported). */
interface ClassInfo {
  elements: { name: string }[];
  baseTypeSpecifier?: { fqn: string } | null;
  findElement(name: string, allowExplicitChoice?: boolean): { name: string; typeSpecifier: TypeSpecifier } | undefined;
}
interface TypeSpecifier {
  isNamed?: boolean;
  isList?: boolean;
  namespace?: string;
  name?: string;
  fqn?: string;
  elementType?: TypeSpecifier;
}
interface ModelInfo {
  findClass(name: string): ClassInfo | undefined;
}
interface FhirObjectParts {
  _json: unknown;
  _typeInfo: ClassInfo;
  _modelInfo: ModelInfo;
}

function slotOf(target: object): Slot | undefined {
  const holder = target as { [SLOT]?: Slot };
  let slot = holder[SLOT];
  if (!slot && Object.isExtensible(target)) {
    slot = {};
    Object.defineProperty(target, SLOT, { value: slot, enumerable: false });
  }
  return slot;
}

/** Marks an object whose distinct key never changes (`KEYED in value`). */
export const KEYED = Symbol.for('pa.keyedOnce');

/** `value` marked KEYED, with room for its key even once it is frozen. */
export function keyedOnce<T extends object>(value: T): T {
  Object.defineProperty(value, KEYED, { value: true, enumerable: false });
  slotOf(value);
  return value;
}

interface ElementReader {
  get(field: string): unknown;
}

/** The memos, given any FHIRObject (a wrapped resource): its class is not exported. Idempotent. */
export function memoizeCqlReads(wrapped: object): void {
  fhirObjectPrototype ??= Object.getPrototypeOf(wrapped) as object;
  memoizeElementReads(Object.getPrototypeOf(wrapped) as ElementReader);
  memoizeOffsetConversions();
  memoizeKeys();
  memoizeClassLookups(Object.getPrototypeOf((wrapped as unknown as FhirObjectParts)._modelInfo) as ModelInfo);
}

/** Memoizes `findClass` on cql-exec-fhir's ModelInfo class, given its prototype: one lookup per name and model. */
function memoizeClassLookups(prototype: ModelInfo): void {
  const holder = prototype as unknown as Memoized;
  if (holder[INSTALLED]) return;
  const find = prototype.findClass;
  prototype.findClass = function (this: ModelInfo, name: string): ClassInfo | undefined {
    const slot = slotOf(this);
    const cache = slot ? (slot.classes ??= new Map<string, ClassInfo | undefined>()) : undefined;
    if (cache?.has(name)) return cache.get(name);
    const found = find.call(this, name);
    cache?.set(name, found);
    return found;
  };
  Object.defineProperty(holder, INSTALLED, { value: true, enumerable: false });
}

/** One getter per element of `type` and its bases, in cql-exec-fhir's order; each reads through `get`. */
function gettersOf(type: ClassInfo, model: ModelInfo): PropertyDescriptorMap {
  const slot = slotOf(type);
  if (slot?.getters) return slot.getters;
  const names = new Set<string>();
  for (let info: ClassInfo | undefined = type; info; info = info.baseTypeSpecifier ? model.findClass(info.baseTypeSpecifier.fqn) : undefined) {
    for (const element of info.elements) names.add(element.name);
  }
  const getters: PropertyDescriptorMap = {};
  for (const name of names) {
    getters[name] = {
      get(this: ElementReader) {
        return this.get(name);
      },
      enumerable: true,
    };
  }
  if (slot) slot.getters = getters;
  return getters;
}

// cql-exec-fhir's FHIRObject prototype, from the first resource the library wrapped.
let fhirObjectPrototype: object | undefined;

/**
 * The FHIRObject `wrapper.wrap(resource)` gives, with the memos installed, built from one descriptor
 * map per class once the library has wrapped a first resource. A resource whose type the model does
 * not know goes to the library, which reports it.
 */
export function wrapRecord(wrapper: FHIRWrapper, resource: { resourceType: string }): Wrapped {
  const model = (wrapper as unknown as FhirObjectParts)._modelInfo;
  const type = fhirObjectPrototype ? model.findClass(resource.resourceType) : undefined;
  if (!fhirObjectPrototype || !type) {
    const wrapped = wrapper.wrap(resource as never);
    memoizeCqlReads(wrapped);
    return wrapped;
  }
  return fhirObject(resource, type, model) as Wrapped;
}

/** What cql-exec-fhir's FHIRObject constructor builds for `json` of class `type`, from the class's descriptor map. */
function fhirObject(json: unknown, type: ClassInfo, model: ModelInfo): object {
  const hidden = { _json: { value: json }, _typeInfo: { value: type }, _modelInfo: { value: model } };
  return Object.defineProperties(Object.create(fhirObjectPrototype as object, hidden) as object, gettersOf(type, model));
}

/**
 * How to read one element of a class without the library: a complex FHIR type (or a list of one),
 * neither a choice nor a primitive, whose JSON property is the element's name. Null: the library reads it.
 */
interface ElementPlan {
  property: string;
  type: ClassInfo;
  list: boolean;
}

function planOf(type: ClassInfo, field: string, model: ModelInfo): ElementPlan | null {
  const slot = slotOf(type);
  const plans = slot ? (slot.plans ??= new Map<string, ElementPlan | null>()) : undefined;
  const known = plans?.get(field);
  if (known !== undefined) return known;
  const plan = makePlan(type, field, model);
  plans?.set(field, plan);
  return plan;
}

function makePlan(type: ClassInfo, field: string, model: ModelInfo): ElementPlan | null {
  const element = type.findElement(field, true);
  // Not an element, a path, or an explicit choice name (e.g. valueQuantity): the library.
  if (!element || element.name !== field) return null;
  const specifier = element.typeSpecifier;
  const list = specifier.isList === true;
  const named = list ? specifier.elementType : specifier;
  // A choice (value[x]) is not named: the library picks its type from the JSON.
  if (!named?.isNamed || named.namespace !== 'FHIR' || !named.name || !named.fqn) return null;
  // A primitive (lower-case name) or a code class (an Element with one `value`) merges `_element`: the library.
  if (named.name.charAt(0) !== named.name.charAt(0).toUpperCase()) return null;
  const elementType = model.findClass(named.fqn);
  if (!elementType || (elementType.baseTypeSpecifier?.fqn === 'FHIR.Element' && elementType.elements.length === 1)) return null;
  return { property: element.name, type: elementType, list };
}

/** Not read here: the library reads it. */
const LIBRARY = Symbol('library');

/**
 * The element as cql-exec-fhir's `get` gives it (getPropertyFromJSON, then toFHIRObject), for the
 * elements `planOf` covers; each object built from its class's descriptor map.
 */
function readElement(target: FhirObjectParts, field: string): unknown {
  const json = target._json as Record<string, unknown> | null | undefined;
  if (json == null || !fhirObjectPrototype) return LIBRARY;
  const plan = planOf(target._typeInfo, field, target._modelInfo);
  if (!plan) return LIBRARY;
  const data = json[plan.property];
  if (data == null) return data;
  if (!plan.list) return fhirObject(data, plan.type, target._modelInfo);
  if (!Array.isArray(data)) return LIBRARY;
  return data.map((item: unknown) => (item == null ? item : fhirObject(item, plan.type, target._modelInfo)));
}

/** Memoizes `get` on cql-exec-fhir's FHIRObject class, given its prototype. */
function memoizeElementReads(prototype: ElementReader): void {
  const holder = prototype as unknown as Memoized;
  if (holder[INSTALLED]) return;
  const read = prototype.get;
  prototype.get = function (this: ElementReader, field: string): unknown {
    const slot = slotOf(this);
    const cache = slot ? (slot.reads ??= new Map<string, unknown>()) : undefined;
    if (cache?.has(field)) return cache.get(field);
    let value = readElement(this as unknown as FhirObjectParts, field);
    if (value === LIBRARY) value = read.call(this, field);
    cache?.set(field, value);
    return value;
  };
  Object.defineProperty(holder, INSTALLED, { value: true, enumerable: false });
}

type Convert = (this: DateTime, offset?: number | null) => DateTime;

/** Memoizes cql-execution's `DateTime.convertToTimezoneOffset`, keyed by the source's offset too (some callers set it). */
function memoizeOffsetConversions(): void {
  const prototype = DateTime.prototype as unknown as { convertToTimezoneOffset: Convert } & Memoized;
  if (prototype[INSTALLED]) return;
  const convert = prototype.convertToTimezoneOffset;
  prototype.convertToTimezoneOffset = function (this: DateTime, offset?: number | null): DateTime {
    const slot = slotOf(this);
    const cache = slot ? (slot.conversions ??= new Map<string, DateTime>()) : undefined;
    const key = `${String(this.timezoneOffset)}>${offset === undefined ? 0 : String(offset)}`;
    let converted = cache?.get(key);
    if (!converted) {
      converted = convert.call(this, offset);
      cache?.set(key, converted);
    }
    return converted.copy();
  };
  Object.defineProperty(prototype, INSTALLED, { value: true, enumerable: false });
}

/** Memoizes cql-execution's toNormalizedKey for KEYED objects. Its callers read it from the module's exports at each call. */
function memoizeKeys(): void {
  if (immutableUtil.toNormalizedKey[INSTALLED]) return;
  const normalize = immutableUtil.toNormalizedKey;
  const memo = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object' || !(KEYED in value)) return normalize(value);
    const slot = slotOf(value);
    if (slot?.key) return slot.key.value;
    const key = normalize(value);
    if (slot) slot.key = { value: key };
    return key;
  };
  Object.defineProperty(memo, INSTALLED, { value: true, enumerable: false });
  immutableUtil.toNormalizedKey = memo as Normalize;
}
