/**
 * The review JSON API and the CMS-0057-F report over HTTP (supertest against the real app):
 * statuses and messages, audit rows, and the report's counts and times.
 */
import request from 'supertest';
import type { Bundle, ClaimResponse, OperationOutcome } from 'fhir/r4';
import { createTestApp, withSettings, type TestApp } from '../support/app';
import { assertNotOpen } from '../../src/server';
import { loadConfig } from '../../src/config';
import type { Logger } from '../../src/logger';
import type { PriorAuthorizationReport } from '../../src/review/report';
import { movableClock, pasRequest, rawSql } from './support';

const RECEIVED = new Date('2026-11-20T15:00:00Z');
const clock = movableClock(RECEIVED);
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({}, clock.now);
});
afterAll(async () => t.close());
beforeEach(() => clock.set(RECEIVED));

const physician = { name: 'Dr. Lena Ortiz', role: 'physician-reviewer' };

async function submitted(name: 'kineret' | 'carvykti'): Promise<string> {
  const res = await request(t.app).post('/fhir/Claim/$submit').set('Content-Type', 'application/fhir+json').send(pasRequest(name));
  expect(res.status).toBe(200);
  const cr = (res.body as Bundle).entry?.[0]?.resource as ClaimResponse;
  return /(?:^|\/)Claim\/([^/]+)$/.exec(cr.request?.reference ?? '')?.[1] ?? '';
}

function decide(claimId: string, body: unknown) {
  return request(t.app).post(`/review/api/claims/${claimId}/decision`).set('Content-Type', 'application/json').send(body as object);
}

function diagnostics(body: unknown): string {
  return (body as OperationOutcome).issue?.[0]?.diagnostics ?? '';
}

