/**
 * Clinical review of pended prior-authorization requests, as a domain service (no HTTP): the
 * queue with its CMS-0057-F due times, one request with everything a reviewer needs, and the
 * actions (approve, deny, request more information, assign), each recorded with who, when, why
 * and what changed.
 *
 * Supports: every pended PAS claim in the store; the review route the catalog names (a reviewer
 * decides only what is routed to their level or below, src/review/roles.ts); a decision makes a
 * new version of the same ClaimResponse (src/store `saveClaimResponseVersion`, which also writes
 * the notification outbox row) in one transaction with the review action; an approval issues one
 * authorization number; a request for information adds a CommunicationRequest naming the
 * criteria and the policy's DTR Questionnaire and extends the clock once.
 * Does not support: deciding items of one Claim differently (the decision answers every item),
 * partial approval (A2) or modification (A6), appeals.
 */
import type { Bundle, ClaimResponse, FhirResource, QuestionnaireResponse, QuestionnaireResponseItem } from 'fhir/r4';
import type { PolicyCatalog } from '../catalog/catalog';
import type { PhaseDefinition, PolicyDefinition } from '../catalog/types';
import type { CriterionResult, Decision } from '../engine/decision';
import { badRequest, conflict, forbidden, notFound } from '../fhir/outcomes';
import { extractPasContext, type PasContext } from '../pas/context';
import { buildPasResponse, type InformationRequest } from '../pas/response';
import { parsePasRequest } from '../pas/validate';
import { ConflictError, orderKeyOf, type ClaimRecord, type ReviewActionRecord, type Store } from '../store';
import { decisionDueAt, extendedDueAt, isOverdue } from './clock';
import { mayDecide, reviewerFor, ROLE_NAMES, type ReviewerRole } from './roles';
import { approvalPeriod, isCalendarDay, payerToday } from '../core/dates';
import { drugKeyOf, grantAuthorization } from '../authorization';

export interface ReviewDeps {
  store: Store;
  catalog: PolicyCatalog;
  clock: () => Date;
  /** The payer's time zone (`PAYER_TIME_ZONE`): an approval starts on the payer's date. */
  timeZone: string;
  /** Base of fullUrls in the response Bundles (default CANONICAL_BASE). */
  baseUrl?: string;
}

export interface Reviewer {
  name: string;
  role: ReviewerRole;
  npi?: string;
}

export type ReviewStatus = 'pended' | 'information-requested' | 'approved' | 'denied' | 'cancelled';

export interface QueueItem {
  claimId: string;
  claimResponseId: string;
  /** The submitter's Claim identifier value (their tracking number). */
  requestIdentifier: string | null;
  receivedAt: string;
  dueAt: string;
  expedited: boolean;
  overdue: boolean;
  /** Who must decide: the route the catalog names (a failed `auto` goes to a physician reviewer). */
  route: ReviewerRole;
  policy: { id: string; title: string; citationPrefix: string } | null;
  indication: string | null;
  phase: string | null;
  status: ReviewStatus;
  version: number;
  assignee: string | null;
  /** Criteria unmet or unknown. */
  openCriteria: number;
}

export interface ReviewDetail extends QueueItem {
  drug: string | null;
  policyUrl: string | null;
  questionnaire: string | null;
  /** Approval duration of the policy phase, in months, and the period an approval would get today. */
  approvalMonths: number | null;
  defaultPeriod: { start: string; end: string } | null;
  quantityNote: string | null;
  criteria: CriterionResult[];
  reasons: Decision['reasons'];
  items: { sequence: number; product: string[]; diagnoses: string[]; certificationType: string | null }[];
  supportingInfo: { sequence: number; category: string; value: string }[];
  questionnaireResponses: { id: string | null; questionnaire: string | null; status: string; answers: { linkId: string; text: string | null; answer: string[] }[] }[];
  /** The request's resources by `Type/id`, so evidence references open in place. */
  resources: Record<string, FhirResource>;
  history: { version: number; outcome: string; event: string; actor: string | null; note: string | null; createdAt: string }[];
  actions: ReviewActionRecord[];
  claimResponse: ClaimResponse;
}

export interface DecisionInput {
  action: 'approve' | 'deny' | 'request-info';
  reviewer: Reviewer;
  note?: string;
  period?: { start: string; end: string };
  reason?: string;
  /** Citations, e.g. `CP.PHAR.244 I.A.5.a`. */
  criteria?: string[];
}

export interface DecisionResult {
  record: ClaimRecord;
  bundle: Bundle;
  action: ReviewActionRecord;
}


