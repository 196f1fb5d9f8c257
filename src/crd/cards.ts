/**
 * The CDS Hooks answer for the draft orders the payer has policies for: a coverage-information
 * system action per order and the cards around it.
 *
 * CDS Hooks 2.0 response: https://cds-hooks.hl7.org/2.0/#cds-service-response
 * CRD 2.0.1 cards: http://hl7.org/fhir/us/davinci-crd/STU2/cards.html
 * CRD 2.2 response types: http://hl7.org/fhir/us/davinci-crd/cards.html
 *
 * Supports, each switched by a configuration option (discovery.ts):
 * - Coverage Information (`coverage-info`): a systemAction `update` carrying the whole order,
 *   unchanged except for its coverage-information extension.
 * - Instructions (with `coverage-info`, its topic): one card per order listing the unmet and
 *   undocumented criteria with their citations; no links, no suggestions.
 * - External Reference (`guideline`): a card linking to the policy page this server serves.
 * - Propose Alternate Request (`therapy-alternatives-req`): when a criterion that lists preferred
 *   alternatives is unmet or unknown (and the order is not denied), one suggestion per alternative, each a single `update` of the
 *   draft order to the alternative product (CRD 2.2 crd-respar-1).
 * `max-cards` keeps the most important cards: warnings first, then alternatives, instructions,
 * references. Card topics use CRD temp codes for 2.0/2.1 and cdshooks-card-type for 2.2; the
 * `davinci-crd.associated-resource` extension links each card to its order (strings in 2.0/2.1,
 * References in 2.2).
 *
 * - Launch SMART Application (topic `coverage-info`): when documentation is needed with a
 *   questionnaire, a card with a `smart` link to this payer's DTR app (/dtr/launch) and the DTR
 *   appContext (coverage-assertion id, questionnaire, order, coverage).
 *
 * - Request Form Completion (topic `coverage-info`, CRD 2.0/2.1 requests only): alongside the launch
 *   card, a suggestion to `create` a Task (CRD 2.0.1 profile-taskquestionnaire) asking someone to
 *   complete the same questionnaire, e.g. when the work is delegated. Not answered to CRD 2.2
 *   requests: 2.2 resp-59 forbids it when DTR applies and is available, as it is here.
 *
 * Does not support: the Questionnaire itself as a conditional `create` (clients resolve the canonical).
 */
import { randomUUID } from 'node:crypto';
import type { Coding, Extension, MedicationRequest, Task } from 'fhir/r4';
import type { CriterionDefinition, PolicyDefinition, ReviewRoute } from '../catalog/types';
import type { CriterionResult, Decision } from '../engine/decision';
import {
  buildCoverageInformation,
  checkCoverageInformation,
  withCoverageInformation,
  type SatisfiedAuthorization,
} from './coverage-information';
import type { CrdConfiguration } from './discovery';
import {
  COVERAGE_INFORMATION_URL,
  topicCoding,
  CRD_TEMP_SYSTEM,
  type CardTopic,
  type CdsAction,
  type CdsCard,
  type CdsServiceResponse,
  type CdsSuggestion,
  type CrdVersion,
  type HookName,
} from './types';

export interface OrderAnswerInput {
  order: MedicationRequest;
  decision: Decision;
  /** The catalog policy the decision applied (alternatives, questionnaire, HCPCS); null: none. */
  policy: PolicyDefinition | null;
  /** Trace id, persisted by the caller with the criteria trace. */
  assertionId: string;
  /** The approved authorization the caller persisted, when `mayGrantUnsolicitedDetermination` allowed it. */
  satisfiedAuthorization?: SatisfiedAuthorization;
}

export interface AnswerContext {
  hook: HookName;
  version: CrdVersion;
  config: CrdConfiguration;
  /** Card source label: the payer's name as the patient's insurance card shows it. */
  payerName: string;
  /** Public URL of this server (policy pages). */
  publicBaseUrl: string;
  /** Reference to the client's Coverage, e.g. `Coverage/cov-1`. */
  coverage: string;
  /** Assertion date (YYYY-MM-DD); default: each decision's evaluation date. */
  date?: string;
  /** A code for a preferred alternative (e.g. the first RxNorm code of its ValueSet), when known. */
  resolveAlternative?: (alternative: { valueSet: string; display: string }) => Readonly<Coding> | undefined;
  /** Card and suggestion ids; default random UUIDs. */
  newId?: () => string;
}

