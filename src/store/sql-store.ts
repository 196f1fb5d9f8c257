/**
 * The one `Store` implementation, over a `SqlClient` (PGlite or node-postgres). PostgreSQL only:
 * json for FHIR documents stored whole, jsonb where SQL reads inside them (decisions, subscriptions),
 * `date` for authorization periods (returned as YYYY-MM-DD text so the two drivers agree),
 * `timestamptz` for creation times (returned as ISO strings).
 */
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import zlib, { gunzipSync } from 'node:zlib';
import type { Bundle, Claim, ClaimResponse, Subscription } from 'fhir/r4';
import type { Decision, Outcome } from '../engine/decision';
import { ConflictError, DuplicateSubmissionError, StoreError, type SqlClient, type SqlExecutor } from './sql';
import type {
  AccessTokenRecord,
  AuditEvent,
  AuditRecord,
  Authorization,
  AuthorizationFilter,
  AuthorizationStatus,
  ClaimFilter,
  ClaimOutcome,
  ClaimRecord,
  ClaimResponseVersionRecord,
  ClaimSubmission,
  CoverageAssertion,
  DecisionRecord,
  DecisionSource,
  DueNotification,
  FanOutResult,
  FeedbackRecord,
  NewAuthorization,
  NewClaimResponseVersion,
  NewCoverageAssertion,
  NewSubscription,
  NotificationRecord,
  NotificationStatus,
  OutboxStats,
  ReviewLoginRecord,
  ReviewSessionRecord,
  Store,
  SubscriptionRecord,
  SubscriptionStatus,
} from './store';
import { noteWrittenResponseText } from './store';
import { serializeInSlices } from '../core/json-text';
import { timeSlices } from '../core/promises';
import type { NewReviewAction, ReportFilter, ReportRow, ReviewActionRecord, ReviewQueueRow } from './review';

