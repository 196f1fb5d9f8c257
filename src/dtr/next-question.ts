/**
 * `POST [base]/Questionnaire/$next-question` — adaptive DTR form driven by the policy's criteria.
 * SDC 3.0.0: https://hl7.org/fhir/uv/sdc/STU3/OperationDefinition-Questionnaire-next-question.html
 * Adaptive forms: https://hl7.org/fhir/uv/sdc/STU3/adaptive.html
 * DTR 2.0.1 adaptive Questionnaire: https://hl7.org/fhir/us/davinci-dtr/STU2/StructureDefinition-dtr-questionnaire-adapt.html
 *
 * Each call evaluates the policy (the one whose Questionnaire the response names, catalog
 * `byQuestionnaire`) over the patient's data plus the response's answers, and asks only what the
 * chart could not answer, one criterion at a time:
 * - the next criterion, in catalog order, that is `unknown` (or `unmet` with `onUnmet: pend`, since
 *   an attestation may still meet it) and whose `questionnaireItems` hold questions not yet asked
 *   → those questions are appended to the contained Questionnaire (in a group per criterion,
 *   copied from the policy Questionnaire: text, type, code, required, answerValueSet, help items)
 *   and to the response, pre-filled from the chart where it can (information-origin `auto`);
 * - when none is left (or the decision is an approval or a denial that no answer can change), the
 *   response comes back `completed` with the CRD coverage-information extension built from the
 *   final Decision; criteria still unmet or unknown are its `reason`s.
 * DTR adaptive Questionnaires carry no `enableWhen`, so the server applies the policy form's
 * enableWhen itself: a question whose condition names another question of the same criterion is
 * asked once that question has been asked and its answer satisfies the condition; conditions on
 * other questions (indication, initial or continued therapy) are settled by the Decision itself.
 *
 * Supports:
 * - input: a bare QuestionnaireResponse, or Parameters with `questionnaire-response` (SDC 3; `in`
 *   and `questionnaireResponse` accepted) plus the patient data as in population-data.ts (`data` /
 *   `patientData` Bundles, or `fhirServer` + `accessToken`). A bare response is evaluated without
 *   chart data: with no diagnosis the policy's other-use section (review) applies and the form
 *   completes at once, so clients should send the data.
 * - the response names the policy Questionnaire by canonical, or its adaptive form
 *   (`<form>-adaptive`, from `$questionnaire-package`) (first call; its answered items,
 *   e.g. from `$populate`, count as asked) or by a contained adaptive Questionnaire (`#id`) whose
 *   `derivedFrom` (or `url`) is that canonical. Its `qr-context` Coverage and order, else the
 *   data's active Coverage and newest draft/active order of the policy's drug, make the request.
 * - output (SDC `return`): the bare QuestionnaireResponse, profile sdc-questionnaireresponse-adapt,
 *   `questionnaire` = `#<contained id>`, the contained Questionnaire (profile dtr-questionnaire-adapt,
 *   `questionnaireAdaptive` true, `derivedFrom` the policy Questionnaire), status in-progress or
 *   completed. The completed response, sent with PAS `$submit`, is read by the policy CQL like a
 *   static one (preparePatientData maps `#id` to the contained Questionnaire's derivedFrom).
 * - the completed session's coverage assertion is stored (deps `assertions`) with its decision, so
 *   the coverage-assertion-id on the response names it, as a CRD assertion's does.
 * - errors, thrown as OperationOutcomeError: malformed input → 400 naming the element; a required
 *   question asked earlier and left unanswered → 400 (`required`); a Questionnaire no policy
 *   uses → 404.
 *
 * Does not support: time limits, scores or calculated items, repeating groups, answers to questions
 * the adaptive form never asked once it has a contained Questionnaire (400), returning non-fatal issues (a pre-population failure
 * just leaves the question empty).
 */
