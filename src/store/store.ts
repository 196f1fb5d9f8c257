/**
 * What the payer keeps: decisions with their criteria trace, PAS claim submissions, authorizations
 * (issued by `$submit` or at CRD order-sign), CRD coverage assertions, CDS Hooks feedback and an
 * audit trail without PHI.
 *
 * One SQL dialect (PostgreSQL): PGlite in a data folder by default, real PostgreSQL when
 * `databaseUrl` is set; the same migrations for both.
 */
import type { Bundle, Claim, ClaimResponse, Subscription } from 'fhir/r4';
import type { Config } from '../config';
import type { Decision, Outcome } from '../engine/decision';
import type { PriorAuthorization } from '../engine/request';
import { newAuthorizationNumber } from './keys';
import { migrate } from './migrate';
import { openPglite, openPostgres, type SqlClient } from './sql';
import { SqlStore } from './sql-store';
import type { ReviewStore } from './review';

export type * from './review';

export type DecisionSource = 'pas' | 'crd' | 'dtr' | 'cli' | 'review';
/** What a claim's current answer says; `cancelled` once the provider cancelled it. */
export type ClaimOutcome = Outcome | 'cancelled';
export type AuthorizationStatus = PriorAuthorization['status'];
export type AuthorizationBasis = NonNullable<PriorAuthorization['basis']>;

export interface DecisionRecord {
  id: string;
  source: DecisionSource;
  policyId: string | null;
  outcome: Outcome;
  decision: Decision;
  createdAt: string;
}

export interface NewAuthorization {
  /** Leave out to have the store draw a random number (retried on the rare collision). */
  number?: string;
  /** `memberKey(payerId, memberId)`. */
  memberKey: string;
  policyId: string | null;
  /** The drug the authorization is for, e.g. the RxNorm ingredient code. */
  drugKey: string;
  /** `orderKeyOf(order)`, when the authorization answers a known order. */
  orderKey?: string | null;
  status: AuthorizationStatus;
  /** `rule` when a policy rule approved it without a review (default `review`). */
  basis?: AuthorizationBasis;
  /** ISO dates (YYYY-MM-DD), inclusive; required when `status` is `approved`. */
  start?: string | null;
  end?: string | null;
  decisionId?: string | null;
}