const SOURCES: readonly DecisionSource[] = ['pas', 'crd', 'dtr', 'cli', 'review'];
const CLAIM_OUTCOMES: readonly ClaimOutcome[] = ['approve', 'pend', 'deny', 'cancelled'];
const STATUSES: readonly AuthorizationStatus[] = ['approved', 'pended', 'denied', 'cancelled'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
/** FHIR `id` datatype. */
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const NUMBER_ATTEMPTS = 5;

type Row = Record<string, unknown>;

const AUTHORIZATION_COLUMNS = `number, member_key, policy_id, drug_key, order_key, status, basis,
  to_char(start_date, 'YYYY-MM-DD') AS start_date, to_char(end_date, 'YYYY-MM-DD') AS end_date,
  decision_id::text AS decision_id, created_at, updated_at`;

// The claim row's columns besides its JSON bodies (what an INSERT ... RETURNING gives back).
const CLAIM_SCALARS = `id, identifier_system, identifier_value, patient_key, payer_id, policy_id, status, outcome,
  claim_response_id, decision_id::text AS decision_id,
  authorization_number, created_at, version, submitter_keys, content_hash, expedited, due_at, review_route,
  decided_at, assignee, replaces_claim_id, replaced_by_claim_id, updated_at`;

// The current ClaimResponse lives in its version row (013); claims keeps a copy only from before it.
const CURRENT_VERSION = 'FROM claim_response_versions v WHERE v.claim_id = claims.id AND v.version = claims.version';
const RESPONSE_COLUMNS = `coalesce(claims.claim_response, (SELECT v.claim_response ${CURRENT_VERSION})) AS claim_response,
  coalesce(claims.response_bundle, (SELECT v.response_bundle ${CURRENT_VERSION})) AS response_bundle,
  (SELECT v.response_bundle_gz ${CURRENT_VERSION}) AS response_bundle_gz,
  (SELECT v.claim_response_entry ${CURRENT_VERSION}) AS claim_response_entry`;

const CLAIM_COLUMNS = `${CLAIM_SCALARS}, claim, claim_entry, request_bundle, request_bundle_gz, ${RESPONSE_COLUMNS}`;

const VERSION_COLUMNS = `claim_id, version, outcome, claim_response, claim_response_entry, response_bundle, response_bundle_gz, decision_id::text AS decision_id,
  authorization_number, event, actor, note, created_at`;

const ASSERTION_COLUMNS = `id::text AS id, hook_instance, policy_id, order_key, patient_key,
  decision_id::text AS decision_id, questionnaire, authorization_number, created_at`;

export class SqlStore implements Store {
  readonly backend: 'pglite' | 'postgres';

  constructor(
    private readonly client: SqlClient,
    private readonly db: SqlExecutor,
    private readonly nextNumber: () => string,
    private readonly inTransaction = false,
  ) {
    this.backend = client.backend;
  }

  async transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    if (this.inTransaction) return fn(this);
    return this.client.transaction((tx) => fn(new SqlStore(this.client, tx, this.nextNumber, true)));
  }

  // ---- decisions ----

  async saveDecision(source: DecisionSource, decision: Decision): Promise<string> {
    const id = crypto.randomUUID();
    const params: unknown[] = [];
    await this.db.query(`INSERT INTO decisions ${rowValues(params, decisionRow(id, source, decision, json(decision)))}`, params);
    return id;
  }

  async getDecision(id: string): Promise<DecisionRecord | null> {
    if (!UUID.test(id)) return null;
    const { rows } = await this.db.query(
      'SELECT id::text AS id, source, policy_id, outcome, decision, created_at FROM decisions WHERE id = $1',
      [id],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      id: str(r.id),
      source: str(r.source) as DecisionSource,
      policyId: strOrNull(r.policy_id),
      outcome: str(r.outcome) as Outcome,
      decision: r.decision as Decision,
      createdAt: iso(r.created_at),
    };
  }

  // ---- claims ----

  async saveClaimSubmission(s: ClaimSubmission): Promise<ClaimRecord> {
    if (s.claim?.resourceType !== 'Claim') throw new StoreError('saveClaimSubmission: claim must be a Claim resource');
    if (s.requestBundle?.resourceType !== 'Bundle') throw new StoreError('saveClaimSubmission: requestBundle must be a Bundle');
    if (s.authorization && s.authorizationNumber) {
      throw new StoreError('saveClaimSubmission: give either a new authorization or an existing authorizationNumber, not both');
    }
    const outcome = s.outcome ?? s.decision.outcome;
    if (!CLAIM_OUTCOMES.includes(outcome)) throw new StoreError(`claim outcome must be one of ${CLAIM_OUTCOMES.join(', ')}`);
    let ownIdTaken = false;
    for (let attempt = 1; ; attempt++) {
      const draft = await this.draftClaimSubmission(s, ownIdTaken);
      try {
        // A new request is one statement (no transaction needed); an update or cancel also writes the prior request's version.
        if (!s.alsoInTransaction || this.inTransaction) return await this.insertClaimSubmission(s, outcome, draft);
        return await this.transaction((tx) => (tx as SqlStore).insertClaimSubmission(s, outcome, draft));
      } catch (error) {
        // In a caller's transaction the failed statement aborted it: no second attempt there.
        if (error instanceof DrawnKeyTaken && attempt < NUMBER_ATTEMPTS && !this.inTransaction) {
          ownIdTaken ||= error.claimId;
          continue;
        }
        throw error instanceof DrawnKeyTaken ? new StoreError(`could not draw an unused claim id or authorization number in ${NUMBER_ATTEMPTS} attempts`) : error;
      }
    }
  }

  /**
   * Everything about a submission but its writes, before they begin: the ids and the authorization
   * number are drawn, the response built and every body turned into JSON text. A large request's
   * response and text must not hold the connection (PGlite has only one).
   */
  private async draftClaimSubmission(s: ClaimSubmission, ownIdTaken: boolean): Promise<ClaimDraft> {
    const claimId = await this.claimIdFor(s, ownIdTaken);
    const decisionId = crypto.randomUUID();
    let authorizationNumber: string | null = null;
    if (s.authorization) {
      checkAuthorization(s.authorization);
      authorizationNumber = s.authorization.number ?? this.nextNumber();
    } else if (s.authorizationNumber) {
      if (!(await this.getAuthorization(s.authorizationNumber))) throw new StoreError(`authorization ${s.authorizationNumber} is not on file`);
      authorizationNumber = s.authorizationNumber;
    }
    // Between the steps below other requests get the event loop when a step held it longer than a
    // slice: for a 1,000-item Claim each is ~20–40 ms. A small request's take well under a
    // millisecond, and it keeps its turn rather than wait behind another request's slice.
    const slices = timeSlices();
    const parts = s.respond
      ? await s.respond({ claimId, authorizationNumber, decisionId })
      : s.responseBundle && s.claimResponse
        ? { responseBundle: s.responseBundle, claimResponse: s.claimResponse }
        : null;
    if (!parts) throw new StoreError('saveClaimSubmission: give responseBundle and claimResponse, or respond()');
    const { claimResponse, responseBundle } = withClaimResponseId(parts.claimResponse, parts.responseBundle);
    if (slices.due()) await slices.pause();
    // The Claim is written once: as its bundle's entry when it is there (it is read back with this id).
    const claimEntry = s.requestBundle.entry?.findIndex((e) => e.resource === s.claim) ?? -1;
    const claim = claimEntry >= 0 ? null : document({ ...s.claim, id: claimId });
    if (slices.due()) await slices.pause();
    const request = await storedDocument(s.requestBundle);
    if (slices.due()) await slices.pause();
    const body = await versionBody(claimResponse, responseBundle);
    return {
      claimId,
      decisionId,
      decisionText: json(s.decision),
      authorizationNumber,
      claimResponseId: claimResponse.id,
      claimText: claim?.text ?? null,
      claimEntry: claimEntry >= 0 ? claimEntry : null,
      claimIdentifiers: json(s.claim.identifier ?? []),
      request,
      body,
      // No read-back: the bodies are what was written (JSON.parse of a large one costs as much as its write).
      record: (row) =>
        noteWrittenResponseText(
          toClaim({
            ...row,
            claim: claim?.value ?? null,
            claim_entry: claimEntry >= 0 ? claimEntry : null,
            request_bundle: request.value,
            claim_response: body.claimResponse === null ? null : body.claimResponseValue,
            claim_response_entry: body.entry,
            response_bundle: body.responseBundle.value,
          }),
          body.responseBundle.text,
        ),
    };
  }

  /**
   * The writes of a drafted submission, and the stored claim; `DrawnKeyTaken` when another request
   * took a drawn id meanwhile. One statement: the decision, the authorization, the audit event, the
   * claim and its first response version are data-modifying CTEs, so a new request needs no BEGIN
   * or COMMIT and one round trip (each is ~0.3 ms of CPU on either side of the PGlite thread). A
   * unique key taken fails the whole statement (a concurrent twin waits for the first to commit,
   * then fails); the constraint's name says which key.
   */
  private async insertClaimSubmission(s: ClaimSubmission, outcome: ClaimOutcome, d: ClaimDraft): Promise<ClaimRecord> {
    const authorization = s.authorization && d.authorizationNumber ? { ...checkAuthorization(s.authorization), number: d.authorizationNumber, decisionId: d.decisionId } : null;
    const identifier = s.claim.identifier?.find((i) => i.value);
    const final = outcome !== 'pend';
    const params: unknown[] = [];
    const $ = (value: unknown): string => `$${params.push(value)}`;
    const decision = `decision AS (INSERT INTO decisions ${rowValues(params, decisionRow(d.decisionId, s.decisionSource ?? 'pas', s.decision, d.decisionText))})`;
    const granted = authorization ? `, granted AS (INSERT INTO authorizations ${rowValues(params, authorizationRow(authorization))})` : '';
    const audited = s.audit ? `, audited AS (INSERT INTO audit_events ${rowValues(params, auditRow(s.audit))})` : '';
    const version = `, version AS (INSERT INTO claim_response_versions ${rowValues(params, versionRow({ claimId: d.claimId, version: 1, outcome, body: d.body, decisionId: d.decisionId, authorizationNumber: d.authorizationNumber, event: 'submit' }))})`;
    const claim = `
      INSERT INTO claims (id, identifier_system, identifier_value, patient_key, payer_id, policy_id, status, outcome,
        claim, request_bundle, request_bundle_gz, claim_response_id, decision_id, authorization_number,
        submitter_keys, content_hash, submission_key, expedited, due_at, review_route, decided_at, replaces_claim_id,
        claim_entry, claim_identifiers)
      VALUES (${$(d.claimId)}, ${$(identifier?.system ?? null)}, ${$(identifier?.value ?? null)},
        ${$(s.patientKey !== undefined ? s.patientKey : (s.claim.patient?.reference ?? null))},
        ${$(s.payerId !== undefined ? s.payerId : (s.claim.insurer?.identifier?.value ?? null))},
        ${$(s.decision.policy?.id ?? null)}, ${$(s.claim.status ?? 'active')}, ${$(outcome)},
        ${$(d.claimText)}::json, ${$(d.request.json)}::json, ${$(d.request.gz)}::bytea, ${$(d.claimResponseId)}, ${$(d.decisionId)}, ${$(d.authorizationNumber)},
        ${$(pgTextArray(s.submitterKeys ?? []))}::text[], ${$(s.contentHash ?? null)}, ${$(s.submissionKey ?? null)}, ${$(s.expedited ?? false)},
        ${$(final ? null : (s.dueAt ?? null))}::timestamptz, ${$(s.reviewRoute ?? s.decision.reviewRoute ?? null)},
        CASE WHEN ${$(final)}::boolean THEN now() END, ${$(s.replacesClaimId ?? null)}, ${$(d.claimEntry)}, ${$(d.claimIdentifiers)}::jsonb)
      RETURNING ${CLAIM_SCALARS}`;
    let inserted: { rows: Row[] };
    try {
      inserted = await this.db.query(`WITH ${decision}${granted}${audited}${version}${claim}`, params);
    } catch (error) {
      const { code, constraint } = error as { code?: string; constraint?: string };
      if (code !== '23505') throw error;
      if (constraint === 'claims_submission_key_idx' && s.submissionKey) throw new DuplicateSubmissionError(s.submissionKey);
      if (constraint === 'authorizations_pkey' && s.authorization?.number) throw new StoreError(`authorization number ${d.authorizationNumber} is already on file`);
      // The Claim's own id, or a drawn number, that a concurrent request (or another instance) took.
      throw new DrawnKeyTaken(constraint === 'claims_pkey');
    }
    const row = inserted.rows[0];
    if (!row) throw new StoreError('the claim insert returned no row');
    const record = d.record(row);
    if (s.alsoInTransaction) await s.alsoInTransaction(this, record);
    return record;
  }

  /**
   * The Claim's own id when it is a valid FHIR id not yet used; otherwise a new UUID. A first
   * submission tries its own id without asking: nearly every one is new, and a taken id fails the
   * insert, whose next attempt draws a UUID. An update (whose Claim often keeps the id it replaces)
   * and a write inside a caller's transaction (which a failed insert would abort) ask first.
   */
  private async claimIdFor(s: ClaimSubmission, ownIdTaken: boolean): Promise<string> {
    const wanted = s.claim.id;
    if (!wanted || !FHIR_ID.test(wanted) || ownIdTaken) return crypto.randomUUID();
    if (!s.replacesClaimId && !this.inTransaction) return wanted;
    const { rows } = await this.db.query('SELECT 1 FROM claims WHERE id = $1', [wanted]);
    return rows.length === 0 ? wanted : crypto.randomUUID();
  }

  async getClaim(id: string): Promise<ClaimRecord | null> {
    const { rows } = await this.db.query(`SELECT ${CLAIM_COLUMNS} FROM claims WHERE id = $1`, [id]);
    return rows[0] ? toClaim(rows[0]) : null;
  }

  async getClaimResponse(id: string): Promise<ClaimResponse | null> {
    const { rows } = await this.db.query(`SELECT ${RESPONSE_COLUMNS} FROM claims WHERE claim_response_id = $1`, [id]);
    return rows[0] ? claimResponseOf(inflated(rows[0])) : null;
  }

  async findClaimByIdentifier(system: string | null, value: string): Promise<ClaimRecord | null> {
    const probe = system === null ? [{ value }] : [{ system, value }];
    const { rows } = await this.db.query(
      `SELECT ${CLAIM_COLUMNS} FROM claims WHERE claim_identifiers @> $1::jsonb ORDER BY seq DESC LIMIT 1`,
      [json(probe)],
    );
    return rows[0] ? toClaim(rows[0]) : null;
  }

  async findClaimBySubmissionKey(submissionKey: string): Promise<ClaimRecord | null> {
    // Every new submission asks, and nearly all find nothing: the id alone first. Planning the whole
    // row's query (four subqueries) was most of its cost: 0.83 against 0.28 ms on the PGlite thread.
    const { rows } = await this.db.query<{ id: string }>('SELECT id FROM claims WHERE submission_key = $1', [submissionKey]);
    return rows[0] ? this.getClaim(rows[0].id) : null;
  }

  async getClaimByResponseId(claimResponseId: string): Promise<ClaimRecord | null> {
    const { rows } = await this.db.query(`SELECT ${CLAIM_COLUMNS} FROM claims WHERE claim_response_id = $1`, [claimResponseId]);
    return rows[0] ? toClaim(rows[0]) : null;
  }

  async listClaims(filter: ClaimFilter): Promise<ClaimRecord[]> {
    filter.outcome?.forEach((o) => {
      if (!CLAIM_OUTCOMES.includes(o)) throw new StoreError(`claim outcome must be one of ${CLAIM_OUTCOMES.join(', ')}`);
    });
    const { rows } = await this.db.query(
      `SELECT ${CLAIM_COLUMNS} FROM claims
       WHERE ($1::text[] IS NULL OR outcome = ANY ($1::text[]))
         AND ($2::text IS NULL OR policy_id = $2)
         AND ($3::text[] IS NULL OR submitter_keys && $3::text[])
         AND ($4::timestamptz IS NULL OR created_at >= $4::timestamptz)
       ORDER BY due_at ASC NULLS LAST, seq ASC
       LIMIT $5`,
      [
        filter.outcome ? pgTextArray(filter.outcome) : null,
        filter.policyId ?? null,
        filter.submitterKeys ? pgTextArray(filter.submitterKeys) : null,
        filter.since ?? null,
        filter.limit === undefined ? 1000 : clampLimit(filter.limit),
      ],
    );
    return rows.map(toClaim);
  }

  async saveClaimResponseVersion(v: NewClaimResponseVersion): Promise<ClaimRecord> {
    if (!CLAIM_OUTCOMES.includes(v.outcome)) throw new StoreError(`claim outcome must be one of ${CLAIM_OUTCOMES.join(', ')}`);
    if (v.authorization && v.authorizationNumber) {
      throw new StoreError('saveClaimResponseVersion: give either a new authorization or an authorizationNumber, not both');
    }
    return this.transaction(async (tx) => {
      const self = tx as SqlStore;
      // Row lock: two reviewers deciding at once are serialized. The claim is read by a second
      // statement: under READ COMMITTED, one that waited for the lock sees the new version row only
      // with a fresh snapshot (the locking statement's subqueries keep the old one).
      const { rows } = await self.db.query('SELECT id FROM claims WHERE id = $1 FOR UPDATE', [v.claimId]);
      const current = rows[0] ? await self.getClaim(v.claimId) : null;
      if (!current) throw new StoreError(`claim ${v.claimId} is not on file`);
      if (v.expectedVersion !== undefined && v.expectedVersion !== current.version) {
        throw new ConflictError(`claim ${v.claimId} is at version ${current.version}, not ${v.expectedVersion}`);
      }
      const decisionId = v.decision ? await self.saveDecision(v.decisionSource ?? 'review', v.decision) : null;
      let authorization: Authorization | null = null;
      if (v.authorization) authorization = await self.createAuthorization({ ...v.authorization, decisionId });
      else {
        const number = v.authorizationNumber === undefined ? current.authorizationNumber : v.authorizationNumber;
        authorization = number ? await self.getAuthorization(number) : null;
      }
      const version = current.version + 1;
      const parts = v.respond({ claim: current, version, authorization, decisionId });
      // Same ClaimResponse (id and identifier), new version.
      const claimResponse: ClaimResponse = {
        ...parts.claimResponse,
        id: current.claimResponseId,
        identifier: current.claimResponse.identifier ?? parts.claimResponse.identifier,
        meta: { ...parts.claimResponse.meta, versionId: String(version) },
      };
      const responseBundle: Bundle = {
        ...parts.responseBundle,
        entry: parts.responseBundle.entry?.map((e) => (e.resource === parts.claimResponse ? { ...e, resource: claimResponse } : e)),
      };
      const body = await versionBody(claimResponse, responseBundle);
      await self.db.query(
        `UPDATE claims SET version = $2, outcome = $3, claim_response = NULL, response_bundle = NULL,
           decision_id = coalesce($4, decision_id), authorization_number = $5,
           decided_at = CASE WHEN $6::boolean THEN now() ELSE decided_at END,
           due_at = CASE WHEN $7::boolean THEN $8::timestamptz ELSE due_at END,
           replaced_by_claim_id = coalesce($9, replaced_by_claim_id), updated_at = now()
         WHERE id = $1`,
        [
          v.claimId,
          version,
          v.outcome,
          decisionId,
          authorization?.number ?? null,
          v.final ?? false,
          v.dueAt !== undefined,
          v.dueAt ?? null,
          v.replacedByClaimId ?? null,
        ],
      );
      const params: unknown[] = [];
      const row = versionRow({ claimId: v.claimId, version, outcome: v.outcome, body, decisionId, authorizationNumber: authorization?.number ?? null, event: v.event, actor: v.actor, note: v.note });
      await self.db.query(`INSERT INTO claim_response_versions ${rowValues(params, row)}`, params);
      await self.db.query('INSERT INTO claim_events (claim_id, version, event) VALUES ($1, $2, $3)', [v.claimId, version, v.event]);
      const saved = await self.getClaim(v.claimId);
      if (!saved) throw new StoreError(`claim ${v.claimId} vanished inside its own transaction`);
      return saved;
    });
  }

  async listClaimResponseVersions(claimId: string): Promise<ClaimResponseVersionRecord[]> {
    const { rows } = await this.db.query(`SELECT ${VERSION_COLUMNS} FROM claim_response_versions WHERE claim_id = $1 ORDER BY version`, [claimId]);
    return rows.map(inflated).map((r) => ({
      claimId: str(r.claim_id),
      version: Number(r.version),
      outcome: str(r.outcome) as ClaimOutcome,
      claimResponse: claimResponseOf(r),
      responseBundle: r.response_bundle as Bundle,
      decisionId: strOrNull(r.decision_id),
      authorizationNumber: strOrNull(r.authorization_number),
      event: str(r.event),
      actor: strOrNull(r.actor),
      note: strOrNull(r.note),
      createdAt: iso(r.created_at),
    }));
  }

  async setClaimAssignee(claimId: string, assignee: string | null): Promise<ClaimRecord | null> {
    const { rows } = await this.db.query(
      `UPDATE claims SET assignee = $2, updated_at = now() WHERE id = $1 RETURNING ${CLAIM_COLUMNS}`,
      [claimId, assignee],
    );
    return rows[0] ? toClaim(rows[0]) : null;
  }

  // ---- authorizations ----

  async createAuthorization(input: NewAuthorization): Promise<Authorization> {
    const checked = checkAuthorization(input);
    for (let attempt = 1; attempt <= (input.number ? 1 : NUMBER_ATTEMPTS); attempt++) {
      const number = input.number ?? this.nextNumber();
      const created = await this.insertAuthorization({ ...checked, number });
      if (created) return created;
      if (input.number) throw new StoreError(`authorization number ${number} is already on file`);
    }
    throw new StoreError(`could not draw an unused authorization number in ${NUMBER_ATTEMPTS} attempts`);
  }

  /** null when the number is already on file. */
  private async insertAuthorization(input: CheckedAuthorization & { number: string }): Promise<Authorization | null> {
    // ON CONFLICT instead of catching 23505: a failed INSERT would abort the surrounding transaction.
    const params: unknown[] = [];
    const { rows } = await this.db.query(
      `INSERT INTO authorizations ${rowValues(params, authorizationRow(input))} ON CONFLICT (number) DO NOTHING RETURNING ${AUTHORIZATION_COLUMNS}`,
      params,
    );
    return rows[0] ? toAuthorization(rows[0]) : null;
  }

  async getAuthorization(number: string): Promise<Authorization | null> {
    const { rows } = await this.db.query(`SELECT ${AUTHORIZATION_COLUMNS} FROM authorizations WHERE number = $1`, [number]);
    return rows[0] ? toAuthorization(rows[0]) : null;
  }

  async findAuthorizationByOrder(orderKey: string): Promise<Authorization | null> {
    const { rows } = await this.db.query(
      `SELECT ${AUTHORIZATION_COLUMNS} FROM authorizations
       WHERE order_key = $1 AND status <> 'cancelled' ORDER BY seq DESC LIMIT 1`,
      [orderKey],
    );
    return rows[0] ? toAuthorization(rows[0]) : null;
  }

  async listAuthorizations(filter: AuthorizationFilter): Promise<Authorization[]> {
    if (!filter.memberKey) throw new StoreError('listAuthorizations needs a memberKey');
    filter.status?.forEach(checkStatus);
    const { rows } = await this.db.query(
      `SELECT ${AUTHORIZATION_COLUMNS} FROM authorizations
       WHERE member_key = $1
         AND ($2::text IS NULL OR drug_key = $2)
         AND ($3::text IS NULL OR policy_id = $3)
         AND ($4::text[] IS NULL OR status = ANY ($4::text[]))
       ORDER BY seq DESC`,
      [filter.memberKey, filter.drugKey ?? null, filter.policyId ?? null, filter.status ? pgTextArray(filter.status) : null],
    );
    return rows.map(toAuthorization);
  }

  async updateAuthorizationStatus(
    number: string,
    status: AuthorizationStatus,
    period?: { start: string; end: string },
  ): Promise<Authorization | null> {
    checkStatus(status);
    const start = checkDate(period?.start, 'start');
    const end = checkDate(period?.end, 'end');
    try {
      const { rows } = await this.db.query(
        `UPDATE authorizations SET status = $2, start_date = coalesce($3::date, start_date),
           end_date = coalesce($4::date, end_date), updated_at = now()
         WHERE number = $1 RETURNING ${AUTHORIZATION_COLUMNS}`,
        [number, status, start, end],
      );
      return rows[0] ? toAuthorization(rows[0]) : null;
    } catch (error) {
      if ((error as { code?: string }).code === '23514') {
        throw new StoreError(`authorization ${number} cannot become ${status}: ${(error as Error).message}`, { cause: error });
      }
      throw error;
    }
  }

  // ---- CRD coverage assertions ----

  async saveCoverageAssertion(input: NewCoverageAssertion): Promise<CoverageAssertion> {
    if (!input.hookInstance) throw new StoreError('coverage assertion needs the hookInstance');
    if (input.decision && input.decisionId) throw new StoreError('give either decision or decisionId, not both');
    const decisionId = input.decision ? null : checkUuid(input.decisionId, 'decisionId');
    // Most calls grant nothing: the decision and the assertion are one statement, one round trip.
    if (!input.authorization) return this.insertCoverageAssertion(input, decisionId, null);
    // A grant draws a number that may be taken, and retries: a transaction, the decision first.
    const grant = input.authorization;
    return this.transaction(async (tx) => {
      const self = tx as SqlStore;
      const savedDecisionId = input.decision ? await self.saveDecision('crd', input.decision) : decisionId;
      const authorization = await self.createAuthorization({ ...grant, decisionId: savedDecisionId });
      const saved = await self.insertCoverageAssertion(input, savedDecisionId, authorization.number);
      return { ...saved, authorization };
    });
  }

  /**
   * The assertion row. `decisionId` null: the input's decision is not saved yet, and is written by
   * the same statement (a data-modifying CTE).
   */
  private async insertCoverageAssertion(input: NewCoverageAssertion, decisionId: string | null, authorizationNumber: string | null): Promise<CoverageAssertion> {
    const params: unknown[] = [];
    const unsaved = decisionId === null && input.decision ? { id: crypto.randomUUID(), value: input.decision } : undefined;
    const withDecision = unsaved ? `WITH decision AS (INSERT INTO decisions ${rowValues(params, decisionRow(unsaved.id, 'crd', unsaved.value, json(unsaved.value)))}) ` : '';
    const row = rowValues(params, {
      id: crypto.randomUUID(),
      hook_instance: input.hookInstance,
      policy_id: input.policyId !== undefined ? input.policyId : (input.decision?.policy?.id ?? null),
      order_key: input.orderKey,
      patient_key: input.patientKey,
      decision_id: unsaved?.id ?? decisionId,
      questionnaire: input.questionnaire ?? null,
      authorization_number: authorizationNumber,
    });
    const { rows } = await this.db.query(`${withDecision}INSERT INTO coverage_assertions ${row} RETURNING ${ASSERTION_COLUMNS}`, params);
    if (!rows[0]) throw new StoreError('the coverage assertion insert returned no row');
    return toAssertion(rows[0]);
  }

  async getCoverageAssertion(id: string): Promise<CoverageAssertion | null> {
    if (!UUID.test(id)) return null;
    const { rows } = await this.db.query(`SELECT ${ASSERTION_COLUMNS} FROM coverage_assertions WHERE id = $1`, [id]);
    return rows[0] ? toAssertion(rows[0]) : null;
  }

  async findCoverageAssertionByOrder(orderKey: string): Promise<CoverageAssertion | null> {
    const { rows } = await this.db.query(
      `SELECT ${ASSERTION_COLUMNS} FROM coverage_assertions WHERE order_key = $1 ORDER BY seq DESC LIMIT 1`,
      [orderKey],
    );
    return rows[0] ? toAssertion(rows[0]) : null;
  }

  // ---- CDS Hooks feedback ----

  async saveFeedback(serviceId: string, feedback: unknown): Promise<string> {
    if (!serviceId) throw new StoreError('feedback needs the service id');
    if (feedback === undefined) throw new StoreError('feedback body is missing');
    const id = crypto.randomUUID();
    await this.db.query('INSERT INTO cds_feedback (id, service_id, feedback) VALUES ($1, $2, $3::jsonb)', [id, serviceId, json(feedback)]);
    return id;
  }

  async listFeedback(serviceId: string, limit = 100): Promise<FeedbackRecord[]> {
    const { rows } = await this.db.query(
      `SELECT id::text AS id, service_id, feedback, created_at FROM cds_feedback
       WHERE service_id = $1 ORDER BY seq DESC LIMIT $2`,
      [serviceId, clampLimit(limit)],
    );
    return rows.map((r) => ({ id: str(r.id), serviceId: str(r.service_id), feedback: r.feedback, createdAt: iso(r.created_at) }));
  }

  // ---- audit ----

  async audit(event: AuditEvent): Promise<void> {
    const params: unknown[] = [];
    await this.db.query(`INSERT INTO audit_events ${rowValues(params, auditRow(event))}`, params);
  }

  async listAudit(limit: number): Promise<AuditRecord[]> {
    const { rows } = await this.db.query(
      `SELECT id::text AS id, request_id, action, actor, hook_instance, payer_id, policy_id, outcome, latency_ms, status, created_at
       FROM audit_events ORDER BY id DESC LIMIT $1`,
      [clampLimit(limit)],
    );
    return rows.map((r) => ({
      id: str(r.id),
      requestId: str(r.request_id),
      action: str(r.action),
      actor: strOrNull(r.actor),
      hookInstance: strOrNull(r.hook_instance),
      payerId: strOrNull(r.payer_id),
      policyId: strOrNull(r.policy_id),
      outcome: strOrNull(r.outcome),
      latencyMs: r.latency_ms == null ? null : Number(r.latency_ms),
      status: r.status == null ? null : Number(r.status),
      createdAt: iso(r.created_at),
    }));
  }

  // ---- security ----

  async rememberJti(key: string, expiresAt: Date, now: Date): Promise<boolean> {
    // An expired entry for the same key is replaced; a live one makes the insert do nothing.
    const { rows } = await this.db.query(
      `INSERT INTO jti (key, expires_at) VALUES ($1, $2)
       ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE jti.expires_at <= $3
       RETURNING key`,
      [key, expiresAt.toISOString(), now.toISOString()],
    );
    if (Math.random() < 0.01) await this.db.query('DELETE FROM jti WHERE expires_at <= $1', [now.toISOString()]);
    return rows.length === 1;
  }

  async saveAccessToken(tokenHash: string, token: AccessTokenRecord, now: Date): Promise<void> {
    await this.db.query('INSERT INTO access_tokens (token_hash, client_id, scope, expires_at) VALUES ($1, $2, $3, $4)', [
      tokenHash,
      token.clientId,
      token.scope,
      token.expiresAt.toISOString(),
    ]);
    if (Math.random() < 0.01) await this.db.query('DELETE FROM access_tokens WHERE expires_at <= $1', [now.toISOString()]);
  }

  async findAccessToken(tokenHash: string, now: Date): Promise<AccessTokenRecord | null> {
    const { rows } = await this.db.query('SELECT client_id, scope, expires_at FROM access_tokens WHERE token_hash = $1 AND expires_at > $2', [
      tokenHash,
      now.toISOString(),
    ]);
    const r = rows[0];
    return r ? { clientId: str(r.client_id), scope: str(r.scope), expiresAt: new Date(iso(r.expires_at)) } : null;
  }

  // ---- reviewer sign-in (src/review/auth) ----

  async saveReviewLogin(idHash: string, login: ReviewLoginRecord, now: Date): Promise<void> {
    await this.db.query(
      'INSERT INTO review_logins (id_hash, state, nonce, code_verifier, return_to, expires_at) VALUES ($1, $2, $3, $4, $5, $6)',
      [idHash, login.state, login.nonce, login.codeVerifier, login.returnTo, login.expiresAt.toISOString()],
    );
    // Abandoned sign-ins are pruned now and then, as the jti cache is.
    if (Math.random() < 0.05) await this.db.query('DELETE FROM review_logins WHERE expires_at <= $1', [now.toISOString()]);
  }

  async takeReviewLogin(idHash: string, now: Date): Promise<ReviewLoginRecord | null> {
    const { rows } = await this.db.query('DELETE FROM review_logins WHERE id_hash = $1 RETURNING state, nonce, code_verifier, return_to, expires_at', [idHash]);
    const r = rows[0];
    if (!r || new Date(iso(r.expires_at)) <= now) return null;
    return { state: str(r.state), nonce: str(r.nonce), codeVerifier: str(r.code_verifier), returnTo: str(r.return_to), expiresAt: new Date(iso(r.expires_at)) };
  }

  async createReviewSession(idHash: string, session: ReviewSessionRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO review_sessions (id_hash, issuer, subject, name, role, created_at, last_seen_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [idHash, session.issuer, session.subject, session.name, session.role, session.createdAt.toISOString(), session.lastSeenAt.toISOString(), session.expiresAt.toISOString()],
    );
    if (Math.random() < 0.05) await this.db.query('DELETE FROM review_sessions WHERE expires_at <= $1', [session.createdAt.toISOString()]);
  }

  async touchReviewSession(idHash: string, now: Date, idleSeconds: number): Promise<ReviewSessionRecord | null> {
    // One statement: the check and the new last use are atomic across instances.
    const { rows } = await this.db.query(
      `UPDATE review_sessions SET last_seen_at = $2
       WHERE id_hash = $1 AND expires_at > $2 AND last_seen_at > $2::timestamptz - make_interval(secs => $3)
       RETURNING issuer, subject, name, role, created_at, last_seen_at, expires_at`,
      [idHash, now.toISOString(), idleSeconds],
    );
    const r = rows[0];
    return r
      ? {
          issuer: str(r.issuer),
          subject: str(r.subject),
          name: str(r.name),
          role: str(r.role),
          createdAt: new Date(iso(r.created_at)),
          lastSeenAt: new Date(iso(r.last_seen_at)),
          expiresAt: new Date(iso(r.expires_at)),
        }
      : null;
  }

  async deleteReviewSession(idHash: string): Promise<boolean> {
    const { rowCount } = await this.db.query('DELETE FROM review_sessions WHERE id_hash = $1', [idHash]);
    return rowCount > 0;
  }

  // ---- PAS $inquire (src/pas/inquire.ts) ----

  async findClaimsBySubmitter(filter: { submitterKeys: string[]; requiredKey?: string; payerIds?: string[]; limit?: number }): Promise<ClaimRecord[]> {
    if (filter.submitterKeys.length === 0) return [];
    const { rows } = await this.db.query(
      `SELECT ${CLAIM_COLUMNS} FROM claims
       WHERE submitter_keys && $1::text[]
         AND ($2::text IS NULL OR $2::text = ANY (submitter_keys))
         AND ($3::text[] IS NULL OR payer_id = ANY ($3::text[]))
       ORDER BY seq DESC LIMIT $4`,
      [
        pgTextArray(filter.submitterKeys),
        filter.requiredKey ?? null,
        filter.payerIds && filter.payerIds.length > 0 ? pgTextArray(filter.payerIds) : null,
        clampLimit(filter.limit ?? 100),
      ],
    );
    return rows.map(toClaim);
  }

  // ---- PAS Subscriptions (src/subscriptions) ----

  async createSubscription(input: NewSubscription): Promise<SubscriptionRecord> {
    checkSubscription(input);
    try {
      const { rows } = await this.db.query(
        `INSERT INTO subscriptions (id, owner, status, topic, filter_system, filter_value, endpoint, headers, resource)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb) RETURNING ${SUBSCRIPTION_COLUMNS}`,
        [input.id, input.owner, input.status, input.topic, input.filterSystem, input.filterValue, input.endpoint, json(input.headers), json(input.resource)],
      );
      return toSubscription(rows[0]!);
    } catch (error) {
      throw uniqueToStoreError(error, `subscription ${input.id} already exists`);
    }
  }

  async updateSubscription(input: NewSubscription): Promise<SubscriptionRecord | null> {
    checkSubscription(input);
    const { rows } = await this.db.query(
      `UPDATE subscriptions SET owner = $2, status = $3, topic = $4, filter_system = $5, filter_value = $6, endpoint = $7,
         headers = $8::jsonb, resource = $9::jsonb, last_error = NULL, updated_at = now()
       WHERE id = $1 RETURNING ${SUBSCRIPTION_COLUMNS}`,
      [input.id, input.owner, input.status, input.topic, input.filterSystem, input.filterValue, input.endpoint, json(input.headers), json(input.resource)],
    );
    return rows[0] ? toSubscription(rows[0]) : null;
  }

  async setSubscriptionStatus(id: string, status: SubscriptionStatus, error: string | null = null): Promise<SubscriptionRecord | null> {
    if (!SUBSCRIPTION_STATUSES.includes(status)) throw new StoreError(`subscription status must be one of ${SUBSCRIPTION_STATUSES.join(', ')}`);
    return this.transaction(async (tx) => {
      const db = (tx as SqlStore).db;
      const { rows } = await db.query(
        `UPDATE subscriptions SET status = $2, last_error = $3, updated_at = now() WHERE id = $1 RETURNING ${SUBSCRIPTION_COLUMNS}`,
        [id, status, error],
      );
      // Back to active: what was given up on while the endpoint failed is delivered after all, in order.
      if (rows[0] && status === 'active') {
        await db.query(
          `UPDATE subscription_notifications SET status = 'pending', attempts = 0, next_attempt_at = now()
           WHERE subscription_id = $1 AND status = 'failed'`,
          [id],
        );
      }
      return rows[0] ? toSubscription(rows[0]) : null;
    });
  }

  async getSubscription(id: string): Promise<SubscriptionRecord | null> {
    const { rows } = await this.db.query(`SELECT ${SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = $1`, [id]);
    return rows[0] ? toSubscription(rows[0]) : null;
  }

  async listSubscriptions(filter: { owner?: string | null } = {}): Promise<SubscriptionRecord[]> {
    const all = filter.owner === undefined;
    const { rows } = await this.db.query(
      `SELECT ${SUBSCRIPTION_COLUMNS} FROM subscriptions
       WHERE $1::boolean OR owner IS NOT DISTINCT FROM $2::text ORDER BY seq`,
      [all, filter.owner ?? null],
    );
    return rows.map(toSubscription);
  }

  async deleteSubscription(id: string): Promise<boolean> {
    const { rowCount } = await this.db.query('DELETE FROM subscriptions WHERE id = $1', [id]);
    return rowCount > 0;
  }

  async fanOutClaimEvents(limit: number): Promise<FanOutResult> {
    return this.transaction(async (tx) => {
      const db = (tx as SqlStore).db;
      const { rows: events } = await db.query(
        `SELECT e.id::text AS id, e.claim_id, e.version, e.created_at, c.submitter_keys
         FROM claim_events e JOIN claims c ON c.id = e.claim_id
         WHERE e.dispatched_at IS NULL ORDER BY e.id LIMIT $1
         FOR UPDATE OF e SKIP LOCKED`,
        [clampLimit(limit)],
      );
      if (events.length === 0) return { events: 0, notifications: 0 };
      const { rows: subscriptions } = await db.query(
        `SELECT id, owner, filter_system, filter_value, created_at FROM subscriptions
         WHERE status IN ('active', 'error') ORDER BY seq`,
      );
      let notifications = 0;
      for (const event of events) {
        const keys = textArray(event.submitter_keys);
        const eventAt = iso(event.created_at);
        for (const s of subscriptions) {
          if (iso(s.created_at) > eventAt) continue;
          const owner = strOrNull(s.owner);
          if (owner !== null && !keys.includes(owner)) continue;
          if (!matchesOrgFilter(keys, strOrNull(s.filter_system), str(s.filter_value))) continue;
          // The row lock on the subscription keeps its event numbers gap-free and in order.
          const { rows: counted } = await db.query<{ n: string }>(
            `UPDATE subscriptions SET events_since_start = events_since_start + 1 WHERE id = $1 RETURNING events_since_start::text AS n`,
            [s.id],
          );
          if (!counted[0]) continue;
          await db.query(
            `INSERT INTO subscription_notifications (subscription_id, event_number, claim_event_id, claim_id, claim_version, event_at)
             VALUES ($1, $2, $3, $4, $5, $6)`,
            [s.id, counted[0].n, event.id, event.claim_id, event.version, eventAt],
          );
          notifications++;
        }
      }
      await db.query(`UPDATE claim_events SET dispatched_at = now() WHERE id = ANY ($1::bigint[])`, [
        `{${events.map((e) => str(e.id)).join(',')}}`,
      ]);
      return { events: events.length, notifications };
    });
  }

  async leaseDueNotifications(limit: number, leaseMs: number): Promise<DueNotification[]> {
    const { rows } = await this.db.query(
      `WITH due AS (
         SELECT n.id FROM subscription_notifications n JOIN subscriptions s ON s.id = n.subscription_id
         WHERE n.status = 'pending' AND n.next_attempt_at <= now() AND s.status = 'active'
           AND NOT EXISTS (SELECT 1 FROM subscription_notifications p
                           WHERE p.subscription_id = n.subscription_id AND p.status = 'pending' AND p.event_number < n.event_number)
         ORDER BY n.next_attempt_at, n.id LIMIT $1
         FOR UPDATE OF n SKIP LOCKED)
       UPDATE subscription_notifications n
       SET attempts = n.attempts + 1, next_attempt_at = now() + make_interval(secs => $2::double precision / 1000)
       FROM due, subscriptions s
       WHERE n.id = due.id AND s.id = n.subscription_id
       RETURNING ${NOTIFICATION_COLUMNS.split(', ').map((c) => `n.${c}`).join(', ')}, s.endpoint, s.headers, s.topic, s.events_since_start`,
      [clampLimit(limit), leaseMs],
    );
    return rows.map((r) => ({
      ...toNotification(r),
      endpoint: str(r.endpoint),
      headers: textArray(r.headers),
      topic: str(r.topic),
      eventsSinceStart: Number(r.events_since_start),
    }));
  }

  async markNotificationDelivered(id: string): Promise<void> {
    await this.db.query(
      `UPDATE subscription_notifications SET status = 'delivered', delivered_at = now(), last_error = NULL WHERE id = $1`,
      [id],
    );
  }

  async markNotificationFailed(id: string, error: string, retryInMs: number | null): Promise<void> {
    if (retryInMs !== null) {
      await this.db.query(
        `UPDATE subscription_notifications SET last_error = $2, next_attempt_at = now() + make_interval(secs => $3::double precision / 1000)
         WHERE id = $1`,
        [id, error, retryInMs],
      );
      return;
    }
    await this.transaction(async (tx) => {
      const db = (tx as SqlStore).db;
      const { rows } = await db.query<{ subscription_id: string }>(
        `UPDATE subscription_notifications SET status = 'failed', last_error = $2 WHERE id = $1 RETURNING subscription_id`,
        [id, error],
      );
      if (rows[0]) {
        await db.query(`UPDATE subscriptions SET status = 'error', last_error = $2, updated_at = now() WHERE id = $1 AND status = 'active'`, [
          rows[0].subscription_id,
          error,
        ]);
      }
    });
  }

  async listNotifications(subscriptionId: string): Promise<NotificationRecord[]> {
    const { rows } = await this.db.query(
      `SELECT ${NOTIFICATION_COLUMNS} FROM subscription_notifications WHERE subscription_id = $1 ORDER BY event_number`,
      [subscriptionId],
    );
    return rows.map(toNotification);
  }

  async getResponseBundleVersion(claimId: string, version: number): Promise<Bundle | null> {
    const { rows } = await this.db.query(
      'SELECT response_bundle, response_bundle_gz FROM claim_response_versions WHERE claim_id = $1 AND version = $2',
      [claimId, version],
    );
    const row = rows[0];
    return row ? (inflated(row).response_bundle as Bundle) : null;
  }

  async outboxStats(): Promise<OutboxStats> {
    const { rows } = await this.db.query(
      `SELECT (SELECT count(*) FROM claim_events WHERE dispatched_at IS NULL)::int AS undispatched,
              (SELECT count(*) FROM subscription_notifications WHERE status = 'pending')::int AS pending,
              (SELECT count(*) FROM subscription_notifications WHERE status = 'failed')::int AS failed`,
    );
    const r = rows[0] ?? {};
    return { undispatched: Number(r.undispatched ?? 0), pending: Number(r.pending ?? 0), failed: Number(r.failed ?? 0) };
  }

  // ---- clinical review (src/review; migration 010) ----

  async saveReviewAction(a: NewReviewAction): Promise<ReviewActionRecord> {
    if (!a.claimId) throw new StoreError('review action needs a claimId');
    if (!a.reviewer?.name) throw new StoreError('review action needs the reviewer');
    const { rows } = await this.db.query(
      `INSERT INTO review_actions (claim_id, action, reviewer_name, reviewer_role, reason, note, criteria, changes, version)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9)
       RETURNING ${REVIEW_ACTION_COLUMNS}`,
      [a.claimId, a.action, a.reviewer.name, a.reviewer.role, a.reason ?? null, a.note ?? null, json(a.criteria ?? []), json(a.changes), a.version ?? null],
    );
    const row = rows[0];
    if (!row) throw new StoreError('review action was not saved');
    return toReviewAction(row);
  }

  async reviewQueue(limit: number): Promise<ReviewQueueRow[]> {
    const { rows } = await this.db.query(
      `SELECT c.id, c.claim_response_id, c.identifier_value, c.created_at, c.due_at, c.expedited, c.version, c.assignee,
         coalesce(c.review_route, d.decision->>'reviewRoute') AS route,
         d.decision->'policy' AS policy, d.decision->'indication'->>'title' AS indication, d.decision->>'phase' AS phase,
         (SELECT count(*) FROM jsonb_array_elements(coalesce(d.decision->'criteria', '[]'::jsonb)) e
           WHERE e->>'status' IN ('unmet', 'unknown')) AS open_criteria,
         EXISTS (SELECT 1 FROM review_actions r WHERE r.claim_id = c.id AND r.action = 'request-info') AS information_requested
       FROM claims c LEFT JOIN decisions d ON d.id = c.decision_id
       WHERE c.outcome = 'pend' AND c.replaced_by_claim_id IS NULL
       ORDER BY c.due_at ASC NULLS LAST, c.seq ASC
       LIMIT $1`,
      [clampLimit(limit)],
    );
    return rows.map((r) => {
      const policy = r.policy as { id?: unknown; title?: unknown; citationPrefix?: unknown } | null;
      return {
        claimId: str(r.id),
        claimResponseId: str(r.claim_response_id),
        identifierValue: strOrNull(r.identifier_value),
        receivedAt: iso(r.created_at),
        dueAt: r.due_at == null ? null : iso(r.due_at),
        expedited: r.expedited === true,
        route: strOrNull(r.route),
        version: Number(r.version),
        assignee: strOrNull(r.assignee),
        policy: policy && typeof policy.id === 'string' ? { id: policy.id, title: String(policy.title), citationPrefix: String(policy.citationPrefix) } : null,
        indication: strOrNull(r.indication),
        phase: strOrNull(r.phase),
        openCriteria: Number(r.open_criteria),
        informationRequested: r.information_requested === true,
      };
    });
  }

  async listReviewActions(claimId: string): Promise<ReviewActionRecord[]> {
    const { rows } = await this.db.query(`SELECT ${REVIEW_ACTION_COLUMNS} FROM review_actions WHERE claim_id = $1 ORDER BY id`, [claimId]);
    return rows.map(toReviewAction);
  }

  async priorAuthorizationReport(filter: ReportFilter): Promise<ReportRow[]> {
    const decided = `outcome IN ('approve', 'deny') AND decided_at IS NOT NULL`;
    const seconds = 'extract(epoch FROM decided_at - created_at)';
    const { rows } = await this.db.query(
      `WITH c AS (
         SELECT policy_id, created_at, outcome, expedited, decided_at, due_at,
           to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month,
           EXISTS (SELECT 1 FROM claim_response_versions v
                   WHERE v.claim_id = claims.id AND v.event = 'review-decision' AND v.outcome = 'approve') AS approved_after_review,
           EXISTS (SELECT 1 FROM review_actions r
                   WHERE r.claim_id = claims.id AND r.action = 'request-info' AND r.changes ? 'dueAt') AS extended
         FROM claims
         WHERE ($1::timestamptz IS NULL OR created_at >= $1::timestamptz)
           AND ($2::timestamptz IS NULL OR created_at < $2::timestamptz)
       )
       SELECT policy_id, month, expedited,
         count(*) AS requests,
         count(*) FILTER (WHERE outcome = 'approve') AS approved,
         count(*) FILTER (WHERE outcome = 'deny') AS denied,
         count(*) FILTER (WHERE outcome = 'pend') AS pended,
         count(*) FILTER (WHERE outcome = 'cancelled') AS cancelled,
         count(*) FILTER (WHERE outcome = 'approve' AND approved_after_review) AS approved_after_review,
         count(*) FILTER (WHERE extended) AS extended,
         count(*) FILTER (WHERE ${decided}) AS decided,
         avg(${seconds}) FILTER (WHERE ${decided}) AS average_seconds,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY ${seconds}) FILTER (WHERE ${decided}) AS median_seconds,
         count(*) FILTER (WHERE ${decided} AND due_at IS NOT NULL AND decided_at > due_at) AS decided_late
       FROM c
       GROUP BY policy_id, month, expedited
       ORDER BY month, policy_id NULLS LAST, expedited`,
      [filter.since ?? null, filter.until ?? null],
    );
    const int = (v: unknown) => Number(v ?? 0);
    const numOrNull = (v: unknown) => (v === null || v === undefined ? null : Math.round(Number(v) * 1000) / 1000);
    return rows.map((r) => ({
      policyId: strOrNull(r.policy_id),
      month: str(r.month),
      expedited: r.expedited === true,
      requests: int(r.requests),
      approved: int(r.approved),
      denied: int(r.denied),
      pended: int(r.pended),
      cancelled: int(r.cancelled),
      approvedAfterReview: int(r.approved_after_review),
      extended: int(r.extended),
      decided: int(r.decided),
      averageSeconds: numOrNull(r.average_seconds),
      medianSeconds: numOrNull(r.median_seconds),
      decidedLate: int(r.decided_late),
    }));
  }

  // ---- operations ----

  async hitRateLimit(key: string, windowMs: number, now: Date): Promise<{ hits: number; resetAt: Date }> {
    // One statement, so instances counting the same key at once never lose a hit.
    const { rows } = await this.db.query(
      `INSERT INTO rate_limits (key, hits, reset_at) VALUES ($1, 1, $2)
       ON CONFLICT (key) DO UPDATE SET
         hits = CASE WHEN rate_limits.reset_at <= $3 THEN 1 ELSE rate_limits.hits + 1 END,
         reset_at = CASE WHEN rate_limits.reset_at <= $3 THEN EXCLUDED.reset_at ELSE rate_limits.reset_at END
       RETURNING hits, reset_at`,
      [key, new Date(now.getTime() + windowMs).toISOString(), now.toISOString()],
    );
    if (Math.random() < 0.001) await this.db.query('DELETE FROM rate_limits WHERE reset_at <= $1', [now.toISOString()]);
    const r = rows[0];
    if (!r) throw new StoreError('rate limit counter returned no row');
    return { hits: Number(r.hits), resetAt: new Date(iso(r.reset_at)) };
  }

  async unhitRateLimit(key: string): Promise<void> {
    await this.db.query('UPDATE rate_limits SET hits = hits - 1 WHERE key = $1 AND hits > 0', [key]);
  }

  async resetRateLimit(key: string): Promise<void> {
    await this.db.query('DELETE FROM rate_limits WHERE key = $1', [key]);
  }

  async ping(): Promise<void> {
    await this.db.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.inTransaction) throw new StoreError('close() inside a transaction');
    await this.client.close();
  }
}