import { randomUUID } from 'node:crypto';
import type {
  Bundle,
  Coverage,
  Extension,
  MedicationRequest,
  Patient,
  Questionnaire,
  QuestionnaireItem,
  QuestionnaireItemEnableWhen,
  QuestionnaireResponse,
  QuestionnaireResponseItem,
  QuestionnaireResponseItemAnswer,
  Resource,
} from 'fhir/r4';
import type { PolicyEngine } from '../engine';
import type { CriterionDefinition, PolicyDefinition } from '../catalog/types';
import type { Decision } from '../engine/decision';
import type { EvaluationRequest } from '../engine/request';
import { chartRequest } from '../engine/chart-request';
import { medicationCodes, payerContext } from '../fhir/order-context';
import { badRequest, notFound } from '../fhir/outcomes';
import { buildCoverageInformation } from '../crd/coverage-information';
import { COVERAGE_INFORMATION_URL, type CrdVersion } from '../crd/types';
import type { FhirFetcherFactory } from '../fhir/fetcher';
import { parseReference } from '../fhir/reference';
import { resourcesOfType } from '../fhir/bundle-index';
import type { ArtifactRepository } from './artifacts';
import { memberKeyOf, orderKeyOf, type Store } from '../store';
import { formCanonicalOf } from './adaptive-form';
import { EXT, ORDER_TYPES, splitCanonical } from './urls';
import {
  addRequesterRole,
  checkDataParameters,
  DATA_PARAMETERS,
  checkSubject,
  emptyDataParameters,
  gatherData,
  readDataParameter,
  resolveReference,
  type DataParameters,
  type GatheredData,
} from './population-data';
import { findItem, hasValue, populateAnswers, walkItems, withOrigin } from './prepopulate';
import { questionnaireCanonical, type OperationResult } from './populate';
import { isRecord } from '../fhir/json';
import { OPERATION_DEFINITIONS } from '../fhir/operation-definitions';
import { operationRules, readParameters } from '../fhir/parameters';

export const ADAPTIVE = {
  questionnaireProfile: 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-questionnaire-adapt',
  responseProfile: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaireresponse-adapt',
  adaptiveExtension: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-questionnaireAdaptive',
} as const;

/** Extensions that make a renderer compute answers: the server has done that in an adaptive form. */
const EXPRESSION_EXTENSIONS = new Set<string>([
  EXT.initialExpression,
  EXT.calculatedExpression,
  EXT.candidateExpression,
  EXT.contextExpression,
  EXT.enableWhenExpression,
  EXT.answerExpression,
  EXT.itemPopulationContext,
]);
const ORDER_TYPE_SET = new Set<string>(ORDER_TYPES);

export interface NextQuestionDeps {
  engine: PolicyEngine;
  artifacts: ArtifactRepository;
  now: () => Date;
  fetcherFactory?: FhirFetcherFactory;
  /** CRD version of the coverage-information extension. Default 2.0 (DTR 2.0.1 goes with CRD 2.0.1). */
  crdVersion?: CrdVersion;
  /** Public base URL of this server, for the extension's policy link (`/policies/{id}`). */
  publicBaseUrl?: string;
  /**
   * Where the completed session's coverage assertion is kept, so that its coverage-assertion-id
   * (CRD ext-coverage-information) names a stored assertion: `$questionnaire-package` `context`
   * finds it, as it finds a CRD one. Without it the id is generated and not stored.
   */
  assertions?: Pick<Store, 'saveCoverageAssertion'>;
}

interface NextQuestionRequest {
  response: QuestionnaireResponse;
  /** FHIRPath of the response in the request (`QuestionnaireResponse` or `Parameters.parameter[i].resource`). */
  at: string;
  data: DataParameters;
}


function checkItems(items: unknown, at: string): void {
  if (items === undefined) return;
  if (!Array.isArray(items)) throw badRequest('item must be an array', at);
  items.forEach((item: unknown, i: number) => {
    if (!isRecord(item) || typeof item.linkId !== 'string' || item.linkId === '') throw badRequest('each item needs a linkId', `${at}[${i}].linkId`);
    if (item.answer !== undefined) {
      if (!Array.isArray(item.answer)) throw badRequest('answer must be an array', `${at}[${i}].answer`);
      item.answer.forEach((a: unknown, j: number) => {
        if (!isRecord(a)) throw badRequest('each answer must be an object', `${at}[${i}].answer[${j}]`);
        checkItems(a.item, `${at}[${i}].answer[${j}].item`);
      });
    }
    checkItems(item.item, `${at}[${i}].item`);
  });
}

