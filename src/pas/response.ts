/**
 * The PAS response Bundle for `Claim/$submit`: a ClaimResponse per profile-claimresponse (PAS 2.2.1,
 * https://hl7.org/fhir/us/davinci-pas/STU2/StructureDefinition-profile-claimresponse.html), then the
 * Patient, the insurer, the requester and any CommunicationRequest it points to.
 *
 * Supports: one decision per Claim item, each answered on `ClaimResponse.item.adjudication`
 * (category `submitted`) with extension-reviewAction: A1 certified (authorization number in the
 * `number` sub-extension, `preAuthRef`, `preAuthPeriod`, item `itemPreAuthPeriod`), A3 not certified
 * (X12 886 reason, the policy sections in `processNote`), A4 pended (X12 886 reasons, each unmet or
 * unknown criterion with its citation in `processNote`, and a CommunicationRequest asking for
 * documentation when criteria are unknown). `outcome` is always `complete`: the ClaimResponseOutcome
 * value set PAS binds has no `queued`, and a pend is a completed first-pass review.
 * Must-support item extensions of profile-claimresponse: `requestedServiceDate` (the Claim item's
 * serviced[x]) and `communicatedDiagnosis` (its diagnoses) echoed on every item;
 * `administrationReferenceNumber` on items not certified; `authorizedItemDetail` (product and
 * quantity) on certified items. fullUrls and identifier systems live under `baseUrl` (the
 * server's PUBLIC_BASE_URL), and `ClaimResponse.request` is the absolute URL of the stored Claim
 * plus its identifier. Non-fatal warnings (request validation, the decision) come back in an
 * OperationOutcome entry after the ClaimResponse (the response Bundle's entry slicing is open).
 * A6 modified: a certified item that asks for more than the policy's count limit
 * (catalog `quantityLimit`, src/pas/quantity-limit.ts) is answered A6 on the item, with the
 * authorized line (the allowed quantity, the authorization number and period) in `addItem`, its
 * `authorizedItemDetail` carrying the allowed quantity, and the limit's citation in `processNote`.
 * Business rejections (`rejection`: payer not served, member id missing, coverage not in effect) are
 * `outcome: error` with `ClaimResponse.error` coded from X12 901 (ValueSet X12278RejectReasonCodes,
 * required) and no item, addItem or payment (profile-claimresponse-base ClaimResponse.error comment).
 * Does not support: partial certification (A2).
 */
import type {
  Bundle,
  BundleEntry,
  ClaimResponse,
  ClaimResponseAddItem,
  ClaimResponseItem,
  ClaimResponseItemAdjudication,
  Coding,
  CommunicationRequest,
  Extension,
  OperationOutcome,
  OperationOutcomeIssue,
  Reference,
} from 'fhir/r4';
import { CANONICAL_BASE } from '../config';
import type { CriterionResult, Decision } from '../engine/decision';
import type { PasContext, PasItem } from './context';
import { isAnsweredByAuthorization } from '../authorization';
import type { QuantityAdjustment } from './quantity-limit';
import { DEFAULT_PAYER_TIME_ZONE, payerToday } from '../core/dates';
import { SLICE_MS, timeSlices } from '../core/promises';
import {
  ACTION,
  DECISION_REASON,
  DOCUMENTATION_REQUEST,
  ourIdentifiers,
  PAS_EXT,
  PAS_PROFILE,
  REVIEW_ACTION_SUB,
  SYSTEM,
} from './codes';

export interface PasAuthorization {
  /** Authorization number (preAuthRef); minted by the caller when an item is approved. */
  number: string;
  /** ISO dates, inclusive. */
  start: string;
  end: string;
}