// ---- helpers ----

/** A submission drafted before its write (`draftClaimSubmission`). */
interface ClaimDraft {
  claimId: string;
  decisionId: string;
  decisionText: string;
  authorizationNumber: string | null;
  claimResponseId: string;
  /** null when the Claim is stored as its bundle's entry `claimEntry`. */
  claimText: string | null;
  claimEntry: number | null;
  claimIdentifiers: string;
  request: StoredDocument<Bundle>;
  body: VersionBody;
  /** The stored claim, from the inserted row and the drafted bodies. */
  record: (row: Row) => ClaimRecord;
}

/** A drawn claim id or authorization number was taken by a concurrent request: draw again. */
class DrawnKeyTaken extends Error {
  constructor(
    /** The key taken was the Claim's own id. */
    readonly claimId: boolean,
  ) {
    super('a drawn key was taken');
  }
}

/**
 * One row's `(columns) VALUES ($n, …)`, its values appended to `params`. A key `column::type`
 * casts its value.
 */
function rowValues(params: unknown[], row: Record<string, unknown>): string {
  const columns: string[] = [];
  const values: string[] = [];
  for (const [key, value] of Object.entries(row)) {
    const [column, cast] = key.split('::');
    columns.push(column as string);
    values.push(`$${params.push(value)}${cast ? `::${cast}` : ''}`);
  }
  return `(${columns.join(', ')}) VALUES (${values.join(', ')})`;
}

