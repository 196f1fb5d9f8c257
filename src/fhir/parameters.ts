/**
 * One reader for the `Parameters` an operation takes, driven by its OperationDefinition
 * (./operation-definitions): each parameter's cardinality (min/max), its parts, and its type (a
 * resource, or `value[x]` of a data type) are checked, and the answer is the parameters by name
 * or a 400 OperationOutcome whose expression names the parameter (`Parameters.parameter[1]`,
 * `Parameters.parameter[1].valueCanonical`, `Parameters.parameter.where(name='subject')`).
 *
 * What each operation reads beyond its definition (names of other IG versions, value types it has
 * always accepted, server parameters such as `fhirServer`) is declared with `operationRules`,
 * next to the handler; the rest of the checks (a Reference's target type, a date's format, rules
 * across parameters) stay with the handler.
 *
 * Does not check: profiles (`targetProfile`, inputProfile), the FHIR inv par-1 rule that a
 * parameter has only one of value, resource and part (the first accepted one is read).
 */
import type { OperationDefinition, OperationDefinitionParameter, Resource } from 'fhir/r4';
import { badRequestMany, issue } from './outcomes';
import { isRecord } from './json';

export interface ParameterRule {
  name: string;
  /** Other names read as this parameter (other versions of the IG, other spellings). */
  aliases: readonly string[];
  min: number;
  /** Highest count; Infinity for `*`. */
  max: number;
  /**
   * Accepted types, the definition's first: a resource type (`Resource`: any resource) carried in
   * `resource`, or a data type carried in `value[x]`. Empty: the parameter is made of parts.
   */
  types: readonly string[];
  part: readonly ParameterRule[];
  /**
   * Taken, when no parameter of this name carries an accepted type, from the first parameter of
   * any name that does (PAS: "the `resource` parameter, else the first Bundle"). When none does, the
   * parameter is missing and the expression names the list (`Parameters.parameter`).
   */
  byType: boolean;
}

export interface OperationRules {
  /** `$questionnaire-package`, for messages. */
  label: string;
  canonical: string;
  parameters: readonly ParameterRule[];
  /** A parameter of no known name: ignored (the operation stays open to later IG versions) or a 400. */
  unknown: 'ignore' | 'reject';
  /** Names compared without case (DTR log-questionnaire-errors spells its names in capitals, its profile does not). */
  anyCase: boolean;
}

/** What `operationRules` adds to, or changes in, one parameter of the definition. */
export interface ParameterChange {
  aliases?: readonly string[];
  /** Types read besides the definition's (e.g. valueUri for a canonical). */
  alsoTypes?: readonly string[];
  /** Replaces the definition's types (e.g. a `Reference` content part that may carry the resource itself). */
  types?: readonly string[];
  byType?: boolean;
}

export interface ExtraParameter extends ParameterChange {
  name: string;
  min?: number;
  max?: number | '*';
  part?: readonly ExtraParameter[];
}

export interface RuleOptions {
  /** Changes by parameter path (`context.content` for a part). */
  change?: Record<string, ParameterChange>;
  /** Parameters this server reads that the definition does not have. */
  extra?: readonly ExtraParameter[];
  unknown?: 'ignore' | 'reject';
  anyCase?: boolean;
  /** Parameters of the definition this server does not read: not checked, handled as unknown names. */
  notRead?: readonly string[];
}

const maxOf = (max: string | number | undefined): number => (max === undefined || max === '*' ? Infinity : Number(max));

type Declared = ExtraParameter & { type?: string };

function ruleOf(p: Declared, path: string, change: Record<string, ParameterChange>): ParameterRule {
  const c = change[path] ?? {};
  const types = c.types ?? p.types ?? [...(p.type ? [p.type] : []), ...(p.alsoTypes ?? []), ...(c.alsoTypes ?? [])];
  return {
    name: p.name,
    aliases: [...(p.aliases ?? []), ...(c.aliases ?? [])],
    min: p.min ?? 0,
    max: maxOf(p.max),
    types,
    part: (p.part ?? []).map((q) => ruleOf(q, `${path}.${q.name}`, change)),
    byType: c.byType ?? p.byType ?? false,
  };
}

