/**
 * `Claim/$submit` (Da Vinci PAS 2.2.1,
 * https://hl7.org/fhir/us/davinci-pas/STU2.1/OperationDefinition-Claim-submit.html).
 *
 * Supports: a PAS request Bundle (bare or in Parameters); payer from Claim.insurer / Coverage.payor,
 * drug from the item's NDC/HCPCS or the MedicationRequest it points to, indication from
 * Claim.diagnosis; the same CQL policies as CRD; a completed DTR QuestionnaireResponse in
 * supportingInfo; an authorization already valid for the same member and drug answers the item
 * instead of a new review; a resend of the same request (same submitter, Claim identifier and
 * content) gets the current answer, the same identifier with other content a 409; updates and
 * cancels (profile-claim-update: `related.claim` prior, infoCancelled / certificationType 3,
 * infoChanged) replace the earlier request, revoke what they cancel and keep what they leave
 * unchanged; CMS-0057-F due times on pended requests.
 * Every request, response, decision trace, authorization and audit event is persisted in one statement
 * (one transaction for an update or cancel).
 *
 * Does not support: X12 278 translation; claims whose items belong to different policies with
 * different authorization periods (items share one authorization number; each item carries its
 * own period).
 */
import crypto from 'node:crypto';
import type { Bundle, OperationOutcomeIssue } from 'fhir/r4';
import type { PolicyEngine } from '../engine';
import { approvalBasis, type Decision } from '../engine/decision';
import { DuplicateSubmissionError, orderKeyOf, writtenResponseText, type Authorization, type ClaimRecord, type Store } from '../store';
import { decideOrder, drugKeyOf, grantAuthorization, readMemberFile, revokeAuthorization } from '../authorization';
import { parsePasRequest } from './validate';
import { extractPasContext, toEvaluationRequest, type PasContext } from './context';
import { buildPasRejection, buildPasResponseInSlices, readReviewAction } from './response';
import { businessRejection } from './rejection';
import { quantityAdjustment, type QuantityAdjustment } from './quantity-limit';
import {
  cancelledSequences,
  cancelsWholeRequest,
  contentHashOf,
  decisionDueAt,
  isExpedited,
  itemChange,
  priorReferenceOf,
  submissionKeyOf,
  withCancelledItems,
} from './lifecycle';
import { ACTION } from './codes';
import type { Logger } from '../logger';
import type { AuthenticatedClient } from '../auth/smart';
import { badRequest, forbidden, OperationOutcomeError, outcome, issue } from '../fhir/outcomes';
import { clientMaySee, clientMaySeeClaim, organizationKeyOf, submitterKeysOf } from './submitter';
import { payerToday } from '../core/dates';
import { timeSlices, yieldToEventLoop } from '../core/promises';

export interface SubmitDeps {
  engine: PolicyEngine;
  store: Store;
  clock: () => Date;
  logger: Logger;
  /** PUBLIC_BASE_URL: the response's fullUrls, identifier systems and Claim reference live under it. */
  config?: { publicBaseUrl: string };
}

export interface SubmitResult {
  status: number;
  body: Bundle;
  /** `body`'s JSON text (long: UTF-8 bytes) when the store already made it (a new submission): a 1,000-item answer is ~30 ms to serialize. */
  text?: string | Buffer;
  decisions: Decision[];
}

function payerIdOf(ctx: PasContext): string {
  return ctx.payer.identifiers.find((i) => i.value)?.value ?? 'unknown-payer';
}

/** 409: the identifier already names another request of this submitter. */
function identifierTaken(claim: ClaimRecord): OperationOutcomeError {
  return new OperationOutcomeError(
    409,
    outcome([
      issue(
        'error',
        'duplicate',
        `Claim.identifier already names another request of this submitter (ClaimResponse/${claim.claimResponseId}) with different content. ` +
          'To change a request, send an update whose related.claim names it (relationship prior).',
        'Bundle.entry[0].resource.identifier[0]',
      ),
    ]),
  );
}