/** A decisions row; `text` is the decision's JSON (a claim submission makes it before its write). */
function decisionRow(id: string, source: DecisionSource, decision: Decision, text: string): Record<string, unknown> {
  if (!SOURCES.includes(source)) throw new StoreError(`decision source must be one of ${SOURCES.join(', ')}, got ${String(source)}`);
  return { id, source, policy_id: decision.policy?.id ?? null, outcome: decision.outcome, 'decision::jsonb': text };
}

/** An audit_events row: only the listed fields, whatever else the caller's object carries. */
function auditRow(event: AuditEvent): Record<string, unknown> {
  if (!event.requestId || !event.action) throw new StoreError('audit event needs requestId and action');
  return {
    request_id: event.requestId,
    action: event.action,
    actor: event.actor ?? null,
    hook_instance: event.hookInstance ?? null,
    payer_id: event.payerId ?? null,
    policy_id: event.policyId ?? null,
    outcome: event.outcome ?? null,
    latency_ms: event.latencyMs == null ? null : Math.round(event.latencyMs),
    status: event.status ?? null,
  };
}

/** An authorizations row. */
function authorizationRow(a: CheckedAuthorization & { number: string }): Record<string, unknown> {
  return {
    number: a.number,
    member_key: a.memberKey,
    policy_id: a.policyId,
    drug_key: a.drugKey,
    order_key: a.orderKey ?? null,
    status: a.status,
    'start_date::date': a.start,
    'end_date::date': a.end,
    decision_id: a.decisionId,
    basis: a.basis ?? 'review',
  };
}