function statusOf(record: ClaimRecord, actions: ReviewActionRecord[] | null): ReviewStatus {
  switch (record.outcome) {
    case 'approve':
      return 'approved';
    case 'deny':
      return 'denied';
    case 'cancelled':
      return 'cancelled';
    case 'pend':
    case null:
      return actions?.some((a) => a.action === 'request-info') ? 'information-requested' : 'pended';
  }
}

function phaseOf(policy: PolicyDefinition | undefined, decision: Decision | undefined): PhaseDefinition | undefined {
  const indication = policy?.indications.find((i) => i.id === decision?.indication?.id);
  if (!indication || !decision) return undefined;
  return decision.phase === 'continuation' ? (indication.continuation ?? indication.initial) : indication.initial;
}

function openCriteria(decision: Decision | undefined): CriterionResult[] {
  return (decision?.criteria ?? []).filter((c) => c.status === 'unmet' || c.status === 'unknown');
}

function codingText(c: { system?: string; code?: string; display?: string }): string {
  return [c.code, c.display].filter(Boolean).join(' ');
}

function answerText(item: QuestionnaireResponseItem): string[] {
  return (item.answer ?? []).map((a) => {
    if (a.valueCoding) return codingText(a.valueCoding);
    if (a.valueQuantity) return `${a.valueQuantity.value ?? ''} ${a.valueQuantity.unit ?? a.valueQuantity.code ?? ''}`.trim();
    if (a.valueReference) return a.valueReference.reference ?? a.valueReference.display ?? '';
    const scalar = a.valueString ?? a.valueBoolean ?? a.valueDate ?? a.valueDateTime ?? a.valueInteger ?? a.valueDecimal ?? a.valueTime ?? a.valueUri;
    return scalar === undefined ? '' : String(scalar);
  });
}

function flattenAnswers(items: QuestionnaireResponseItem[] | undefined, into: ReviewDetail['questionnaireResponses'][number]['answers'] = []) {
  for (const item of items ?? []) {
    if (item.answer?.length) into.push({ linkId: item.linkId, text: item.text ?? null, answer: answerText(item) });
    flattenAnswers(item.item, into);
    for (const a of item.answer ?? []) flattenAnswers(a.item, into);
  }
  return into;
}

export class ReviewService {
  constructor(private readonly deps: ReviewDeps) {}

  /** Pended requests, soonest due first (one store query, whatever the queue's length). */
  async queue(options: { limit?: number } = {}): Promise<QueueItem[]> {
    const rows = await this.deps.store.reviewQueue(options.limit ?? 500);
    const now = this.deps.clock();
    return rows
      .map((r): QueueItem => {
        const due = r.dueAt ?? decisionDueAt(new Date(r.receivedAt), r.expedited, this.deps.timeZone);
        return {
          claimId: r.claimId,
          claimResponseId: r.claimResponseId,
          requestIdentifier: r.identifierValue,
          receivedAt: r.receivedAt,
          dueAt: due,
          expedited: r.expedited,
          overdue: isOverdue(due, now),
          route: reviewerFor(r.route),
          policy: r.policy,
          indication: r.indication,
          phase: r.phase,
          status: r.informationRequested ? 'information-requested' : 'pended',
          version: r.version,
          assignee: r.assignee,
          openCriteria: r.openCriteria,
        };
      })
      .sort((a, b) => a.dueAt.localeCompare(b.dueAt) || a.receivedAt.localeCompare(b.receivedAt));
  }