/** Who the request is from, for the resend key: the SMART client's organization, else Claim.provider. */
function submitterScope(client: AuthenticatedClient | undefined, submitterKeys: string[]): string {
  return organizationKeyOf(client) ?? [...submitterKeys].sort()[0] ?? 'anonymous';
}

/** The request an update or cancel replaces, visible to this submitter; 400 naming the reference otherwise. */
async function findPrior(store: Store, ctx: PasContext, client: AuthenticatedClient | undefined): Promise<ClaimRecord | null> {
  const ref = priorReferenceOf(ctx.claim);
  let prior: ClaimRecord | null = null;
  let expression = 'Bundle.entry[0].resource.related';
  if (ref) {
    expression = ref.expression;
    if (ref.id) prior = await store.getClaim(ref.id);
    if (!prior && ref.identifier?.value) prior = await store.findClaimByIdentifier(ref.identifier.system ?? null, ref.identifier.value);
  } else if (cancelsWholeRequest(ctx.claim)) {
    // A cancel without related.claim names the request by its own identifier (X12 278 practice).
    for (const identifier of ctx.claim.identifier ?? []) {
      if (!identifier.value) continue;
      prior = await store.findClaimByIdentifier(identifier.system ?? null, identifier.value);
      if (prior) break;
    }
    expression = 'Bundle.entry[0].resource.identifier';
  } else {
    return null;
  }
  if (!prior || !clientMaySeeClaim(client, prior)) {
    throw badRequest(
      'The request this Claim updates or cancels is not on file for this submitter: name it in related.claim (relationship prior) by the Claim reference or identifier ClaimResponse.request gave.',
      expression,
      'not-found',
    );
  }
  if (prior.outcome === 'cancelled') {
    throw new OperationOutcomeError(409, outcome([issue('error', 'conflict', `The request Claim/${prior.id} was already cancelled.`, expression)]));
  }
  if (prior.replacedByClaimId) {
    throw new OperationOutcomeError(
      409,
      outcome([issue('error', 'conflict', `The request Claim/${prior.id} was already replaced by Claim/${prior.replacedByClaimId}; update that one.`, expression)]),
    );
  }
  return prior;
}

/** The prior request's items that stand approved (A1) with their authorization number, by sequence. */
function approvedItems(prior: ClaimRecord): Map<number, string> {
  const result = new Map<number, string>();
  for (const item of prior.claimResponse.item ?? []) {
    const action = readReviewAction(item);
    const approved = action?.code === ACTION.certified.code || action?.code === ACTION.modified.code;
    if (approved && action?.number) result.set(item.itemSequence, action.number);
  }
  return result;
}