function parseResponse(resource: unknown, at: string): QuestionnaireResponse {
  if (!isRecord(resource) || resource.resourceType !== 'QuestionnaireResponse') throw badRequest('$next-question expects a QuestionnaireResponse', at);
  if (!['in-progress', 'completed', 'amended'].includes(resource.status as string)) {
    throw badRequest('QuestionnaireResponse.status must be in-progress (or completed / amended)', `${at}.status`);
  }
  if (resource.contained !== undefined && !Array.isArray(resource.contained)) throw badRequest('contained must be an array', `${at}.contained`);
  if (resource.extension !== undefined && !Array.isArray(resource.extension)) throw badRequest('extension must be an array', `${at}.extension`);
  checkItems(resource.item, `${at}.item`);
  return resource as unknown as QuestionnaireResponse;
}

/** The input in a Parameters: the SDC OperationDefinition (`in` and `questionnaireResponse` read too) and the data parameters. */
export const NEXT_QUESTION_RULES = operationRules(OPERATION_DEFINITIONS.nextQuestion, {
  change: { 'questionnaire-response': { aliases: ['in', 'questionnaireResponse'] } },
  extra: DATA_PARAMETERS,
});

/** Narrows the input: a bare QuestionnaireResponse or Parameters; every failure is a 400 naming the element. */
export function parseNextQuestionRequest(body: unknown): NextQuestionRequest {
  if (isRecord(body) && body.resourceType === 'QuestionnaireResponse') {
    return { response: parseResponse(body, 'QuestionnaireResponse'), at: 'QuestionnaireResponse', data: emptyDataParameters() };
  }
  if (!isRecord(body) || body.resourceType !== 'Parameters') {
    throw badRequest('$next-question expects a QuestionnaireResponse, or Parameters with a questionnaire-response', 'QuestionnaireResponse');
  }
  const params = readParameters(body, NEXT_QUESTION_RULES);
  const data = emptyDataParameters();
  for (const p of params.list) readDataParameter(p, data);
  // 1..1: the reader has answered 400 when it is missing.
  const at = params.first('questionnaire-response')!.valueExpression;
  const response = parseResponse(params.first('questionnaire-response')!.resource, at);
  checkDataParameters(data);
  return { response, at, data };
}

// ---------------------------------------------------------------------------------------------
// The policy, its Questionnaire and the adaptive one

interface FormState {
  policy: PolicyDefinition;
  /** The policy's (static) Questionnaire. */
  source: Questionnaire;
  /** The adaptive Questionnaire the response carries, when it has one. */
  adaptive?: Questionnaire;
}