export interface PasResponseInput {
  request: PasContext;
  /** One Decision per Claim item, in `request.items` order. */
  decisions: Decision[];
  authorization?: PasAuthorization;
  /** Id of the ClaimResponse; also the response Bundle identifier value. */
  responseId: string;
  now: Date;
  /** The payer's date at `now` (core/dates payerToday): an authorization's issue date. Default: in America/New_York. */
  today?: string;
  /** FHIR base of the fullUrls and identifier systems of resources created here: PUBLIC_BASE_URL + `/fhir` (default: CANONICAL_BASE). */
  baseUrl?: string;
  /** Id under which the Claim is stored, for `ClaimResponse.request.reference`. */
  claimId?: string;
  /** `Claim.item.sequence`s the provider cancelled: answered as cancelled, never adjudicated. */
  cancelledSequences?: ReadonlySet<number>;
  /**
   * A clinical reviewer made this decision (src/review): the ClaimResponse carries
   * extension-claimResponseReviewer, and an approval is not withheld for criteria the reviewer
   * judged over (the reviewer's reasons are in the decision).
   */
  reviewer?: PasReviewer;
  /** A reviewer asks for more information: every pended item gets a CommunicationRequest naming these. */
  informationRequest?: InformationRequest;
  /** Certified items cut to a policy quantity limit, by `Claim.item.sequence` (answered A6 with addItem). */
  quantityAdjustments?: ReadonlyMap<number, QuantityAdjustment>;
}

/** One X12 901 reject reason, for a request refused before any item is adjudicated. */
export interface PasRejection {
  /** X12 901 code and display. */
  code: { code: string; display: string };
  /** Why, in words, for `disposition` and the OperationOutcome. */
  text: string;
  /** X12 element of the 278 the error is about (extension-errorElement), e.g. `2010A-NM109`. */
  element: string;
  /** FHIRPath into the request Bundle (extension-errorPath). */
  path: string;
  /** X12 889 follow-up action: `C` correct and resubmit, `N` resubmission not allowed... */
  followUp: { code: string; display: string };
}

export interface PasReviewer {
  /** The reviewer's NPI, when known (reviewerNPI). */
  npi?: string;
}

export interface InformationRequest {
  /** The criteria the documentation should show. */
  criteria: CriterionResult[];
  /** The reviewer's message to the provider. */
  note?: string;
  /** Canonical of the policy's DTR Questionnaire the provider can complete instead. */
  questionnaire?: string;
}

export type ReviewActionCode = (typeof ACTION)[keyof typeof ACTION]['code'];

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

type Verdict =
  | { kind: 'certified'; authorization: PasAuthorization; period: { start: string; end: string }; adjustment?: QuantityAdjustment }
  | { kind: 'not-certified' }
  | { kind: 'pended' }
  | { kind: 'no-policy' }
  | { kind: 'cancelled' }
  | { kind: 'withheld'; why: string };

/** Safety net: an approval is only issued with a policy, an approval period, an authorization
 * number, and no criterion left unmet or unknown. Anything else goes to review. */
function verdictOf(decision: Decision, authorization: PasAuthorization | undefined, reviewed: boolean): Verdict {
  if (decision.outcome === 'deny' && (decision.policy !== null || reviewed)) return { kind: 'not-certified' };
  if (decision.policy === null && !(reviewed && decision.outcome === 'approve')) return { kind: 'no-policy' };
  if (decision.outcome === 'pend') return { kind: 'pended' };
  // Approved by an authorization already on file: its criteria were decided when it was issued.
  if (isAnsweredByAuthorization(decision) && decision.approvalPeriod && authorization) {
    return { kind: 'certified', authorization, period: decision.approvalPeriod };
  }
  const open = decision.criteria.filter((c) => c.status === 'unmet' || c.status === 'unknown');
  if (open.length > 0 && !reviewed) return { kind: 'withheld', why: `${open.length} criteria are unmet or unknown` };
  if (!decision.approvalPeriod) return { kind: 'withheld', why: 'the decision has no approval period' };
  if (!authorization) return { kind: 'withheld', why: 'no authorization number was issued' };
  return { kind: 'certified', authorization, period: decision.approvalPeriod };
}

function actionOf(verdict: Verdict): (typeof ACTION)[keyof typeof ACTION] {
  if (verdict.kind === 'certified') return verdict.adjustment ? ACTION.modified : ACTION.certified;
  if (verdict.kind === 'not-certified') return ACTION.notCertified;
  if (verdict.kind === 'cancelled') return ACTION.cancelled;
  return ACTION.pended;
}

