/**
 * Server-side pre-population of a DTR Questionnaire: every item's `initialExpression`
 * (`text/cql`, written `"Library".Definition`) is run with the engine's compiled libraries against
 * one patient's data, and each value becomes answers of the item's type. Shared by `$populate`
 * and `$next-question`; no I/O (the caller gathers the data).
 *
 * SDC expression-based population: https://hl7.org/fhir/uv/sdc/STU3/populate.html#expression-based-population
 *
 * Supports: `text/cql` expressions `"Library".Definition`, `Library."Definition"`, or a bare
 * definition of the Questionnaire's `cqf-library`; `text/cql-identifier` (a definition name of the
 * `cqf-library`); values Boolean, Integer, Decimal, String, Code / Concept, Date, DateTime,
 * Quantity and lists of them (repeating items), CQL or FHIR-typed; choice answers checked against
 * the item's `answerValueSet` expansion or `answerOption`s.
 * Does not support: FHIRPath or x-fhir-query expressions (reported as not supported), item
 * `initial` values, `itemPopulationContext` (repeating groups), `candidateExpression`.
 */
import type {
  Bundle,
  Coding,
  Coverage,
  MedicationRequest,
  OperationOutcomeIssue,
  Quantity as FhirQuantity,
  Questionnaire,
  QuestionnaireItem,
  QuestionnaireResponseItemAnswer,
  Resource,
} from 'fhir/r4';
import { Code, Concept, Date as CqlDate, DateTime, Quantity } from 'cql-execution';
import type { PolicyEngine } from '../engine';

/** What pre-population needs of an engine: the server's (worker pool) or the DTR app's (the package alone). */
export type PopulationEngine = Pick<PolicyEngine, 'libraries' | 'timeZone' | 'evaluateDefinitions'>;
import type { CqlInputs } from '../engine/evaluate';
import { preparePatientData } from '../engine/patient-data';
import { issue, warning } from '../fhir/outcomes';
import type { ArtifactRepository } from './artifacts';
import { EXT } from './urls';
import { isRecord } from '../fhir/json';

export const UCUM = 'http://unitsofmeasure.org';
const CQL_LANGUAGES = new Set(['text/cql', 'text/cql-expression']);
const CQL_IDENTIFIER_LANGUAGES = new Set(['text/cql-identifier', 'text/cql.identifier']);

/** One item to pre-populate: the library and definition its initialExpression names. */
export interface PopulationTarget {
  item: QuestionnaireItem;
  library: string;
  definition: string;
}

/** What the CQL runs against: a patient's data and the request it is about. */
export interface PopulationInput {
  /** The patient's data, any Bundle (fullUrl / urn:uuid references are normalized here). */
  data: Bundle;
  /** Id of the Patient the Questionnaire is about. */
  patientId: string;
  /** The order the documentation supports (its id is the CQL "Order Id" when it is a MedicationRequest). */
  order?: Resource;
  coverage?: Coverage;
  evaluationDate: Date;
}

export interface PopulationResult {
  /** Answers by linkId; an item the data cannot answer has no entry. */
  answers: Map<string, QuestionnaireResponseItemAnswer[]>;
  issues: OperationOutcomeIssue[];
}

export function walkItems(items: QuestionnaireItem[] | undefined, visit: (item: QuestionnaireItem, parents: QuestionnaireItem[]) => void, parents: QuestionnaireItem[] = []): void {
  for (const item of items ?? []) {
    visit(item, parents);
    walkItems(item.item, visit, [...parents, item]);
  }
}

export function findItem(questionnaire: Questionnaire, linkId: string): QuestionnaireItem | undefined {
  let found: QuestionnaireItem | undefined;
  walkItems(questionnaire.item, (item) => {
    if (!found && item.linkId === linkId) found = item;
  });
  return found;
}

const itemPath = (linkId: string): string => `Questionnaire.item.where(linkId='${linkId}')`;

/** The library the Questionnaire's `cqf-library` names (by canonical, else the `/Library/<Name>` tail). */
function defaultLibrary(questionnaire: Questionnaire, artifacts: ArtifactRepository | undefined): string | undefined {
  const canonical = questionnaire.extension?.find((e) => e.url === EXT.cqfLibrary)?.valueCanonical;
  if (!canonical) return undefined;
  const published = artifacts?.byCanonical('Library', canonical);
  if (published?.name) return published.name;
  return /\/Library\/([^/|]+)(\|.*)?$/.exec(canonical)?.[1];
}

