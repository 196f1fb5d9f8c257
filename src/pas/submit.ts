/**
 * `Claim/$submit` (Da Vinci PAS 2.2.1,
 * https://hl7.org/fhir/us/davinci-pas/STU2.1/OperationDefinition-Claim-submit.html).
 *
 * Supports: a PAS request Bundle (bare or in Parameters); payer from Claim.insurer / Coverage.payor,
 * drug from the item's NDC/HCPCS or the MedicationRequest it points to, indication from
 * Claim.diagnosis; the same CQL policies as CRD; a completed DTR QuestionnaireResponse in
 * supportingInfo; an authorization already granted at CRD order-sign for the same order is
 * returned instead of a new decision; a resubmitted Claim identifier returns the stored answer.
 * Every request, response, decision trace and authorization is persisted in one transaction.
 *
 * Does not support: X12 278 translation, `$inquire`, subscriptions for pended updates,
 * claims whose items belong to different policies with different authorization periods
 * (items share one authorization number; each item carries its own period).
 */
import crypto from 'node:crypto';
import type { Bundle } from 'fhir/r4';
import type { PolicyEngine } from '../engine';
import { approvalBasis, type Decision } from '../engine/decision';
import { asPriorAuthorizations, memberKeyOf, orderKeyOf, type Authorization, type Store } from '../store';
import { parsePasRequest } from './validate';
import { extractPasContext, toEvaluationRequest, type PasContext, type PasItem } from './context';
import { buildPasResponse } from './response';
import type { Logger } from '../logger';
import type { AuthenticatedClient } from '../auth/smart';
import { forbidden } from '../fhir/outcomes';
import { clientMaySee } from './submitter';

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
  decisions: Decision[];
}

function payerIdOf(ctx: PasContext): string {
  return ctx.payer.identifiers.find((i) => i.value)?.value ?? 'unknown-payer';
}

function drugKeyOf(item: PasItem, decision: Decision, engine: PolicyEngine): string {
  const policy = decision.policy ? engine.catalog.get(decision.policy.id) : undefined;
  if (policy) return policy.drug.valueSet;
  const code = item.drugCodes[0];
  return code ? `${code.system ?? ''}|${code.code ?? ''}` : 'unknown-drug';
}

/** An authorization granted for this order earlier (e.g. at CRD order-sign) and still valid today (the caller also checks it is this member's). */
function validOn(authorization: Authorization | null, today: string): authorization is Authorization {
  return (
    authorization !== null &&
    authorization.status === 'approved' &&
    authorization.start !== null &&
    authorization.end !== null &&
    authorization.start <= today &&
    today <= authorization.end
  );
}

export async function submitClaim(
  deps: SubmitDeps,
  body: unknown,
  requestId: string,
  client?: AuthenticatedClient,
): Promise<SubmitResult> {
  const started = Date.now();
  const request = parsePasRequest(body);
  const ctx = extractPasContext(request);
  const now = deps.clock();
  const today = now.toISOString().slice(0, 10);
  if (!clientMaySee(client, request.bundle)) {
    throw forbidden(
      `This client submits for ${client?.organization.system}|${client?.organization.value}; Claim.provider does not carry that identifier.`,
      'Bundle.entry[0].resource.provider',
    );
  }

  // A resubmission of the same Claim (same business identifier) gets the answer already given.
  for (const identifier of ctx.claim.identifier ?? []) {
    if (!identifier.value) continue;
    const previous = await deps.store.findClaimByIdentifier(identifier.system ?? null, identifier.value);
    // Only the submitter's own earlier request is replayed; another organization's is none of its business.
    if (previous && clientMaySee(client, previous.requestBundle)) {
      return { status: 200, body: previous.responseBundle, decisions: [] };
    }
  }

  const payerId = payerIdOf(ctx);
  const member = memberKeyOf(payerId, ctx.coverage.resource, ctx.patientId);
  const onFile = asPriorAuthorizations(await deps.store.listAuthorizations({ memberKey: member }));

  const decisions: Decision[] = [];
  let granted: Authorization | undefined;
  for (const item of ctx.items) {
    const order = item.medicationRequest?.resource;
    const orderKey = order ? orderKeyOf(order) : null;
    const existing = orderKey ? await deps.store.findAuthorizationByOrder(orderKey) : null;
    const decision = await deps.engine.evaluate(toEvaluationRequest(ctx, item, onFile, now));
    if (validOn(existing, today) && existing.memberKey === member && decision.outcome !== 'deny') {
      // Granted at order-sign for this very order: the same authorization answers the claim.
      granted ??= existing;
      decisions.push({
        ...decision,
        outcome: 'approve',
        approvalPeriod: { start: existing.start as string, end: existing.end as string },
        reasons: [
          {
            code: 'prior-authorization-on-file',
            text: `Authorization ${existing.number} was granted for this order on ${existing.createdAt.slice(0, 10)}.`,
          },
          ...decision.reasons,
        ],
      });
      continue;
    }
    decisions.push(decision);
  }

  const primaryIndex = Math.max(0, decisions.findIndex((d) => d.policy !== null));
  const primary = decisions[primaryIndex] ?? decisions[0];
  if (!primary) throw new Error('a validated PAS request has at least one item');
  const primaryItem = ctx.items[primaryIndex] ?? ctx.items[0];
  const approved = decisions.find((d) => d.outcome === 'approve' && d.approvalPeriod);
  const responseId = crypto.randomUUID();
  const primaryOrder = primaryItem?.medicationRequest?.resource;

  const record = await deps.store.saveClaimSubmission({
    claim: ctx.claim,
    requestBundle: request.bundle,
    decision: primary,
    payerId,
    patientKey: member,
    ...(granted
      ? { authorizationNumber: granted.number }
      : approved?.approvalPeriod && primaryItem
        ? {
            authorization: {
              memberKey: member,
              policyId: approved.policy?.id ?? null,
              drugKey: drugKeyOf(primaryItem, approved, deps.engine),
              orderKey: primaryOrder ? orderKeyOf(primaryOrder) : null,
              status: 'approved' as const,
              basis: approvalBasis(approved),
              start: approved.approvalPeriod.start,
              end: approved.approvalPeriod.end,
            },
          }
        : {}),
    respond: ({ claimId, authorization }) => {
      const number = granted?.number ?? authorization?.number;
      const bundle = buildPasResponse({
        request: ctx,
        decisions,
        ...(number && approved?.approvalPeriod
          ? { authorization: { number, start: approved.approvalPeriod.start, end: approved.approvalPeriod.end } }
          : {}),
        responseId,
        now,
        claimId,
        ...(deps.config ? { baseUrl: `${deps.config.publicBaseUrl}/fhir` } : {}),
      });
      const claimResponse = bundle.entry?.[0]?.resource;
      if (claimResponse?.resourceType !== 'ClaimResponse') throw new Error('PAS response must start with a ClaimResponse');
      return { responseBundle: bundle, claimResponse };
    },
  });

  await deps.store.audit({
    requestId,
    action: 'pas.submit',
    payerId,
    policyId: primary.policy?.id ?? null,
    outcome: decisions.map((d) => d.outcome).join(','),
    latencyMs: Date.now() - started,
    status: 200,
  });
  deps.logger.info('pas.submit', {
    requestId,
    claimId: record.id,
    policy: primary.policy?.id ?? null,
    outcomes: decisions.map((d) => d.outcome),
    ms: Date.now() - started,
  });
  return { status: 200, body: record.responseBundle, decisions };
}