function reasonsOf(verdict: Verdict, decision: Decision, infoRequested: boolean): { coding: Coding; text?: string }[] {
  const coding = (r: (typeof DECISION_REASON)[keyof typeof DECISION_REASON]): Coding => ({
    system: SYSTEM.x12DecisionReason,
    code: r.code,
    display: r.display,
  });
  switch (verdict.kind) {
    case 'certified':
    case 'cancelled':
      return [];
    case 'not-certified': {
      const reason = decision.reasons.find((r) => r.code === 'not-authorized') ?? decision.reasons[0];
      return [{ coding: coding(DECISION_REASON.nonCovered), ...(reason ? { text: reason.text } : {}) }];
    }
    case 'pended': {
      const result: { coding: Coding; text?: string }[] = [];
      if (infoRequested || decision.criteria.some((c) => c.status === 'unknown')) {
        result.push({ coding: coding(DECISION_REASON.additionalInformation) });
      }
      if (decision.criteria.some((c) => c.status === 'unmet') || result.length === 0) {
        result.push({ coding: coding(DECISION_REASON.medicalReview) });
      }
      return result;
    }
    case 'no-policy':
      return [{ coding: coding(DECISION_REASON.medicalReview), text: 'No prior authorization policy on file for this request' }];
    case 'withheld':
      return [{ coding: coding(DECISION_REASON.medicalReview) }];
  }
}

function reviewActionExtension(verdict: Verdict, decision: Decision, infoRequested: boolean): Extension {
  const action = actionOf(verdict);
  const extension: Extension[] = [
    {
      url: PAS_EXT.reviewActionCode,
      valueCodeableConcept: { coding: [{ system: SYSTEM.x12ActionCode, code: action.code, display: action.display }] },
    },
  ];
  if (verdict.kind === 'certified') extension.push({ url: REVIEW_ACTION_SUB.number, valueString: verdict.authorization.number });
  for (const reason of reasonsOf(verdict, decision, infoRequested)) {
    extension.push({
      url: REVIEW_ACTION_SUB.reasonCode,
      valueCodeableConcept: { coding: [reason.coding], ...(reason.text ? { text: reason.text } : {}) },
    });
  }
  return { url: PAS_EXT.reviewAction, extension };
}

function sentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

function criterionLine(c: CriterionResult): string {
  const what = c.status === 'unknown' ? 'not shown by the request' : 'not met';
  const evidence = c.evidence.length > 0 ? ` Evidence: ${c.evidence.join(', ')}.` : '';
  const note = c.note ? ` ${sentence(c.note)}` : '';
  return `${c.citation} — ${what}: ${sentence(c.text)}${note}${evidence}`;
}

const REVIEWER: Record<Decision['reviewRoute'], string> = {
  auto: '',
  'physician-reviewer': ' by a physician reviewer',
  'medical-director': ' by the medical director',
  committee: ' by the pharmacy and therapeutics committee',
};

function policyName(decision: Decision): string {
  return decision.policy ? `${decision.policy.citationPrefix} (${decision.policy.title})` : 'no policy';
}