function resolveForm(response: QuestionnaireResponse, at: string, deps: NextQuestionDeps): FormState {
  const named = response.questionnaire;
  if (typeof named !== 'string' || named.trim() === '') {
    throw badRequest("QuestionnaireResponse.questionnaire is required: the policy Questionnaire's canonical, or #id of the contained adaptive one", `${at}.questionnaire`, 'required');
  }
  const containedQuestionnaires = (response.contained ?? []).filter((r): r is Questionnaire => isRecord(r) && r.resourceType === 'Questionnaire');
  let adaptive: Questionnaire | undefined;
  let canonical: string;
  if (named.startsWith('#')) {
    adaptive = containedQuestionnaires.find((q) => q.id === named.slice(1));
    if (!adaptive) throw badRequest(`QuestionnaireResponse.questionnaire names ${named}, which is not a contained Questionnaire`, `${at}.questionnaire`);
    const derived = adaptive.derivedFrom?.[0] ?? adaptive.url;
    if (!derived) throw badRequest('the contained adaptive Questionnaire must name the policy Questionnaire in derivedFrom', `${at}.contained.where(id='${adaptive.id}').derivedFrom`, 'required');
    canonical = derived;
  } else {
    canonical = named.trim();
    const base = splitCanonical(canonical).url;
    adaptive = containedQuestionnaires.find((q) => q.derivedFrom?.some((d) => splitCanonical(d).url === base));
  }
  // The adapt-search form of a package (`<form>-adaptive`) stands for its policy form.
  canonical = formCanonicalOf(canonical) ?? canonical;
  const policy = deps.engine.catalog.byQuestionnaire(canonical);
  if (!policy) throw notFound(`No policy of this payer uses Questionnaire ${canonical}`);
  const source = deps.artifacts.byCanonical('Questionnaire', canonical) ?? deps.artifacts.byCanonical('Questionnaire', policy.questionnaire);
  if (!source) throw notFound(`Questionnaire ${canonical} is not published by this server`);
  if (adaptive?.item !== undefined && !Array.isArray(adaptive.item)) throw badRequest('the contained Questionnaire.item must be an array', `${at}.contained.where(id='${adaptive.id}').item`);
  return { policy, source, ...(adaptive ? { adaptive } : {}) };
}

/** Every answer of the response by linkId (nested items and items under answers included). */
function answersByLinkId(items: QuestionnaireResponseItem[] | undefined, into = new Map<string, QuestionnaireResponseItemAnswer[]>()): Map<string, QuestionnaireResponseItemAnswer[]> {
  for (const item of items ?? []) {
    const values = (item.answer ?? []).filter(hasValue);
    if (values.length > 0 && !into.has(item.linkId)) into.set(item.linkId, values);
    for (const answer of item.answer ?? []) answersByLinkId(answer.item, into);
    answersByLinkId(item.item, into);
  }
  return into;
}

/** A policy question as the adaptive form asks it: no enableWhen, no expressions, help items kept. */
function adaptiveItem(source: QuestionnaireItem): QuestionnaireItem {
  const out: QuestionnaireItem = structuredClone(source);
  delete out.enableWhen;
  delete out.enableBehavior;
  delete out.extension;
  delete out.item;
  const kept = (source.extension ?? []).filter((e) => !EXPRESSION_EXTENSIONS.has(e.url));
  if (kept.length > 0) out.extension = structuredClone(kept);
  const displays = (source.item ?? []).filter((c) => c.type === 'display').map(adaptiveItem);
  if (displays.length > 0) out.item = displays;
  return out;
}

const groupLinkId = (criterion: CriterionDefinition): string => `criterion-${criterion.id}`;

// ---------------------------------------------------------------------------------------------
// enableWhen, applied by the server

function answerEquals(answer: QuestionnaireResponseItemAnswer, condition: QuestionnaireItemEnableWhen): number | boolean | undefined {
  const a = answer as Record<string, unknown>;
  const c = condition as unknown as Record<string, unknown>;
  const key = Object.keys(c).find((k) => k.startsWith('answer'));
  if (!key) return undefined;
  const expected = c[key];
  const actual = a[`value${key.slice('answer'.length)}`];
  if (actual === undefined) return undefined;
  if (key === 'answerCoding') {
    const x = actual as { system?: string; code?: string };
    const y = expected as { system?: string; code?: string };
    return x.code === y.code && (y.system === undefined || x.system === y.system);
  }
  if (key === 'answerQuantity') {
    const x = (actual as { value?: number }).value;
    const y = (expected as { value?: number }).value;
    return x === undefined || y === undefined ? undefined : x === y ? 0 : x < y ? -1 : 1;
  }
  if (typeof actual === 'number' && typeof expected === 'number') return actual === expected ? 0 : actual < expected ? -1 : 1;
  if (typeof actual === 'string' && typeof expected === 'string') return actual === expected ? 0 : actual < expected ? -1 : 1;
  return actual === expected;
}