const unquote = (s: string): string => s.trim().replace(/^"(.*)"$/, '$1');
const QUALIFIED = /^\s*("[^"]+"|[A-Za-z_][A-Za-z0-9_]*)\s*\.\s*("[^"]+"|[A-Za-z_][A-Za-z0-9_]*)\s*$/;
const SIMPLE = /^\s*("[^"]+"|[A-Za-z_][A-Za-z0-9_]*)\s*$/;

/**
 * The items with an initialExpression, each resolved to a library definition the engine has.
 * Items whose expression cannot be run give an issue and no target.
 */
export function populationTargets(
  questionnaire: Questionnaire,
  engine: PopulationEngine,
  artifacts?: ArtifactRepository,
): { targets: PopulationTarget[]; skipped: { linkId: string; issue: OperationOutcomeIssue }[] } {
  const targets: PopulationTarget[] = [];
  const skipped: { linkId: string; issue: OperationOutcomeIssue }[] = [];
  const skip = (linkId: string, issue: OperationOutcomeIssue): void => {
    skipped.push({ linkId, issue });
  };
  const fallback = defaultLibrary(questionnaire, artifacts);
  walkItems(questionnaire.item, (item) => {
    const expression = item.extension?.find((e) => e.url === EXT.initialExpression)?.valueExpression;
    if (!expression) return;
    const language = expression.language ?? '';
    const text = expression.expression ?? '';
    let library: string | undefined;
    let definition: string | undefined;
    if (CQL_LANGUAGES.has(language)) {
      const qualified = QUALIFIED.exec(text);
      const simple = qualified ? null : SIMPLE.exec(text);
      if (qualified?.[1] && qualified[2]) [library, definition] = [unquote(qualified[1]), unquote(qualified[2])];
      else if (simple?.[1]) [library, definition] = [fallback, unquote(simple[1])];
    } else if (CQL_IDENTIFIER_LANGUAGES.has(language)) {
      [library, definition] = [fallback, unquote(text)];
    } else {
      skip(item.linkId, warning('not-supported', `Item ${item.linkId}: initialExpression language ${language || '(none)'} is not run by this server; only CQL is`, itemPath(item.linkId)));
      return;
    }
    if (!definition) {
      skip(item.linkId, warning('not-supported', `Item ${item.linkId}: initialExpression ${JSON.stringify(text)} is not a reference to a CQL definition ("Library".Definition)`, itemPath(item.linkId)));
      return;
    }
    if (!library || !engine.libraries.libraries.has(library)) {
      skip(item.linkId, warning('not-found', `Item ${item.linkId}: CQL library ${library ?? '(no cqf-library)'} is not available on this server`, itemPath(item.linkId)));
      return;
    }
    targets.push({ item, library, definition });
  });
  return { targets, skipped };
}

function cqlInputs(input: PopulationInput, timeZone: string): CqlInputs {
  const order = input.order?.resourceType === 'MedicationRequest' ? (input.order as MedicationRequest) : undefined;
  return {
    ...(order?.id ? { orderId: order.id } : {}),
    lineOfBusiness: input.coverage?.type?.coding ?? [],
    diagnoses: (order?.reasonCode ?? []).flatMap((c) => c.coding ?? []),
    // DTR has no store: authorizations on file are not known here.
    priorAuthorizations: [],
    evaluationDate: input.evaluationDate,
    timeZone,
  };
}

/**
 * Evaluates the initialExpressions of the Questionnaire (or of the items named by `only`), one
 * `engine.evaluateDefinitions` call per library (on the worker pool when there is one), and
 * converts each value to answers.
 */
