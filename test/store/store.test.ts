/**
 * The store against every backend available here: PGlite in memory always, PostgreSQL when
 * DATABASE_URL is set (each run in its own schema, dropped at the end).
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Bundle, Claim, ClaimResponse } from 'fhir/r4';
import { Client } from 'pg';
import type { Config } from '../../src/config';
import type { Decision } from '../../src/engine/decision';
import {
  asPriorAuthorizations,
  loadMigrations,
  memberKey,
  migrate,
  newAuthorizationNumber,
  openStore,
  orderKeyOf,
  StoreError,
  type Store,
  type SqlClient,
  writtenResponseText,
} from '../../src/store';
import { openPglite, openPostgres, type SqlExecutor } from '../../src/store/sql';
import { SqlStore } from '../../src/store/sql-store';

const DATABASE_URL = process.env.DATABASE_URL;
const NUMBER = /^PA-\d{8}-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{8}$/;

interface Backend {
  kind: 'pglite' | 'postgres';
  name: string;
  enabled: boolean;
  /** Where a store for this run lives. */
  setup(): Promise<Pick<Config, 'databaseUrl' | 'dataDir'>>;
  /** A raw SQL client on the same database (PGlite in memory: a fresh migrated one, since memory is per client). */
  raw(config: Pick<Config, 'databaseUrl' | 'dataDir'>): Promise<SqlClient>;
  teardown(): Promise<void>;
}

function pgliteBackend(): Backend {
  return {
    kind: 'pglite',
    name: 'PGlite (memory://)',
    enabled: true,
    setup: async () => ({ dataDir: 'memory://' }),
    raw: async () => {
      const client = await openPglite('memory://');
      await migrate(client);
      return client;
    },
    teardown: async () => undefined,
  };
}