/** A claim_response_versions row: one answer to a claim, with the bodies as `versionBody` wrote them. */
function versionRow(v: {
  claimId: string;
  version: number;
  outcome: string;
  body: VersionBody;
  decisionId: string | null;
  authorizationNumber: string | null;
  event: string;
  actor?: string | null | undefined;
  note?: string | null | undefined;
}): Record<string, unknown> {
  return {
    claim_id: v.claimId,
    version: v.version,
    outcome: v.outcome,
    'claim_response::json': v.body.claimResponse,
    claim_response_entry: v.body.entry,
    'response_bundle::json': v.body.responseBundle.json,
    'response_bundle_gz::bytea': v.body.responseBundle.gz,
    decision_id: v.decisionId,
    authorization_number: v.authorizationNumber,
    event: v.event,
    actor: v.actor ?? null,
    note: v.note ?? null,
  };
}

type CheckedAuthorization = ReturnType<typeof checkAuthorization<NewAuthorization>>;

/** A new authorization's fields, checked; dates as YYYY-MM-DD or null. */
function checkAuthorization<A extends NewAuthorization>(input: A): A & { start: string | null; end: string | null; decisionId: string | null } {
  if (!input.memberKey) throw new StoreError('authorization needs a memberKey');
  if (!input.drugKey) throw new StoreError('authorization needs a drugKey');
  checkStatus(input.status);
  const start = checkDate(input.start, 'start');
  const end = checkDate(input.end, 'end');
  if (input.status === 'approved' && (start === null || end === null)) {
    throw new StoreError('an approved authorization needs a start and an end date');
  }
  if (start !== null && end !== null && end < start) throw new StoreError(`authorization ends (${end}) before it starts (${start})`);
  return { ...input, start, end, decisionId: checkUuid(input.decisionId, 'decisionId') };
}