export async function populateAnswers(
  questionnaire: Questionnaire,
  input: PopulationInput,
  deps: { engine: PopulationEngine; artifacts?: ArtifactRepository },
  only?: ReadonlySet<string>,
): Promise<PopulationResult> {
  const found = populationTargets(questionnaire, deps.engine, deps.artifacts);
  const targets = only ? found.targets.filter((t) => only.has(t.item.linkId)) : found.targets;
  const issues = found.skipped.filter((s) => !only || only.has(s.linkId)).map((s) => s.issue);
  const answers = new Map<string, QuestionnaireResponseItemAnswer[]>();
  if (targets.length === 0) return { answers, issues };

  const { bundle } = preparePatientData(input.data, input.patientId);
  const inputs = cqlInputs(input, deps.engine.timeZone);
  const byLibrary = new Map<string, PopulationTarget[]>();
  for (const target of targets) byLibrary.set(target.library, [...(byLibrary.get(target.library) ?? []), target]);
  for (const [library, list] of byLibrary) {
    const results = await deps.engine.evaluateDefinitions(library, list.map((t) => t.definition), bundle, inputs);
    for (const { item, definition } of list) {
      const result = results.get(definition);
      if (!result) continue;
      if ('error' in result) {
        issues.push(warning('exception', `Item ${item.linkId} was not pre-populated: ${result.error.message}`, itemPath(item.linkId)));
        continue;
      }
      const converted = answersFor(result.value, item, deps.artifacts);
      if ('problem' in converted) {
        issues.push(warning('processing', `Item ${item.linkId} was not pre-populated: "${library}"."${definition}" ${converted.problem}`, itemPath(item.linkId)));
      } else if (converted.answers.length > 0) {
        answers.set(item.linkId, converted.answers);
      }
    }
  }
  return { answers, issues };
}

/** Marks an answer with the DTR information-origin extension. */
export function withOrigin(answer: QuestionnaireResponseItemAnswer, source: 'auto' | 'override' | 'manual'): QuestionnaireResponseItemAnswer {
  const others = (answer.extension ?? []).filter((e) => e.url !== EXT.informationOrigin);
  return { ...answer, extension: [...others, { url: EXT.informationOrigin, extension: [{ url: 'source', valueCode: source }] }] };
}

/** Whether an answer carries a value (not only nested items or extensions). */
export function hasValue(answer: QuestionnaireResponseItemAnswer): boolean {
  return Object.keys(answer).some((k) => k.startsWith('value'));
}

// ---------------------------------------------------------------------------------------------
// CQL value → answer

type Converted = { answers: QuestionnaireResponseItemAnswer[] } | { problem: string };

interface FhirObjectLike {
  _json?: unknown;
  _typeInfo?: { name?: string };
}

/** cql-exec-fhir wraps FHIR-typed results; unwrap them to their JSON (primitives to their value). */
function unwrap(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const json = (value as FhirObjectLike)._json;
  return json === undefined ? value : json;
}

function kindOf(value: unknown): string {
  if (value instanceof Code) return 'Code';
  if (value instanceof Concept) return 'Concept';
  if (value instanceof DateTime) return 'DateTime';
  if (value instanceof CqlDate) return 'Date';
  if (value instanceof Quantity) return 'Quantity';
  if (Array.isArray(value)) return 'List';
  if (value !== null && typeof value === 'object') return 'structured';
  return typeof value === 'number' ? 'Decimal' : typeof value === 'string' ? 'String' : typeof value === 'boolean' ? 'Boolean' : typeof value;
}


function codingOf(value: unknown): Coding | undefined {
  if (value instanceof Code) {
    const coding: Coding = { code: value.code };
    if (value.system) coding.system = value.system;
    if (value.version) coding.version = value.version;
    if (value.display) coding.display = value.display;
    return coding;
  }
  if (value instanceof Concept) return value.codes.length === 1 ? codingOf(value.codes[0]) : undefined;
  if (isRecord(value)) {
    if (typeof value.code === 'string' && (value.system === undefined || typeof value.system === 'string')) return value as Coding;
    if (Array.isArray(value.coding) && value.coding.length === 1) return codingOf(value.coding[0]);
  }
  return undefined;
}

function quantityOf(value: unknown): FhirQuantity | undefined {
  if (value instanceof Quantity) {
    if (typeof value.value !== 'number') return undefined;
    const unit = typeof value.unit === 'string' && value.unit !== '' && value.unit !== '1' ? value.unit : undefined;
    return { value: value.value, ...(unit ? { unit, system: UCUM, code: unit } : {}) };
  }
  if (isRecord(value) && typeof value.value === 'number') return value as FhirQuantity;
  return undefined;
}

function choiceCodings(item: QuestionnaireItem, artifacts: ArtifactRepository | undefined): Coding[] | undefined {
  const options = (item.answerOption ?? []).map((o) => o.valueCoding).filter((c): c is Coding => c !== undefined);
  if (options.length > 0) return options;
  if (item.answerValueSet && artifacts) {
    const expansion = artifacts.expandValueSet(item.answerValueSet)?.expansion?.contains;
    if (expansion) return expansion.map((c) => ({ ...(c.system ? { system: c.system } : {}), ...(c.code ? { code: c.code } : {}), ...(c.display ? { display: c.display } : {}) }));
  }
  return undefined;
}