/** processNote lines for one item; the first line is also the item's disposition. */
function itemNotes(item: PasItem, verdict: Verdict, decision: Decision): string[] {
  const label = `Item ${item.sequence}`;
  const indication = decision.indication ? `, ${decision.indication.title}, ${decision.phase} therapy` : '';
  switch (verdict.kind) {
    case 'certified': {
      const lines = [
        `${label}: certified under ${policyName(decision)}${indication}; authorization ${verdict.authorization.number}, ` +
          `valid ${verdict.period.start} to ${verdict.period.end}.`,
      ];
      if (verdict.adjustment) {
        const { requested, allowed, citation, text } = verdict.adjustment;
        const unit = allowed.unit ? ` ${allowed.unit}` : '';
        lines.push(
          `${label}: modified under ${citation} — ${requested.value ?? ''}${requested.unit ? ` ${requested.unit}` : ''} asked, ` +
            `${allowed.value ?? ''}${unit} authorized (see addItem): ${sentence(text)}`,
        );
      }
      if (decision.quantityNote) lines.push(`${label}: ${sentence(decision.quantityNote)}`);
      return lines;
    }
    case 'not-certified': {
      const lines = [`${label}: not certified under ${policyName(decision)}${indication}.`];
      for (const r of decision.reasons.filter((r) => r.code === 'not-authorized')) {
        lines.push(`${label}: ${r.citation ? `${r.citation} — ` : ''}${sentence(r.text)}`);
      }
      for (const c of decision.criteria.filter((c) => c.status === 'unmet' && c.onUnmet === 'deny')) {
        lines.push(`${label}: ${criterionLine(c)}`);
      }
      return lines;
    }
    case 'pended': {
      const open = decision.criteria.filter((c) => c.status === 'unmet' || c.status === 'unknown');
      const count = open.length === 1 ? '1 criterion needs' : `${open.length} criteria need`;
      const lines = [
        `${label}: pended for clinical review${REVIEWER[decision.reviewRoute]} under ${policyName(decision)}${indication}` +
          (open.length > 0 ? `; ${count} review.` : '.'),
      ];
      for (const r of decision.reasons.filter((r) => r.code === 'review-required' || r.code === 'no-indication')) {
        lines.push(`${label}: ${r.citation ? `${r.citation} — ` : ''}${sentence(r.text)}`);
      }
      for (const c of open) lines.push(`${label}: ${criterionLine(c)}`);
      return lines;
    }
    case 'no-policy': {
      const why = decision.reasons.find((r) => r.code === 'no-policy')?.text;
      return [
        `${label}: pended for clinical review: no prior authorization policy on file covers this payer, line of business ` +
          `and product, so it cannot be decided automatically.${why ? ` ${sentence(why)}` : ''}`,
      ];
    }
    case 'withheld':
      return [`${label}: pended for clinical review under ${policyName(decision)}: automatic approval withheld because ${verdict.why}.`];
    case 'cancelled':
      return [`${label}: cancelled at the provider's request; it was not adjudicated and no authorization stands for it.`];
  }
}

function referenceTo(entry: { fullUrl: string | undefined; resource: { resourceType: string; id?: string } }): Reference {
  const { fullUrl, resource } = entry;
  return { reference: fullUrl ?? `${resource.resourceType}/${resource.id ?? ''}` };
}

function requestorOrganization(ctx: PasContext): Reference | undefined {
  const provider = ctx.provider.resource;
  if (provider.resourceType === 'Organization') return referenceTo(ctx.provider);
  if (provider.resourceType === 'PractitionerRole') {
    const org = ctx.request.index.resolveAs(provider.organization, ctx.provider.fullUrl, 'Organization');
    if (org) return referenceTo(org);
  }
  return undefined;
}

function documentationRequest(
  ctx: PasContext,
  item: PasItem,
  decision: Decision,
  id: string,
  claimResponseUrl: string,
  now: Date,
  identifierSystem: string,
  asked?: InformationRequest,
): CommunicationRequest {
  const unknown = asked ? asked.criteria : decision.criteria.filter((c) => c.status === 'unknown');
  const extra = [
    ...(asked?.note ? [{ text: `Reviewer: ${asked.note}` }] : []),
    ...(asked?.questionnaire ? [{ text: `Or complete the DTR questionnaire ${asked.questionnaire}` }] : []),
  ];
  const diagnoses = item.diagnoses.filter((c) => c.system === SYSTEM.icd10cm);
  const sender = requestorOrganization(ctx);
  const insurer = referenceTo(ctx.insurer);
  return {
    resourceType: 'CommunicationRequest',
    id,
    meta: { profile: [PAS_PROFILE.communicationRequest] },
    extension: [{ url: PAS_EXT.serviceLineNumber, valuePositiveInt: item.sequence }],
    identifier: [{ system: identifierSystem, value: id }],
    status: 'active',
    category: [{ coding: [{ ...DOCUMENTATION_REQUEST.category }] }],
    medium: [{ coding: [{ ...DOCUMENTATION_REQUEST.medium }] }],
    subject: referenceTo(ctx.patient),
    about: [{ reference: claimResponseUrl }],
    payload: [
      {
        ...(diagnoses.length > 0
          ? { extension: diagnoses.map((d) => ({ url: PAS_EXT.communicatedDiagnosis, valueCodeableConcept: { coding: [d] } })) }
          : {}),
        contentString: DOCUMENTATION_REQUEST.loincDocument.code,
      },
    ],
    authoredOn: now.toISOString(),
    requester: insurer,
    recipient: [insurer],
    ...(sender ? { sender } : {}),
    reasonCode: [
      {
        text:
          `Send clinical documentation (${DOCUMENTATION_REQUEST.loincDocument.display}) for claim item ${item.sequence}: ` +
          `${policyName(decision)} criteria the request did not show.`,
      },
    ],
    note: [...unknown.map((c) => ({ text: `${c.citation}: ${sentence(c.text)}` })), ...extra],
  };
}

