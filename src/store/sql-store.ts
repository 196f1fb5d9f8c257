/**
 * The one `Store` implementation, over a `SqlClient` (PGlite or node-postgres). PostgreSQL only:
 * JSONB for FHIR payloads, `date` for authorization periods (returned as YYYY-MM-DD text so the two
 * drivers agree), `timestamptz` for creation times (returned as ISO strings).
 */
import crypto from 'node:crypto';
import type { Bundle, Claim, ClaimResponse } from 'fhir/r4';
import type { Decision, Outcome } from '../engine/decision';
import { StoreError, type SqlClient, type SqlExecutor } from './sql';
import type {
  AccessTokenRecord,
  AuditEvent,
  AuditRecord,
  Authorization,
  AuthorizationFilter,
  AuthorizationStatus,
  ClaimRecord,
  ClaimSubmission,
  CoverageAssertion,
  DecisionRecord,
  DecisionSource,
  FeedbackRecord,
  NewAuthorization,
  NewCoverageAssertion,
  Store,
} from './store';

const SOURCES: readonly DecisionSource[] = ['pas', 'crd', 'dtr', 'cli'];
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

const CLAIM_COLUMNS = `id, identifier_system, identifier_value, patient_key, payer_id, policy_id, status, outcome,
  claim, request_bundle, claim_response_id, claim_response, response_bundle, decision_id::text AS decision_id,
  authorization_number, created_at`;

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
    if (!SOURCES.includes(source)) throw new StoreError(`decision source must be one of ${SOURCES.join(', ')}, got ${String(source)}`);
    const id = crypto.randomUUID();
    await this.db.query(
      'INSERT INTO decisions (id, source, policy_id, outcome, decision) VALUES ($1, $2, $3, $4, $5::jsonb)',
      [id, source, decision.policy?.id ?? null, decision.outcome, json(decision)],
    );
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
    return this.transaction(async (tx) => {
      const self = tx as SqlStore;
      const decisionId = await self.saveDecision(s.decisionSource ?? 'pas', s.decision);

      let authorization: Authorization | null = null;
      if (s.authorization) {
        authorization = await self.createAuthorization({ ...s.authorization, decisionId });
      } else if (s.authorizationNumber) {
        authorization = await self.getAuthorization(s.authorizationNumber);
        if (!authorization) throw new StoreError(`authorization ${s.authorizationNumber} is not on file`);
      }

      const claimId = await self.freeClaimId(s.claim.id);
      const parts = s.respond
        ? s.respond({ claimId, authorization, decisionId })
        : s.responseBundle && s.claimResponse
          ? { responseBundle: s.responseBundle, claimResponse: s.claimResponse }
          : null;
      if (!parts) throw new StoreError('saveClaimSubmission: give responseBundle and claimResponse, or respond()');
      const { claimResponse, responseBundle } = withClaimResponseId(parts.claimResponse, parts.responseBundle);

      const identifier = s.claim.identifier?.find((i) => i.value);
      const storedClaim: Claim = { ...s.claim, id: claimId };
      try {
        await self.db.query(
          `INSERT INTO claims (id, identifier_system, identifier_value, patient_key, payer_id, policy_id, status, outcome,
             claim, request_bundle, claim_response_id, claim_response, response_bundle, decision_id, authorization_number)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb, $11, $12::jsonb, $13::jsonb, $14, $15)`,
          [
            claimId,
            identifier?.system ?? null,
            identifier?.value ?? null,
            s.patientKey !== undefined ? s.patientKey : (s.claim.patient?.reference ?? null),
            s.payerId !== undefined ? s.payerId : (s.claim.insurer?.identifier?.value ?? null),
            s.decision.policy?.id ?? null,
            s.claim.status ?? 'active',
            s.decision.outcome,
            json(storedClaim),
            json(s.requestBundle),
            claimResponse.id,
            json(claimResponse),
            json(responseBundle),
            decisionId,
            authorization?.number ?? null,
          ],
        );
      } catch (error) {
        throw uniqueToStoreError(error, `claim ${claimId} or ClaimResponse ${String(claimResponse.id)} was stored concurrently`);
      }
      const saved = await self.getClaim(claimId);
      if (!saved) throw new StoreError(`claim ${claimId} vanished inside its own transaction`);
      return saved;
    });
  }

  /** The Claim's own id when it is a valid FHIR id not yet used; otherwise a new UUID. */
  private async freeClaimId(wanted: string | undefined): Promise<string> {
    if (wanted && FHIR_ID.test(wanted)) {
      const { rows } = await this.db.query('SELECT 1 FROM claims WHERE id = $1', [wanted]);
      if (rows.length === 0) return wanted;
    }
    return crypto.randomUUID();
  }

  async getClaim(id: string): Promise<ClaimRecord | null> {
    const { rows } = await this.db.query(`SELECT ${CLAIM_COLUMNS} FROM claims WHERE id = $1`, [id]);
    return rows[0] ? toClaim(rows[0]) : null;
  }

  async getClaimResponse(id: string): Promise<ClaimResponse | null> {
    const { rows } = await this.db.query<{ claim_response: ClaimResponse }>(
      'SELECT claim_response FROM claims WHERE claim_response_id = $1',
      [id],
    );
    return rows[0]?.claim_response ?? null;
  }

  async findClaimByIdentifier(system: string | null, value: string): Promise<ClaimRecord | null> {
    const probe = system === null ? [{ value }] : [{ system, value }];
    const { rows } = await this.db.query(
      `SELECT ${CLAIM_COLUMNS} FROM claims WHERE claim -> 'identifier' @> $1::jsonb ORDER BY seq DESC LIMIT 1`,
      [json(probe)],
    );
    return rows[0] ? toClaim(rows[0]) : null;
  }

  // ---- authorizations ----

  async createAuthorization(input: NewAuthorization): Promise<Authorization> {
    if (!input.memberKey) throw new StoreError('authorization needs a memberKey');
    if (!input.drugKey) throw new StoreError('authorization needs a drugKey');
    checkStatus(input.status);
    const start = checkDate(input.start, 'start');
    const end = checkDate(input.end, 'end');
    if (input.status === 'approved' && (start === null || end === null)) {
      throw new StoreError('an approved authorization needs a start and an end date');
    }
    if (start !== null && end !== null && end < start) throw new StoreError(`authorization ends (${end}) before it starts (${start})`);
    const decisionId = checkUuid(input.decisionId, 'decisionId');

    for (let attempt = 1; attempt <= (input.number ? 1 : NUMBER_ATTEMPTS); attempt++) {
      const number = input.number ?? this.nextNumber();
      // ON CONFLICT instead of catching 23505: a failed INSERT would abort the surrounding transaction.
      const { rows } = await this.db.query(
        `INSERT INTO authorizations (number, member_key, policy_id, drug_key, order_key, status, start_date, end_date, decision_id, basis)
         VALUES ($1, $2, $3, $4, $5, $6, $7::date, $8::date, $9, $10)
         ON CONFLICT (number) DO NOTHING
         RETURNING ${AUTHORIZATION_COLUMNS}`,
        [number, input.memberKey, input.policyId, input.drugKey, input.orderKey ?? null, input.status, start, end, decisionId, input.basis ?? 'review'],
      );
      if (rows[0]) return toAuthorization(rows[0]);
      if (input.number) throw new StoreError(`authorization number ${number} is already on file`);
    }
    throw new StoreError(`could not draw an unused authorization number in ${NUMBER_ATTEMPTS} attempts`);
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
    return this.transaction(async (tx) => {
      const self = tx as SqlStore;
      const decisionId = input.decision ? await self.saveDecision('crd', input.decision) : checkUuid(input.decisionId, 'decisionId');
      const authorization = input.authorization ? await self.createAuthorization({ ...input.authorization, decisionId }) : undefined;
      const id = crypto.randomUUID();
      await self.db.query(
        `INSERT INTO coverage_assertions (id, hook_instance, policy_id, order_key, patient_key, decision_id, questionnaire, authorization_number)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          id,
          input.hookInstance,
          input.policyId !== undefined ? input.policyId : (input.decision?.policy?.id ?? null),
          input.orderKey,
          input.patientKey,
          decisionId,
          input.questionnaire ?? null,
          authorization?.number ?? null,
        ],
      );
      const saved = await self.getCoverageAssertion(id);
      if (!saved) throw new StoreError(`coverage assertion ${id} vanished inside its own transaction`);
      return authorization ? { ...saved, authorization } : saved;
    });
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
    if (!event.requestId || !event.action) throw new StoreError('audit event needs requestId and action');
    // Only the listed fields are written, whatever else the caller's object carries.
    await this.db.query(
      `INSERT INTO audit_events (request_id, action, actor, hook_instance, payer_id, policy_id, outcome, latency_ms, status)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        event.requestId,
        event.action,
        event.actor ?? null,
        event.hookInstance ?? null,
        event.payerId ?? null,
        event.policyId ?? null,
        event.outcome ?? null,
        event.latencyMs == null ? null : Math.round(event.latencyMs),
        event.status ?? null,
      ],
    );
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

/**
 * JSON for a jsonb parameter. PostgreSQL rejects U+0000 in jsonb text, so a NUL inside a received
 * string becomes U+FFFD instead of failing the whole request (checked cheaply before re-encoding).
 */
function json(value: unknown): string {
  const text = JSON.stringify(value);
  if (!text.includes('\\u0000')) return text;
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? v.replace(/\u0000/g, '\uFFFD') : v));
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
  const id = crypto.randomUUID();
  return {
    claimResponse: { ...claimResponse, id },
    responseBundle: {
      ...responseBundle,
      entry: responseBundle.entry?.map((e) =>
        e.resource === claimResponse ? { ...e, resource: { ...claimResponse, id } } : e,
      ),
    },
  };
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

function toClaim(r: Row): ClaimRecord {
  return {
    id: str(r.id),
    identifierSystem: strOrNull(r.identifier_system),
    identifierValue: strOrNull(r.identifier_value),
    patientKey: strOrNull(r.patient_key),
    payerId: strOrNull(r.payer_id),
    policyId: strOrNull(r.policy_id),
    status: str(r.status),
    outcome: strOrNull(r.outcome) as Outcome | null,
    claim: r.claim as Claim,
    requestBundle: r.request_bundle as Bundle,
    claimResponseId: str(r.claim_response_id),
    claimResponse: r.claim_response as ClaimResponse,
    responseBundle: r.response_bundle as Bundle,
    decisionId: strOrNull(r.decision_id),
    authorizationNumber: strOrNull(r.authorization_number),
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