function conditionHolds(condition: QuestionnaireItemEnableWhen, answers: QuestionnaireResponseItemAnswer[]): boolean {
  if (condition.operator === 'exists') return (answers.length > 0) === condition.answerBoolean;
  return answers.some((answer) => {
    const compared = answerEquals(answer, condition);
    if (compared === undefined) return false;
    const equal = compared === true || compared === 0;
    switch (condition.operator) {
      case '=':
        return equal;
      case '!=':
        return !equal;
      case '>':
        return typeof compared === 'number' && compared > 0;
      case '<':
        return typeof compared === 'number' && compared < 0;
      case '>=':
        return typeof compared === 'number' && compared >= 0;
      case '<=':
        return typeof compared === 'number' && compared <= 0;
      default:
        return false;
    }
  });
}

/**
 * Whether a question of a criterion may be asked now: its conditions on questions of the same
 * criterion hold (each such question already asked); conditions on other questions are ignored.
 */
function askableNow(item: QuestionnaireItem, group: ReadonlySet<string>, asked: ReadonlySet<string>, answers: ReadonlyMap<string, QuestionnaireResponseItemAnswer[]>): boolean {
  const relevant = (item.enableWhen ?? []).filter((c) => group.has(c.question));
  if (relevant.length === 0) return true;
  if (relevant.some((c) => !asked.has(c.question))) return false;
  const holds = relevant.map((c) => conditionHolds(c, answers.get(c.question) ?? []));
  return item.enableBehavior === 'any' ? holds.some(Boolean) : holds.every(Boolean);
}

// ---------------------------------------------------------------------------------------------
// The request the engine decides

interface Chart {
  data: GatheredData;
  patientId: string;
  coverage?: Coverage;
  order?: Resource;
}

function contextReferences(response: QuestionnaireResponse): { reference: string; index: number }[] {
  return (response.extension ?? [])
    .map((e, index) => ({ e, index }))
    .filter(({ e }) => e.url === EXT.qrContext && typeof e.valueReference?.reference === 'string')
    .map(({ e, index }) => ({ reference: e.valueReference!.reference!, index }));
}

/** The newest draft or active order of the policy's drug in the data. */
function policyOrder(bundle: Bundle, policy: PolicyDefinition, engine: PolicyEngine): MedicationRequest | undefined {
  return resourcesOfType<MedicationRequest>(bundle, 'MedicationRequest')
    .filter((m) => (m.status === 'draft' || m.status === 'active') && medicationCodes(bundle, m).some((c) => engine.valueSets.contains(policy.drug.valueSet, c)))
    .sort((a, b) => (a.authoredOn ?? '').localeCompare(b.authoredOn ?? ''))
    .at(-1);
}

async function loadChart(request: NextQuestionRequest, form: FormState, deps: NextQuestionDeps): Promise<Chart> {
  const { response, at } = request;
  const subject = parseReference(response.subject?.reference);
  if (response.subject?.reference && subject?.resourceType !== 'Patient') throw badRequest('QuestionnaireResponse.subject must reference the Patient', `${at}.subject`);
  const firstPatient = request.data.bundles.flatMap((b) => b.entry ?? []).map((e) => e.resource).find((r) => r?.resourceType === 'Patient')?.id;
  const patientId = subject?.id ?? firstPatient;
  if (!patientId) throw badRequest('QuestionnaireResponse.subject is required: the Patient the form is about', `${at}.subject`, 'required');

  const refs = contextReferences(response);
  const orderRef = refs.find((r) => ORDER_TYPE_SET.has(parseReference(r.reference)?.resourceType ?? ''));
  const coverageRef = refs.find((r) => parseReference(r.reference)?.resourceType === 'Coverage');
  const data = await gatherData(request.data, patientId, undefined, deps);
  checkSubject(data.bundle, patientId, `${at}.subject`);
  const noData = request.data.bundles.length === 0 && !request.data.fhirServer;
  const lookUp = async (ref: { reference: string; index: number } | undefined): Promise<Resource | undefined> =>
    ref && !noData ? resolveReference(data, ref.reference, `${at}.extension[${ref.index}]`) : undefined;
  const order = (await lookUp(orderRef)) ?? policyOrder(data.bundle, form.policy, deps.engine);
  await addRequesterRole(data, order, `${at}.extension`);
  const coverage =
    ((await lookUp(coverageRef)) as Coverage | undefined) ??
    resourcesOfType<Coverage>(data.bundle, 'Coverage').find((c) => c.status === 'active');
  return { data, patientId, ...(coverage ? { coverage } : {}), ...(order ? { order } : {}) };
}