  /** Everything the reviewer needs for one request; null when the claim is unknown. */
  async detail(claimId: string): Promise<ReviewDetail | null> {
    const record = await this.deps.store.getClaim(claimId);
    if (!record) return null;
    const decision = record.decisionId ? (await this.deps.store.getDecision(record.decisionId))?.decision : undefined;
    const [actions, versions] = await Promise.all([
      this.deps.store.listReviewActions(record.id),
      this.deps.store.listClaimResponseVersions(record.id),
    ]);
    const now = this.deps.clock();
    const today = payerToday(now, this.deps.timeZone);
    const policy = decision?.policy ? this.deps.catalog.get(decision.policy.id) : undefined;
    const phase = phaseOf(policy, decision);
    const ctx = contextOf(record);
    const resources: Record<string, FhirResource> = {};
    for (const entry of record.requestBundle.entry ?? []) {
      const r = entry.resource;
      if (r?.id) resources[`${r.resourceType}/${r.id}`] = r;
    }
    return {
      ...this.summary(record, decision, actions, now),
      drug: policy?.drug.name ?? null,
      policyUrl: policy ? `/policies/${policy.id}` : null,
      questionnaire: policy?.questionnaire ?? null,
      approvalMonths: phase?.approvalMonths ?? null,
      defaultPeriod: phase?.approvalMonths !== undefined ? defaultPeriod(today, phase.approvalMonths) : null,
      quantityNote: decision?.quantityNote ?? null,
      criteria: decision?.criteria ?? [],
      reasons: decision?.reasons ?? [],
      items: (ctx?.items ?? []).map((i) => ({
        sequence: i.sequence,
        product: i.drugCodes.map(codingText),
        diagnoses: i.diagnoses.map(codingText),
        certificationType: i.certificationType?.code ?? null,
      })),
      supportingInfo: (record.claim.supportingInfo ?? []).map((s) => ({
        sequence: s.sequence,
        category: (s.category.coding ?? []).map((c) => c.code ?? '').join(', ') || (s.category.text ?? ''),
        value:
          s.valueReference?.reference ??
          s.valueString ??
          (s.valueBoolean !== undefined ? String(s.valueBoolean) : undefined) ??
          (s.valueQuantity ? `${s.valueQuantity.value ?? ''} ${s.valueQuantity.unit ?? ''}`.trim() : undefined) ??
          (s.valueAttachment?.title ?? s.valueAttachment?.url) ??
          (s.code?.coding ?? []).map(codingText).join(', '),
      })),
      questionnaireResponses: (ctx?.questionnaireResponses ?? []).map((qr: QuestionnaireResponse) => ({
        id: qr.id ?? null,
        questionnaire: qr.questionnaire ?? null,
        status: qr.status,
        answers: flattenAnswers(qr.item),
      })),
      resources,
      history: versions.map((v) => ({ version: v.version, outcome: v.outcome, event: v.event, actor: v.actor, note: v.note, createdAt: v.createdAt })),
      actions,
      claimResponse: record.claimResponse,
    };
  }