export interface Authorization {
  number: string;
  memberKey: string;
  policyId: string | null;
  drugKey: string;
  orderKey: string | null;
  status: AuthorizationStatus;
  basis: AuthorizationBasis;
  start: string | null;
  end: string | null;
  decisionId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface AuthorizationFilter {
  memberKey: string;
  drugKey?: string;
  policyId?: string;
  status?: AuthorizationStatus[];
}

/** The response as built, or built inside the transaction once the claim id and authorization are known. */
export type ClaimResponseParts = { responseBundle: Bundle; claimResponse: ClaimResponse };

export interface ClaimSubmission {
  claim: Claim;
  requestBundle: Bundle;
  decision: Decision;
  /** Default `pas`. */
  decisionSource?: DecisionSource;
  /** A new authorization to issue with this claim (its `decisionId` is this claim's decision). */
  authorization?: Omit<NewAuthorization, 'decisionId'>;
  /** Link an authorization already on file (e.g. granted at CRD order-sign) instead. */
  authorizationNumber?: string;
  /** Opaque patient key; default `Claim.patient.reference`. */
  patientKey?: string | null;
  /** Default: the first `Claim.insurer.identifier.value`. */
  payerId?: string | null;
  responseBundle?: Bundle;
  claimResponse?: ClaimResponse;
  /**
   * Alternative to `responseBundle` + `claimResponse` when the response must quote the claim's id or
   * the authorization number. Called before the transaction begins (the ids are drawn first), and
   * again if a drawn id was taken meanwhile; it may take its time (a large answer is built in slices).
   */
  respond?: (saved: { claimId: string; authorizationNumber: string | null; decisionId: string }) => ClaimResponseParts | Promise<ClaimResponseParts>;
  /** More writes that commit or roll back with this claim (a PAS update replacing its prior request). */
  alsoInTransaction?: (tx: Store, saved: ClaimRecord) => Promise<void>;
  /** The request's audit event, written with the claim: no stored decision without its audit row. */
  audit?: AuditEvent;
  /** Default: the decision's outcome. */
  outcome?: ClaimOutcome;
  /** Claim.provider identifiers (`system|value`). */
  submitterKeys?: string[];
  /** Hash of the request's resources (a resend with the same hash replays the answer). */
  contentHash?: string | null;
  /** Unique per submitter and Claim identifier: a concurrent duplicate raises `DuplicateSubmissionError`. */
  submissionKey?: string | null;
  expedited?: boolean;
  /** ISO date-time the decision is due (pended requests). */
  dueAt?: string | null;
  reviewRoute?: string | null;
  /** The earlier claim this one replaces (PAS update or cancel). */
  replacesClaimId?: string | null;
}

export interface ClaimRecord {
  /** `Claim.id` as received, or a generated id when it had none or it was already taken. */
  id: string;
  identifierSystem: string | null;
  identifierValue: string | null;
  patientKey: string | null;
  payerId: string | null;
  policyId: string | null;
  /** `Claim.status` as received. */
  status: string;
  outcome: ClaimOutcome | null;
  /** 1 for the $submit answer, +1 per later ClaimResponse version. */
  version: number;
  submitterKeys: string[];
  contentHash: string | null;
  expedited: boolean;
  dueAt: string | null;
  reviewRoute: string | null;
  /** When the request reached a final decision; null while pended. */
  decidedAt: string | null;
  assignee: string | null;
  replacesClaimId: string | null;
  replacedByClaimId: string | null;
  updatedAt: string;
  /** The Claim with `id` set to the stored id. */
  claim: Claim;
  requestBundle: Bundle;
  claimResponseId: string;
  claimResponse: ClaimResponse;
  responseBundle: Bundle;
  decisionId: string | null;
  authorizationNumber: string | null;
  createdAt: string;
}

export type ClaimEventKind = 'review-decision' | 'request-info' | 'update' | 'cancel';

/** A new answer to a stored claim: after review, a request for information, an update or a cancel. */
export interface NewClaimResponseVersion {
  claimId: string;
  outcome: ClaimOutcome;
  /** Builds the new response; the store keeps the ClaimResponse id (same resource, new version). */
  respond: (ctx: { claim: ClaimRecord; version: number; authorization: Authorization | null; decisionId: string | null }) => ClaimResponseParts;
  /** Saved as a new decision row (source `decisionSource`, default `review`). */
  decision?: Decision;
  decisionSource?: DecisionSource;
  /** Issue an authorization with this version (e.g. approved after review). */
  authorization?: Omit<NewAuthorization, 'decisionId'>;
  /** Link an authorization already on file instead; null unlinks. Default: keep the claim's. */
  authorizationNumber?: string | null;
  event: ClaimEventKind;
  /** Who made the change (reviewer, client id); never a patient. */
  actor?: string | null;
  note?: string | null;
  /** A final decision: sets `decidedAt`. */
  final?: boolean;
  /** New due time (e.g. after a request for information). */
  dueAt?: string | null;
  /** Refuse (StoreError `conflict`) when the claim is no longer at this version. */
  expectedVersion?: number;
  /** The claim that replaces this one (PAS update). */
  replacedByClaimId?: string | null;
}

export interface ClaimResponseVersionRecord {
  claimId: string;
  version: number;
  outcome: ClaimOutcome;
  claimResponse: ClaimResponse;
  responseBundle: Bundle;
  decisionId: string | null;
  authorizationNumber: string | null;
  event: string;
  actor: string | null;
  note: string | null;
  createdAt: string;
}

export interface ClaimFilter {
  outcome?: ClaimOutcome[];
  policyId?: string;
  /** Only claims a submitter key of which is in this list. */
  submitterKeys?: string[];
  /** ISO date-time: claims received at or after it. */
  since?: string;
  limit?: number;
}

export interface NewCoverageAssertion {
  /** CDS Hooks `hookInstance` of the call that made the assertion. */
  hookInstance: string;
  /** Default: `decision.policy.id`. */
  policyId?: string | null;
  orderKey: string | null;
  patientKey: string | null;
  /** The decision to save with the assertion (source `crd`), or the id of one already saved. */
  decision?: Decision;
  decisionId?: string;
  /** Canonical of the DTR Questionnaire the EHR should launch. */
  questionnaire?: string | null;
  /** An authorization granted on the spot (`pa-needed = satisfied`), saved in the same transaction. */
  authorization?: Omit<NewAuthorization, 'decisionId'>;
}

export interface CoverageAssertion {
  id: string;
  hookInstance: string;
  policyId: string | null;
  orderKey: string | null;
  patientKey: string | null;
  decisionId: string | null;
  questionnaire: string | null;
  authorizationNumber: string | null;
  /** The authorization this call created, when it created one. */
  authorization?: Authorization;
  createdAt: string;
}

export interface FeedbackRecord {
  id: string;
  serviceId: string;
  feedback: unknown;
  createdAt: string;
}

export type AuditAction =
  | 'crd.order-sign'
  | 'crd.order-select'
  | 'crd.order-dispatch'
  | 'crd.feedback'
  | 'pas.submit'
  | 'pas.read'
  | 'dtr.questionnaire-package'
  | 'dtr.next-question'
  | (string & {});

/** Operational facts only. No names, birth dates or other PHI; ids are opaque. */
export interface AuditEvent {
  requestId: string;
  action: AuditAction;
  /** Who called: client id or JWT `iss`/`sub`, never a patient. */
  actor?: string | null;
  hookInstance?: string | null;
  payerId?: string | null;
  policyId?: string | null;
  outcome?: string | null;
  latencyMs?: number | null;
  /** HTTP status returned. */
  status?: number | null;
}

export interface AuditRecord {
  id: string;
  requestId: string;
  action: string;
  actor: string | null;
  hookInstance: string | null;
  payerId: string | null;
  policyId: string | null;
  outcome: string | null;
  latencyMs: number | null;
  status: number | null;
  createdAt: string;
}

export interface AccessTokenRecord {
  clientId: string;
  scope: string;
  expiresAt: Date;
}

/** A reviewer sign-in started at the OpenID provider (src/review/auth), until its callback. */
export interface ReviewLoginRecord {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** Where the browser goes after sign-in (a /review path). */
  returnTo: string;
  expiresAt: Date;
}

/** A signed-in reviewer's session (src/review/auth). */
export interface ReviewSessionRecord {
  issuer: string;
  subject: string;
  name: string;
  role: string;
  createdAt: Date;
  lastSeenAt: Date;
  /** Absolute end. */
  expiresAt: Date;
}

// ---- PAS Subscriptions (src/subscriptions): subscriptions and their notifications ----

export type SubscriptionStatus = 'requested' | 'active' | 'error' | 'off';

export interface NewSubscription {
  id: string;
  /** The SMART client's organization (`system|value`) that owns it; null in open mode. */
  owner: string | null;
  status: SubscriptionStatus;
  topic: string;
  /** The `orgIdentifier` filter; system null = any system. */
  filterSystem: string | null;
  filterValue: string;
  endpoint: string;
  /** `channel.header` lines (`Name: value`). */
  headers: string[];
  /** The Subscription as accepted (status and error are set from the columns when read). */
  resource: Subscription;
}

export interface SubscriptionRecord extends NewSubscription {
  /** The last event number handed out (= events since the subscription started). */
  eventsSinceStart: number;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
}

export type NotificationStatus = 'pending' | 'delivered' | 'failed';

export interface NotificationRecord {
  id: string;
  subscriptionId: string;
  eventNumber: number;
  claimEventId: string;
  claimId: string;
  claimVersion: number;
  /** When the claim event happened (`claim_events.created_at`). */
  eventAt: string;
  status: NotificationStatus;
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
  deliveredAt: string | null;
}

/** A notification leased to one sender, with what it needs to send it. */
export interface DueNotification extends NotificationRecord {
  endpoint: string;
  headers: string[];
  topic: string;
  eventsSinceStart: number;
}

export interface FanOutResult {
  /** Outbox events marked dispatched. */
  events: number;
  /** Notifications created. */
  notifications: number;
}

export interface OutboxStats {
  /** `claim_events` not yet fanned out. */
  undispatched: number;
  /** Notifications waiting to be delivered (including ones in backoff). */
  pending: number;
  /** Notifications given up on. */
  failed: number;
}

export interface Store extends ReviewStore {
  readonly backend: 'pglite' | 'postgres';