/** The response as the policy CQL reads it: completed, naming the policy Questionnaire, authored now. */
function evaluationCopy(response: QuestionnaireResponse, form: FormState, patientId: string, now: Date): QuestionnaireResponse {
  return {
    resourceType: 'QuestionnaireResponse',
    id: response.id ?? 'adaptive-response',
    questionnaire: questionnaireCanonical(form.source),
    status: 'completed',
    subject: { reference: `Patient/${patientId}` },
    authored: now.toISOString(),
    item: structuredClone(response.item ?? []),
  };
}

function evaluationRequest(chart: Chart, copy: QuestionnaireResponse, now: Date): EvaluationRequest {
  const others = (chart.data.bundle.entry ?? []).filter((e) => !(e.resource?.resourceType === 'QuestionnaireResponse' && e.resource.id === copy.id));
  const bundle: Bundle = { resourceType: 'Bundle', type: 'collection', entry: [...others, { resource: copy }] };
  if (chart.order?.resourceType === 'MedicationRequest') {
    return chartRequest({ bundle, order: chart.order as MedicationRequest, ...(chart.coverage ? { coverage: chart.coverage } : {}), patientId: chart.patientId, evaluationDate: now });
  }
  const patient = resourcesOfType<Patient>(bundle, 'Patient').find((p) => p.id === chart.patientId);
  return {
    bundle,
    patientId: chart.patientId,
    payer: payerContext(chart.coverage, patient, bundle),
    drug: { codes: [] },
    diagnoses: [],
    priorAuthorizations: [],
    evaluationDate: now,
  };
}