/** The rules of one operation: its OperationDefinition's `in` parameters, with what this server reads besides. */
export function operationRules(definition: OperationDefinition, options: RuleOptions = {}): OperationRules {
  const change = options.change ?? {};
  const fromDefinition = (p: OperationDefinitionParameter): Declared => ({
    name: p.name,
    min: p.min,
    max: p.max as number | '*',
    ...(p.type ? { type: p.type } : {}),
    ...(p.part ? { part: p.part.map(fromDefinition) } : {}),
  });
  const declared = (definition.parameter ?? []).filter((p) => p.use === 'in' && !options.notRead?.includes(p.name)).map(fromDefinition);
  const unknownPaths = Object.keys(change).filter((path) => !pathExists(path, [...declared, ...(options.extra ?? [])]));
  if (unknownPaths.length > 0) throw new Error(`${definition.code}: no parameter ${unknownPaths.join(', ')} to change`);
  return {
    label: `$${definition.code}`,
    canonical: definition.version ? `${definition.url}|${definition.version}` : definition.url!,
    parameters: [...declared, ...(options.extra ?? [])].map((p) => ruleOf(p, p.name, change)),
    unknown: options.unknown ?? 'ignore',
    anyCase: options.anyCase ?? false,
  };
}

function pathExists(path: string, parameters: readonly ExtraParameter[]): boolean {
  const [head, ...rest] = path.split('.');
  const found = parameters.find((p) => p.name === head);
  return found !== undefined && (rest.length === 0 || pathExists(rest.join('.'), found.part ?? []));
}

// ---------------------------------------------------------------------------------------------
// Types

/** R4 complex data types (carried in value[x]); any other capitalised type is a resource. */
const DATA_TYPES = new Set([
  'Address', 'Age', 'Annotation', 'Attachment', 'CodeableConcept', 'Coding', 'ContactDetail', 'ContactPoint', 'Contributor', 'Count',
  'DataRequirement', 'Distance', 'Dosage', 'Duration', 'Expression', 'Extension', 'HumanName', 'Identifier', 'Meta', 'Money',
  'ParameterDefinition', 'Period', 'Quantity', 'Range', 'Ratio', 'Reference', 'RelatedArtifact', 'SampledData', 'Signature',
  'Timing', 'TriggerDefinition', 'UsageContext',
]);
const NUMBERS = new Set(['integer', 'unsignedInt', 'positiveInt', 'decimal']);

const isResourceType = (type: string): boolean => /^[A-Z]/.test(type) && !DATA_TYPES.has(type);
/** The element that carries a value of `type`: `resource` or `value[x]`. */
export const elementOf = (type: string): string => (isResourceType(type) ? 'resource' : `value${type[0]!.toUpperCase()}${type.slice(1)}`);

function carries(raw: Record<string, unknown>, type: string): boolean {
  const value = raw[elementOf(type)];
  if (isResourceType(type)) return isRecord(value) && typeof value.resourceType === 'string' && (type === 'Resource' || type === 'DomainResource' || value.resourceType === type);
  if (type === 'boolean') return typeof value === 'boolean';
  if (NUMBERS.has(type)) return typeof value === 'number' && Number.isFinite(value);
  if (/^[a-z]/.test(type)) return typeof value === 'string' && value.trim() !== '';
  return isRecord(value);
}

