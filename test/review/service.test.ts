/**
 * Clinical review as a domain service, on every store backend: the queue and its CMS-0057-F clock,
 * every action (approve, deny, request-info, assign), the route rules from the catalog, and the
 * record (a new version of the same ClaimResponse, the history, one authorization number).
 */
import type { ClaimResponse, CommunicationRequest, Extension } from 'fhir/r4';
import { openStore, type Store } from '../../src/store';
import { ReviewService, type Reviewer } from '../../src/review/service';
import { readReviewAction } from '../../src/pas/response';
import { isOperationOutcomeError } from '../../src/fhir/outcomes';
import { backends, DAY, HOUR, movableClock, pasRequest, rawSql, sharedEngine, submit } from './support';

const RECEIVED = new Date('2026-11-20T15:00:00Z');
const physician: Reviewer = { name: 'Dr. Lena Ortiz', role: 'physician-reviewer', npi: '1457389261' };
const director: Reviewer = { name: 'Dr. Samuel Reyes', role: 'medical-director' };
const committee: Reviewer = { name: 'P&T committee 2026-11-24', role: 'committee' };
const KINERET_OPEN = ['CP.PHAR.244 I.A.4', 'CP.PHAR.244 I.A.5.a', 'CP.PHAR.244 I.A.5.b', 'CP.PHAR.244 I.A.5.c', 'CP.PHAR.244 I.A.6', 'CP.PHAR.244 I.A.7'];

async function refused(promise: Promise<unknown>): Promise<{ status: number; text: string; expression: string[] | undefined }> {
  try {
    await promise;
  } catch (error) {
    if (!isOperationOutcomeError(error)) throw error;
    const issue = error.outcome.issue[0];
    return { status: error.status, text: issue?.diagnostics ?? '', expression: issue?.expression };
  }
  throw new Error('expected the action to be refused');
}

function claimResponseOf(bundle: { entry?: { resource?: unknown }[] }): ClaimResponse {
  return bundle.entry?.[0]?.resource as ClaimResponse;
}

function reviewerExtension(cr: ClaimResponse): Extension | undefined {
  return cr.extension?.find((e) => e.url === 'http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-claimResponseReviewer');
}