describe('review API', () => {
  test('queue → request → approve, each read and action audited', async () => {
    const claimId = await submitted('kineret');
    const queue = await request(t.app).get('/review/api/queue');
    expect(queue.status).toBe(200);
    expect(queue.type).toBe('application/json');
    const item = (queue.body as { items: Record<string, unknown>[] }).items.find((i) => i.claimId === claimId);
    expect(item).toMatchObject({ expedited: false, route: 'physician-reviewer', status: 'pended', policy: { id: 'cp-phar-244' } });
    for (const key of ['claimResponseId', 'receivedAt', 'dueAt']) expect(typeof item?.[key]).toBe('string');

    const detail = await request(t.app).get(`/review/api/claims/${claimId}`);
    expect(detail.status).toBe(200);
    expect((detail.body as { criteria: { citation: string; status: string }[] }).criteria.filter((c) => c.status === 'unknown')).toHaveLength(6);

    const approved = await decide(claimId, { action: 'approve', reviewer: physician, note: 'Documentation reviewed.' });
    expect(approved.status).toBe(200);
    expect(approved.type).toBe('application/fhir+json');
    const cr = (approved.body as Bundle).entry?.[0]?.resource as ClaimResponse;
    expect(cr.preAuthRef).toMatch(/^PA-/);
    expect(cr.request?.reference).toMatch(new RegExp(`(^|/)Claim/${claimId}$`));

    const audit = await t.ctx.store.listAudit(20);
    const mine = audit.filter((a) => a.outcome === `Claim/${claimId}`);
    expect(mine.map((a) => [a.action, a.status])).toEqual(expect.arrayContaining([['review.read', 200], ['review.approve', 200]]));
    expect(mine.find((a) => a.action === 'review.approve')?.actor).toBe('physician-reviewer:Dr. Lena Ortiz');
    expect(audit.some((a) => a.action === 'review.queue')).toBe(true);
  });

  test.each([
    ['a deny without a reason', { action: 'deny', reviewer: physician, criteria: ['CP.PHAR.244 I.A.4'] }, 400, /needs a reason/, 'reason'],
    ['an unknown action', { action: 'pend', reviewer: physician }, 400, /action must be approve, deny or request-info/, 'action'],
    ['a role that is not a review route', { action: 'approve', reviewer: { name: 'x', role: 'nurse' } }, 400, /reviewer\.role must be one of/, 'reviewer.role'],
    ['no reviewer', { action: 'approve' }, 400, /reviewer/, 'reviewer'],
  ])('%s is refused: 400 naming the element', async (_name, body, status, message, expression) => {
    const claimId = await submitted('kineret');
    const res = await decide(claimId, body);
    expect(res.status).toBe(status);
    expect(diagnostics(res.body)).toMatch(message);
    expect((res.body as OperationOutcome).issue[0]?.expression).toEqual([expression]);
  });

  test('an approve by a route that may not approve is a 403; a decision on a final request a 409; an unknown claim a 404', async () => {
    const carvykti = await submitted('carvykti');
    const forbidden = await decide(carvykti, { action: 'approve', reviewer: physician });
    expect(forbidden.status).toBe(403);
    expect(diagnostics(forbidden.body)).toMatch(/routes this request to the pharmacy and therapeutics committee; a physician reviewer may not approve it/);

    const kineret = await submitted('kineret');
    expect((await decide(kineret, { action: 'deny', reviewer: physician, reason: 'No DMARD trial.', criteria: ['CP.PHAR.244 I.A.5.a'] })).status).toBe(200);
    const again = await decide(kineret, { action: 'approve', reviewer: physician });
    expect(again.status).toBe(409);
    expect(diagnostics(again.body)).toMatch(/already final \(deny/);

    const unknown = await decide('no-such-claim', { action: 'approve', reviewer: physician });
    expect(unknown.status).toBe(404);
    expect((await request(t.app).get('/review/api/claims/no-such-claim')).status).toBe(404);
    expect((await t.ctx.store.listAudit(50)).some((a) => a.action === 'review.read' && a.outcome === 'Claim/no-such-claim' && a.status === 404)).toBe(true);
  });

  test('assignment', async () => {
    const claimId = await submitted('kineret');
    const res = await request(t.app)
      .post(`/review/api/claims/${claimId}/assignment`)
      .set('Content-Type', 'application/json')
      .send({ assignee: 'Dr. Amir Haddad', reviewer: { name: 'Dr. Samuel Reyes', role: 'medical-director' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ claimId, assignee: 'Dr. Amir Haddad' });
    const bad = await request(t.app).post(`/review/api/claims/${claimId}/assignment`).set('Content-Type', 'application/json').send({ reviewer: physician });
    expect(bad.status).toBe(400);
  });

  test('the workbench page and its assets are served', async () => {
    const page = await request(t.app).get('/review');
    expect(page.status).toBe(200);
    expect(page.type).toBe('text/html');
    expect(page.text).toContain('/review/assets/workbench.js');
    expect((await request(t.app).get('/review/assets/workbench.js')).type).toBe('text/javascript');
    expect((await request(t.app).get('/review/assets/../../server.ts')).status).toBe(404);
  });
});

describe('access', () => {
  test('with /fhir or CDS Hooks authenticated but no reviewer sign-in, the review side stays closed (401)', async () => {
    const closed = withSettings(t, { trustedIssuers: [{ iss: 'https://ehr.example.org', jwksUrl: 'https://ehr.example.org/jwks' }] });
    try {
      for (const url of ['/review', '/review/api/queue', '/review/api/claims/x']) {
        const res = await request(closed.app).get(url);
        expect(res.status).toBe(401);
      }
    } finally {
      await closed.close();
    }
  });

  test('start-up warns that the review workbench is open, and production refuses', () => {
    const lines: string[] = [];
    const logger = { warn: (msg: string, fields?: unknown) => lines.push(`${msg} ${JSON.stringify(fields)}`) } as unknown as Logger;
    const write = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      assertNotOpen(loadConfig({ DATABASE_URL: '' }), logger);
      expect(lines.join('\n')).toContain('/review workbench and API (no REVIEW_OIDC_ISSUER or REVIEW_API_TOKENS');
      expect(() => assertNotOpen(loadConfig({ NODE_ENV: 'production' }), logger)).toThrow(/\/review workbench/);
    } finally {
      write.mockRestore();
    }
  });
});

describe('GET /reports/prior-authorization', () => {
  test('by policy and month, standard and expedited apart: counts, approved after review, average and median hours', async () => {
    const sql = rawSql(t.ctx.store);
    // Three standard Kineret requests in 2026-09 and one expedited Carvykti request, backdated.
    const approvedA = await submitted('kineret');
    const approvedB = await submitted('kineret');
    const denied = await submitted('kineret');
    const pended = await submitted('kineret');
    const urgent = await submitted('carvykti');
    expect((await decide(approvedA, { action: 'approve', reviewer: physician })).status).toBe(200);
    expect((await decide(approvedB, { action: 'approve', reviewer: physician })).status).toBe(200);
    expect((await decide(denied, { action: 'deny', reviewer: physician, reason: 'No DMARD trial.', criteria: ['CP.PHAR.244 I.A.5.a'] })).status).toBe(200);
    expect((await decide(urgent, { action: 'approve', reviewer: { name: 'P&T', role: 'committee' } })).status).toBe(200);
    const at = (id: string, received: string, hours: number | null) =>
      sql.query(
        `UPDATE claims SET created_at = $2::timestamptz, decided_at = CASE WHEN $3::float8 IS NULL THEN NULL ELSE $2::timestamptz + ($3::float8 * interval '1 hour') END WHERE id = $1`,
        [id, received, hours],
      );
    await at(approvedA, '2026-09-03T10:00:00Z', 10);
    await at(approvedB, '2026-09-10T10:00:00Z', 30);
    await at(denied, '2026-09-12T10:00:00Z', 50);
    await at(pended, '2026-09-20T10:00:00Z', null);
    await at(urgent, '2026-09-21T10:00:00Z', 20);

    const res = await request(t.app).get('/reports/prior-authorization?since=2026-09&until=2026-09').set('Accept', 'application/json');
    expect(res.status).toBe(200);
    const report = res.body as PriorAuthorizationReport;
    expect(report.since).toBe('2026-09-01T00:00:00.000Z');
    expect(report.until).toBe('2026-10-01T00:00:00.000Z');
    const standard = report.rows.find((r) => r.policy.id === 'cp-phar-244' && r.timeframe === 'standard');
    expect(standard).toMatchObject({
      month: '2026-09',
      requests: 4,
      approved: 2,
      approvedAfterReview: 2,
      denied: 1,
      pended: 1,
      cancelled: 0,
      decided: 3,
      averageHours: 30,
      medianHours: 30,
    });
    const expedited = report.rows.find((r) => r.policy.id === 'cp-phar-533');
    expect(expedited).toMatchObject({ timeframe: 'expedited', requests: 1, approved: 1, approvedAfterReview: 1, averageHours: 20, medianHours: 20 });
    expect(report.totals.standard).toMatchObject({ requests: 4, decided: 3, averageHours: 30 });
    expect(report.rows.every((r) => r.month === '2026-09')).toBe(true);

    const html = await request(t.app).get('/reports/prior-authorization?since=2026-09&until=2026-09').set('Accept', 'text/html,application/xhtml+xml');
    expect(html.type).toBe('text/html');
    expect(html.text).toContain('Expedited (72 hours)');
    expect(html.text).toContain('CP.PHAR.244 Kineret');
  });

  test('a bad month is a 400 naming the parameter', async () => {
    const res = await request(t.app).get('/reports/prior-authorization?since=September');
    expect(res.status).toBe(400);
    expect((res.body as OperationOutcome).issue[0]?.expression).toEqual(['since']);
  });
});

