/**
 * The one result contract every policy evaluation returns, whichever protocol asked
 * (CRD order-sign, DTR $next-question, PAS Claim/$submit, the evaluate CLI).
 */
import type { OperationOutcomeIssue } from 'fhir/r4';
import type { ReviewRoute, TherapyPhase } from '../catalog/types';

/** `unknown` is never `met`: missing evidence must never turn into an approval. */
export type CriterionStatus = 'met' | 'unmet' | 'unknown' | 'not-applicable';

export type Outcome = 'approve' | 'pend' | 'deny';

export interface CriterionResult {
  id: string;
  /** E.g. `CP.PHAR.244 I.A.4`. */
  citation: string;
  text: string;
  status: CriterionStatus;
  /** Relative references (`Condition/123`, `QuestionnaireResponse/qr1#trial-mtx`) supporting the status. */
  evidence: string[];
  /** What made the status unknown (e.g. the CQL error), when there is something to say. */
  note?: string;
  onUnmet: 'pend' | 'deny';
}

/** A reason code for the outcome, with the policy section it comes from. */
export interface DecisionReason {
  code:
    | 'criteria-met'
    | 'criteria-unmet'
    | 'criteria-unknown'
    | 'not-authorized'
    | 'review-required'
    | 'no-policy'
    | 'no-indication'
    | 'prior-authorization-on-file'
    /** An authorization the payer already issued for this member and drug answers the request. */
    | 'authorization-on-file';
  text: string;
  citation?: string;
}

export interface Decision {
  policy: { id: string; title: string; citationPrefix: string; version: string } | null;
  indication: { id: string; title: string } | null;
  phase: TherapyPhase;
  outcome: Outcome;
  reviewRoute: ReviewRoute;
  criteria: CriterionResult[];
  reasons: DecisionReason[];
  /** Present only when the outcome is `approve`. ISO dates (YYYY-MM-DD), inclusive. */
  approvalPeriod?: { start: string; end: string };
  quantityNote?: string;
  /** Non-fatal problems met while deciding (failed CQL expression, unknown code...). */
  warnings: OperationOutcomeIssue[];
  /** When the decision was made (ISO date-time). */
  evaluatedAt: string;
}

/** Whether an approval came from reviewing the criteria or from a rule that spares the review. */
export function approvalBasis(decision: Decision): 'review' | 'rule' {
  return decision.reasons.some((r) => r.code === 'prior-authorization-on-file') ? 'rule' : 'review';
}