/** JSON text for a json or jsonb parameter (see `document`). */
function json(value: unknown): string {
  return document(value).text;
}

/**
 * A document's JSON text, and the value as a read of it gives: itself, or a copy when U+0000 had to
 * go. PostgreSQL's jsonb rejects U+0000, so a NUL inside a received string becomes U+FFFD instead of
 * failing the whole request (checked cheaply before re-encoding), in json columns alike.
 */
function document<T>(value: T, text?: string): { text: string; value: T };
function document<T>(value: T, text: string | Buffer): { text: string | Buffer; value: T };
function document<T>(value: T, text: string | Buffer = JSON.stringify(value)): { text: string | Buffer; value: T } {
  if (!text.includes('\\u0000')) return { text, value };
  const cleaned = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? v.replace(/\u0000/g, '\uFFFD') : v));
  return { text: cleaned, value: JSON.parse(cleaned) as T };
}

/** A text[] literal: the drivers disagree on binding JS arrays, a literal works for both. */
function pgTextArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
}

function clampLimit(limit: number): number {
  return Number.isFinite(limit) ? Math.min(Math.max(Math.trunc(limit), 1), 1000) : 100;
}

function str(v: unknown): string {
  return String(v);
}

function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

/** Dates may come from another realm (PGlite is loaded outside jest's sandbox), so no `instanceof`. */
function iso(v: unknown): string {
  if (typeof (v as Date | null)?.toISOString === 'function') return (v as Date).toISOString();
  return new Date(String(v)).toISOString();
}