/** extension-claimResponseReviewer: a person reviewed this answer (wasHumanReviewedFlag), with their NPI when known. */
function reviewerExtension(reviewer: PasReviewer): Extension {
  return {
    url: PAS_EXT.claimResponseReviewer,
    extension: [
      { url: 'wasHumanReviewedFlag', valueBoolean: true },
      ...(reviewer.npi ? [{ url: 'reviewerNPI', valueIdentifier: { system: SYSTEM.npi, value: reviewer.npi } }] : []),
    ],
  };
}

/** `requestedServiceDate` and `communicatedDiagnosis`: what the submitter asked for, echoed per item. */
function echoedItemExtensions(ctx: PasContext, item: PasItem): Extension[] {
  const out: Extension[] = [];
  const line = item.item;
  if (line.servicedDate) out.push({ url: PAS_EXT.itemRequestedServiceDate, valueDateTime: line.servicedDate });
  else if (line.servicedPeriod) out.push({ url: PAS_EXT.itemRequestedServiceDate, valuePeriod: line.servicedPeriod });
  const bySequence = new Map((ctx.claim.diagnosis ?? []).map((d) => [d.sequence, d.diagnosisCodeableConcept]));
  const pointers = line.diagnosisSequence?.length ? line.diagnosisSequence : [...bySequence.keys()];
  for (const sequence of pointers) {
    const concept = bySequence.get(sequence);
    if (concept?.coding?.length) out.push({ url: PAS_EXT.communicatedDiagnosis, valueCodeableConcept: concept });
  }
  return out;
}

/** `authorizedItemDetail` of a certified line: the product and the quantity authorized (as requested unless cut to a limit). */
function authorizedDetail(item: PasItem, adjustment: QuantityAdjustment | undefined): Extension {
  const sub: Extension[] = [{ url: 'productOrServiceCode', valueCodeableConcept: item.item.productOrService }];
  const quantity = adjustment?.allowed ?? item.item.quantity;
  if (quantity) sub.push({ url: 'quantity', valueQuantity: quantity });
  return { url: PAS_EXT.itemAuthorizedDetail, extension: sub };
}

/** The authorized line of an A6 item: what the policy allows, with the authorization it stands under. */
function modifiedLine(item: PasItem, verdict: Extract<Verdict, { kind: 'certified' }>, adjustment: QuantityAdjustment, issued: string, noteNumbers: number[]): ClaimResponseAddItem {
  const line = item.item;
  return {
    extension: [
      ...item.traceNumbers.map((id) => ({ url: PAS_EXT.itemTraceNumber, valueIdentifier: id })),
      { url: PAS_EXT.itemPreAuthIssueDate, valueDate: issued },
      { url: PAS_EXT.itemPreAuthPeriod, valuePeriod: { start: verdict.period.start, end: verdict.period.end } },
    ],
    itemSequence: [item.sequence],
    productOrService: line.productOrService,
    ...(line.modifier ? { modifier: line.modifier } : {}),
    ...(line.servicedPeriod ? { servicedPeriod: line.servicedPeriod } : line.servicedDate ? { servicedDate: line.servicedDate } : {}),
    ...(line.locationCodeableConcept ? { locationCodeableConcept: line.locationCodeableConcept } : {}),
    quantity: adjustment.allowed,
    noteNumber: noteNumbers,
    adjudication: [
      {
        extension: [
          {
            url: PAS_EXT.reviewAction,
            extension: [
              {
                url: PAS_EXT.reviewActionCode,
                valueCodeableConcept: { coding: [{ system: SYSTEM.x12ActionCode, code: ACTION.modified.code, display: ACTION.modified.display }] },
              },
              { url: REVIEW_ACTION_SUB.number, valueString: verdict.authorization.number },
            ],
          },
        ],
        category: { coding: [{ system: SYSTEM.adjudication, code: 'submitted' }] },
      },
    ],
  };
}