export async function submitClaim(
  deps: SubmitDeps,
  body: unknown,
  requestId: string,
  client?: AuthenticatedClient,
  /** `contentHashOf` a Bundle body, computed off the event loop with its structure check. */
  known: { contentHash?: string } = {},
): Promise<SubmitResult> {
  const started = Date.now();
  // Each step is ~15–40 ms of the event loop for a 1,000-line Claim: other requests go between them.
  // A small request's parse takes well under a slice, and it keeps its turn.
  const slices = timeSlices();
  const request = parsePasRequest(body);
  if (slices.due()) await slices.pause();
  const ctx = extractPasContext(request);
  const now = deps.clock();
  const today = payerToday(now, deps.engine.timeZone);
  if (!clientMaySee(client, request.bundle)) {
    throw forbidden(
      `This client submits for ${client?.organization.system}|${client?.organization.value}; Claim.provider does not carry that identifier.`,
      'Bundle.entry[0].resource.provider',
    );
  }

  const submitterKeys = submitterKeysOf(request.bundle);
  const contentHash = known.contentHash !== undefined && request.bundle === body ? known.contentHash : contentHashOf(request.bundle);
  const baseKey = submissionKeyOf(submitterScope(client, submitterKeys), ctx.claim);
  const replayOf = (record: ClaimRecord): SubmitResult => ({ status: 200, body: record.responseBundle, decisions: [] });

  // A resend of the same request gets its current answer; the same identifier with other content is
  // refused, unless the request updates or cancels the one that carries it.
  let submissionKey = baseKey;
  // The member's file is read beside the resend check, not after it: one store round trip less to
  // wait for. A replay or a rejection does not use it.
  const payerId = payerIdOf(ctx);
  const fileRead = readMemberFile(deps.store, { payerId, coverage: ctx.coverage.resource, patientId: ctx.patientId }, today);
  fileRead.catch(() => undefined);
  const previous = baseKey ? await deps.store.findClaimBySubmissionKey(baseKey) : null;
  if (previous && previous.contentHash === contentHash) return replayOf(previous);
  if (previous && baseKey) {
    if (!priorReferenceOf(ctx.claim) && !cancelsWholeRequest(ctx.claim)) throw identifierTaken(previous);
    submissionKey = crypto.createHash('sha256').update(`${baseKey}\n${contentHash}`).digest('hex');
    const resent = await deps.store.findClaimBySubmissionKey(submissionKey);
    if (resent) return replayOf(resent);
  }

  // Business rejections (X12 901 in ClaimResponse.error); a cancel still goes through.
  const rejection = cancelsWholeRequest(ctx.claim) ? undefined : businessRejection(ctx, today);
  if (rejection) {
    const bundle = buildPasRejection({
      request: ctx,
      rejection,
      responseId: crypto.randomUUID(),
      now,
      ...(deps.config ? { baseUrl: `${deps.config.publicBaseUrl}/fhir` } : {}),
    });
    await deps.store.audit({
      requestId,
      action: 'pas.submit',
      actor: client?.clientId ?? null,
      payerId,
      policyId: null,
      outcome: `rejected:${rejection.code.code}`,
      latencyMs: Date.now() - started,
      status: 200,
    });
    deps.logger.info('pas.submit', { requestId, rejected: rejection.code.code, ms: Date.now() - started });
    return { status: 200, body: bundle, decisions: [] };
  }

  const prior = await findPrior(deps.store, ctx, client);
  const cancelled = prior ? cancelledSequences(ctx.claim, ctx.items) : new Set<number>();
  const keptNumbers = prior ? approvedItems(prior) : new Map<number, string>();

  const file = await fileRead;
  const member = file.memberKey;

  const decisions: Decision[] = [];
  let granted: Authorization | undefined;
  for (const [index, item] of ctx.items.entries()) {
    // Repeated lines are answered from one evaluation, as resolved promises: without a pause every
    // 25 lines a 1,000-line Claim would keep the event loop from other requests for ~100 ms.
    if (index % 25 === 24) await yieldToEventLoop();
    const isCancelled = cancelled.has(item.sequence);
    const { decision, onFile } = await decideOrder(
      file,
      {
        ...(item.medicationRequest ? { order: item.medicationRequest.resource } : {}),
        drugCodes: item.drugCodes,
        evaluate: (priorAuthorizations) => deps.engine.evaluate(toEvaluationRequest(ctx, item, priorAuthorizations, now)),
        // A cancelled line is never adjudicated: the trace is kept, the answer is "cancelled". An
        // explicit renewal or extension (certificationType R/4) asks for a new period: it is reviewed.
        answerFromFile: !isCancelled && item.phaseHint !== 'continuation',
        // An unchanged line the earlier request had approved keeps its authorization.
        ...(!isCancelled && prior && !itemChange(item.item) && keptNumbers.has(item.sequence) ? { keptNumber: keptNumbers.get(item.sequence) } : {}),
      },
      deps.engine.catalog,
    );
    if (onFile) granted ??= onFile;
    decisions.push(decision);
  }

  const primaryIndex = Math.max(0, decisions.findIndex((d) => d.policy !== null));
  const primary = decisions[primaryIndex] ?? decisions[0];
  if (!primary) throw new Error('a validated PAS request has at least one item');
  const primaryItem = ctx.items[primaryIndex] ?? ctx.items[0];
  const live = decisions.filter((_, i) => !cancelled.has(ctx.items[i]?.sequence ?? -1));
  const allCancelled = live.length === 0;
  const approved = granted ? undefined : live.find((d) => d.outcome === 'approve' && d.approvalPeriod);
  const period = granted ? { start: granted.start as string, end: granted.end as string } : approved?.approvalPeriod;
  const pended = live.some((d) => d.outcome === 'pend');
  const responseId = crypto.randomUUID();
  const primaryOrder = primaryItem?.medicationRequest?.resource;
  const expedited = pended && isExpedited(ctx.claim);
  const adjustments = period ? quantityAdjustments(deps.engine, ctx, decisions, cancelled, period) : { byItem: new Map<number, QuantityAdjustment>(), warnings: [] };
  ctx.warnings.push(...adjustments.warnings);

  let record: ClaimRecord;
  try {
    // The store builds the response before its transaction begins and writes it with the claim,
    // its decision, its authorization and (an update or cancel) the prior request's new version.
    record = await deps.store.saveClaimSubmission({
      claim: ctx.claim,
      requestBundle: request.bundle,
      decision: primary,
      payerId,
      patientKey: member,
      submitterKeys,
      contentHash,
      submissionKey,
      expedited,
      outcome: allCancelled ? 'cancelled' : pended ? 'pend' : (live.find((d) => d.policy !== null) ?? live[0] ?? primary).outcome,
      ...(pended ? { dueAt: decisionDueAt(now, expedited, deps.engine.timeZone) } : {}),
      replacesClaimId: prior?.id ?? null,
      ...(granted
        ? { authorizationNumber: granted.number }
        : approved?.approvalPeriod && primaryItem
          ? {
              authorization: grantAuthorization(
                {
                  memberKey: member,
                  drugKey: drugKeyOf(approved.policy ? deps.engine.catalog.get(approved.policy.id) : undefined, primaryItem.drugCodes),
                  orderKey: primaryOrder ? orderKeyOf(primaryOrder) : null,
                },
                { policyId: approved.policy?.id ?? null, basis: approvalBasis(approved), period: approved.approvalPeriod },
              ),
            }
          : {}),
      respond: async ({ claimId, authorizationNumber }) => {
        const number = granted?.number ?? authorizationNumber;
        const bundle = await buildPasResponseInSlices({
          request: ctx,
          decisions,
          ...(number && period ? { authorization: { number, start: period.start, end: period.end } } : {}),
          responseId,
          now,
          today,
          claimId,
          cancelledSequences: cancelled,
          quantityAdjustments: adjustments.byItem,
          ...(deps.config ? { baseUrl: `${deps.config.publicBaseUrl}/fhir` } : {}),
        });
        const claimResponse = bundle.entry?.[0]?.resource;
        if (claimResponse?.resourceType !== 'ClaimResponse') throw new Error('PAS response must start with a ClaimResponse');
        return { responseBundle: bundle, claimResponse };
      },
      ...(prior ? { alsoInTransaction: (tx: Store, saved: ClaimRecord) => replacePrior(tx, prior, saved, cancelled, granted?.number ?? null, client) } : {}),
      // Written with the claim; its latency runs to the decision, the write itself excluded.
      audit: {
        requestId,
        action: prior ? (allCancelled ? 'pas.cancel' : 'pas.update') : 'pas.submit',
        actor: client?.clientId ?? null,
        payerId,
        policyId: primary.policy?.id ?? null,
        outcome: decisions.map((d, i) => (cancelled.has(ctx.items[i]?.sequence ?? -1) ? 'cancelled' : d.outcome)).join(','),
        latencyMs: Date.now() - started,
        status: 200,
      },
    });
  } catch (error) {
    // A concurrent twin committed first: this one was rolled back (no decision, no number).
    if (error instanceof DuplicateSubmissionError) {
      const twin = await deps.store.findClaimBySubmissionKey(error.submissionKey);
      if (twin && twin.contentHash === contentHash) return replayOf(twin);
      if (twin) throw identifierTaken(twin);
    }
    throw error;
  }

  deps.logger.info('pas.submit', {
    requestId,
    claimId: record.id,
    replaces: prior?.id ?? null,
    policy: primary.policy?.id ?? null,
    // Counted, not listed: one line stays short for a 1,000-item Claim.
    outcomes: decisions.reduce<Record<string, number>>((n, d) => ({ ...n, [d.outcome]: (n[d.outcome] ?? 0) + 1 }), {}),
    ms: Date.now() - started,
  });
  const text = writtenResponseText(record);
  return { status: 200, body: record.responseBundle, ...(text !== undefined ? { text } : {}), decisions };
}

