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
 *   per class: 2–3× faster per object. So does the first read of an element below a record
 *   (`readElement`: a CodeableConcept, a list of Codings, a primitive with its `_element` merged in,
 *   the typed name a choice has in the JSON), as cql-exec-fhir's `get` reads it. System values
 *   (strings, dates), paths and explicit choice names are still read by the library.
 *
 * Measured on the approvable CP.PHAR.244 request: the first two, `engine.evaluate` p50 7.1–8.9 →
 * 5.5–5.7 ms; over HTTP with 8 clients (PGlite, heap growing 50, two rounds) 109–112 → 120–130
 * req/s, the CQL workers' CPU per request −12–15%, their GC helpers' −20%. The third, the records'
 * distinct keys 2.1 → 0.7 ms per evaluation (instrumented toDistinctList, 200 runs after 100). The
 * last two, 42.6 → 40.9 M instructions per evaluation (callgrind, node --predictable). The elements
 * below records: CPU per evaluation 5.9–6.0 → 4.7–5.2 ms (in-process, 1,000 after 200) for complex
 * ones; primitives and choices too, 5.6–6.1 → 4.9–5.4 (the same, alternating builds).
 */
import { DateTime } from 'cql-execution';
import type { FHIRWrapper } from 'cql-exec-fhir';
import { replaceOnce } from './replace-once';

type Wrapped = ReturnType<FHIRWrapper['wrap']>;

// The module whose exported toNormalizedKey cql-execution's distinct and set operators call.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const immutableUtil = require('cql-execution/lib/util/immutableUtil') as { toNormalizedKey: Normalize };

type Normalize = (value: unknown) => unknown;

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
  isChoice?: boolean;
  choices?: TypeSpecifier[];
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
  replaceOnce(prototype, 'findClass', (find: ModelInfo['findClass']) =>
    function (this: ModelInfo, name: string): ClassInfo | undefined {
      const slot = slotOf(this);
      const cache = slot ? (slot.classes ??= new Map<string, ClassInfo | undefined>()) : undefined;
      if (cache?.has(name)) return cache.get(name);
      const found = find.call(this, name);
      cache?.set(name, found);
      return found;
    },
  );
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
 * How to read one element of a class without the library: the JSON properties that may hold it, in
 * the library's order (the element's own, or each typed name of a choice: valueQuantity, valueString…)
 * and the FHIR class each becomes. Null: the library reads it (a path, an explicit choice name, an
 * element the model does not know).
 */
interface ElementPlan {
  candidates: { property: string; shape: Shape | null }[];
  list: boolean;
  choice: boolean;
}

/** A FHIR class to build; a primitive's (or a code class's) object merges `_element` into `{ value }`. Null: a System type, which the library converts. */
interface Shape {
  type: ClassInfo;
  primitive: boolean;
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
  if (!element || element.name !== field) return null;
  const specifier = element.typeSpecifier;
  if (specifier.isChoice) {
    const candidates = [];
    for (const choice of specifier.choices ?? []) {
      if (!choice.isNamed || !choice.name) continue;
      const name = choice.name === 'SimpleQuantity' ? 'Quantity' : choice.name;
      const shape = shapeOf(choice, model);
      if (shape === undefined) return null;
      candidates.push({ property: `${element.name}${name.charAt(0).toUpperCase()}${name.slice(1)}`, shape });
    }
    return { candidates, list: false, choice: true };
  }
  const list = specifier.isList === true;
  const shape = shapeOf(list ? specifier.elementType : specifier, model);
  if (shape === undefined || (list && shape === null)) return null;
  return { candidates: [{ property: element.name, shape }], list, choice: false };
}

/** The class a named type specifier builds; null for a System type; undefined when this module cannot tell (the library reads it). */
function shapeOf(specifier: TypeSpecifier | undefined, model: ModelInfo): Shape | null | undefined {
  if (!specifier?.isNamed || !specifier.name || !specifier.fqn) return undefined;
  if (specifier.namespace === 'System') return null;
  if (specifier.namespace !== 'FHIR') return undefined;
  const type = model.findClass(specifier.fqn);
  if (!type) return undefined;
  return { type, primitive: isPrimitive(specifier.name, type) };
}

/** cql-exec-fhir's test for a FHIR primitive: a lower-case type name, or an Element whose one element is a System.String `value`. */
function isPrimitive(name: string, type: ClassInfo): boolean {
  if (name.charAt(0).toLowerCase() === name.charAt(0)) return true;
  if (type.baseTypeSpecifier?.fqn !== 'FHIR.Element' || type.elements.length !== 1) return false;
  return type.findElement('value')?.typeSpecifier.fqn === 'System.String';
}