/** The request's and the decisions' non-fatal warnings, once each, or undefined when there are none. */
function warningsOutcome(requestWarnings: OperationOutcomeIssue[], decisions: Decision[], id: string): OperationOutcome | undefined {
  const seen = new Set<string>();
  const issues = [...requestWarnings, ...decisions.flatMap((d) => d.warnings)].filter((i) => {
    const key = JSON.stringify([i.severity, i.code, i.diagnostics, i.expression]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return issues.length > 0 ? { resourceType: 'OperationOutcome', id, issue: issues } : undefined;
}

/** What every PAS ClaimResponse of this server opens with, adjudicated or rejected. */
function claimResponseHeader(ctx: PasContext, responseId: string, identifierSystem: string, now: Date) {
  return {
    resourceType: 'ClaimResponse' as const,
    id: responseId,
    meta: { profile: [PAS_PROFILE.claimResponse] },
    identifier: [{ system: identifierSystem, value: responseId }],
    status: 'active' as const,
    type: ctx.claim.type,
    use: 'preauthorization' as const,
    patient: referenceTo(ctx.patient),
    created: now.toISOString(),
    insurer: referenceTo(ctx.insurer),
    requestor: referenceTo(ctx.provider),
  };
}

/** Builds the PAS response Bundle. Throws (a programming error) when the inputs do not line up. */
export function buildPasResponse(input: PasResponseInput): Bundle {
  const steps = responseSteps(input);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * The same Bundle, with a pause for the event loop whenever `sliceMs` of building has passed: a
 * 1,000-line Claim's answer was one 20–40 ms block of the event loop.
 */
export async function buildPasResponseInSlices(input: PasResponseInput, sliceMs = SLICE_MS): Promise<Bundle> {
  const steps = responseSteps(input);
  const slices = timeSlices(sliceMs);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    if (slices.due()) await slices.pause();
  }
}

/** Lines answered between two points where the builder may pause. */
const LINES_PER_STEP = 25;

function* responseSteps(input: PasResponseInput): Generator<void, Bundle, void> {
  const { request: ctx, decisions, authorization, responseId, now } = input;
  if (decisions.length !== ctx.items.length) {
    throw new Error(`buildPasResponse: ${decisions.length} decisions for ${ctx.items.length} Claim items`);
  }
  if (!FHIR_ID.test(responseId) || responseId.length > 50) {
    throw new Error(`buildPasResponse: responseId "${responseId}" is not a FHIR id of at most 50 characters`);
  }
  const base = (input.baseUrl ?? CANONICAL_BASE).replace(/\/$/, '');
  const claimResponseUrl = `${base}/ClaimResponse/${responseId}`;
  const identifierSystems = ourIdentifiers(base);
  const issued = input.today ?? payerToday(now, DEFAULT_PAYER_TIME_ZONE);

  const notes: NonNullable<ClaimResponse['processNote']> = [];
  const communicationRequests: CommunicationRequest[] = [];
  const dispositions: string[] = [];
  const addItems: ClaimResponseAddItem[] = [];
  let certified: PasAuthorization | undefined;

  const items: ClaimResponseItem[] = [];
  for (const [i, item] of ctx.items.entries()) {
    if (i % LINES_PER_STEP === LINES_PER_STEP - 1) yield;
    const decision = decisions[i] as Decision;
    let verdict: Verdict = input.cancelledSequences?.has(item.sequence)
      ? { kind: 'cancelled' }
      : verdictOf(decision, authorization, input.reviewer !== undefined);
    const adjustment = input.quantityAdjustments?.get(item.sequence);
    if (verdict.kind === 'certified' && adjustment) verdict = { ...verdict, adjustment };
    const lines = itemNotes(item, verdict, decision);
    dispositions.push(lines[0] ?? '');
    const noteNumbers = lines.map((text) => {
      notes.push({ number: notes.length + 1, type: 'display', text });
      return notes.length;
    });

    const extension: Extension[] = item.traceNumbers.map((id) => ({ url: PAS_EXT.itemTraceNumber, valueIdentifier: id }));
    if (verdict.kind === 'certified') {
      certified = verdict.authorization;
      extension.push({ url: PAS_EXT.itemPreAuthIssueDate, valueDate: issued });
      extension.push({ url: PAS_EXT.itemPreAuthPeriod, valuePeriod: { start: verdict.period.start, end: verdict.period.end } });
      extension.push(authorizedDetail(item, verdict.adjustment));
      if (verdict.adjustment) addItems.push(modifiedLine(item, verdict, verdict.adjustment, issued, noteNumbers));
    } else {
      // The UMO's reference for a disallowed (pended or not certified) outcome of this line.
      extension.push({ url: PAS_EXT.administrationReferenceNumber, valueString: `${responseId}-${item.sequence}` });
    }
    extension.push(...echoedItemExtensions(ctx, item));
    const asked = verdict.kind === 'pended' ? input.informationRequest : undefined;
    if (verdict.kind === 'pended' && (asked || decision.criteria.some((c) => c.status === 'unknown'))) {
      communicationRequests.push(
        documentationRequest(ctx, item, decision, `${responseId}-docs-${item.sequence}`, claimResponseUrl, now, identifierSystems.communicationRequest, asked),
      );
    }
    const adjudication: ClaimResponseItemAdjudication = {
      extension: [reviewActionExtension(verdict, decision, asked !== undefined)],
      category: { coding: [{ system: SYSTEM.adjudication, code: 'submitted' }] },
    };
    items.push({
      ...(extension.length > 0 ? { extension } : {}),
      itemSequence: item.sequence,
      noteNumber: noteNumbers,
      adjudication: [adjudication],
    });
  }

  const claimIdentifier = ctx.claim.identifier?.[0];
  const claimResponse: ClaimResponse = {
    ...claimResponseHeader(ctx, responseId, identifierSystems.claimResponse, now),
    ...(input.reviewer ? { extension: [reviewerExtension(input.reviewer)] } : {}),
    request: {
      ...(input.claimId ? { reference: `${base}/Claim/${input.claimId}` } : {}),
      ...(claimIdentifier ? { identifier: claimIdentifier } : {}),
    },
    outcome: 'complete',
    disposition: dispositions.join(' '),
    ...(certified
      ? { preAuthRef: certified.number, preAuthPeriod: { start: certified.start, end: certified.end } }
      : {}),
    item: items,
    ...(addItems.length > 0 ? { addItem: addItems } : {}),
    processNote: notes,
    ...(communicationRequests.length > 0
      ? { communicationRequest: communicationRequests.map((cr) => ({ reference: `${base}/CommunicationRequest/${cr.id}` })) }
      : {}),
  };

  const entries: BundleEntry[] = [{ fullUrl: claimResponseUrl, resource: claimResponse }];
  const included = new Set<number>();
  const include = (entry: { index: number; fullUrl: string | undefined; resource: BundleEntry['resource'] } | undefined) => {
    if (!entry || included.has(entry.index)) return;
    included.add(entry.index);
    entries.push({ ...(entry.fullUrl ? { fullUrl: entry.fullUrl } : {}), resource: entry.resource });
  };
  include(ctx.patient);
  include(ctx.insurer);
  include(ctx.provider);
  const provider = ctx.provider.resource;
  if (provider.resourceType === 'PractitionerRole') {
    include(ctx.request.index.resolveAs(provider.practitioner, ctx.provider.fullUrl, 'Practitioner'));
    include(ctx.request.index.resolveAs(provider.organization, ctx.provider.fullUrl, 'Organization'));
  }
  for (const cr of communicationRequests) entries.push({ fullUrl: `${base}/CommunicationRequest/${cr.id}`, resource: cr });
  return responseBundle(entries, warningsOutcome(ctx.warnings, decisions, `${responseId}-warnings`), base, responseId, now);
}

/** The PAS Response Bundle around its entries, the warnings' OperationOutcome last. */
function responseBundle(entries: BundleEntry[], warnings: OperationOutcome | undefined, base: string, responseId: string, now: Date): Bundle {
  if (warnings) entries.push({ fullUrl: `${base}/OperationOutcome/${warnings.id ?? ''}`, resource: warnings });
  return {
    resourceType: 'Bundle',
    meta: { profile: [PAS_PROFILE.responseBundle] },
    identifier: { system: ourIdentifiers(base).responseBundle, value: responseId },
    type: 'collection',
    timestamp: now.toISOString(),
    entry: entries,
  };
}

/**
 * The response Bundle of a request refused before adjudication: a ClaimResponse with
 * `outcome: error`, one `error` coded from X12 901 (with errorElement, errorPath and
 * errorFollowupAction, as the IG's ErrorResponseExample), no item; then the Patient, insurer and
 * requester, and the request's non-fatal warnings.
 */
export function buildPasRejection(input: {
  request: PasContext;
  rejection: PasRejection;
  responseId: string;
  now: Date;
  baseUrl?: string;
}): Bundle {
  const { request: ctx, rejection, responseId, now } = input;
  const base = (input.baseUrl ?? CANONICAL_BASE).replace(/\/$/, '');
  const identifierSystems = ourIdentifiers(base);
  const claimResponseUrl = `${base}/ClaimResponse/${responseId}`;
  const claimIdentifier = ctx.claim.identifier?.[0];
  const claimResponse: ClaimResponse = {
    ...claimResponseHeader(ctx, responseId, identifierSystems.claimResponse, now),
    // Not stored (nothing was adjudicated): the request is named by its identifier only.
    request: claimIdentifier ? { identifier: claimIdentifier } : { display: 'The submitted Claim' },
    outcome: 'error',
    disposition: `Rejected: ${sentence(rejection.text)}`,
    error: [
      {
        extension: [
          { url: PAS_EXT.errorElement, extension: [{ url: 'error', valueString: rejection.element }] },
          { url: PAS_EXT.errorPath, valueString: rejection.path },
          { url: PAS_EXT.errorFollowupAction, valueCodeableConcept: { coding: [{ system: SYSTEM.x12FollowUpAction, ...rejection.followUp }] } },
        ],
        code: { coding: [{ system: SYSTEM.x12RejectReason, ...rejection.code }], text: rejection.text },
      },
    ],
  };
  const entries: BundleEntry[] = [{ fullUrl: claimResponseUrl, resource: claimResponse }];
  const seen = new Set<number>();
  for (const entry of [ctx.patient, ctx.insurer, ctx.provider]) {
    if (seen.has(entry.index)) continue;
    seen.add(entry.index);
    entries.push({ ...(entry.fullUrl ? { fullUrl: entry.fullUrl } : {}), resource: entry.resource });
  }
  return responseBundle(entries, warningsOutcome(ctx.warnings, [], `${responseId}-warnings`), base, responseId, now);
}

export interface ReviewAction {
  code: string | undefined;
  number: string | undefined;
  reasons: Coding[];
}

/** Reads the reviewAction of a ClaimResponse item's first `submitted` adjudication. */
export function readReviewAction(item: ClaimResponseItem): ReviewAction | undefined {
  const adjudication = item.adjudication.find((a) => a.category.coding?.some((c) => c.code === 'submitted'));
  const ext = adjudication?.extension?.find((e) => e.url === PAS_EXT.reviewAction);
  if (!ext) return undefined;
  const sub = ext.extension ?? [];
  return {
    code: sub.find((e) => e.url === PAS_EXT.reviewActionCode)?.valueCodeableConcept?.coding?.find((c) => c.system === SYSTEM.x12ActionCode)
      ?.code,
    number: sub.find((e) => e.url === REVIEW_ACTION_SUB.number)?.valueString,
    reasons: sub.filter((e) => e.url === REVIEW_ACTION_SUB.reasonCode).flatMap((e) => e.valueCodeableConcept?.coding ?? []),
  };
}