/** The next criterion to ask about and its questions, or undefined when the form is done. */
function nextQuestions(
  decision: Decision,
  policy: PolicyDefinition,
  asked: ReadonlySet<string>,
  answers: ReadonlyMap<string, QuestionnaireResponseItemAnswer[]>,
  source: Questionnaire,
): { criterion: CriterionDefinition; citation: string; items: QuestionnaireItem[] } | undefined {
  if (decision.outcome !== 'pend' || !decision.indication) return undefined;
  const indication = policy.indications.find((i) => i.id === decision.indication!.id);
  if (!indication) return undefined;
  const phase = decision.phase === 'continuation' ? (indication.continuation ?? indication.initial) : indication.initial;
  const definitions = new Map([...(policy.globalCriteria ?? []), ...phase.criteria].map((c) => [c.id, c]));
  const byLinkId = new Map<string, QuestionnaireItem>();
  walkItems(source.item, (item) => {
    if (!byLinkId.has(item.linkId)) byLinkId.set(item.linkId, item);
  });
  for (const result of decision.criteria) {
    const open = result.status === 'unknown' || (result.status === 'unmet' && result.onUnmet === 'pend');
    const criterion = definitions.get(result.id);
    if (!open || !criterion?.questionnaireItems?.length) continue;
    const group = new Set(criterion.questionnaireItems);
    const items = criterion.questionnaireItems
      .filter((linkId) => !asked.has(linkId))
      .map((linkId) => byLinkId.get(linkId))
      .filter((item): item is QuestionnaireItem => item !== undefined && item.type !== 'display' && item.type !== 'group')
      .filter((item) => askableNow(item, group, asked, answers));
    if (items.length > 0) return { criterion, citation: result.citation, items };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Building the answer

const escapeXml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

function narrative(questionnaire: Questionnaire): string {
  const lines: string[] = [];
  walkItems(questionnaire.item, (item, parents) => {
    if (item.type !== 'display') lines.push(`<li>${'&#160;&#160;'.repeat(parents.length)}${escapeXml(item.text ?? item.linkId)}</li>`);
  });
  const title = escapeXml(questionnaire.title ?? 'Adaptive questionnaire');
  return `<div xmlns="http://www.w3.org/1999/xhtml"><p>${title}: the questions asked so far.</p>${lines.length > 0 ? `<ul>${lines.join('')}</ul>` : ''}</div>`;
}

function responseItemsFor(items: QuestionnaireItem[] | undefined, answers: ReadonlyMap<string, QuestionnaireResponseItemAnswer[]>): QuestionnaireResponseItem[] {
  return (items ?? [])
    .filter((item) => item.type !== 'display')
    .map((item) => {
      const out: QuestionnaireResponseItem = { linkId: item.linkId };
      if (item.text) out.text = item.text;
      if (item.type === 'group') {
        const children = responseItemsFor(item.item, answers);
        if (children.length > 0) out.item = children;
        return out;
      }
      const given = answers.get(item.linkId);
      if (given && given.length > 0) out.answer = structuredClone(given);
      return out;
    });
}

function uniqueId(wanted: string, taken: ReadonlySet<string>): string {
  if (!taken.has(wanted)) return wanted;
  for (let n = 2; ; n += 1) if (!taken.has(`${wanted}-${n}`)) return `${wanted}-${n}`;
}

/** The id of the completed session's coverage assertion: stored (source `dtr`) when a store is given. */
async function storedAssertionId(chart: Chart, policy: PolicyDefinition, decision: Decision, deps: NextQuestionDeps): Promise<string> {
  if (!deps.assertions || !chart.coverage) return randomUUID();
  const patient = resourcesOfType<Patient>(chart.data.bundle, 'Patient').find((p) => p.id === chart.patientId);
  const payerId = payerContext(chart.coverage, patient, chart.data.bundle).identifiers.find((i) => i.value)?.value ?? 'unknown-payer';
  const saved = await deps.assertions.saveCoverageAssertion({
    hookInstance: `dtr-next-question:${randomUUID()}`,
    policyId: policy.id,
    orderKey: chart.order?.resourceType === 'MedicationRequest' ? orderKeyOf(chart.order as MedicationRequest) : null,
    patientKey: memberKeyOf(payerId, chart.coverage, chart.patientId),
    decision,
    questionnaire: policy.questionnaire,
  });
  return saved.id;
}

export async function nextQuestion(body: unknown, deps: NextQuestionDeps): Promise<OperationResult<QuestionnaireResponse>> {
  const request = parseNextQuestionRequest(body);
  const { response: input, at } = request;
  const form = resolveForm(input, at, deps);
  const now = deps.now();
  const answers = answersByLinkId(input.item);

  // What has been asked: the adaptive Questionnaire's questions, or (first call) whatever was answered.
  const adaptiveItems: QuestionnaireItem[] = structuredClone(form.adaptive?.item ?? []);
  const asked = new Set<string>();
  walkItems(adaptiveItems, (item) => {
    if (item.type !== 'group' && item.type !== 'display') asked.add(item.linkId);
  });
  for (const linkId of answers.keys()) {
    if (asked.has(linkId)) continue;
    if (form.adaptive) throw badRequest(`item ${linkId} was answered but never asked by this adaptive form`, `${at}.item.where(linkId='${linkId}')`);
    const source = findItem(form.source, linkId);
    if (!source || source.type === 'group' || source.type === 'display') {
      throw badRequest(`item ${linkId} is not a question of ${questionnaireCanonical(form.source)}`, `${at}.item.where(linkId='${linkId}')`);
    }
    adaptiveItems.push(adaptiveItem(source));
    asked.add(linkId);
  }
  walkItems(adaptiveItems, (item) => {
    if (item.required && item.type !== 'group' && item.type !== 'display' && !answers.has(item.linkId)) {
      throw badRequest(`item ${item.linkId} is required: answer it before asking for the next question`, `${at}.item.where(linkId='${item.linkId}')`, 'required');
    }
  });

  const chart = await loadChart(request, form, deps);
  const decision = await deps.engine.evaluatePolicy(form.policy, evaluationRequest(chart, evaluationCopy(input, form, chart.patientId, now), now));
  const next = nextQuestions(decision, form.policy, asked, answers, form.source);

  const allAnswers = new Map(answers);
  if (next) {
    const prefilled = await populateAnswers(
      form.source,
      {
        data: chart.data.bundle,
        patientId: chart.patientId,
        ...(chart.order ? { order: chart.order } : {}),
        ...(chart.coverage ? { coverage: chart.coverage } : {}),
        evaluationDate: now,
      },
      deps,
      new Set(next.items.map((i) => i.linkId)),
    );
    for (const [linkId, list] of prefilled.answers) allAnswers.set(linkId, list.map((a) => withOrigin(a, 'auto')));
    const linkId = groupLinkId(next.criterion);
    let group = adaptiveItems.find((i) => i.linkId === linkId && i.type === 'group');
    if (!group) {
      group = { linkId, type: 'group', text: `${next.criterion.text} (${next.citation})`, item: [] };
      adaptiveItems.push(group);
    }
    group.item = [...(group.item ?? []), ...next.items.map(adaptiveItem)];
  }

  const otherContained = (input.contained ?? []).filter((r) => r !== form.adaptive);
  const containedId = form.adaptive?.id ?? uniqueId('adaptive', new Set(otherContained.map((r) => r.id ?? '')));
  const adaptive: Questionnaire = {
    ...(form.adaptive ? structuredClone(form.adaptive) : {}),
    resourceType: 'Questionnaire',
    id: containedId,
    meta: { profile: [ADAPTIVE.questionnaireProfile] },
    text: { status: 'generated', div: '' },
    extension: [{ url: ADAPTIVE.adaptiveExtension, valueBoolean: true }],
    ...(form.source.version ? { version: form.source.version } : {}),
    title: form.source.title ?? form.source.name ?? 'Prior authorization documentation',
    status: 'active',
    subjectType: ['Patient'],
    derivedFrom: [questionnaireCanonical(form.source)],
    item: adaptiveItems,
  };
  delete adaptive.url;
  adaptive.text = { status: 'generated', div: narrative(adaptive) };

  const output: QuestionnaireResponse = structuredClone(input);
  output.meta = { ...output.meta, profile: [...new Set([...(output.meta?.profile ?? []), ADAPTIVE.responseProfile])] };
  output.contained = [adaptive, ...otherContained];
  output.questionnaire = `#${containedId}`;
  output.subject ??= { reference: `Patient/${chart.patientId}` };
  output.authored = now.toISOString();
  output.item = responseItemsFor(adaptiveItems, allAnswers);
  const extensions: Extension[] = (output.extension ?? []).filter((e) => e.url !== COVERAGE_INFORMATION_URL);
  if (next) {
    output.status = 'in-progress';
  } else {
    output.status = 'completed';
    const coverage = chart.coverage?.id ? `Coverage/${chart.coverage.id}` : contextReferences(input).find((r) => parseReference(r.reference)?.resourceType === 'Coverage')?.reference;
    if (coverage) {
      const assertionId = await storedAssertionId(chart, form.policy, decision, deps);
      extensions.push(
        buildCoverageInformation(decision, {
          version: deps.crdVersion ?? '2.0',
          hook: 'order-sign',
          coverage,
          assertionId,
          date: now.toISOString().slice(0, 10),
          ...(deps.publicBaseUrl ? { policyUrl: `${deps.publicBaseUrl.replace(/\/$/, '')}/policies/${form.policy.id}` } : {}),
          billingCodes: form.policy.drug.hcpcs,
        }),
      );
    }
  }
  if (extensions.length > 0) output.extension = extensions;
  else delete output.extension;
  return { status: 200, body: output };
}