function checkStatus(status: AuthorizationStatus): void {
  if (!STATUSES.includes(status)) throw new StoreError(`authorization status must be one of ${STATUSES.join(', ')}, got ${String(status)}`);
}

function checkDate(value: string | null | undefined, name: string): string | null {
  if (value === null || value === undefined) return null;
  if (!DATE.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
    throw new StoreError(`authorization ${name} must be a YYYY-MM-DD date, got ${JSON.stringify(value)}`);
  }
  return value;
}

function checkUuid(value: string | null | undefined, name: string): string | null {
  if (value === null || value === undefined) return null;
  if (!UUID.test(value)) throw new StoreError(`${name} must be a UUID, got ${JSON.stringify(value)}`);
  return value;
}

function uniqueToStoreError(error: unknown, message: string): unknown {
  return (error as { code?: string }).code === '23505' ? new StoreError(message, { cause: error }) : error;
}

/** Gives the ClaimResponse an id when it has none, in the stored copy and in the response Bundle. */
function withClaimResponseId(
  claimResponse: ClaimResponse,
  responseBundle: Bundle,
): { claimResponse: ClaimResponse & { id: string }; responseBundle: Bundle } {
  if (claimResponse.id) return { claimResponse: claimResponse as ClaimResponse & { id: string }, responseBundle };
  const withId = { ...claimResponse, id: crypto.randomUUID() };
  return {
    claimResponse: withId,
    responseBundle: {
      ...responseBundle,
      // The same object in the bundle, so versionBody stores it once.
      entry: responseBundle.entry?.map((e) => (e.resource === claimResponse ? { ...e, resource: withId } : e)),
    },
  };
}

/**
 * A version row's JSON: the ClaimResponse is written once, as its bundle entry, when the bundle
 * holds that very object; otherwise (a caller's bundle with a copy) on its own as well.
 */
interface VersionBody {
  /** The ClaimResponse's own JSON, null when it is stored as the bundle's entry `entry`. */
  claimResponse: string | null;
  claimResponseValue: ClaimResponse;
  entry: number | null;
  /** The response Bundle: its JSON text (what the answer sends), its value, and how it is stored. */
  responseBundle: StoredDocument<Bundle>;
}

async function versionBody(claimResponse: ClaimResponse, responseBundle: Bundle): Promise<VersionBody> {
  const entry = responseBundle.entry?.findIndex((e) => e.resource === claimResponse) ?? -1;
  const bundle = await storedDocument(responseBundle);
  const own = entry >= 0 ? null : document(claimResponse);
  return {
    claimResponse: own?.text ?? null,
    claimResponseValue: own ? own.value : (bundle.value.entry?.[entry]?.resource as ClaimResponse),
    entry: entry >= 0 ? entry : null,
    responseBundle: bundle,
  };
}