function withSearchPath(url: string, schema: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

function postgresBackend(): Backend {
  const schemas: string[] = [];
  const admin = async <T>(fn: (c: Client) => Promise<T>): Promise<T> => {
    const c = new Client({ connectionString: DATABASE_URL });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  return {
    kind: 'postgres',
    name: DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : 'PostgreSQL — skipped: DATABASE_URL is not set',
    enabled: Boolean(DATABASE_URL),
    async setup() {
      const schema = `test_${crypto.randomBytes(6).toString('hex')}`;
      await admin((c) => c.query(`CREATE SCHEMA ${schema}`));
      schemas.push(schema);
      return { databaseUrl: withSearchPath(DATABASE_URL ?? '', schema), dataDir: 'memory://' };
    },
    raw: (config) => openPostgres(config.databaseUrl ?? ''),
    async teardown() {
      await admin(async (c) => {
        for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
      });
    },
  };
}

// ---- fixtures ----

function decision(outcome: Decision['outcome'], policyId = 'CP.PHAR.244'): Decision {
  return {
    policy: { id: policyId, title: 'Kineret', citationPrefix: policyId, version: '2025-01' },
    indication: { id: 'ra', title: 'Rheumatoid arthritis' },
    phase: 'initial',
    outcome,
    reviewRoute: 'auto',
    criteria: [
      { id: 'I.A.1', citation: `${policyId} I.A.1`, text: 'Diagnosis of RA', status: 'met', evidence: ['Condition/ra'], onUnmet: 'pend' },
      { id: 'I.A.2', citation: `${policyId} I.A.2`, text: 'Age 18 or older', status: 'unknown', evidence: [], onUnmet: 'pend' },
    ],
    reasons: [{ code: outcome === 'approve' ? 'criteria-met' : 'criteria-unknown', text: 'test' }],
    ...(outcome === 'approve' ? { approvalPeriod: { start: '2026-01-01', end: '2026-06-30' } } : {}),
    warnings: [],
    evaluatedAt: '2026-01-01T10:00:00Z',
  };
}

function claimFixture(id: string | undefined, identifierValue: string): Claim {
  return {
    resourceType: 'Claim',
    ...(id ? { id } : {}),
    identifier: [
      { system: 'urn:test:other', value: `other-${identifierValue}` },
      { system: 'http://example.org/claim-ids', value: identifierValue },
    ],
    status: 'active',
    type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/claim-type', code: 'pharmacy' }] },
    use: 'preauthorization',
    patient: { reference: 'Patient/p1' },
    created: '2026-01-01',
    insurer: { identifier: { system: 'urn:naic', value: '68069' } },
    provider: { reference: 'Organization/o1' },
    priority: { coding: [{ code: 'normal' }] },
    insurance: [{ sequence: 1, focal: true, coverage: { reference: 'Coverage/c1' } }],
  };
}

function bundleOf(...resources: NonNullable<Bundle['entry']>[number]['resource'][]): Bundle {
  return { resourceType: 'Bundle', type: 'collection', entry: resources.map((resource) => ({ resource })) };
}

function claimResponseFixture(id: string | undefined, preAuthRef?: string): ClaimResponse {
  return {
    resourceType: 'ClaimResponse',
    ...(id ? { id } : {}),
    status: 'active',
    type: { coding: [{ code: 'pharmacy' }] },
    use: 'preauthorization',
    patient: { reference: 'Patient/p1' },
    created: '2026-01-01T10:00:00Z',
    insurer: { identifier: { value: '68069' } },
    outcome: 'complete',
    ...(preAuthRef ? { preAuthRef } : {}),
  };
}

const unique = (prefix: string) => `${prefix}-${crypto.randomBytes(5).toString('hex')}`;

const backends = [pgliteBackend(), postgresBackend()];

describe.each(backends)('store on $name', (backend) => {
  const it_ = backend.enabled ? it : it.skip;
  const pgliteIt = backend.enabled && backend.kind === 'pglite' ? it : it.skip;
  let config: Pick<Config, 'databaseUrl' | 'dataDir'>;
  let store: Store;

  beforeAll(async () => {
    if (!backend.enabled) return;
    config = await backend.setup();
    store = await openStore(config);
  });

  afterAll(async () => {
    if (!backend.enabled) return;
    await store?.close();
    await backend.teardown();
  });

  /** `run` with a store on a client of its own that lists the statements it sends. */
  async function countingStatements(run: (sql: SqlStore, statements: string[]) => Promise<void>): Promise<void> {
    const raw = await backend.raw(config);
    try {
      const statements: string[] = [];
      const counting: SqlExecutor = { query: (text, params) => (statements.push(text), raw.query(text, params)), exec: (text) => raw.exec(text) };
      await run(new SqlStore(raw, counting, () => newAuthorizationNumber()), statements);
    } finally {
      await raw.close();
    }
  }

  describe('migrations', () => {
    it_('are recorded once and applying them again does nothing', async () => {
      const raw = await backend.raw(config);
      try {
        expect(await migrate(raw)).toEqual([]);
        const { rows } = await raw.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY name');
        expect(rows.map((r) => r.name)).toEqual(loadMigrations().map((m) => m.name));
      } finally {
        await raw.close();
      }
    });

    it_('a second open of the same database applies nothing and sees the same data', async () => {
      const auth = await store.createAuthorization({
        memberKey: unique('m'),
        policyId: 'CP.PHAR.244',
        drugKey: '72435',
        status: 'pended',
      });
      if (backend.kind === 'pglite') {
        // In-memory PGlite is private to its client; reopen a data folder instead.
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-store-'));
        try {
          const first = await openStore({ dataDir: dir });
          const kept = await first.createAuthorization({ memberKey: 'm', policyId: null, drugKey: 'd', status: 'pended' });
          await first.close();
          const second = await openStore({ dataDir: dir });
          expect(await second.getAuthorization(kept.number)).toEqual(kept);
          await second.close();
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      } else {
        const second = await openStore(config);
        try {
          expect(await second.getAuthorization(auth.number)).toEqual(auth);
        } finally {
          await second.close();
        }
      }
      // Opens a PGlite data folder (initdb on disk) twice: slow on a shared 2-core machine.
    }, 120_000);

    pgliteIt('a PGlite data folder is used by one store at a time; a dead owner\'s lock is taken over', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-store-'));
      try {
        const first = await openStore({ dataDir: dir });
        await expect(openStore({ dataDir: dir })).rejects.toThrow(/is in use by this process; PGlite cannot share a folder/);
        await first.close();
        expect(fs.existsSync(path.join(dir, 'pa-server.lock'))).toBe(false);

        const dead = spawnSync(process.execPath, ['-e', '']).pid;
        fs.writeFileSync(path.join(dir, 'pa-server.lock'), String(dead));
        const second = await openStore({ dataDir: dir });
        expect(fs.readFileSync(path.join(dir, 'pa-server.lock'), 'utf8')).toBe(String(process.pid));
        await second.close();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
      // Opens a PGlite data folder (initdb on disk) twice: slow on a shared 2-core machine.
    }, 120_000);

    it_('two starts at once: one applies the migrations, the other waits and applies none', async () => {
      if (backend.kind === 'pglite') {
        const client = await openPglite('memory://');
        try {
          const results = await Promise.all([migrate(client), migrate(client)]);
          expect(results.map((r) => r.length).sort()).toEqual([0, loadMigrations().length]);
        } finally {
          await client.close();
        }
      } else {
        const fresh = await backend.setup();
        const [a, b] = await Promise.all([backend.raw(fresh), backend.raw(fresh)]);
        try {
          const results = await Promise.all([migrate(a), migrate(b)]);
          expect(results.map((r) => r.length).sort()).toEqual([0, loadMigrations().length]);
        } finally {
          await Promise.all([a.close(), b.close()]);
        }
      }
    });

    it_('claims written before 014 (jsonb, the Claim in a column of its own) read the same after it and 015, and are still found by identifier', async () => {
      const fresh = backend.kind === 'pglite' ? null : await backend.setup();
      const raw = fresh ? await backend.raw(fresh) : await openPglite('memory://');
      try {
        const all = loadMigrations();
        await migrate(raw, all.filter((m) => m.name < '014'));
        const identifier = unique('ident');
        const claim = claimFixture(`c-${identifier}`, identifier);
        const claimResponse = claimResponseFixture(`cr-${identifier}`);
        await raw.query(
          `INSERT INTO claims (id, status, claim, request_bundle, claim_response_id, claim_response, response_bundle)
           VALUES ($1, 'active', $2::jsonb, $3::jsonb, $4, $5::jsonb, $6::jsonb)`,
          [claim.id, JSON.stringify(claim), JSON.stringify(bundleOf(claim)), claimResponse.id, JSON.stringify(claimResponse), JSON.stringify(bundleOf(claimResponse))],
        );
        const types = "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND column_name IN ('claim', 'request_bundle', 'response_bundle') ORDER BY 1, 2";
        expect(new Set((await raw.query<{ data_type: string }>(types)).rows.map((r) => r.data_type))).toEqual(new Set(['jsonb']));

        expect(await migrate(raw, all)).toEqual(all.filter((m) => m.name >= '014').map((m) => m.name));
        expect(new Set((await raw.query<{ data_type: string }>(types)).rows.map((r) => r.data_type))).toEqual(new Set(['json']));
        const sql = new SqlStore(raw, raw, () => newAuthorizationNumber());
        const read = await sql.getClaim(claim.id ?? '');
        expect(read).toMatchObject({ claim, requestBundle: bundleOf(claim), claimResponse, responseBundle: bundleOf(claimResponse) });
        expect((await sql.findClaimByIdentifier('http://example.org/claim-ids', identifier))?.id).toBe(claim.id);
        expect(await sql.findClaimByIdentifier('urn:wrong-system', identifier)).toBeNull();
      } finally {
        await raw.close();
      }
    });

    it_('stores a Claim that is in its request bundle once, as that entry, and reads it back with the id it was stored under', async () => {
      const raw = await backend.raw(config);
      try {
        const sql = new SqlStore(raw, raw, () => newAuthorizationNumber());
        const identifier = unique('ident');
        const claim = claimFixture(undefined, identifier);
        const requestBundle = bundleOf({ resourceType: 'Patient', id: 'p1' }, claim);
        const saved = await sql.saveClaimSubmission({
          claim,
          requestBundle,
          decision: decision('pend'),
          responseBundle: bundleOf(claimResponseFixture(undefined)),
          claimResponse: claimResponseFixture(undefined),
        });
        const row = await raw.query('SELECT claim, claim_entry FROM claims WHERE id = $1', [saved.id]);
        expect(row.rows).toEqual([{ claim: null, claim_entry: 1 }]);
        expect(saved.claim).toEqual({ ...claim, id: saved.id });
        expect(await sql.getClaim(saved.id)).toEqual(saved);
        expect((await sql.findClaimByIdentifier('http://example.org/claim-ids', identifier))?.claim).toEqual({ ...claim, id: saved.id });
        expect((await sql.getClaim(saved.id))?.requestBundle).toEqual(requestBundle);
      } finally {
        await raw.close();
      }
    });

    it_('keeps Bundles of 64 KB and more gzip-compressed, smaller ones as json, and reads both back as written', async () => {
      const raw = await backend.raw(config);
      try {
        const sql = new SqlStore(raw, raw, () => newAuthorizationNumber());
        const claim = claimFixture(undefined, unique('ident'));
        // ~100 KB of JSON each way, with text outside ASCII.
        const many = Array.from({ length: 400 }, (_, i) => ({ resourceType: 'Observation' as const, id: `o${i}`, status: 'final' as const, code: { text: `Größe ${i} — ${'x'.repeat(200)}` } }));
        const requestBundle = bundleOf(claim, ...many);
        const claimResponse = claimResponseFixture(undefined);
        const submissionKey = unique('key');
        const saved = await sql.saveClaimSubmission({ claim, requestBundle, decision: decision('pend'), claimResponse, responseBundle: bundleOf(claimResponse, ...many), submissionKey });
        const gzipped = (table: string, column: string, key: string) =>
          `SELECT ${column} IS NULL AS json_null, get_byte(${column}_gz, 0) = 31 AND get_byte(${column}_gz, 1) = 139 AS gzip FROM ${table} WHERE ${key} = $1`;
        expect((await raw.query(gzipped('claims', 'request_bundle', 'id'), [saved.id])).rows).toEqual([{ json_null: true, gzip: true }]);
        expect((await raw.query(gzipped('claim_response_versions', 'response_bundle', 'claim_id'), [saved.id])).rows).toEqual([{ json_null: true, gzip: true }]);

        expect(saved.requestBundle).toEqual(requestBundle);
        // A long answer's text is kept as the UTF-8 bytes it was compressed from, ready to send.
        const text = writtenResponseText(saved);
        expect(Buffer.isBuffer(text) && text.toString('utf8')).toBe(JSON.stringify(saved.responseBundle));
        expect(await sql.getClaim(saved.id)).toEqual(saved);
        expect(await sql.findClaimBySubmissionKey(submissionKey)).toEqual(saved);
        expect(await sql.getResponseBundleVersion(saved.id, 1)).toEqual(saved.responseBundle);
        expect(await sql.getClaimResponse(saved.claimResponseId)).toEqual(saved.claimResponse);

        // A later, small answer is json; the first stays readable.
        const reviewed = await sql.saveClaimResponseVersion({
          claimId: saved.id,
          outcome: 'approve',
          event: 'review-decision',
          final: true,
          respond: ({ claim: current }) => {
            const next = { ...current.claimResponse, outcome: 'complete' as const };
            return { claimResponse: next, responseBundle: bundleOf(next) };
          },
        });
        expect((await raw.query('SELECT version, response_bundle IS NULL AS json_null, response_bundle_gz IS NULL AS gz_null FROM claim_response_versions WHERE claim_id = $1 ORDER BY version', [saved.id])).rows).toEqual([
          { version: 1, json_null: true, gz_null: false },
          { version: 2, json_null: false, gz_null: true },
        ]);
        expect(await sql.getClaim(saved.id)).toEqual(reviewed);
        expect((await sql.listClaimResponseVersions(saved.id)).map((v) => v.responseBundle)).toEqual([saved.responseBundle, reviewed.responseBundle]);

        const small = await sql.saveClaimSubmission({ claim: claimFixture(undefined, unique('ident')), requestBundle: bundleOf(), decision: decision('pend'), claimResponse, responseBundle: bundleOf(claimResponse) });
        expect((await raw.query(gzipped('claims', 'request_bundle', 'id'), [small.id])).rows).toEqual([{ json_null: false, gzip: null }]);
        expect(await sql.getClaim(small.id)).toEqual(small);
      } finally {
        await raw.close();
      }
    });

    it_('refuses a migration edited after it was applied', async () => {
      const raw = await backend.raw(config);
      try {
        const edited = loadMigrations().map((m, i) => (i === 0 ? { ...m, checksum: 'different' } : m));
        await expect(migrate(raw, edited)).rejects.toThrow(/was changed after it was applied/);
      } finally {
        await raw.close();
      }
    });
  });

  describe('claim submissions', () => {
    it_('round-trips the request, the response, the decision and the authorization', async () => {
      const claimId = unique('claim');
      const identifier = unique('ident');
      const claim = claimFixture(claimId, identifier);
      const requestBundle = bundleOf(claim, { resourceType: 'Patient', id: 'p1' });
      const orderKey = unique('urn:test:orders|mr');
      const saved = await store.saveClaimSubmission({
        claim,
        requestBundle,
        decision: decision('approve'),
        authorization: {
          memberKey: memberKey('68069', unique('member')),
          policyId: 'CP.PHAR.244',
          drugKey: '72435',
          orderKey,
          status: 'approved',
          start: '2026-01-01',
          end: '2026-06-30',
        },
        respond: ({ claimId: id, authorizationNumber }) => {
          const claimResponse = { ...claimResponseFixture(unique('cr'), authorizationNumber ?? undefined), request: { reference: `Claim/${id}` } };
          return { claimResponse, responseBundle: bundleOf(claimResponse) };
        },
      });

      expect(saved.id).toBe(claimId);
      expect(saved.claim).toEqual(claim);
      expect(saved.requestBundle).toEqual(requestBundle);
      expect(saved).toMatchObject({
        identifierSystem: 'urn:test:other',
        identifierValue: `other-${identifier}`,
        patientKey: 'Patient/p1',
        payerId: '68069',
        policyId: 'CP.PHAR.244',
        status: 'active',
        outcome: 'approve',
      });
      expect(saved.authorizationNumber).toMatch(NUMBER);
      expect(saved.claimResponse.preAuthRef).toBe(saved.authorizationNumber);
      expect(saved.responseBundle.entry?.[0]?.resource).toEqual(saved.claimResponse);

      expect(await store.getClaim(claimId)).toEqual(saved);
      expect(await store.getClaimResponse(saved.claimResponseId)).toEqual(saved.claimResponse);
      expect(await store.getClaimResponse('no-such-response')).toBeNull();
      expect(await store.getClaim('no-such-claim')).toBeNull();

      // Any of the claim's identifiers finds it, with or without the system.
      expect((await store.findClaimByIdentifier('http://example.org/claim-ids', identifier))?.id).toBe(claimId);
      expect((await store.findClaimByIdentifier(null, identifier))?.id).toBe(claimId);
      expect(await store.findClaimByIdentifier('urn:wrong-system', identifier)).toBeNull();

      const storedDecision = await store.getDecision(saved.decisionId ?? '');
      expect(storedDecision).toMatchObject({ source: 'pas', policyId: 'CP.PHAR.244', outcome: 'approve' });
      expect(storedDecision?.decision).toEqual(decision('approve'));

      const auth = await store.findAuthorizationByOrder(orderKey);
      expect(auth).toMatchObject({ number: saved.authorizationNumber, status: 'approved', start: '2026-01-01', end: '2026-06-30' });
      expect(auth?.decisionId).toBe(saved.decisionId);
    });

    it_('a resubmitted Claim.id gets a fresh id; the identifier finds the newest', async () => {
      const claimId = unique('claim');
      const identifier = unique('ident');
      const submit = (claimResponseId: string) =>
        store.saveClaimSubmission({
          claim: claimFixture(claimId, identifier),
          requestBundle: bundleOf(claimFixture(claimId, identifier)),
          decision: decision('pend'),
          claimResponse: claimResponseFixture(claimResponseId),
          responseBundle: bundleOf(claimResponseFixture(claimResponseId)),
        });
      const first = await submit(unique('cr'));
      const second = await submit(unique('cr'));
      expect(first.id).toBe(claimId);
      expect(second.id).not.toBe(claimId);
      expect(second.claim.id).toBe(second.id);
      expect(second.authorizationNumber).toBeNull();
      expect((await store.findClaimByIdentifier(null, identifier))?.id).toBe(second.id);
      expect((await store.getClaim(claimId))?.claimResponseId).toBe(first.claimResponseId);
    });

    it_('a first submission is one statement, and so is each attempt after its own id turns out taken', () =>
      countingStatements(async (sql, statements) => {
        const claimId = unique('claim');
        const submit = () =>
          sql.saveClaimSubmission({
            claim: claimFixture(claimId, unique('ident')),
            requestBundle: bundleOf(claimFixture(claimId, unique('ident'))),
            decision: decision('pend'),
            respond: () => {
              const claimResponse = claimResponseFixture(unique('cr'));
              return { claimResponse, responseBundle: bundleOf(claimResponse) };
            },
          });
        const first = await submit();
        expect(first.id).toBe(claimId);
        expect(statements).toHaveLength(1);
        statements.length = 0;
        const second = await submit();
        expect(second.id).not.toBe(claimId);
        expect(second.claim.id).toBe(second.id);
        // The insert with the taken id failed whole, and the second attempt drew a UUID without asking.
        expect(statements).toHaveLength(2);
        expect(statements.every((text) => /INSERT INTO claims/.test(text))).toBe(true);
      }));

    it_('two submissions of one Claim.id at once: one keeps the id, the other gets a new one, and the losing attempt leaves no decision, authorization or audit row behind', async () => {
      const raw = await backend.raw(config);
      try {
        const sql = new SqlStore(raw, raw, () => newAuthorizationNumber());
        const claimId = unique('claim');
        const submit = (identifier: string) =>
          sql.saveClaimSubmission({
            audit: { requestId: identifier, action: 'pas.submit', outcome: 'approve', status: 200 },
            claim: claimFixture(claimId, identifier),
            requestBundle: bundleOf(claimFixture(claimId, identifier)),
            decision: decision('approve'),
            authorization: { memberKey: unique('m'), policyId: 'CP.PHAR.244', drugKey: '72435', status: 'approved', start: '2026-01-01', end: '2026-06-30' },
            respond: ({ authorizationNumber }) => {
              const claimResponse = claimResponseFixture(undefined, authorizationNumber ?? undefined);
              return { claimResponse, responseBundle: bundleOf(claimResponse) };
            },
          });
        const count = async (table: string) => Number((await raw.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`)).rows[0]?.n);
        const before = { decisions: await count('decisions'), authorizations: await count('authorizations'), audit: await count('audit_events') };
        const saved = await Promise.all([submit(unique('ident')), submit(unique('ident'))]);
        expect(saved.map((c) => c.id).filter((id) => id === claimId)).toHaveLength(1);
        expect(new Set(saved.map((c) => c.id)).size).toBe(2);
        for (const c of saved) expect(c.claim.id).toBe(c.id);
        // The statement that lost the id wrote nothing: one decision and one authorization per stored claim.
        expect(await count('decisions')).toBe(before.decisions + 2);
        expect(await count('authorizations')).toBe(before.authorizations + 2);
        expect(await count('audit_events')).toBe(before.audit + 2);
        for (const c of saved) expect((await sql.getDecision(c.decisionId ?? ''))?.outcome).toBe('approve');
      } finally {
        await raw.close();
      }
    });

    it_('gives a ClaimResponse without id one, in the record and in the response Bundle', async () => {
      const claimResponse = claimResponseFixture(undefined);
      const saved = await store.saveClaimSubmission({
        claim: claimFixture(undefined, unique('ident')),
        requestBundle: bundleOf(claimFixture(undefined, 'x')),
        decision: decision('pend'),
        claimResponse,
        responseBundle: bundleOf(claimResponse),
      });
      expect(saved.claimResponse.id).toBe(saved.claimResponseId);
      expect(saved.responseBundle.entry?.[0]?.resource?.id).toBe(saved.claimResponseId);
      expect(claimResponse.id).toBeUndefined(); // the caller's object is not mutated
    });

    it_('links an authorization already on file (granted at order-sign)', async () => {
      const granted = await store.createAuthorization({
        memberKey: unique('m'),
        policyId: 'CP.PHAR.244',
        drugKey: '72435',
        status: 'approved',
        start: '2026-01-01',
        end: '2026-12-31',
      });
      const saved = await store.saveClaimSubmission({
        claim: claimFixture(unique('claim'), unique('ident')),
        requestBundle: bundleOf(claimFixture(undefined, 'x')),
        decision: decision('approve'),
        authorizationNumber: granted.number,
        claimResponse: claimResponseFixture(unique('cr'), granted.number),
        responseBundle: bundleOf(claimResponseFixture(undefined, granted.number)),
      });
      expect(saved.authorizationNumber).toBe(granted.number);
      await expect(
        store.saveClaimSubmission({
          claim: claimFixture(unique('claim'), unique('ident')),
          requestBundle: bundleOf(),
          decision: decision('approve'),
          authorizationNumber: 'PA-20000101-NOTONFIL',
          claimResponse: claimResponseFixture(unique('cr')),
          responseBundle: bundleOf(),
        }),
      ).rejects.toThrow('authorization PA-20000101-NOTONFIL is not on file');
    });

    it_('keeps a NUL character in received text instead of failing', async () => {
      const claim = { ...claimFixture(unique('claim'), unique('ident')), text: { status: 'generated', div: 'a\u0000b' } } as Claim;
      const saved = await store.saveClaimSubmission({
        claim,
        requestBundle: bundleOf(claim),
        decision: decision('pend'),
        claimResponse: claimResponseFixture(unique('cr')),
        responseBundle: bundleOf(),
      });
      expect(saved.claim.text?.div).toBe('a\uFFFDb');
    });

    it_('the record a submission returns carries the response text it stored, with U+0000 replaced as in the value; a record read back carries none', async () => {
      const claimResponse = { ...claimResponseFixture(unique('cr')), disposition: 'a\u0000b' };
      const saved = await store.saveClaimSubmission({
        claim: claimFixture(unique('claim'), unique('ident')),
        requestBundle: bundleOf(claimFixture(undefined, 'x')),
        decision: decision('pend'),
        claimResponse,
        responseBundle: bundleOf(claimResponse),
      });
      const text = writtenResponseText(saved);
      expect(text).toBe(JSON.stringify(saved.responseBundle));
      expect(text).toContain('a\uFFFDb');
      const read = await store.getClaim(saved.id);
      expect(read?.responseBundle).toEqual(saved.responseBundle);
      expect(read && writtenResponseText(read)).toBeUndefined();
    });

    it_('replaces U+0000 in a long Bundle too, stored compressed', async () => {
      const claimResponse = { ...claimResponseFixture(unique('cr')), disposition: 'a\u0000b' };
      const many = Array.from({ length: 400 }, (_, i) => ({ resourceType: 'Observation' as const, id: `o${i}`, status: 'final' as const, code: { text: `Größe ${i} ${'x'.repeat(200)}` } }));
      const saved = await store.saveClaimSubmission({
        claim: claimFixture(unique('claim'), unique('ident')),
        requestBundle: bundleOf(claimFixture(undefined, 'x')),
        decision: decision('pend'),
        claimResponse,
        responseBundle: bundleOf(claimResponse, ...many),
      });
      expect(String(writtenResponseText(saved))).toBe(JSON.stringify(saved.responseBundle));
      expect(saved.claimResponse.disposition).toBe('a\uFFFDb');
      expect((await store.getClaim(saved.id))?.responseBundle).toEqual(saved.responseBundle);
    });

    it_('stores each ClaimResponse once (its version row, as the bundle entry) and still reads rows written before that', async () => {
      const raw = await backend.raw(config);
      try {
        const sql = new SqlStore(raw, raw, () => newAuthorizationNumber());
        const saved = await sql.saveClaimSubmission({
          claim: claimFixture(unique('claim'), unique('ident')),
          requestBundle: bundleOf(claimFixture(undefined, 'x')),
          decision: decision('pend'),
          respond: () => {
            const claimResponse = claimResponseFixture(undefined);
            return { claimResponse, responseBundle: bundleOf({ resourceType: 'Patient', id: 'p1' }, claimResponse) };
          },
        });
        const reviewed = await sql.saveClaimResponseVersion({
          claimId: saved.id,
          outcome: 'approve',
          event: 'review-decision',
          final: true,
          respond: ({ claim }) => {
            const claimResponse = { ...claim.claimResponse, outcome: 'complete' as const, disposition: 'approved' };
            return { claimResponse, responseBundle: bundleOf(claimResponse) };
          },
        });
        expect(await sql.getClaim(saved.id)).toEqual(reviewed);
        expect(reviewed.claimResponse).toMatchObject({ id: saved.claimResponseId, disposition: 'approved', meta: { versionId: '2' } });
        expect(await sql.getClaimResponse(saved.claimResponseId)).toEqual(reviewed.claimResponse);

        const claimRow = await raw.query('SELECT claim_response, response_bundle FROM claims WHERE id = $1', [saved.id]);
        expect(claimRow.rows).toEqual([{ claim_response: null, response_bundle: null }]);
        const versionRows = await raw.query('SELECT version, claim_response, claim_response_entry FROM claim_response_versions WHERE claim_id = $1 ORDER BY version', [saved.id]);
        expect(versionRows.rows).toEqual([
          { version: 1, claim_response: null, claim_response_entry: 1 },
          { version: 2, claim_response: null, claim_response_entry: 0 },
        ]);
        const versions = await sql.listClaimResponseVersions(saved.id);
        expect(versions.map((v) => v.claimResponse)).toEqual([saved.claimResponse, reviewed.claimResponse]);

        // A response Bundle that holds a copy, not the ClaimResponse itself: both are kept.
        const copied = await sql.saveClaimSubmission({
          claim: claimFixture(unique('claim'), unique('ident')),
          requestBundle: bundleOf(),
          decision: decision('pend'),
          claimResponse: claimResponseFixture(unique('cr')),
          responseBundle: bundleOf(),
        });
        expect(await sql.getClaim(copied.id)).toEqual(copied);

        // A row as written before migration 013: the claim row holds the current ClaimResponse.
        const old = claimResponseFixture(copied.claimResponseId);
        await raw.query('UPDATE claims SET claim_response = $2::jsonb, response_bundle = $3::jsonb WHERE id = $1', [
          copied.id,
          JSON.stringify(old),
          JSON.stringify(bundleOf(old)),
        ]);
        await raw.query('DELETE FROM claim_response_versions WHERE claim_id = $1', [copied.id]);
        expect((await sql.getClaim(copied.id))?.claimResponse).toEqual(old);
        expect(await sql.getClaimResponse(copied.claimResponseId)).toEqual(old);
      } finally {
        await raw.close();
      }
    });
  });

  describe('transactions', () => {
    it_('a claim submission that fails part-way leaves nothing behind', async () => {
      const number = newAuthorizationNumber();
      const claimId = unique('claim');
      let decisionId = '';
      await expect(
        store.saveClaimSubmission({
          claim: claimFixture(claimId, unique('ident')),
          requestBundle: bundleOf(),
          decision: decision('approve'),
          authorization: { number, memberKey: 'm', policyId: 'P', drugKey: 'd', status: 'approved', start: '2026-01-01', end: '2026-02-01' },
          respond: (saved) => {
            decisionId = saved.decisionId;
            throw new Error('response builder failed');
          },
        }),
      ).rejects.toThrow('response builder failed');
      expect(decisionId).not.toBe('');
      expect(await store.getDecision(decisionId)).toBeNull();
      expect(await store.getAuthorization(number)).toBeNull();
      expect(await store.getClaim(claimId)).toBeNull();
    });

    it_('store.transaction rolls back every write when the function throws, and commits otherwise', async () => {
      const member = unique('m');
      await expect(
        store.transaction(async (tx) => {
          await tx.createAuthorization({ memberKey: member, policyId: 'P', drugKey: 'd', status: 'pended' });
          await tx.audit({ requestId: member, action: 'pas.submit' });
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await store.listAuthorizations({ memberKey: member })).toEqual([]);
      expect((await store.listAudit(1000)).some((a) => a.requestId === member)).toBe(false);

      const created = await store.transaction((tx) => tx.createAuthorization({ memberKey: member, policyId: 'P', drugKey: 'd', status: 'pended' }));
      expect(await store.listAuthorizations({ memberKey: member })).toEqual([created]);
    });

    it_('a database error inside a transaction rolls it back too', async () => {
      const member = unique('m');
      await expect(
        store.transaction(async (tx) => {
          await tx.createAuthorization({ memberKey: member, policyId: 'P', drugKey: 'd', status: 'pended' });
          // Passes our checks; the foreign key in the database refuses it.
          await tx.createAuthorization({ memberKey: member, policyId: 'P', drugKey: 'd', status: 'pended', decisionId: crypto.randomUUID() });
        }),
      ).rejects.toMatchObject({ code: '23503' });
      expect(await store.listAuthorizations({ memberKey: member })).toEqual([]);
    });
  });

  describe('authorizations', () => {
    it_('finds the newest live authorization of an order', async () => {
      const orderKey = unique('urn:orders|mr');
      const member = memberKey('68069', unique('member'));
      const pended = await store.createAuthorization({ memberKey: member, policyId: 'CP.PHAR.244', drugKey: '72435', orderKey, status: 'pended' });
      expect(pended.number).toMatch(NUMBER);
      expect(pended).toMatchObject({ start: null, end: null, orderKey, status: 'pended' });
      expect(await store.findAuthorizationByOrder(orderKey)).toEqual(pended);

      const approved = await store.createAuthorization({
        memberKey: member,
        policyId: 'CP.PHAR.244',
        drugKey: '72435',
        orderKey,
        status: 'approved',
        start: '2026-02-01',
        end: '2027-01-31',
      });
      expect(await store.findAuthorizationByOrder(orderKey)).toEqual(approved);
      expect(await store.getAuthorization(approved.number)).toEqual(approved);

      const cancelled = await store.updateAuthorizationStatus(approved.number, 'cancelled');
      expect(cancelled).toMatchObject({ number: approved.number, status: 'cancelled', start: '2026-02-01' });
      expect(await store.findAuthorizationByOrder(orderKey)).toEqual(pended);
      expect(await store.findAuthorizationByOrder(unique('urn:orders|none'))).toBeNull();
      expect(await store.getAuthorization('PA-00000000-NOSUCHNO')).toBeNull();
    });

    it_('approves a pended authorization only with a period', async () => {
      const a = await store.createAuthorization({ memberKey: unique('m'), policyId: 'P', drugKey: 'd', status: 'pended' });
      await expect(store.updateAuthorizationStatus(a.number, 'approved')).rejects.toThrow(StoreError);
      const approved = await store.updateAuthorizationStatus(a.number, 'approved', { start: '2026-03-01', end: '2026-08-31' });
      expect(approved).toMatchObject({ status: 'approved', start: '2026-03-01', end: '2026-08-31' });
      expect(await store.updateAuthorizationStatus('PA-00000000-NOSUCHNO', 'cancelled')).toBeNull();
    });

    it_('lists a member’s authorizations filtered by drug, policy and status, newest first', async () => {
      const member = memberKey('68069', unique('member'));
      const other = memberKey('68069', unique('member'));
      const mk = (m: string, drugKey: string, policyId: string, status: 'approved' | 'denied') =>
        store.createAuthorization({
          memberKey: m,
          drugKey,
          policyId,
          status,
          ...(status === 'approved' ? { start: '2025-03-01', end: '2025-08-31' } : {}),
        });
      const a1 = await mk(member, '72435', 'MOLINA.KINERET', 'approved');
      const a2 = await mk(member, '72435', 'CP.PHAR.244', 'denied');
      const a3 = await mk(member, '1233', 'CP.PHAR.244', 'approved');
      await mk(other, '72435', 'MOLINA.KINERET', 'approved');

      expect(await store.listAuthorizations({ memberKey: member })).toEqual([a3, a2, a1]);
      expect(await store.listAuthorizations({ memberKey: member, drugKey: '72435' })).toEqual([a2, a1]);
      expect(await store.listAuthorizations({ memberKey: member, drugKey: '72435', policyId: 'MOLINA.KINERET' })).toEqual([a1]);
      expect(await store.listAuthorizations({ memberKey: member, policyId: 'CP.PHAR.244' })).toEqual([a3, a2]);
      expect(await store.listAuthorizations({ memberKey: member, status: ['approved'] })).toEqual([a3, a1]);
      expect(await store.listAuthorizations({ memberKey: member, drugKey: 'none' })).toEqual([]);
      expect(await store.listAuthorizations({ memberKey: unique('nobody') })).toEqual([]);

      // The engine's input keeps only authorizations with a period.
      expect(asPriorAuthorizations(await store.listAuthorizations({ memberKey: member, drugKey: '72435' }))).toEqual([
        { number: a1.number, policyId: 'MOLINA.KINERET', start: '2025-03-01', end: '2025-08-31', status: 'approved', basis: 'review' },
      ]);
    });

    it_('draws a new number when the random one is taken', async () => {
      const taken = newAuthorizationNumber();
      const fresh = newAuthorizationNumber();
      let queue = [taken, taken, fresh];
      const local = await openStore(config, { authorizationNumber: () => queue.shift() ?? taken });
      try {
        const first = await local.createAuthorization({ memberKey: 'm', policyId: 'P', drugKey: 'd', status: 'pended' });
        const second = await local.createAuthorization({ memberKey: 'm', policyId: 'P', drugKey: 'd', status: 'pended' });
        expect([first.number, second.number]).toEqual([taken, fresh]);
        queue = [];
        await expect(local.createAuthorization({ memberKey: 'm', policyId: 'P', drugKey: 'd', status: 'pended' })).rejects.toThrow(
          /could not draw an unused authorization number in 5 attempts/,
        );
        await expect(
          local.createAuthorization({ number: fresh, memberKey: 'm', policyId: 'P', drugKey: 'd', status: 'pended' }),
        ).rejects.toThrow(`authorization number ${fresh} is already on file`);
      } finally {
        await local.close();
      }
    });

    it_('a claim whose drawn authorization number was taken meanwhile draws again and quotes the number it stored', async () => {
      const taken = newAuthorizationNumber();
      const fresh = newAuthorizationNumber();
      const queue = [taken, fresh];
      const local = await openStore(config, { authorizationNumber: () => queue.shift() ?? taken });
      try {
        await local.createAuthorization({ number: taken, memberKey: 'm', policyId: 'P', drugKey: 'd', status: 'pended' });
        const quoted: (string | null)[] = [];
        const saved = await local.saveClaimSubmission({
          claim: claimFixture(undefined, unique('ident')),
          requestBundle: bundleOf(),
          decision: decision('approve'),
          authorization: { memberKey: 'm', policyId: 'P', drugKey: 'd', status: 'approved', start: '2026-01-01', end: '2026-02-01' },
          respond: ({ authorizationNumber }) => {
            quoted.push(authorizationNumber);
            const claimResponse = claimResponseFixture(undefined, authorizationNumber ?? undefined);
            return { claimResponse, responseBundle: bundleOf(claimResponse) };
          },
        });
        expect(quoted).toEqual([taken, fresh]);
        expect(saved.authorizationNumber).toBe(fresh);
        expect(saved.claimResponse.preAuthRef).toBe(fresh);
        expect((await local.getAuthorization(fresh))?.decisionId).toBe(saved.decisionId);
      } finally {
        await local.close();
      }
    });

    it_.each([
      [{ status: 'approved' as const }, 'an approved authorization needs a start and an end date'],
      [{ status: 'approved' as const, start: '2026-05-01', end: '2026-04-01' }, 'authorization ends (2026-04-01) before it starts (2026-05-01)'],
      [{ status: 'pended' as const, start: '01/02/2026' }, 'authorization start must be a YYYY-MM-DD date, got "01/02/2026"'],
      [{ status: 'pended' as const, end: '2026-13-45' }, 'authorization end must be a YYYY-MM-DD date, got "2026-13-45"'],
      [{ status: 'granted' as unknown as 'approved' }, 'authorization status must be one of approved, pended, denied, cancelled, got granted'],
      [{ status: 'pended' as const, decisionId: 'nope' }, 'decisionId must be a UUID, got "nope"'],
    ])('rejects %j with a clear error', async (extra, message) => {
      await expect(store.createAuthorization({ memberKey: 'm', policyId: 'P', drugKey: 'd', ...extra })).rejects.toThrow(message);
    });
  });

  describe('CRD coverage assertions', () => {
    it_('round-trips an assertion with its decision and an authorization granted on the spot', async () => {
      const hookInstance = crypto.randomUUID();
      const orderKey = orderKeyOf(
        { resourceType: 'MedicationRequest', id: 'mr1', status: 'draft', intent: 'order', subject: { reference: 'Patient/p1' }, medicationCodeableConcept: {} },
        'https://ehr.example.org/fhir/',
      );
      expect(orderKey).toBe('https://ehr.example.org/fhir|MedicationRequest/mr1');
      const uniqueOrder = `${orderKey}-${hookInstance}`;
      const saved = await store.saveCoverageAssertion({
        hookInstance,
        orderKey: uniqueOrder,
        patientKey: 'Patient/p1',
        decision: decision('approve'),
        questionnaire: 'http://pa.example.org/fhir/Questionnaire/cp-phar-244',
        authorization: {
          memberKey: memberKey('68069', 'M1'),
          policyId: 'CP.PHAR.244',
          drugKey: '72435',
          orderKey: uniqueOrder,
          status: 'approved',
          start: '2026-01-01',
          end: '2026-06-30',
        },
      });
      expect(saved).toMatchObject({ hookInstance, policyId: 'CP.PHAR.244', orderKey: uniqueOrder, patientKey: 'Patient/p1' });
      expect(saved.authorization?.number).toBe(saved.authorizationNumber);
      const { authorization, ...stored } = saved;
      expect(await store.getCoverageAssertion(saved.id)).toEqual(stored);
      expect(await store.findCoverageAssertionByOrder(uniqueOrder)).toEqual(stored);
      expect(await store.findAuthorizationByOrder(uniqueOrder)).toEqual(authorization);
      expect(await store.getDecision(saved.decisionId ?? '')).toMatchObject({ source: 'crd', outcome: 'approve' });
      expect(await store.getCoverageAssertion('not-a-uuid')).toBeNull();
      expect(await store.getCoverageAssertion(crypto.randomUUID())).toBeNull();
    });

    it_('an assertion that grants nothing is one statement, with its decision on file', () =>
      countingStatements(async (sql, statements) => {
        const hookInstance = crypto.randomUUID();
        const questionnaire = 'http://pa.example.org/fhir/Questionnaire/cp-phar-244';
        const saved = await sql.saveCoverageAssertion({ hookInstance, orderKey: unique('order'), patientKey: 'Patient/p1', decision: decision('pend'), questionnaire });
        expect(statements).toHaveLength(1);
        expect(saved).toMatchObject({ hookInstance, policyId: 'CP.PHAR.244', authorizationNumber: null, questionnaire });
        expect(await sql.getCoverageAssertion(saved.id)).toEqual(saved);
        expect(await sql.getDecision(saved.decisionId as string)).toMatchObject({ source: 'crd', outcome: 'pend', policyId: 'CP.PHAR.244', decision: decision('pend') });
      }));

    it_('links an assertion to a decision saved earlier', async () => {
      const decisionId = await store.saveDecision('dtr', decision('pend', 'NH.PHAR.244'));
      const saved = await store.saveCoverageAssertion({ hookInstance: crypto.randomUUID(), orderKey: null, patientKey: null, decisionId });
      expect(saved).toMatchObject({ decisionId, policyId: null, authorizationNumber: null, questionnaire: null });
      expect(orderKeyOf({ resourceType: 'MedicationRequest', status: 'draft', intent: 'order', subject: {}, identifier: [{ system: 'urn:o', value: '7' }] })).toBe('urn:o|7');
    });
  });

  describe('feedback and audit', () => {
    it_('stores CDS Hooks feedback as received', async () => {
      const serviceId = unique('order-sign-crd');
      const feedback = { feedback: [{ card: crypto.randomUUID(), outcome: 'accepted', outcomeTimestamp: '2026-01-01T10:00:00Z' }] };
      const id = await store.saveFeedback(serviceId, feedback);
      expect(await store.listFeedback(serviceId)).toEqual([{ id, serviceId, feedback, createdAt: expect.any(String) }]);
    });

    it_('records operational facts only: PHI passed by mistake is not written', async () => {
      const requestId = unique('req');
      await store.audit({
        requestId,
        action: 'crd.order-sign',
        actor: 'https://ehr.example.org',
        hookInstance: crypto.randomUUID(),
        payerId: '68069',
        policyId: 'CP.PHAR.244',
        outcome: 'auth-needed',
        latencyMs: 12.6,
        status: 200,
        ...({ patientName: 'Jane Doe', birthDate: '1970-01-01' } as object),
      });
      const [event] = (await store.listAudit(1000)).filter((e) => e.requestId === requestId);
      expect(event).toMatchObject({ action: 'crd.order-sign', payerId: '68069', outcome: 'auth-needed', latencyMs: 13, status: 200 });
      expect(Object.keys(event ?? {}).sort()).toEqual(
        ['action', 'actor', 'createdAt', 'hookInstance', 'id', 'latencyMs', 'outcome', 'payerId', 'policyId', 'requestId', 'status'].sort(),
      );
      expect(JSON.stringify(event)).not.toMatch(/Jane|1970-01-01/);

      const raw = await backend.raw(config);
      try {
        const { rows } = await raw.query<{ column_name: string }>(
          `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'audit_events'`,
        );
        const columns = rows.map((r) => r.column_name).sort();
        expect(columns).toEqual(
          ['action', 'actor', 'created_at', 'hook_instance', 'id', 'latency_ms', 'outcome', 'payer_id', 'policy_id', 'request_id', 'status'].sort(),
        );
        for (const c of columns) expect(c).not.toMatch(/name|birth|dob|address|phone|gender|ssn|patient|member/);
      } finally {
        await raw.close();
      }
    });

    it_('lists audit events newest first, within the limit', async () => {
      const ids = [unique('req'), unique('req'), unique('req')];
      for (const requestId of ids) await store.audit({ requestId, action: 'pas.submit' });
      expect((await store.listAudit(2)).map((e) => e.requestId)).toEqual([ids[2], ids[1]]);
      await expect(store.audit({ requestId: '', action: 'pas.submit' })).rejects.toThrow(StoreError);
    });
  });
});

describe('authorization numbers', () => {
  it('are human-readable, dated and random', () => {
    const numbers = new Set(Array.from({ length: 2000 }, () => newAuthorizationNumber(new Date('2026-11-23T12:00:00Z'))));
    expect(numbers.size).toBe(2000);
    for (const n of numbers) expect(n).toMatch(/^PA-20261123-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{8}$/);
  });
});