function describeTypes(types: readonly string[]): string {
  const [first] = types;
  if (!first) return 'parts';
  return isResourceType(first) ? (first === 'Resource' ? 'a resource' : `a ${first} resource`) : `a ${first} (${elementOf(first)})`;
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface ReadParameter {
  /** The rule's name (the definition's spelling, not an alias). */
  name: string;
  /** The name as sent. */
  sentAs: string;
  /** Its position in its list (`parameter` or `part`). */
  index: number;
  /** Where it is: `Parameters.parameter[2]`, `Parameters.parameter[2].part[0]`. */
  expression: string;
  /** The accepted type it carries; '' for a parameter made of parts. */
  type: string;
  /** `expression` plus the element that carries the value: `.resource`, `.valueCanonical`. */
  valueExpression: string;
  resource?: Resource;
  /** The value[x] (string, number, boolean or object). */
  value?: unknown;
  parts: ReadParameters;
}

export class ReadParameters {
  constructor(
    /** In the order sent. */
    readonly list: readonly ReadParameter[],
  ) {}

  all(name: string): ReadParameter[] {
    return this.list.filter((p) => p.name === name);
  }

  first(name: string): ReadParameter | undefined {
    return this.list.find((p) => p.name === name);
  }

  /** The string value of a parameter, trimmed (the reader has checked it is not blank). */
  string(name: string): string | undefined {
    const value = this.first(name)?.value;
    return typeof value === 'string' ? value.trim() : undefined;
  }
}

interface Problem {
  text: string;
  expression: string;
  code: 'invalid' | 'required' | 'not-supported' | 'structure';
}

interface Listed {
  read: ReadParameter[];
  /** Rules some parameter was sent for, well-formed or not: a wrong one is not also reported missing. */
  sent: Set<ParameterRule>;
}

function readList(raw: unknown[], rules: OperationRules, scope: readonly ParameterRule[], at: (i: number) => string, problems: Problem[]): Listed {
  const key = (name: string) => (rules.anyCase ? name.toLowerCase() : name);
  const byName = new Map<string, ParameterRule>();
  for (const rule of scope) for (const name of [rule.name, ...rule.aliases]) byName.set(key(name), rule);
  const read: ReadParameter[] = [];
  const counts = new Map<ParameterRule, number>();
  const sent = new Set<ParameterRule>();
  const unclaimed: { raw: Record<string, unknown>; where: string; index: number }[] = [];

  raw.forEach((item, i) => {
    const where = at(i);
    if (!isRecord(item) || typeof item.name !== 'string' || item.name === '') {
      problems.push({ text: 'each parameter needs a name', expression: `${where}.name`, code: 'required' });
      return;
    }
    const rule = byName.get(key(item.name));
    if (!rule) {
      if (rules.unknown === 'reject') problems.push({ text: `${rules.label} has no parameter ${item.name}`, expression: where, code: 'not-supported' });
      else unclaimed.push({ raw: item, where, index: i });
      return;
    }
    sent.add(rule);
    const count = (counts.get(rule) ?? 0) + 1;
    counts.set(rule, count);
    if (count > rule.max) {
      problems.push({ text: `${rule.name} may appear ${rule.max === 1 ? 'only once' : `at most ${rule.max} times`}`, expression: where, code: 'invalid' });
      return;
    }
    if (rule.types.length === 0) {
      if (!Array.isArray(item.part)) {
        problems.push({ text: `${rule.name} needs parts: ${rule.part.map((p) => p.name).join(', ')}`, expression: `${where}.part`, code: 'required' });
        return;
      }
      const parts = readList(item.part as unknown[], rules, rule.part, (j) => `${where}.part[${j}]`, problems);
      missing(rule.part, parts, `${where}.part`, problems);
      read.push({ name: rule.name, sentAs: item.name, index: i, expression: where, type: '', valueExpression: `${where}.part`, parts: new ReadParameters(parts.read) });
      return;
    }
    const type = rule.types.find((t) => carries(item, t));
    if (type === undefined) {
      if (rule.byType) return; // another parameter may carry it
      problems.push({ text: `${rule.name} must carry ${describeTypes(rule.types)}`, expression: `${where}.${elementOf(rule.types[0]!)}`, code: 'invalid' });
      return;
    }
    read.push(entry(rule, item, i, where, type));
  });

  for (const rule of scope.filter((r) => r.byType && !read.some((p) => p.name === r.name))) {
    const found = unclaimed.find((u) => rule.types.some((t) => carries(u.raw, t)));
    if (found) read.push(entry(rule, found.raw, found.index, found.where, rule.types.find((t) => carries(found.raw, t))!));
  }
  return { read, sent };
}

function entry(rule: ParameterRule, raw: Record<string, unknown>, index: number, where: string, type: string): ReadParameter {
  const element = elementOf(type);
  return {
    name: rule.name,
    sentAs: raw.name as string,
    index,
    expression: where,
    type,
    valueExpression: `${where}.${element}`,
    ...(element === 'resource' ? { resource: raw.resource as Resource } : { value: raw[element] }),
    parts: new ReadParameters([]),
  };
}

function missing(scope: readonly ParameterRule[], { read, sent }: Listed, listExpression: string, problems: Problem[]): void {
  for (const rule of scope) {
    if (rule.min === 0 || (sent.has(rule) && !rule.byType) || read.filter((p) => p.name === rule.name).length >= rule.min) continue;
    const expression = rule.byType || listExpression.endsWith('.part') ? listExpression : `${listExpression}.where(name='${rule.name}')`;
    problems.push({ text: `${rule.name} is required (${describeTypes(rule.types)})`, expression, code: 'required' });
  }
}

/**
 * Reads a Parameters body against an operation's rules. Throws a 400 OperationOutcomeError
 * listing every problem (in the order of the parameters, then the missing ones).
 */
export function readParameters(body: unknown, rules: OperationRules): ReadParameters {
  if (!isRecord(body) || body.resourceType !== 'Parameters') throw badRequestMany([issue('error', 'invalid', `${rules.label} expects a Parameters resource`, 'Parameters')]);
  if (body.parameter !== undefined && !Array.isArray(body.parameter)) {
    throw badRequestMany([issue('error', 'structure', 'Parameters.parameter must be an array', 'Parameters.parameter')]);
  }
  const problems: Problem[] = [];
  const read = readList((body.parameter ?? []) as unknown[], rules, rules.parameters, (i) => `Parameters.parameter[${i}]`, problems);
  missing(rules.parameters, read, 'Parameters.parameter', problems);
  if (problems.length > 0) throw badRequestMany(problems.map((p) => issue('error', p.code, p.text, p.expression)));
  return new ReadParameters(read.read);
}