function one(raw: unknown, item: QuestionnaireItem, artifacts: ArtifactRepository | undefined): QuestionnaireResponseItemAnswer | string {
  const value = unwrap(raw);
  const misfit = `returned a ${kindOf(raw)} value, which does not fit a ${item.type} item`;
  switch (item.type) {
    case 'boolean':
      return typeof value === 'boolean' ? { valueBoolean: value } : misfit;
    case 'decimal': {
      const number = typeof value === 'number' ? value : quantityOf(value)?.value;
      return typeof number === 'number' && Number.isFinite(number) ? { valueDecimal: number } : misfit;
    }
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value) ? { valueInteger: value } : misfit;
    case 'string':
    case 'text':
      return typeof value === 'string' ? { valueString: value } : misfit;
    case 'url':
      return typeof value === 'string' ? { valueUri: value } : misfit;
    case 'date':
      if (value instanceof DateTime) return { valueDate: value.getDate().toString() };
      if (value instanceof CqlDate) return { valueDate: value.toString() };
      return typeof value === 'string' && /^\d{4}(-\d{2}(-\d{2})?)?$/.test(value) ? { valueDate: value } : misfit;
    case 'dateTime':
      if (value instanceof DateTime || value instanceof CqlDate) return { valueDateTime: value.toString() };
      return typeof value === 'string' && /^\d{4}/.test(value) ? { valueDateTime: value } : misfit;
    case 'time':
      return typeof value === 'string' && /^\d{2}:\d{2}/.test(value) ? { valueTime: value } : misfit;
    case 'quantity': {
      const quantity = quantityOf(value);
      return quantity ? { valueQuantity: quantity } : misfit;
    }
    case 'choice':
    case 'open-choice': {
      if (typeof value === 'string') {
        const stringOptions = (item.answerOption ?? []).map((o) => o.valueString).filter((s) => s !== undefined);
        if (item.type === 'open-choice' || stringOptions.includes(value)) return { valueString: value };
        return `returned the text ${JSON.stringify(value)}, which is not among the item's answer options`;
      }
      const options = choiceCodings(item, artifacts);
      const candidates = value instanceof Concept ? value.codes.map(codingOf) : [codingOf(value)];
      const codings = candidates.filter((c): c is Coding => c !== undefined);
      if (codings.length === 0) return misfit;
      if (!options) return { valueCoding: codings[0]! };
      for (const coding of codings) {
        const option = options.find((o) => o.code === coding.code && (o.system === undefined || o.system === coding.system));
        if (option) return { valueCoding: { ...option, ...coding, ...(coding.display ?? option.display ? { display: coding.display ?? option.display } : {}) } };
      }
      if (item.type === 'open-choice') return { valueCoding: codings[0]! };
      return `returned ${codings.map((c) => `${c.system ?? ''}|${c.code ?? ''}`).join(', ')}, which is not among the item's answer options`;
    }
    case 'reference': {
      if (isRecord(value) && typeof value.resourceType === 'string' && typeof value.id === 'string') {
        return { valueReference: { reference: `${value.resourceType}/${value.id}` } };
      }
      return misfit;
    }
    default:
      return `cannot pre-populate a ${item.type} item`;
  }
}

/** Converts a CQL result to the answers of an item (null or an empty list: no answer). */
export function answersFor(value: unknown, item: QuestionnaireItem, artifacts?: ArtifactRepository): Converted {
  if (value === null || value === undefined) return { answers: [] };
  const values = (Array.isArray(value) ? value.flat(Infinity) : [value]).filter((v) => v !== null && v !== undefined);
  if (values.length === 0) return { answers: [] };
  if (values.length > 1 && !item.repeats) return { problem: `returned ${values.length} values for an item that does not repeat` };
  const answers: QuestionnaireResponseItemAnswer[] = [];
  for (const v of values) {
    const answer = one(v, item, artifacts);
    if (typeof answer === 'string') return { problem: answer };
    answers.push(answer);
  }
  return { answers };
}

/** An informational issue (e.g. "nothing pre-populated"). */
export function information(text: string, expression?: string): OperationOutcomeIssue {
  return issue('information', 'informational', text, expression);
}