/** Not read here: the library reads it. */
const LIBRARY = Symbol('library');

/**
 * The element as cql-exec-fhir's `get` gives it (the choice it picks, getPropertyFromJSON, then
 * toFHIRObject), for the elements `planOf` covers; each object built from its class's descriptor map.
 */
function readElement(target: FhirObjectParts, field: string): unknown {
  const json = target._json as Record<string, unknown> | null | undefined;
  if (json == null || typeof json !== 'object' || !fhirObjectPrototype) return LIBRARY;
  const plan = planOf(target._typeInfo, field, target._modelInfo);
  if (!plan) return LIBRARY;
  // A choice is the first typed name with a value or an extension; none: the library.
  const candidate = plan.choice ? plan.candidates.find((c) => json[c.property] != null || json[`_${c.property}`] != null) : plan.candidates[0];
  const shape = candidate?.shape;
  if (!candidate || !shape) return LIBRARY;
  const data = shape.primitive ? withExtensions(json, candidate.property, plan.list) : json[candidate.property];
  if (data == null) return data;
  const model = target._modelInfo;
  if (!plan.list) return fhirObject(data, shape.type, model);
  if (!Array.isArray(data)) return LIBRARY;
  return data.map((item: unknown) => (item == null ? item : fhirObject(item, shape.type, model)));
}

/** A primitive's value with its `_element` (id, extensions) merged in, item by item for a list: cql-exec-fhir's getPropertyFromJSON. */
function withExtensions(json: Record<string, unknown>, property: string, list: boolean): unknown {
  const value = json[property];
  const extra = json[`_${property}`];
  if (value == null && extra == null) return value;
  const values: unknown[] = list && Array.isArray(value) ? [...(value as unknown[])] : [value];
  const extras: unknown[] = list && Array.isArray(extra) ? [...(extra as unknown[])] : [extra];
  while (values.length > extras.length) extras.push(undefined);
  while (extras.length > values.length) values.push(undefined);
  const items = values.map((v, i) => {
    const x = extras[i];
    if (v == null && x == null) return v;
    const item: Record<string, unknown> = {};
    if (v !== undefined) item.value = v;
    if (x != null) Object.assign(item, x);
    return item;
  });
  return list ? items : items[0];
}

/** Memoizes `get` on cql-exec-fhir's FHIRObject class, given its prototype. */
function memoizeElementReads(prototype: ElementReader): void {
  replaceOnce(prototype, 'get', (read: ElementReader['get']) =>
    function (this: ElementReader, field: string): unknown {
      const slot = slotOf(this);
      const cache = slot ? (slot.reads ??= new Map<string, unknown>()) : undefined;
      if (cache?.has(field)) return cache.get(field);
      let value = readElement(this as unknown as FhirObjectParts, field);
      if (value === LIBRARY) value = read.call(this, field);
      cache?.set(field, value);
      return value;
    },
  );
}

type Convert = (this: DateTime, offset?: number | null) => DateTime;

/** Memoizes cql-execution's `DateTime.convertToTimezoneOffset`, keyed by the source's offset too (some callers set it). */
function memoizeOffsetConversions(): void {
  replaceOnce(DateTime.prototype, 'convertToTimezoneOffset', (convert: Convert) =>
    function (this: DateTime, offset?: number | null): DateTime {
      const slot = slotOf(this);
      const cache = slot ? (slot.conversions ??= new Map<string, DateTime>()) : undefined;
      const key = `${String(this.timezoneOffset)}>${offset === undefined ? 0 : String(offset)}`;
      let converted = cache?.get(key);
      if (!converted) {
        converted = convert.call(this, offset);
        cache?.set(key, converted);
      }
      return converted.copy();
    },
  );
}

/** Memoizes cql-execution's toNormalizedKey for KEYED objects. Its callers read it from the module's exports at each call. */
function memoizeKeys(): void {
  replaceOnce(immutableUtil, 'toNormalizedKey', (normalize: Normalize) => (value: unknown): unknown => {
    if (value === null || typeof value !== 'object' || !(KEYED in value)) return normalize(value);
    const slot = slotOf(value);
    if (slot?.key) return slot.key.value;
    const key = normalize(value);
    if (slot) slot.key = { value: key };
    return key;
  });
}