  /** Runs `fn` in one transaction; calls on `tx` inside a transaction join it. */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;

  saveDecision(source: DecisionSource, decision: Decision): Promise<string>;
  getDecision(id: string): Promise<DecisionRecord | null>;

  /** Decision, authorization (if any), claim and response in one transaction. */
  saveClaimSubmission(submission: ClaimSubmission): Promise<ClaimRecord>;
  getClaim(id: string): Promise<ClaimRecord | null>;
  /** By `ClaimResponse.id`. */
  getClaimResponse(id: string): Promise<ClaimResponse | null>;
  /** Newest claim carrying this identifier (any of its identifiers); `system` null matches any system. */
  findClaimByIdentifier(system: string | null, value: string): Promise<ClaimRecord | null>;
  findClaimBySubmissionKey(submissionKey: string): Promise<ClaimRecord | null>;
  getClaimByResponseId(claimResponseId: string): Promise<ClaimRecord | null>;
  /** Oldest due first (nulls last), then oldest received. */
  listClaims(filter: ClaimFilter): Promise<ClaimRecord[]>;
  /**
   * Saves a new version of a claim's ClaimResponse (same id), keeps the old one in the history and
   * writes the `claim_events` outbox row, all in one transaction.
   */
  saveClaimResponseVersion(input: NewClaimResponseVersion): Promise<ClaimRecord>;
  /** Oldest first. */
  listClaimResponseVersions(claimId: string): Promise<ClaimResponseVersionRecord[]>;
  setClaimAssignee(claimId: string, assignee: string | null): Promise<ClaimRecord | null>;