/** The policy's count limit applied to each approved item (A6 when it asks for more). */
function quantityAdjustments(
  engine: PolicyEngine,
  ctx: PasContext,
  decisions: Decision[],
  cancelled: ReadonlySet<number>,
  period: { start: string; end: string },
): { byItem: Map<number, QuantityAdjustment>; warnings: OperationOutcomeIssue[] } {
  const byItem = new Map<number, QuantityAdjustment>();
  const warnings: OperationOutcomeIssue[] = [];
  ctx.items.forEach((item, i) => {
    const decision = decisions[i];
    if (!decision || decision.outcome !== 'approve' || cancelled.has(item.sequence) || !decision.policy) return;
    const policy = engine.catalog.get(decision.policy.id);
    const indication = policy?.indications.find((x) => x.id === decision.indication?.id);
    const phase = decision.phase === 'continuation' ? indication?.continuation : indication?.initial;
    const result = quantityAdjustment(item, phase?.quantityLimit, decision.policy.citationPrefix, decision.approvalPeriod ?? period);
    if (result.adjustment) byItem.set(item.sequence, result.adjustment);
    if (result.warning) warnings.push(result.warning);
  });
  return { byItem, warnings };
}

/**
 * The earlier request once an update or cancel replaced it: a new version of its ClaimResponse (the
 * cancelled lines answered `C`), its authorization revoked unless the update kept it.
 */