  /** Approve, deny or ask for more information; answers with the new PAS response Bundle. */
  async decide(claimId: string, input: DecisionInput): Promise<DecisionResult> {
    const { store } = this.deps;
    const record = await store.getClaim(claimId);
    if (!record) throw notFound(`No prior authorization request Claim/${claimId} is on file.`);
    if (record.outcome !== 'pend') {
      throw conflict(
        `Claim/${claimId} is already final (${record.outcome ?? 'unknown'}${record.decidedAt ? ` on ${record.decidedAt}` : ''}); a decided request is not reviewed again.`,
        'action',
      );
    }
    if (record.replacedByClaimId) {
      throw conflict(`Claim/${claimId} was replaced by the provider's update Claim/${record.replacedByClaimId}; review that one.`, 'action');
    }
    const decision = record.decisionId ? (await store.getDecision(record.decisionId))?.decision : undefined;
    if (!decision) throw conflict(`Claim/${claimId} has no decision trace to review.`);
    const route = reviewerFor(record.reviewRoute ?? decision.reviewRoute);
    const { reviewer } = input;
    if (input.action !== 'request-info' && !mayDecide(reviewer.role, route)) {
      throw forbidden(
        `The policy routes this request to ${ROLE_NAMES[route]}; ${ROLE_NAMES[reviewer.role]} may not ${input.action} it (ask for information, or assign it).`,
        'reviewer.role',
      );
    }
    const ctx = contextOf(record);
    if (!ctx) throw conflict(`Claim/${claimId}: the stored request can no longer be read.`);
    const now = this.deps.clock();
    const today = payerToday(now, this.deps.timeZone);
    const policy = decision.policy ? this.deps.catalog.get(decision.policy.id) : undefined;
    const phase = phaseOf(policy, decision);
    const actions = await store.listReviewActions(record.id);
    const note = input.note?.trim() || null;
    const by = `${ROLE_NAMES[reviewer.role]} (${reviewer.name})`;

    let newDecision: Decision | undefined;
    let information: InformationRequest | undefined;
    let period: { start: string; end: string } | undefined;
    let newDue: string | null = null;
    let cited: string[] = [];
    const changes: Record<string, { from: unknown; to: unknown }> = {};

    switch (input.action) {
      case 'approve': {
        period = input.period ?? (phase?.approvalMonths !== undefined ? defaultPeriod(today, phase.approvalMonths) : undefined);
        if (!period) {
          throw badRequest('The policy gives no approval duration for this request: give period.start and period.end.', 'period');
        }
        checkPeriod(period);
        newDecision = {
          ...decision,
          outcome: 'approve',
          reviewRoute: route,
          approvalPeriod: period,
          reasons: [{ code: 'clinical-review', text: `Approved after clinical review by ${by}${note ? `: ${note}` : '.'}` }],
          evaluatedAt: now.toISOString(),
        };
        changes.outcome = { from: 'pend', to: 'approve' };
        changes.period = { from: null, to: period };
        break;
      }
      case 'deny': {
        const reason = input.reason?.trim();
        if (!reason) throw badRequest('A denial needs a reason (the provider reads it in the response).', 'reason');
        const candidates = openCriteria(decision);
        const named = input.criteria ?? [];
        if (candidates.length > 0 && named.length === 0) {
          throw badRequest(`A denial names the criteria that are not met: one or more of ${candidates.map((c) => c.citation).join(', ')}.`, 'criteria');
        }
        const unknownCitations = named.filter((c) => !candidates.some((k) => k.citation === c));
        if (unknownCitations.length > 0) {
          throw badRequest(
            `${unknownCitations.join(', ')}: not an unmet or undocumented criterion of this request (${candidates.map((c) => c.citation).join(', ') || 'none'}).`,
            'criteria',
          );
        }
        const criteria = candidates.filter((c) => named.includes(c.citation));
        cited = criteria.map((c) => c.citation);
        const section = phase && decision.policy ? `${decision.policy.citationPrefix} ${phase.section}` : undefined;
        newDecision = {
          ...decision,
          outcome: 'deny',
          reviewRoute: route,
          reasons: [
            { code: 'not-authorized', text: `Denied after clinical review by ${by}: ${reason}`, ...(section ? { citation: section } : {}) },
            ...criteria.map((c) => ({ code: 'not-authorized' as const, text: `Not met: ${c.text}`, citation: c.citation })),
          ],
          evaluatedAt: now.toISOString(),
        };
        changes.outcome = { from: 'pend', to: 'deny' };
        break;
      }
      case 'request-info': {
        const candidates = openCriteria(decision);
        const named = input.criteria ?? [];
        const unknownCitations = named.filter((c) => !decision.criteria.some((k) => k.citation === c));
        if (unknownCitations.length > 0) throw badRequest(`${unknownCitations.join(', ')}: not a criterion of this request.`, 'criteria');
        const criteria = named.length > 0 ? decision.criteria.filter((c) => named.includes(c.citation)) : candidates;
        if (criteria.length === 0 && !note) {
          throw badRequest('Say what information is needed: name criteria or write a note to the provider.', 'note');
        }
        cited = criteria.map((c) => c.citation);
        information = { criteria, ...(note ? { note } : {}), ...(policy ? { questionnaire: policy.questionnaire } : {}) };
        const currentDue = record.dueAt ?? decisionDueAt(new Date(record.createdAt), record.expedited, this.deps.timeZone);
        const extended = actions.some((a) => a.action === 'request-info' && a.changes.dueAt !== undefined);
        newDue = extendedDueAt(currentDue, extended, this.deps.timeZone);
        if (newDue) changes.dueAt = { from: currentDue, to: newDue };
        changes.informationRequested = { from: null, to: cited };
        break;
      }
    }

    const outcome = newDecision?.outcome ?? 'pend';
    const final = outcome !== 'pend';
    const order = ctx.items.find((i) => i.medicationRequest)?.medicationRequest?.resource;
    try {
      const saved = await store.transaction(async (tx) => {
        let bundle: Bundle | undefined;
        const updated = await tx.saveClaimResponseVersion({
          claimId: record.id,
          outcome,
          ...(newDecision ? { decision: newDecision, decisionSource: 'review' as const } : {}),
          ...(outcome === 'approve' && period
            ? {
                authorization: grantAuthorization(
                  {
                    memberKey: record.patientKey ?? `unknown|${record.id}`,
                    drugKey: drugKeyOf(policy, ctx.items[0]?.drugCodes ?? []),
                    orderKey: order ? orderKeyOf(order) : null,
                  },
                  { policyId: decision.policy?.id ?? null, basis: 'review', period },
                ),
              }
            : {}),
          event: input.action === 'request-info' ? 'request-info' : 'review-decision',
          actor: `${reviewer.role}:${reviewer.name}`,
          note: input.action === 'deny' ? (input.reason?.trim() ?? null) : note,
          final,
          ...(newDue ? { dueAt: newDue } : {}),
          expectedVersion: record.version,
          respond: ({ claim, authorization }) => {
            const number = authorization?.number;
            bundle = buildPasResponse({
              request: ctx,
              decisions: ctx.items.map(() => newDecision ?? decision),
              ...(number && period ? { authorization: { number, start: period.start, end: period.end } } : {}),
              responseId: claim.claimResponseId,
              now,
              today,
              claimId: claim.id,
              ...(this.deps.baseUrl ? { baseUrl: this.deps.baseUrl } : {}),
              reviewer: reviewer.npi ? { npi: reviewer.npi } : {},
              ...(information ? { informationRequest: information } : {}),
            });
            const claimResponse = bundle.entry?.[0]?.resource;
            if (claimResponse?.resourceType !== 'ClaimResponse') throw new Error('PAS response must start with a ClaimResponse');
            return { responseBundle: bundle, claimResponse };
          },
        });
        changes.version = { from: record.version, to: updated.version };
        if (updated.authorizationNumber && updated.authorizationNumber !== record.authorizationNumber) {
          changes.authorizationNumber = { from: record.authorizationNumber, to: updated.authorizationNumber };
        }
        const action = await tx.saveReviewAction({
          claimId: record.id,
          action: input.action,
          reviewer: { name: reviewer.name, role: reviewer.role },
          reason: input.action === 'deny' ? (input.reason?.trim() ?? null) : null,
          note,
          criteria: cited,
          changes,
          version: updated.version,
        });
        return { record: updated, action };
      });
      return { ...saved, bundle: saved.record.responseBundle };
    } catch (error) {
      if (error instanceof ConflictError) throw conflict(`Claim/${claimId} changed while it was being reviewed; reload it and decide again.`);
      throw error;
    }
  }