export type CardKind = 'instructions' | 'launch' | 'form' | 'alternatives' | 'reference';
export interface RankedCard {
  card: CdsCard;
  kind: CardKind;
  orderIndex: number;
}

const KIND_RANK: Record<CardKind, number> = { alternatives: 1, instructions: 2, launch: 2.5, form: 2.7, reference: 3 };
const INDICATOR_RANK: Record<CdsCard['indicator'], number> = { critical: 0, warning: 1, info: 2 };
const ROUTE_TEXT: Record<ReviewRoute, string> = {
  auto: 'clinical',
  'physician-reviewer': 'physician',
  'medical-director': 'medical director',
  committee: 'committee',
};

/** CDS Hooks: summary is one sentence of fewer than 140 characters. */
function summary(text: string): string {
  return text.length < 140 ? text : `${text.slice(0, 138).trimEnd()}…`;
}

/** Escapes GitHub-flavoured Markdown so catalog text renders as text. */
export function escapeMarkdown(text: string): string {
  return text.replace(/([\\`*_{}[\]()#+!|<>~])/g, '\\$1');
}

export function drugName(order: MedicationRequest, policy: PolicyDefinition | null): string {
  const concept = order.medicationCodeableConcept;
  return concept?.text ?? concept?.coding?.find((c) => c.display)?.display ?? policy?.drug.name ?? order.medicationReference?.display ?? 'the ordered drug';
}

function associatedResource(order: MedicationRequest, version: CrdVersion): Record<string, unknown> | undefined {
  if (!order.id) return undefined;
  const ref = `MedicationRequest/${order.id}`;
  return { 'davinci-crd.associated-resource': version === '2.2' ? [{ reference: ref }] : [ref] };
}

function baseCard(topic: CardTopic, indicator: CdsCard['indicator'], text: string, input: OrderAnswerInput, ctx: AnswerContext): CdsCard {
  const card: CdsCard = {
    uuid: (ctx.newId ?? randomUUID)(),
    summary: summary(text),
    indicator,
    source: { label: ctx.payerName, topic: topicCoding(topic, ctx.version) },
  };
  const extension = associatedResource(input.order, ctx.version);
  if (extension) card.extension = extension;
  return card;
}

function criterionLine(c: CriterionResult): string {
  const note = c.note ? ` _(${escapeMarkdown(c.note)})_` : '';
  return `- **${escapeMarkdown(c.citation)}** ${escapeMarkdown(c.text)}${note}`;
}

function instructionsCard(input: OrderAnswerInput, ctx: AnswerContext): CdsCard {
  const { decision, order, policy } = input;
  const drug = drugName(order, policy);
  const unmet = decision.criteria.filter((c) => c.status === 'unmet');
  const unknown = decision.criteria.filter((c) => c.status === 'unknown');
  const lines: string[] = [];
  let text: string;
  let indicator: CdsCard['indicator'] = 'info';

  if (!decision.policy) {
    text = `${drug}: no ${ctx.payerName} policy applies; prior authorization goes to clinical review`;
    lines.push(...decision.reasons.map((r) => escapeMarkdown(r.text)));
  } else {
    const prefix = decision.policy.citationPrefix;
    lines.push(`**${escapeMarkdown(decision.policy.title)}** (${escapeMarkdown(prefix)}, version ${escapeMarkdown(decision.policy.version)})`);
    if (decision.outcome === 'deny') {
      indicator = 'warning';
      text = `${drug}: not covered under ${prefix}`;
      lines.push('', ...decision.reasons.map((r) => escapeMarkdown(r.citation ? `${r.text} (${r.citation})` : r.text)));
    } else if (input.satisfiedAuthorization) {
      const a = input.satisfiedAuthorization;
      text = `${drug}: prior authorization ${a.number} approved through ${a.end}`;
      lines.push('', `Every criterion is met by the chart. Quote authorization **${escapeMarkdown(a.number)}** on the claim.`);
      if (decision.quantityNote) lines.push('', `Authorized: ${escapeMarkdown(decision.quantityNote)}`);
    } else if (decision.outcome === 'approve') {
      text = `${drug}: prior authorization required; the chart meets every ${prefix} criterion`;
      lines.push('', 'Submit the prior authorization request; the chart already documents every criterion.');
    } else if (unmet.length + unknown.length > 0) {
      indicator = 'warning';
      const counts = [unmet.length ? `${unmet.length} not met` : '', unknown.length ? `${unknown.length} not documented` : ''].filter(Boolean).join(', ');
      text = `${drug}: prior authorization required; ${prefix} criteria ${counts}`;
    } else {
      text = `${drug}: prior authorization required; ${prefix} requests go to ${ROUTE_TEXT[decision.reviewRoute]} review`;
      lines.push('', ...decision.reasons.map((r) => escapeMarkdown(r.text)));
    }
    if (decision.outcome !== 'deny' && !input.satisfiedAuthorization) {
      if (unmet.length > 0) lines.push('', 'Not met:', ...unmet.map(criterionLine));
      if (unknown.length > 0) lines.push('', 'Not documented in the chart:', ...unknown.map(criterionLine));
      if (unmet.length + unknown.length > 0) {
        lines.push(
          '',
          ctx.hook === 'order-select'
            ? 'The criteria are checked again when the order is signed.'
            : "Document them with the payer's questionnaire for this order, then submit the prior authorization request.",
        );
      }
    }
  }
  const card = baseCard('coverage-info', indicator, text, input, ctx);
  card.detail = [`For the ${escapeMarkdown(drug)} order.`, '', ...lines].join('\n').trim();
  return card;
}

function referenceCard(input: OrderAnswerInput, ctx: AnswerContext): CdsCard | undefined {
  const { decision, policy, order } = input;
  if (!decision.policy || !policy) return undefined;
  const drug = drugName(order, policy);
  const open = decision.criteria.filter((c) => c.status === 'unmet' || c.status === 'unknown').length;
  const card = baseCard('guideline', 'info', `${ctx.payerName} policy ${policy.citationPrefix}: ${policy.title}`, input, ctx);
  card.detail = [
    `Coverage criteria, approval duration and required documentation for ${escapeMarkdown(drug)}.`,
    open > 0 ? `${open} of its criteria are not met or not documented for this order.` : 'This order meets the criteria the chart can show.',
  ].join(' ');
  card.links = [
    {
      label: `${policy.citationPrefix} ${policy.title}`,
      url: `${ctx.publicBaseUrl.replace(/\/+$/, '')}/policies/${encodeURIComponent(policy.id)}`,
      type: 'absolute',
    },
  ];
  return card;
}

function criterionDefinitions(policy: PolicyDefinition): CriterionDefinition[] {
  return [
    ...(policy.globalCriteria ?? []),
    ...policy.indications.flatMap((i) => [...i.initial.criteria, ...(i.continuation?.criteria ?? [])]),
  ];
}

/** The draft order changed to the alternative product; dose fields are cleared for the prescriber. */
function alternativeOrder(order: MedicationRequest, alternative: { valueSet: string; display: string }, coding: Readonly<Coding> | undefined, note: string): MedicationRequest {
  const copy = structuredClone(order);
  delete copy.medicationReference;
  delete copy.dosageInstruction;
  delete copy.dispenseRequest;
  delete copy.substitution;
  copy.medicationCodeableConcept = coding ? { coding: [{ ...coding }], text: alternative.display } : { text: alternative.display };
  const extensions = (copy.extension ?? []).filter((e: Extension) => e.url !== COVERAGE_INFORMATION_URL);
  if (extensions.length > 0) copy.extension = extensions;
  else delete copy.extension;
  copy.note = [...(copy.note ?? []), { text: note }];
  return copy;
}

function alternativesCard(input: OrderAnswerInput, ctx: AnswerContext): CdsCard | undefined {
  const { decision, policy, order } = input;
  // A denied order cannot become covered through the trial (e.g. it is not covered because the
  // patient takes one of the very alternatives now): proposing them would only mislead.
  if (!decision.policy || !policy || !order.id || decision.outcome === 'deny') return undefined;
  const definitions = criterionDefinitions(policy);
  const trials = decision.criteria
    .filter((c) => c.status === 'unmet' || c.status === 'unknown')
    .map((c) => ({ result: c, definition: definitions.find((d) => d.id === c.id) }))
    .filter((t) => (t.definition?.alternatives?.length ?? 0) > 0);
  if (trials.length === 0) return undefined;

  const drug = drugName(order, policy);
  const seen = new Set<string>();
  const suggestions: CdsSuggestion[] = [];
  for (const { result, definition } of trials) {
    for (const alternative of definition?.alternatives ?? []) {
      if (seen.has(alternative.valueSet) || suggestions.length >= 5) continue;
      seen.add(alternative.valueSet);
      const action: CdsAction = {
        type: 'update',
        description: `Change the draft order from ${drug} to ${alternative.display}`,
        resource: alternativeOrder(
          order,
          alternative,
          ctx.resolveAlternative?.(alternative),
          `Preferred alternative proposed by ${ctx.payerName} (${result.citation}); set the dose before signing.`,
        ),
      };
      suggestions.push({ label: `Order ${alternative.display} instead`, uuid: (ctx.newId ?? randomUUID)(), actions: [action] });
    }
  }
  const card = baseCard('therapy-alternatives-req', 'info', `${policy.citationPrefix} requires a trial of preferred products before ${drug}`, input, ctx);
  card.detail = [
    `For the ${escapeMarkdown(drug)} order, the policy asks for a trial of:`,
    ...trials.map((t) => criterionLine(t.result)),
    '',
    'The chart does not show that trial. Choose an alternative, or document the trial and keep the order.',
  ].join('\n');
  card.suggestions = suggestions;
  card.selectionBehavior = 'at-most-one';
  return card;
}

function coverageInformationOf(input: OrderAnswerInput, ctx: AnswerContext): Extension {
  const policyUrl = input.policy ? `${ctx.publicBaseUrl.replace(/\/+$/, '')}/policies/${encodeURIComponent(input.policy.id)}` : undefined;
  return buildCoverageInformation(input.decision, {
    version: ctx.version,
    hook: ctx.hook,
    coverage: ctx.coverage,
    assertionId: input.assertionId,
    ...(ctx.date ? { date: ctx.date } : {}),
    ...(input.policy ? { questionnaire: input.policy.questionnaire, billingCodes: input.policy.drug.hcpcs } : {}),
    ...(policyUrl ? { policyUrl } : {}),
    ...(input.satisfiedAuthorization ? { satisfiedAuthorization: input.satisfiedAuthorization } : {}),
  });
}

/** The coverage-information system action for one order (undefined when `coverage-info` is off). */
export function coverageSystemAction(input: OrderAnswerInput, ctx: AnswerContext): CdsAction | undefined {
  if (!ctx.config.coverageInfo) return undefined;
  const info = coverageInformationOf(input, ctx);
  const problems = checkCoverageInformation(info, { version: ctx.version, hook: ctx.hook });
  if (problems.length > 0) throw new Error(`coverage-information for ${input.order.id ?? 'an order'} breaks the IG: ${problems.join('; ')}`);
  return {
    type: 'update',
    description: `Record ${ctx.payerName} coverage information on the ${drugName(input.order, input.policy)} order`,
    resource: withCoverageInformation(input.order, info),
  };
}

/** Path of the DTR SMART app's launch URL on this server (src/http/routes/dtr-app.ts). */
export const DTR_APP_LAUNCH_PATH = '/dtr/launch';

/** What the coverage information asks to be documented, when it names a questionnaire. */
interface DocumentationRequest {
  questionnaires: string[];
  assertionId: string;
  docPurpose: string[];
}

function documentationRequest(input: OrderAnswerInput, ctx: AnswerContext): DocumentationRequest | undefined {
  if (!ctx.config.coverageInfo || !input.order.id) return undefined;
  const info = coverageInformationOf(input, ctx);
  const sub = (url: string) => (info.extension ?? []).filter((e) => e.url === url);
  const questionnaires = sub('questionnaire').map((e) => e.valueCanonical).filter((q): q is string => typeof q === 'string');
  const assertionId = sub('coverage-assertion-id')[0]?.valueString;
  const docNeeded = sub('doc-needed').map((e) => e.valueCode);
  if (questionnaires.length === 0 || !assertionId || docNeeded.length === 0 || docNeeded.includes('no-doc')) return undefined;
  const docPurpose = sub('doc-purpose').map((e) => e.valueCode).filter((c): c is string => typeof c === 'string');
  return { questionnaires, assertionId, docPurpose };
}

/**
 * CRD "Launch SMART application": when the coverage information asks for documentation with a
 * questionnaire, a card whose `smart` link opens this payer's DTR app. Its appContext (DTR 2.0.1)
 * is a JSON string with the `coverageAssertionId` of the coverage-information, the
 * `questionnaire` canonical(s), the `order` and the `coverage`; the EHR hands it to the app in
 * the launch context unchanged.
 */
function launchCard(input: OrderAnswerInput, ctx: AnswerContext): CdsCard | undefined {
  const request = documentationRequest(input, ctx);
  if (!request || !input.order.id) return undefined;
  const drug = drugName(input.order, input.policy);
  const card = baseCard('coverage-info', 'info', `Document the ${drug} prior authorization in the ${ctx.payerName} questionnaire`, input, ctx);
  card.detail = `Opens the ${escapeMarkdown(ctx.payerName)} prior authorization app with this order: answers already in the chart are filled in; complete the rest and submit the request.`;
  card.links = [
    {
      label: `Complete the ${ctx.payerName} questionnaire`,
      url: `${ctx.publicBaseUrl.replace(/\/+$/, '')}${DTR_APP_LAUNCH_PATH}`,
      type: 'smart',
      appContext: JSON.stringify({
        coverageAssertionId: request.assertionId,
        questionnaire: request.questionnaires,
        order: `${input.order.resourceType}/${input.order.id}`,
        coverage: ctx.coverage,
      }),
    },
  ];
  return card;
}

export const TASK_QUESTIONNAIRE_PROFILE = 'http://hl7.org/fhir/us/davinci-crd/StructureDefinition/profile-taskquestionnaire';
/** SDC temporary codes: Task.code `complete-questionnaire` and input type `questionnaire` (sdc-task, sdc-t1). */
export const SDC_TEMP_SYSTEM = 'http://hl7.org/fhir/uv/sdc/CodeSystem/temp';

/** coverage-information doc-purpose -> CRD afterCompletionCode (ValueSet-afterCompletionCode). */
const AFTER_COMPLETION: Record<string, { code: string; display: string }> = {
  withpa: { code: 'prior-auth-include', display: 'Include in prior authorization' },
  withclaim: { code: 'initial-claim-include', display: 'Include in initial claim' },
};

/**
 * The CRD 2.0.1 profile-taskquestionnaire Task for one questionnaire: status ready, intent order,
 * SDC code complete-questionnaire, for the order's patient, basedOn the order, requested by the
 * payer, one `questionnaire` input and the afterCompletion inputs (1..*).
 */
function questionnaireTask(input: OrderAnswerInput, ctx: AnswerContext, questionnaire: string, after: { code: string; display: string }[], drug: string): Task {
  const { order } = input;
  const task: Task = {
    resourceType: 'Task',
    meta: { profile: [TASK_QUESTIONNAIRE_PROFILE] },
    basedOn: [{ reference: `MedicationRequest/${order.id}` }],
    status: 'ready',
    intent: 'order',
    code: { coding: [{ system: SDC_TEMP_SYSTEM, code: 'complete-questionnaire' }] },
    description: `Complete the ${ctx.payerName} questionnaire for the ${drug} order`,
    for: { reference: order.subject.reference },
    authoredOn: ctx.date ?? input.decision.evaluatedAt.slice(0, 10),
    // The client's Organization id for the payer is not known here; the display names it.
    requester: { display: ctx.payerName },
    input: [
      { type: { coding: [{ system: SDC_TEMP_SYSTEM, code: 'questionnaire' }], text: 'questionnaire' }, valueCanonical: questionnaire },
      ...after.map((a) => ({
        type: { coding: [{ system: CRD_TEMP_SYSTEM, code: 'after-completion-action' }], text: 'afterCompletion' },
        valueCodeableConcept: { coding: [{ system: CRD_TEMP_SYSTEM, ...a }] },
      })),
    ],
  };
  if (order.encounter?.reference) task.encounter = { reference: order.encounter.reference };
  if (input.decision.policy && after.some((a) => a.code === 'prior-auth-include')) {
    task.reasonCode = { coding: [{ system: CRD_TEMP_SYSTEM, code: 'reason-prior-auth', display: 'Prior authorization' }] };
  }
  return task;
}

/**
 * CRD "Request form completion": the same questionnaire(s) as the launch card and the
 * coverage-information, as a Task the clinician can schedule or delegate. Left out when the
 * order's subject is not a Patient reference (Task.for 1..1) or no doc-purpose maps to an
 * afterCompletion code (1..*).
 */
function formCompletionCard(input: OrderAnswerInput, ctx: AnswerContext): CdsCard | undefined {
  if (ctx.version === '2.2') return undefined;
  const request = documentationRequest(input, ctx);
  if (!request || !/^Patient\/[^/]+$/.test(input.order.subject?.reference ?? '')) return undefined;
  const after = request.docPurpose.flatMap((p) => (AFTER_COMPLETION[p] ? [AFTER_COMPLETION[p]] : []));
  if (after.length === 0) return undefined;
  const drug = drugName(input.order, input.policy);
  const card = baseCard('coverage-info', 'info', `Add the ${ctx.payerName} questionnaire for ${drug} to the task list`, input, ctx);
  card.detail = `Creates a task to complete the ${escapeMarkdown(ctx.payerName)} prior authorization questionnaire for this order, to do later or to assign to a colleague.`;
  card.suggestions = [
    {
      label: `Add "complete the ${ctx.payerName} questionnaire" to the task list`,
      uuid: (ctx.newId ?? randomUUID)(),
      actions: request.questionnaires.map((q) => ({
        type: 'create' as const,
        description: `Add a task to complete questionnaire ${q} for the ${drug} order`,
        resource: questionnaireTask(input, ctx, q, after, drug),
      })),
    },
  ];
  card.selectionBehavior = 'at-most-one';
  return card;
}

/** Cards for one order, as the configuration allows, before `max-cards`. */
export function orderCards(input: OrderAnswerInput, ctx: AnswerContext, orderIndex = 0): RankedCard[] {
  const cards: RankedCard[] = [];
  if (ctx.config.coverageInfo) cards.push({ card: instructionsCard(input, ctx), kind: 'instructions', orderIndex });
  const launch = launchCard(input, ctx);
  if (launch) cards.push({ card: launch, kind: 'launch', orderIndex });
  const form = formCompletionCard(input, ctx);
  if (form) cards.push({ card: form, kind: 'form', orderIndex });
  if (ctx.config.therapyAlternativesReq) {
    const card = alternativesCard(input, ctx);
    if (card) cards.push({ card, kind: 'alternatives', orderIndex });
  }
  if (ctx.config.guideline) {
    const card = referenceCard(input, ctx);
    if (card) cards.push({ card, kind: 'reference', orderIndex });
  }
  return cards;
}

/**
 * The whole hook answer. Throws (a plain Error, a server bug) if an authorization is passed while
 * the client switched coverage information off, or if a coverage-information would break the IG.
 */
export function answerOrders(orders: OrderAnswerInput[], ctx: AnswerContext): CdsServiceResponse {
  const ranked: RankedCard[] = [];
  const systemActions: CdsAction[] = [];
  orders.forEach((input, index) => {
    if (input.satisfiedAuthorization && (!ctx.config.coverageInfo || !ctx.config.unsolicitedDeterm)) {
      throw new Error('An authorization was granted although the client switched coverage-info or unsolicited-determ off');
    }
    const action = coverageSystemAction(input, ctx);
    if (action) systemActions.push(action);
    ranked.push(...orderCards(input, ctx, index));
  });
  ranked.sort(
    (a, b) =>
      INDICATOR_RANK[a.card.indicator] - INDICATOR_RANK[b.card.indicator] || KIND_RANK[a.kind] - KIND_RANK[b.kind] || a.orderIndex - b.orderIndex,
  );
  const response: CdsServiceResponse = { cards: ranked.slice(0, ctx.config.maxCards).map((r) => r.card) };
  if (systemActions.length > 0) response.systemActions = systemActions;
  return response;
}