  createAuthorization(input: NewAuthorization): Promise<Authorization>;
  getAuthorization(number: string): Promise<Authorization | null>;
  /** The newest authorization for the order that is not cancelled. */
  findAuthorizationByOrder(orderKey: string): Promise<Authorization | null>;
  /** Authorizations on file for a member, newest first (the "prior authorizations on file" input). */
  listAuthorizations(filter: AuthorizationFilter): Promise<Authorization[]>;
  /** Changes the status (and period, when given) of an authorization; null when it does not exist. */
  updateAuthorizationStatus(
    number: string,
    status: AuthorizationStatus,
    period?: { start: string; end: string },
  ): Promise<Authorization | null>;

  saveCoverageAssertion(input: NewCoverageAssertion): Promise<CoverageAssertion>;
  getCoverageAssertion(id: string): Promise<CoverageAssertion | null>;
  /** The newest coverage assertion made for an order. */
  findCoverageAssertionByOrder(orderKey: string): Promise<CoverageAssertion | null>;

  saveFeedback(serviceId: string, feedback: unknown): Promise<string>;
  listFeedback(serviceId: string, limit?: number): Promise<FeedbackRecord[]>;

  audit(event: AuditEvent): Promise<void>;

  /**
   * Records a JWT id until `expiresAt`; false when it is already recorded and not expired (a
   * replay). Shared by every instance on the database.
   */
  rememberJti(key: string, expiresAt: Date, now: Date): Promise<boolean>;
  /** Access tokens by their SHA-256 (hex); the token itself is never stored. */
  saveAccessToken(tokenHash: string, token: AccessTokenRecord, now: Date): Promise<void>;
  /** The live token with this hash, or null (unknown or expired). */
  findAccessToken(tokenHash: string, now: Date): Promise<AccessTokenRecord | null>;
  /** Newest first. */
  listAudit(limit: number): Promise<AuditRecord[]>;

  // ---- reviewer sign-in (src/review/auth); rows keyed by the SHA-256 of a cookie's random id ----

  saveReviewLogin(idHash: string, login: ReviewLoginRecord, now: Date): Promise<void>;
  /** Deletes and returns the sign-in (each is used once); null when unknown or expired. */
  takeReviewLogin(idHash: string, now: Date): Promise<ReviewLoginRecord | null>;
  createReviewSession(idHash: string, session: ReviewSessionRecord): Promise<void>;
  /**
   * The live session (before its absolute end, used within `idleSeconds`), its last use moved to
   * `now`; null when unknown, idle too long or past its end.
   */
  touchReviewSession(idHash: string, now: Date, idleSeconds: number): Promise<ReviewSessionRecord | null>;
  deleteReviewSession(idHash: string): Promise<boolean>;


  // ---- PAS $inquire (src/pas/inquire.ts) ----

  /**
   * Claims whose submitter keys overlap `submitterKeys` (and include `requiredKey`, the caller's
   * organization, when given), optionally of one of `payerIds`; newest first.
   */
  findClaimsBySubmitter(filter: { submitterKeys: string[]; requiredKey?: string; payerIds?: string[]; limit?: number }): Promise<ClaimRecord[]>;

  // ---- PAS Subscriptions (src/subscriptions) ----