  /** Assigns a pended request to a reviewer (null unassigns). */
  async assign(claimId: string, assignee: string | null, by: Reviewer): Promise<{ record: ClaimRecord; action: ReviewActionRecord }> {
    const { store } = this.deps;
    const record = await store.getClaim(claimId);
    if (!record) throw notFound(`No prior authorization request Claim/${claimId} is on file.`);
    if (record.outcome !== 'pend') throw conflict(`Claim/${claimId} is already final (${record.outcome ?? 'unknown'}); there is nothing to assign.`, 'assignee');
    return store.transaction(async (tx) => {
      const updated = await tx.setClaimAssignee(record.id, assignee);
      if (!updated) throw notFound(`No prior authorization request Claim/${claimId} is on file.`);
      const action = await tx.saveReviewAction({
        claimId: record.id,
        action: 'assign',
        reviewer: { name: by.name, role: by.role },
        changes: { assignee: { from: record.assignee, to: assignee } },
      });
      return { record: updated, action };
    });
  }

  private summary(record: ClaimRecord, decision: Decision | undefined, actions: ReviewActionRecord[], now: Date): QueueItem {
    const expedited = record.expedited;
    const due = record.dueAt ?? decisionDueAt(new Date(record.createdAt), expedited, this.deps.timeZone);
    return {
      claimId: record.id,
      claimResponseId: record.claimResponseId,
      requestIdentifier: record.identifierValue,
      receivedAt: record.createdAt,
      dueAt: due,
      expedited,
      overdue: record.outcome === 'pend' && isOverdue(due, now),
      route: reviewerFor(record.reviewRoute ?? decision?.reviewRoute),
      policy: decision?.policy ? { id: decision.policy.id, title: decision.policy.title, citationPrefix: decision.policy.citationPrefix } : null,
      indication: decision?.indication?.title ?? null,
      phase: decision?.phase ?? null,
      status: statusOf(record, actions),
      version: record.version,
      assignee: record.assignee,
      openCriteria: openCriteria(decision).length,
    };
  }
}

/** The approval a reviewer grants by default: the payer's `today` through the policy's approval duration. */
export function defaultPeriod(today: string, months: number): { start: string; end: string } {
  return approvalPeriod(today, months);
}

function checkPeriod(period: { start: string; end: string }): void {
  for (const key of ['start', 'end'] as const) {
    const value = period[key];
    if (!isCalendarDay(value)) {
      throw badRequest(`period.${key} must be a date (YYYY-MM-DD).`, `period.${key}`);
    }
  }
  if (period.end < period.start) throw badRequest(`period.end (${period.end}) is before period.start (${period.start}).`, 'period.end');
}

/** The stored request, parsed again (it was valid when received). */
function contextOf(record: ClaimRecord): PasContext | null {
  try {
    return extractPasContext(parsePasRequest(record.requestBundle));
  } catch {
    return null;
  }
}