const gzip = promisify(zlib.gzip);

/** Bundles whose JSON is this many bytes or more are stored gzip-compressed (migration 016). */
const GZIP_FROM_BYTES = 64 * 1024;

/**
 * A Bundle as written: its JSON text (a long one as UTF-8 bytes), and either that text (json
 * column) or its gzip (bytea column).
 */
interface StoredDocument<T> {
  text: string | Buffer;
  value: T;
  json: string | null;
  gz: Buffer | null;
}

/** Written and encoded in slices, compressed on libuv's thread pool: a 6 MB answer holds the event loop ≤ ~10 ms at a time. */
async function storedDocument<T>(value: T): Promise<StoredDocument<T>> {
  const doc = document(value, await serializeInSlices(value, GZIP_FROM_BYTES));
  if (typeof doc.text === 'string' && doc.text.length < GZIP_FROM_BYTES) return { ...doc, json: doc.text, gz: null };
  return { ...doc, json: null, gz: await gzip(doc.text, { level: 1 }) };
}

/** A row whose Bundles were stored compressed, with them parsed into their json columns' places. */
function inflated(r: Row): Row {
  if (r.request_bundle_gz == null && r.response_bundle_gz == null) return r;
  const out = { ...r };
  for (const column of ['request_bundle', 'response_bundle']) {
    const gz = r[`${column}_gz`];
    if (out[column] == null && gz != null) out[column] = JSON.parse(gunzipSync(gz as Uint8Array).toString('utf8')) as unknown;
  }
  return out;
}

/** A row's Claim: its own column, or its request bundle's entry with the id it was stored under. */
function claimOf(r: Row): Claim {
  if (r.claim != null) return r.claim as Claim;
  const entry = r.claim_entry == null ? -1 : Number(r.claim_entry);
  const resource = (r.request_bundle as Bundle | null)?.entry?.[entry]?.resource;
  if (resource?.resourceType !== 'Claim') throw new StoreError('stored Claim is missing from its request');
  return { ...resource, id: str(r.id) };
}

/** A row's ClaimResponse: its own column, or the bundle entry it points to (versionBody). */
function claimResponseOf(r: Row): ClaimResponse {
  if (r.claim_response != null) return r.claim_response as ClaimResponse;
  const entry = r.claim_response_entry == null ? -1 : Number(r.claim_response_entry);
  const resource = (r.response_bundle as Bundle | null)?.entry?.[entry]?.resource;
  if (resource?.resourceType !== 'ClaimResponse') throw new StoreError('stored ClaimResponse is missing from its version');
  return resource;
}

function toAuthorization(r: Row): Authorization {
  return {
    number: str(r.number),
    memberKey: str(r.member_key),
    policyId: strOrNull(r.policy_id),
    drugKey: str(r.drug_key),
    orderKey: strOrNull(r.order_key),
    status: str(r.status) as AuthorizationStatus,
    basis: str(r.basis) === 'rule' ? 'rule' : 'review',
    start: strOrNull(r.start_date),
    end: strOrNull(r.end_date),
    decisionId: strOrNull(r.decision_id),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

function toClaim(row: Row): ClaimRecord {
  const r = inflated(row);
  return {
    id: str(r.id),
    identifierSystem: strOrNull(r.identifier_system),
    identifierValue: strOrNull(r.identifier_value),
    patientKey: strOrNull(r.patient_key),
    payerId: strOrNull(r.payer_id),
    policyId: strOrNull(r.policy_id),
    status: str(r.status),
    outcome: strOrNull(r.outcome) as ClaimOutcome | null,
    claim: claimOf(r),
    requestBundle: r.request_bundle as Bundle,
    claimResponseId: str(r.claim_response_id),
    claimResponse: claimResponseOf(r),
    responseBundle: r.response_bundle as Bundle,
    decisionId: strOrNull(r.decision_id),
    authorizationNumber: strOrNull(r.authorization_number),
    createdAt: iso(r.created_at),
    version: Number(r.version ?? 1),
    submitterKeys: Array.isArray(r.submitter_keys) ? (r.submitter_keys as unknown[]).map(String) : [],
    contentHash: strOrNull(r.content_hash),
    expedited: r.expedited === true,
    dueAt: r.due_at == null ? null : iso(r.due_at),
    reviewRoute: strOrNull(r.review_route),
    decidedAt: r.decided_at == null ? null : iso(r.decided_at),
    assignee: strOrNull(r.assignee),
    replacesClaimId: strOrNull(r.replaces_claim_id),
    replacedByClaimId: strOrNull(r.replaced_by_claim_id),
    updatedAt: iso(r.updated_at ?? r.created_at),
  };
}

const REVIEW_ACTION_COLUMNS = `id::text AS id, claim_id, action, reviewer_name, reviewer_role, reason, note, criteria, changes, version, created_at`;

function toReviewAction(r: Row): ReviewActionRecord {
  return {
    id: str(r.id),
    claimId: str(r.claim_id),
    action: str(r.action) as ReviewActionRecord['action'],
    reviewer: { name: str(r.reviewer_name), role: str(r.reviewer_role) as ReviewActionRecord['reviewer']['role'] },
    reason: strOrNull(r.reason),
    note: strOrNull(r.note),
    criteria: (r.criteria ?? []) as string[],
    changes: (r.changes ?? {}) as ReviewActionRecord['changes'],
    version: r.version == null ? null : Number(r.version),
    createdAt: iso(r.created_at),
  };
}

function toAssertion(r: Row): CoverageAssertion {
  return {
    id: str(r.id),
    hookInstance: str(r.hook_instance),
    policyId: strOrNull(r.policy_id),
    orderKey: strOrNull(r.order_key),
    patientKey: strOrNull(r.patient_key),
    decisionId: strOrNull(r.decision_id),
    questionnaire: strOrNull(r.questionnaire),
    authorizationNumber: strOrNull(r.authorization_number),
    createdAt: iso(r.created_at),
  };
}

// ---- PAS Subscriptions: columns, checks and row mappers ----

const SUBSCRIPTION_STATUSES: readonly SubscriptionStatus[] = ['requested', 'active', 'error', 'off'];

const SUBSCRIPTION_COLUMNS = `id, owner, status, topic, filter_system, filter_value, endpoint, headers, resource,
  events_since_start, last_error, created_at, updated_at`;

const NOTIFICATION_COLUMNS = `id, subscription_id, event_number, claim_event_id, claim_id, claim_version, event_at, status, attempts, next_attempt_at, last_error, delivered_at`;

function checkSubscription(input: NewSubscription): void {
  if (!FHIR_ID.test(input.id)) throw new StoreError('subscription id must be a FHIR id');
  if (!SUBSCRIPTION_STATUSES.includes(input.status)) throw new StoreError(`subscription status must be one of ${SUBSCRIPTION_STATUSES.join(', ')}`);
  if (!input.endpoint || !input.filterValue || !input.topic) throw new StoreError('subscription needs an endpoint, a topic and an orgIdentifier filter');
}

/** `orgIdentifier` equals one of the submitter keys (`system|value`); without a system, any system. */
export function matchesOrgFilter(submitterKeys: readonly string[], system: string | null, value: string): boolean {
  return submitterKeys.some((key) => (system === null ? key.slice(key.lastIndexOf('|') + 1) === value : key === `${system}|${value}`));
}

/** text[] from either driver (an array) or a jsonb array. */
function textArray(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === 'string' && v.startsWith('{')) {
    // A text[] literal, when a driver leaves it unparsed.
    return v
      .slice(1, -1)
      .split(',')
      .filter(Boolean)
      .map((s) => s.replace(/^"|"$/g, '').replace(/\\(.)/g, '$1'));
  }
  return [];
}

function toSubscription(r: Row): SubscriptionRecord {
  return {
    id: str(r.id),
    owner: strOrNull(r.owner),
    status: str(r.status) as SubscriptionStatus,
    topic: str(r.topic),
    filterSystem: strOrNull(r.filter_system),
    filterValue: str(r.filter_value),
    endpoint: str(r.endpoint),
    headers: textArray(r.headers),
    resource: r.resource as Subscription,
    eventsSinceStart: Number(r.events_since_start),
    lastError: strOrNull(r.last_error),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

function toNotification(r: Row): NotificationRecord {
  return {
    id: str(r.id),
    subscriptionId: str(r.subscription_id),
    eventNumber: Number(r.event_number),
    claimEventId: str(r.claim_event_id),
    claimId: str(r.claim_id),
    claimVersion: Number(r.claim_version),
    eventAt: iso(r.event_at),
    status: str(r.status) as NotificationStatus,
    attempts: Number(r.attempts),
    nextAttemptAt: iso(r.next_attempt_at),
    lastError: strOrNull(r.last_error),
    deliveredAt: r.delivered_at == null ? null : iso(r.delivered_at),
  };
}