  createSubscription(input: NewSubscription): Promise<SubscriptionRecord>;
  /** Replaces what a PUT may change; the event counter is kept. Null when it does not exist. */
  updateSubscription(input: NewSubscription): Promise<SubscriptionRecord | null>;
  /** Back to `active`, its failed notifications are queued again (nothing is dropped while an endpoint was down). */
  setSubscriptionStatus(id: string, status: SubscriptionStatus, error?: string | null): Promise<SubscriptionRecord | null>;
  getSubscription(id: string): Promise<SubscriptionRecord | null>;
  /** `owner` undefined lists every subscription; a value (or null) only that owner's. */
  listSubscriptions(filter?: { owner?: string | null }): Promise<SubscriptionRecord[]>;
  deleteSubscription(id: string): Promise<boolean>;
  /**
   * Fans undispatched `claim_events` out to the matching subscriptions (status active or error,
   * orgIdentifier among the claim's submitter keys, created before the event), each with the next
   * event number, and marks the events dispatched: one transaction, rows taken FOR UPDATE SKIP LOCKED.
   */
  fanOutClaimEvents(limit: number): Promise<FanOutResult>;
  /**
   * Leases due notifications of active subscriptions (SKIP LOCKED; at most one in flight per
   * subscription, oldest event first): attempts + 1 and next_attempt_at = now + leaseMs.
   */
  leaseDueNotifications(limit: number, leaseMs: number): Promise<DueNotification[]>;
  markNotificationDelivered(id: string): Promise<void>;
  /**
   * A failed attempt: retried after `retryInMs`, or (null) given up: the notification `failed` and
   * its subscription `error` with the reason.
   */
  markNotificationFailed(id: string, error: string, retryInMs: number | null): Promise<void>;
  listNotifications(subscriptionId: string): Promise<NotificationRecord[]>;
  /** The PAS response Bundle of one ClaimResponse version. */
  getResponseBundleVersion(claimId: string, version: number): Promise<Bundle | null>;
  outboxStats(): Promise<OutboxStats>;
  /** Counts one hit for `key` in a fixed window of `windowMs` (a new window once the last one ended). Shared by every instance. */
  hitRateLimit(key: string, windowMs: number, now: Date): Promise<{ hits: number; resetAt: Date }>;
  /** Takes one hit back (a request the limiter decided not to count). */
  unhitRateLimit(key: string): Promise<void>;
  resetRateLimit(key: string): Promise<void>;

  /** A trivial query: resolves when the database answers (readiness). */
  ping(): Promise<void>;

  close(): Promise<void>;
}

export interface StoreOptions {
  /** Authorization number generator (tests use it to force a collision). */
  authorizationNumber?: () => string;
}

/**
 * Opens the store and brings its schema up to date: PostgreSQL when `databaseUrl` is set,
 * otherwise PGlite in `dataDir` (`memory://` for an in-memory database).
 */
export async function openStore(config: Pick<Config, 'databaseUrl' | 'dataDir'>, options: StoreOptions = {}): Promise<Store> {
  const client: SqlClient = config.databaseUrl ? await openPostgres(config.databaseUrl) : await openPglite(config.dataDir);
  try {
    await migrate(client);
  } catch (error) {
    await client.close();
    throw error;
  }
  return new SqlStore(client, client, options.authorizationNumber ?? (() => newAuthorizationNumber()));
}

/** The engine's view of authorizations on file: only those with a period (approvals, past or present). */
export function asPriorAuthorizations(authorizations: Authorization[]): PriorAuthorization[] {
  const result: PriorAuthorization[] = [];
  for (const a of authorizations) {
    if (a.start === null || a.end === null || a.policyId === null) continue;
    result.push({ number: a.number, policyId: a.policyId, start: a.start, end: a.end, status: a.status, basis: a.basis });
  }
  return result;
}

const writtenResponseTexts = new WeakMap<ClaimRecord, string | Buffer>();

/**
 * The response bundle's JSON text exactly as a claim submission's write stored it (a long one as
 * UTF-8 bytes), for the record that write returned (none for a record read back): the answer can be
 * sent as that text rather than serialized again, ~30 ms of main-thread CPU for a 1,000-item Claim.
 */
export function writtenResponseText(record: ClaimRecord): string | Buffer | undefined {
  return writtenResponseTexts.get(record);
}

/** A store's claim-submission write notes the text it stored for the record it returns. */
export function noteWrittenResponseText(record: ClaimRecord, text: string | Buffer): ClaimRecord {
  writtenResponseTexts.set(record, text);
  return record;
}