async function replacePrior(
  tx: Store,
  prior: ClaimRecord,
  replacement: ClaimRecord,
  cancelled: ReadonlySet<number>,
  keptNumber: string | null,
  client: AuthenticatedClient | undefined,
): Promise<void> {
  const priorSequences = new Set((prior.claimResponse.item ?? []).map((i) => i.itemSequence));
  const cancelledHere = new Set([...cancelled].filter((s) => priorSequences.has(s)));
  const wholeCancel = replacement.outcome === 'cancelled';
  const revoke = prior.authorizationNumber !== null && prior.authorizationNumber !== keptNumber;
  if (revoke && prior.authorizationNumber) await revokeAuthorization(tx, prior.authorizationNumber);
  const label = replacement.claim.identifier?.[0]?.value ?? replacement.id;
  await tx.saveClaimResponseVersion({
    claimId: prior.id,
    outcome: wholeCancel ? 'cancelled' : (prior.outcome ?? 'pend'),
    event: wholeCancel ? 'cancel' : 'update',
    actor: client?.clientId ?? null,
    final: wholeCancel,
    replacedByClaimId: replacement.id,
    authorizationNumber: revoke ? null : prior.authorizationNumber,
    respond: ({ claim }) => {
      const note = wholeCancel
        ? `Cancelled by the provider's request ${label} (Claim/${replacement.id}).`
        : `Replaced by the provider's update ${label} (Claim/${replacement.id}); see ClaimResponse/${replacement.claimResponseId} for the current answer.`;
      const sequences = wholeCancel ? priorSequences : cancelledHere;
      const claimResponse = withCancelledItems(claim.claimResponse, sequences, note);
      const responseBundle: Bundle = {
        ...claim.responseBundle,
        entry: (claim.responseBundle.entry ?? []).map((e, i) => (i === 0 ? { ...e, resource: claimResponse } : e)),
      };
      return { claimResponse, responseBundle };
    },
  });
}