describe.each(backends())('clinical review on $name', (backend) => {
  const clock = movableClock(RECEIVED);
  let store: Store;
  let review: ReviewService;

  beforeAll(async () => {
    if (!backend.enabled) return;
    store = await openStore(await backend.setup());
    review = new ReviewService({ store, catalog: sharedEngine().catalog, clock: clock.now, timeZone: sharedEngine().timeZone, baseUrl: 'http://pa.test/fhir' });
  });
  afterAll(async () => {
    if (!backend.enabled) return;
    await store.close();
    await backend.teardown();
  });
  beforeEach(() => clock.set(RECEIVED));
  const it = backend.enabled ? test : test.skip;

  /** Submits at RECEIVED (the fixtures' evaluation date, the server's clock); the review happens `later` ms after. */
  async function pended(name: 'kineret' | 'carvykti', later = 2 * HOUR, change?: Parameters<typeof pasRequest>[1]): Promise<string> {
    clock.set(RECEIVED);
    const id = await submit(store, clock.now, pasRequest(name, change));
    expect((await store.getClaim(id))?.outcome).toBe('pend');
    clock.set(new Date(RECEIVED.getTime() + later));
    return id;
  }

  describe('the queue', () => {
    it('lists pended requests soonest due first, expedited 72 h and standard 7 days from receipt, with route and policy', async () => {
      const standard = await pended('kineret');
      const urgent = await pended('carvykti');
      const items = await review.queue();
      const s = items.find((i) => i.claimId === standard);
      const u = items.find((i) => i.claimId === urgent);
      expect(s).toMatchObject({ expedited: false, route: 'physician-reviewer', status: 'pended', overdue: false, openCriteria: 6, phase: 'initial', indication: 'Rheumatoid arthritis' });
      expect(s?.policy?.citationPrefix).toBe('CP.PHAR.244');
      expect(s?.dueAt).toBe(new Date(RECEIVED.getTime() + 7 * DAY).toISOString());
      expect(u).toMatchObject({ expedited: true, route: 'committee', openCriteria: 0 });
      expect(u?.policy?.citationPrefix).toBe('CP.PHAR.533');
      expect(u?.dueAt).toBe(new Date(RECEIVED.getTime() + 72 * HOUR).toISOString());
      // Sorted by due time: the expedited request (submitted second) comes before the standard one.
      expect(items.findIndex((i) => i.claimId === urgent)).toBeLessThan(items.findIndex((i) => i.claimId === standard));
      const dues = items.map((i) => i.dueAt);
      expect([...dues].sort()).toEqual(dues);
    });

    it('flags a request overdue once its due time has passed', async () => {
      const id = await pended('carvykti', 73 * HOUR);
      expect((await review.queue()).find((i) => i.claimId === id)?.overdue).toBe(true);
      clock.set(new Date(RECEIVED.getTime() + 71 * HOUR));
      expect((await review.queue()).find((i) => i.claimId === id)?.overdue).toBe(false);
    });
  });

  describe('one request', () => {
    it('shows policy, indication, phase, every criterion with status, citation and evidence, the approval default and the questionnaire', async () => {
      const id = await pended('kineret');
      const detail = await review.detail(id);
      expect(detail).toMatchObject({ claimId: id, route: 'physician-reviewer', approvalMonths: 6, questionnaire: 'http://pa.example.org/fhir/Questionnaire/cp-phar-244-kineret' });
      expect(detail?.criteria.filter((c) => c.status === 'unknown').map((c) => c.citation)).toEqual(KINERET_OPEN);
      const diagnosis = detail?.criteria.find((c) => c.citation === 'CP.PHAR.244 I.A.1');
      expect(diagnosis?.status).toBe('met');
      expect(diagnosis?.evidence).toContain('Condition/cond-ra-1');
      expect(detail?.resources['Condition/cond-ra-1']?.resourceType).toBe('Condition');
      const start = clock.now().toISOString().slice(0, 10);
      expect(detail?.defaultPeriod?.start).toBe(start);
      expect(detail?.history.map((h) => h.version)).toEqual([1]);
      expect(await review.detail('no-such-claim')).toBeNull();
    });
  });

  describe('approve', () => {
    it('makes version 2 of the same ClaimResponse (A1, reviewer extension), issues one authorization for the policy duration, keeps the history', async () => {
      const id = await pended('kineret');
      const before = await store.getClaim(id);
      const result = await review.decide(id, { action: 'approve', reviewer: physician, note: 'Chart review: MTX trial documented in the office notes.' });
      const cr = claimResponseOf(result.bundle);
      expect(cr.id).toBe(before?.claimResponseId);
      expect(cr.identifier).toEqual(before?.claimResponse.identifier);
      expect(readReviewAction(cr.item?.[0] ?? { itemSequence: 1, adjudication: [] })?.code).toBe('A1');
      expect(cr.preAuthRef).toBe(result.record.authorizationNumber);
      const start = clock.now().toISOString().slice(0, 10);
      expect(cr.preAuthPeriod?.start).toBe(start);
      // CP.PHAR.244 I.A: 6 months, inclusive.
      const end = new Date(`${start}T00:00:00Z`);
      end.setUTCMonth(end.getUTCMonth() + 6);
      end.setUTCDate(end.getUTCDate() - 1);
      expect(cr.preAuthPeriod?.end).toBe(end.toISOString().slice(0, 10));
      expect(reviewerExtension(cr)?.extension).toEqual([
        { url: 'wasHumanReviewedFlag', valueBoolean: true },
        { url: 'reviewerNPI', valueIdentifier: { system: 'http://hl7.org/fhir/sid/us-npi', value: '1457389261' } },
      ]);

      const record = await store.getClaim(id);
      expect(record).toMatchObject({ outcome: 'approve', version: 2 });
      expect(record?.decidedAt).not.toBeNull();
      const authorization = await store.getAuthorization(record?.authorizationNumber ?? '');
      expect(authorization).toMatchObject({ status: 'approved', basis: 'review', policyId: 'cp-phar-244', start, end: cr.preAuthPeriod?.end });
      const versions = await store.listClaimResponseVersions(id);
      expect(versions.map((v) => [v.version, v.outcome, v.event])).toEqual([
        [1, 'pend', 'submit'],
        [2, 'approve', 'review-decision'],
      ]);
      expect(versions[0]?.claimResponse.id).toBe(versions[1]?.claimResponse.id);
      const actions = await store.listReviewActions(id);
      expect(actions).toHaveLength(1);
      expect(actions[0]).toMatchObject({
        action: 'approve',
        reviewer: { name: physician.name, role: 'physician-reviewer' },
        note: 'Chart review: MTX trial documented in the office notes.',
        version: 2,
        changes: { outcome: { from: 'pend', to: 'approve' }, version: { from: 1, to: 2 }, authorizationNumber: { from: null, to: record?.authorizationNumber } },
      });
      // A second decision on the decided request is refused, and no second number is minted.
      const again = await refused(review.decide(id, { action: 'approve', reviewer: physician }));
      expect(again.status).toBe(409);
      expect(again.text).toMatch(/already final \(approve/);
      expect((await store.listAuthorizations({ memberKey: record?.patientKey ?? '' })).filter((a) => a.decisionId === authorization?.decisionId)).toHaveLength(1);
    });

    it('takes an edited period, and refuses one that ends before it starts or is not a date', async () => {
      const id = await pended('kineret');
      expect(await refused(review.decide(id, { action: 'approve', reviewer: physician, period: { start: '2026-12-01', end: '2026-11-01' } }))).toMatchObject({
        status: 400,
        expression: ['period.end'],
      });
      expect(await refused(review.decide(id, { action: 'approve', reviewer: physician, period: { start: '12/01/2026', end: '2027-02-28' } }))).toMatchObject({
        status: 400,
        expression: ['period.start'],
      });
      const result = await review.decide(id, { action: 'approve', reviewer: physician, period: { start: '2026-12-01', end: '2027-02-28' } });
      expect(claimResponseOf(result.bundle).preAuthPeriod).toEqual({ start: '2026-12-01', end: '2027-02-28' });
    });

    it('two reviewers approving at once: one decision, one authorization number', async () => {
      const id = await pended('kineret');
      const outcomes = await Promise.allSettled([
        review.decide(id, { action: 'approve', reviewer: physician }),
        review.decide(id, { action: 'approve', reviewer: director }),
      ]);
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      const rejected = outcomes.find((o) => o.status === 'rejected');
      expect(isOperationOutcomeError(rejected?.reason) && rejected.reason.status).toBe(409);
      expect((await store.listClaimResponseVersions(id)).map((v) => v.version)).toEqual([1, 2]);
      expect(await store.listReviewActions(id)).toHaveLength(1);
    });
  });

  describe('deny', () => {
    it('needs a reason and the criteria not met, each a real open criterion of the request', async () => {
      const id = await pended('kineret');
      expect(await refused(review.decide(id, { action: 'deny', reviewer: physician, criteria: ['CP.PHAR.244 I.A.4'] }))).toMatchObject({
        status: 400,
        text: expect.stringMatching(/needs a reason/),
        expression: ['reason'],
      });
      expect(await refused(review.decide(id, { action: 'deny', reviewer: physician, reason: '   ' }))).toMatchObject({ status: 400, expression: ['reason'] });
      expect(await refused(review.decide(id, { action: 'deny', reviewer: physician, reason: 'No MTX trial.' }))).toMatchObject({
        status: 400,
        expression: ['criteria'],
      });
      const met = await refused(review.decide(id, { action: 'deny', reviewer: physician, reason: 'x', criteria: ['CP.PHAR.244 I.A.1'] }));
      expect(met).toMatchObject({ status: 400, expression: ['criteria'] });
      expect(met.text).toMatch(/CP\.PHAR\.244 I\.A\.1: not an unmet or undocumented criterion/);
      expect(await store.listReviewActions(id)).toHaveLength(0);
      expect((await store.getClaim(id))?.version).toBe(1);
    });

    it('answers A3 with the X12 886 reason and a processNote citing each criterion; no authorization', async () => {
      const id = await pended('kineret');
      const reason = 'No trial of a conventional DMARD in the records sent or on file.';
      const result = await review.decide(id, { action: 'deny', reviewer: physician, reason, criteria: ['CP.PHAR.244 I.A.5.a', 'CP.PHAR.244 I.A.6'] });
      const cr = claimResponseOf(result.bundle);
      const action = readReviewAction(cr.item?.[0] ?? { itemSequence: 1, adjudication: [] });
      expect(action?.code).toBe('A3');
      expect(action?.reasons).toEqual([{ system: 'https://codesystem.x12.org/external/886', code: '0M', display: 'Non-covered Service' }]);
      const notes = (cr.processNote ?? []).map((n) => n.text ?? '');
      expect(notes.some((n) => n.includes('CP.PHAR.244 I.A.5.a') && n.includes('Not met'))).toBe(true);
      expect(notes.some((n) => n.includes('CP.PHAR.244 I.A.6') && n.includes('Not met'))).toBe(true);
      expect(notes.some((n) => n.includes(reason))).toBe(true);
      expect(cr.preAuthRef).toBeUndefined();
      const record = await store.getClaim(id);
      expect(record).toMatchObject({ outcome: 'deny', version: 2, authorizationNumber: null });
      expect((await store.listReviewActions(id))[0]).toMatchObject({ action: 'deny', reason, criteria: ['CP.PHAR.244 I.A.5.a', 'CP.PHAR.244 I.A.6'] });
    });
  });

  describe('request more information', () => {
    it('adds a CommunicationRequest naming the criteria and the DTR questionnaire, stays pended, and extends the clock once by 14 days', async () => {
      const id = await pended('kineret');
      const dueBefore = (await review.detail(id))?.dueAt ?? '';
      const result = await review.decide(id, {
        action: 'request-info',
        reviewer: physician,
        criteria: ['CP.PHAR.244 I.A.5.a'],
        note: 'Send the methotrexate trial dates and the reason it was stopped.',
      });
      const cr = claimResponseOf(result.bundle);
      const action = readReviewAction(cr.item?.[0] ?? { itemSequence: 1, adjudication: [] });
      expect(action?.code).toBe('A4');
      expect(action?.reasons.map((r) => r.code)).toContain('0U');
      const communication = result.bundle.entry?.map((e) => e.resource).find((r): r is CommunicationRequest => r?.resourceType === 'CommunicationRequest');
      const notes = communication?.note?.map((n) => n.text) ?? [];
      expect(notes[0]).toMatch(/^CP\.PHAR\.244 I\.A\.5\.a: /);
      expect(notes).toContain('Reviewer: Send the methotrexate trial dates and the reason it was stopped.');
      expect(notes).toContain('Or complete the DTR questionnaire http://pa.example.org/fhir/Questionnaire/cp-phar-244-kineret');
      expect(cr.communicationRequest?.[0]?.reference).toBe(`http://pa.test/fhir/CommunicationRequest/${communication?.id}`);

      const detail = await review.detail(id);
      expect(detail).toMatchObject({ status: 'information-requested', version: 2 });
      expect(new Date(detail?.dueAt ?? '').getTime() - new Date(dueBefore).getTime()).toBe(14 * DAY);
      expect((await store.getClaim(id))?.decidedAt).toBeNull();

      // A second request does not extend the timeframe again.
      await review.decide(id, { action: 'request-info', reviewer: physician, note: 'Also the latest CDAI.' });
      expect((await review.detail(id))?.dueAt).toBe(detail?.dueAt);
      const actions = await store.listReviewActions(id);
      expect(actions.map((a) => a.action)).toEqual(['request-info', 'request-info']);
      expect(actions[0]?.changes.dueAt).toEqual({ from: dueBefore, to: detail?.dueAt });
      expect(actions[1]?.changes.dueAt).toBeUndefined();
      // Still decidable afterwards.
      const approved = await review.decide(id, { action: 'approve', reviewer: physician });
      expect(approved.record.version).toBe(4);
    });

    it('needs criteria or a note; any reviewer may ask, whatever the route', async () => {
      const id = await pended('carvykti');
      expect(await refused(review.decide(id, { action: 'request-info', reviewer: physician }))).toMatchObject({ status: 400, expression: ['note'] });
      const result = await review.decide(id, { action: 'request-info', reviewer: physician, note: 'Send the apheresis date.' });
      expect(result.record.outcome).toBe('pend');
    });
  });

  describe('route rules from the catalog', () => {
    it('Carvykti (CP.PHAR.533) is decided by the committee only', async () => {
      const id = await pended('carvykti');
      for (const reviewer of [physician, director]) {
        for (const action of ['approve', 'deny'] as const) {
          const r = await refused(review.decide(id, { action, reviewer, reason: 'x' }));
          expect(r.status).toBe(403);
          expect(r.expression).toEqual(['reviewer.role']);
          expect(r.text).toMatch(/routes this request to the pharmacy and therapeutics committee/);
        }
      }
      const result = await review.decide(id, { action: 'approve', reviewer: committee });
      const cr = claimResponseOf(result.bundle);
      // CP.PHAR.533 I.A: 3 months.
      expect(cr.preAuthRef).toBeDefined();
      expect(result.record.outcome).toBe('approve');
    });

    it('a medical director may decide what a physician reviewer may', async () => {
      const id = await pended('kineret');
      const result = await review.decide(id, { action: 'deny', reviewer: director, reason: 'Not documented.', criteria: ['CP.PHAR.244 I.A.4'] });
      expect(result.record.outcome).toBe('deny');
    });
  });

  describe('a request no policy covers', () => {
    /** The same Kineret request to a payer with no policy in the catalog (NAIC 99999). */
    const otherPayer: Parameters<typeof pasRequest>[1] = (_claim, bundle) => {
      for (const e of bundle.entry ?? []) {
        if (e.resource?.resourceType === 'Organization' && e.resource.id === 'payer-centene-60001') e.resource.identifier = [{ system: 'urn:oid:2.16.840.1.113883.6.300', value: '99999' }];
      }
    };

    it('is approved only with a period the reviewer gives, and then certified (A1) with a number', async () => {
      const id = await pended('kineret', 2 * HOUR, otherPayer);
      const detail = await review.detail(id);
      expect(detail).toMatchObject({ policy: null, route: 'physician-reviewer', defaultPeriod: null, criteria: [] });
      expect(await refused(review.decide(id, { action: 'approve', reviewer: physician }))).toMatchObject({ status: 400, expression: ['period'] });
      const result = await review.decide(id, { action: 'approve', reviewer: physician, period: { start: '2026-11-21', end: '2027-05-20' } });
      const cr = claimResponseOf(result.bundle);
      expect(readReviewAction(cr.item?.[0] ?? { itemSequence: 1, adjudication: [] })?.code).toBe('A1');
      expect(cr.preAuthPeriod).toEqual({ start: '2026-11-21', end: '2027-05-20' });
      expect((await store.getAuthorization(cr.preAuthRef ?? ''))?.policyId).toBeNull();
    });

    it('is denied with a reason alone (there are no criteria to cite): A3', async () => {
      const id = await pended('kineret', 2 * HOUR, otherPayer);
      const result = await review.decide(id, { action: 'deny', reviewer: physician, reason: 'Not a covered benefit of this plan.' });
      const cr = claimResponseOf(result.bundle);
      expect(readReviewAction(cr.item?.[0] ?? { itemSequence: 1, adjudication: [] })?.code).toBe('A3');
      expect(cr.processNote?.some((n) => n.text?.includes('Not a covered benefit of this plan.'))).toBe(true);
    });
  });

  describe('assign', () => {
    it('records who assigned whom, and refuses once final', async () => {
      const id = await pended('kineret');
      await review.assign(id, 'Dr. Lena Ortiz', director);
      await review.assign(id, 'Dr. Amir Haddad', director);
      expect((await review.detail(id))?.assignee).toBe('Dr. Amir Haddad');
      const actions = await store.listReviewActions(id);
      expect(actions.map((a) => a.changes.assignee)).toEqual([
        { from: null, to: 'Dr. Lena Ortiz' },
        { from: 'Dr. Lena Ortiz', to: 'Dr. Amir Haddad' },
      ]);
      expect(actions[0]).toMatchObject({ action: 'assign', reviewer: { name: director.name, role: 'medical-director' }, version: null });
      await review.decide(id, { action: 'approve', reviewer: physician });
      expect((await refused(review.assign(id, 'someone', director))).status).toBe(409);
    });
  });

  it('the CMS-0057-F report counts by policy, month and timeframe, with average and median hours to decision', async () => {
    const sql = rawSql(store);
    const ids = {
      a: await pended('kineret'),
      b: await pended('kineret'),
      c: await pended('kineret'),
      d: await pended('kineret'),
      urgent: await pended('carvykti'),
      urgentInfo: await pended('carvykti'),
    };
    await review.decide(ids.a, { action: 'approve', reviewer: physician });
    await review.decide(ids.b, { action: 'approve', reviewer: physician });
    await review.decide(ids.c, { action: 'deny', reviewer: physician, reason: 'No DMARD trial.', criteria: ['CP.PHAR.244 I.A.5.a'] });
    await review.decide(ids.urgent, { action: 'deny', reviewer: committee, reason: 'CNS involvement on the MRI of 2026-11-02.' });
    await review.decide(ids.urgentInfo, { action: 'request-info', reviewer: physician, note: 'Send the apheresis date.' });
    // Received in March 2031 (no other test's rows), decided 2, 4 and 9 hours later; one decided after its due time.
    const received = (id: string, at: string, hours: number | null) =>
      sql.query(
        `UPDATE claims SET created_at = $2::timestamptz,
           decided_at = CASE WHEN $3::float8 IS NULL THEN NULL ELSE $2::timestamptz + $3::float8 * interval '1 hour' END,
           due_at = $2::timestamptz + CASE WHEN expedited THEN interval '72 hours' ELSE interval '7 days' END
         WHERE id = $1`,
        [id, at, hours],
      );
    await received(ids.a, '2031-03-02T08:00:00Z', 2);
    await received(ids.b, '2031-03-05T08:00:00Z', 4);
    await received(ids.c, '2031-03-09T08:00:00Z', 9);
    await received(ids.d, '2031-03-20T08:00:00Z', null);
    await received(ids.urgent, '2031-03-21T08:00:00Z', 80);
    await received(ids.urgentInfo, '2031-04-01T08:00:00Z', null);

    const rows = await store.priorAuthorizationReport({ since: '2031-01-01T00:00:00Z' });
    expect(rows).toEqual([
      {
        policyId: 'cp-phar-244',
        month: '2031-03',
        expedited: false,
        requests: 4,
        approved: 2,
        denied: 1,
        pended: 1,
        cancelled: 0,
        approvedAfterReview: 2,
        extended: 0,
        decided: 3,
        averageSeconds: 5 * 3600,
        medianSeconds: 4 * 3600,
        decidedLate: 0,
      },
      expect.objectContaining({ policyId: 'cp-phar-533', month: '2031-03', expedited: true, requests: 1, denied: 1, decided: 1, medianSeconds: 80 * 3600, decidedLate: 1 }),
      expect.objectContaining({ policyId: 'cp-phar-533', month: '2031-04', expedited: true, requests: 1, pended: 1, extended: 1, decided: 0, averageSeconds: null, medianSeconds: null }),
    ]);
    expect(await store.priorAuthorizationReport({ since: '2031-03-01T00:00:00Z', until: '2031-04-01T00:00:00Z' })).toHaveLength(2);
  });

  it('an unknown claim is a 404', async () => {
    expect((await refused(review.decide('no-such-claim', { action: 'approve', reviewer: physician }))).status).toBe(404);
    expect((await refused(review.assign('no-such-claim', 'x', physician))).status).toBe(404);
  });
});
