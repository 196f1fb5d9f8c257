/**
 * Persistence for clinical review (src/review) and the CMS-0057-F figures: reviewer actions with
 * who, when, why and what changed (migration 010), and the prior-authorization report query.
 * Kept apart from store.ts so the review module's storage reads as one piece.
 */

export type ReviewActionKind = 'approve' | 'deny' | 'request-info' | 'assign';

export interface NewReviewAction {
  claimId: string;
  action: ReviewActionKind;
  reviewer: { name: string; role: 'physician-reviewer' | 'medical-director' | 'committee' };
  reason?: string | null;
  note?: string | null;
  /** Citations the action names. */
  criteria?: string[];
  /** What changed, field by field: `{ outcome: { from: 'pend', to: 'approve' } }`. */
  changes: Record<string, { from: unknown; to: unknown }>;
  /** The ClaimResponse version the action produced. */
  version?: number | null;
}

export interface ReviewActionRecord extends Required<Omit<NewReviewAction, 'reason' | 'note' | 'version'>> {
  id: string;
  reason: string | null;
  note: string | null;
  version: number | null;
  createdAt: string;
}

export interface ReportFilter {
  /** ISO date-time: requests received at or after it. */
  since?: string;
  /** ISO date-time: requests received before it. */
  until?: string;
}

/** One row per policy, month of receipt (UTC, YYYY-MM) and timeframe (standard or expedited). */
export interface ReportRow {
  policyId: string | null;
  month: string;
  expedited: boolean;
  requests: number;
  approved: number;
  denied: number;
  pended: number;
  cancelled: number;
  approvedAfterReview: number;
  /** Requests whose timeframe was extended for more information. */
  extended: number;
  /** Decided (approved or denied), with a decision time. */
  decided: number;
  /** Seconds from receipt to decision, over decided requests; null when none. */
  averageSeconds: number | null;
  medianSeconds: number | null;
  /** Decided after their due time. */
  decidedLate: number;
}

/** A pended request as the review queue lists it: the claim's clock and route, the decision's summary. */
export interface ReviewQueueRow {
  claimId: string;
  claimResponseId: string;
  identifierValue: string | null;
  receivedAt: string;
  dueAt: string | null;
  expedited: boolean;
  /** The claim's review route, else the decision's. */
  route: string | null;
  version: number;
  assignee: string | null;
  policy: { id: string; title: string; citationPrefix: string } | null;
  indication: string | null;
  phase: string | null;
  /** Criteria unmet or unknown in the current decision. */
  openCriteria: number;
  informationRequested: boolean;
}

export interface ReviewStore {
  /** Pended requests not replaced by an update, soonest due first, in one query. */
  reviewQueue(limit: number): Promise<ReviewQueueRow[]>;
  saveReviewAction(action: NewReviewAction): Promise<ReviewActionRecord>;
  /** Oldest first. */
  listReviewActions(claimId: string): Promise<ReviewActionRecord[]>;
  /** CMS-0057-F figures by policy, month and timeframe. */
  priorAuthorizationReport(filter: ReportFilter): Promise<ReportRow[]>;
}
