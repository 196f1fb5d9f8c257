/**
 * A request's life after its first answer (PAS 2.2.1): resends, identifier reuse, concurrent
 * duplicates, updates and cancels (profile-claim-update), authorizations on file, and the
 * CMS-0057-F decision clock. On PGlite, and on PostgreSQL when DATABASE_URL is set.
 *
 * Rules followed:
 * - PAS "Claim updates": an update names the request it replaces in `related.claim` (relationship
 *   `prior`); lines are cancelled with `modifierextension-infoCancelled` or certificationType `3`
 *   (X12 1322), changed with `extension-infoChanged`; a cancelled line is answered X12 306 `C`.
 * - CMS-0057-F: decisions within 72 hours for expedited requests, 7 calendar days for standard ones.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, Claim, ClaimItem, ClaimResponse, Coverage, Extension, FhirResource, OperationOutcome } from 'fhir/r4';
import request from 'supertest';
import { readReviewAction } from '../../src/pas/response';
import { PAS_EXT, SYSTEM } from '../../src/pas/codes';
import type { CdsServiceResponse } from '../../src/crd/types';
import { createTestApp, EVALUATION_DATE, type TestApp } from '../support/app';
import { callHook, one, onlyCoverageInformation } from '../support/crd-client';
import { ORDER_NUMBER_SYSTEM } from '../support/crd-requests';
import { approvableChart, claimIdOf, claimOf, pasBundleFor, postSubmit, signRequest, submitOk } from '../support/pas-requests';
import { DATABASE_URL, freshSchema } from '../support/postgres';

const PENDING = path.join(__dirname, '../../fixtures/pas/kineret-request-base.json');
const PAYER = '60001';

/** The approvable chart for another member (so each test starts with no authorization on file). */
function chartFor(memberId: string): FhirResource[] {
  const resources = approvableChart();
  const coverage = resources.find((r): r is Coverage => r.resourceType === 'Coverage');
  if (!coverage) throw new Error('chart has no Coverage');
  coverage.subscriberId = memberId;
  coverage.identifier = [{ system: 'http://pa.example.org/fhir/sid/medicaid-member-id', value: memberId }];
  return resources;
}

function approvable(memberId: string, orderNumber: string, claimIdentifier?: string): Bundle {
  return pasBundleFor(signRequest(orderNumber), chartFor(memberId), claimIdentifier);
}

function pending(identifier: string, priority?: string): Bundle {
  const bundle = JSON.parse(fs.readFileSync(PENDING, 'utf8')) as Bundle;
  const claim = claimOf(bundle);
  claim.identifier = [{ system: 'http://riverside-rheum.example.org/fhir/identifier/prior-auth-request', value: identifier }];
  if (priority) claim.priority = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/processpriority', code: priority }] };
  return bundle;
}

const certification = (code: string): Extension => ({
  url: PAS_EXT.certificationType,
  valueCodeableConcept: { coding: [{ system: SYSTEM.x12CertificationType, code }] },
});

/** An update of `original` (answered as `claimResponse`): new identifier, related.claim prior. */
function updateOf(original: Bundle, claimResponse: ClaimResponse, edit: (claim: Claim) => void): Bundle {
  const bundle = structuredClone(original);
  const claim = claimOf(bundle);
  claim.identifier = [{ system: claim.identifier?.[0]?.system ?? 'urn:test', value: `${claim.identifier?.[0]?.value ?? 'x'}-UPDATE` }];
  claim.related = [
    {
      claim: { reference: claimResponse.request?.reference ?? '' },
      relationship: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/ex-relatedclaimrelationship', code: 'prior' }] },
    },
  ];
  edit(claim);
  return bundle;
}

const action = (response: ClaimResponse, i = 0) => readReviewAction(response.item?.[i] as NonNullable<ClaimResponse['item']>[number]);

interface Backend {
  name: string;
  enabled: boolean;
  open(): Promise<{ t: TestApp; drop: () => Promise<void> }>;
}

const backends: Backend[] = [
  { name: 'PGlite', enabled: true, open: async () => ({ t: await createTestApp(), drop: async () => undefined }) },
  {
    name: 'PostgreSQL',
    enabled: Boolean(DATABASE_URL),
    open: async () => {
      const schema = await freshSchema();
      return { t: await createTestApp({ databaseUrl: schema.databaseUrl }), drop: schema.drop };
    },
  },
];

describe.each(backends.filter((b) => b.enabled))('request lifecycle on $name', (backend) => {
  let t: TestApp;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    ({ t, drop } = await backend.open());
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await drop?.();
  });

  describe('resubmission', () => {
    test('the same request sent again gets the stored answer, and no second authorization', async () => {
      const bundle = approvable('LC-RESEND', 'RX-LC-RESEND');
      const first = await submitOk(t.app, bundle);
      expect(action(first)?.code).toBe('A1');
      // A resend: new transmission envelope, same resources.
      const again = await submitOk(t.app, { ...bundle, id: 'resend', timestamp: '2026-11-21T09:00:00Z' });
      expect(again.id).toBe(first.id);
      expect(again.preAuthRef).toBe(first.preAuthRef);
      const authorizations = await t.ctx.store.listAuthorizations({ memberKey: `${PAYER}|LC-RESEND` });
      expect(authorizations.map((a) => a.number)).toEqual([first.preAuthRef]);
    });

    test('the same identifier with other content is a 409 that names the identifier, not the other answer', async () => {
      // As the PAS IG's Homecare and MedicalServices examples do: two requests, one identifier value.
      await submitOk(t.app, pending('LC-SAME-ID'));
      const other = pending('LC-SAME-ID');
      claimOf(other).item![0]!.quantity = { value: 60, unit: 'syringe' };
      const res = await postSubmit(t.app, other);
      expect(res.status).toBe(409);
      const outcome = res.body as OperationOutcome;
      expect(outcome.issue[0]).toMatchObject({ code: 'duplicate', expression: ['Bundle.entry[0].resource.identifier[0]'] });
      expect(outcome.issue[0]?.diagnostics).toMatch(/related\.claim/);
    });

    test('concurrent duplicates make one decision and at most one authorization number', async () => {
      const bundle = approvable('LC-RACE', 'RX-LC-RACE');
      const answers = await Promise.all(Array.from({ length: 6 }, () => postSubmit(t.app, bundle)));
      expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
      const ids = new Set(answers.map((r) => ((r.body as Bundle).entry?.[0]?.resource as ClaimResponse).id));
      expect(ids.size).toBe(1);
      const authorizations = await t.ctx.store.listAuthorizations({ memberKey: `${PAYER}|LC-RACE` });
      expect(authorizations).toHaveLength(1);
      const claims = await t.ctx.store.listClaims({ submitterKeys: undefined, limit: 1000 });
      expect(claims.filter((c) => c.identifierValue === claimOf(bundle).identifier?.[0]?.value)).toHaveLength(1);
    });
  });

  describe('cancels', () => {
    test('a Claim-level cancel (certificationType 3, related.claim) answers C, revokes the authorization and versions the original', async () => {
      const original = approvable('LC-CANCEL', 'RX-LC-CANCEL');
      const approved = await submitOk(t.app, original);
      const number = approved.preAuthRef;
      expect(number).toBeDefined();

      const cancel = updateOf(original, approved, (claim) => {
        claim.extension = [...(claim.extension ?? []), certification('3')];
      });
      const answer = await submitOk(t.app, cancel);
      expect(action(answer)?.code).toBe('C');
      expect(answer.preAuthRef).toBeUndefined();
      expect(answer.processNote?.[0]?.text).toMatch(/cancelled/);

      expect((await t.ctx.store.getAuthorization(number ?? ''))?.status).toBe('cancelled');
      // The original's ClaimResponse is the same resource, at version 2, cancelled.
      const read = await request(t.app).get(`/fhir/ClaimResponse/${approved.id}`);
      expect(read.status).toBe(200);
      const current = read.body as ClaimResponse;
      expect(current.meta?.versionId).toBe('2');
      expect(action(current)?.code).toBe('C');
      expect(current.preAuthRef).toBeUndefined();
      expect(current.disposition).toMatch(/^Cancelled by the provider's request/);
      const originalClaimId = claimIdOf(approved);
      const versions = await t.ctx.store.listClaimResponseVersions(originalClaimId);
      expect(versions.map((v) => [v.version, v.outcome, v.event])).toEqual([
        [1, 'approve', 'submit'],
        [2, 'cancelled', 'cancel'],
      ]);
      expect((await t.ctx.store.getClaim(originalClaimId))?.decidedAt).not.toBeNull();
    });

    test('the submit and its cancel each leave one audit row, written with the claim, and a resend leaves none', async () => {
      const original = approvable('LC-AUDIT', 'RX-LC-AUDIT');
      const submitted = await postSubmit(t.app, original);
      expect(submitted.status).toBe(200);
      const approved = (submitted.body as Bundle).entry?.[0]?.resource as ClaimResponse;
      expect((await postSubmit(t.app, original)).status).toBe(200); // a resend: the stored answer, no new row
      const cancelled = await postSubmit(
        t.app,
        updateOf(original, approved, (claim) => {
          claim.extension = [...(claim.extension ?? []), certification('3')];
        }),
      );
      expect(cancelled.status).toBe(200);
      const ids = [submitted, cancelled].map((r) => String(r.headers['x-request-id']));
      const rows = (await t.ctx.store.listAudit(1000)).filter((a) => a.action.startsWith('pas.') && ids.includes(a.requestId));
      expect(rows.map((a) => [a.requestId, a.action, a.outcome, a.status]).sort()).toEqual(
        [
          [ids[0], 'pas.submit', 'approve', 200],
          [ids[1], 'pas.cancel', 'cancelled', 200],
        ].sort(),
      );
      for (const row of rows) expect(row.latencyMs).toBeGreaterThanOrEqual(0);
    });

    test('a cancel that names the request by its own identifier (no related.claim) cancels it', async () => {
      const original = approvable('LC-CANCEL-ID', 'RX-LC-CANCEL-ID');
      const approved = await submitOk(t.app, original);
      const cancel = structuredClone(original);
      claimOf(cancel).extension = [...(claimOf(cancel).extension ?? []), certification('3')];
      const answer = await submitOk(t.app, cancel);
      expect(action(answer)?.code).toBe('C');
      expect((await t.ctx.store.getAuthorization(approved.preAuthRef ?? ''))?.status).toBe('cancelled');
      // Sent again, the cancel replays its own answer.
      expect((await submitOk(t.app, cancel)).id).toBe(answer.id);
    });

    test('an item cancelled with infoCancelled is answered C and never adjudicated as a new request', async () => {
      const original = approvable('LC-ITEM', 'RX-LC-ITEM');
      const approved = await submitOk(t.app, original);
      const update = updateOf(original, approved, (claim) => {
        const item = claim.item![0]!;
        item.modifierExtension = [{ url: PAS_EXT.infoCancelled, valueBoolean: true }];
        item.extension = [...(item.extension ?? []), { url: PAS_EXT.infoChanged, valueCode: 'changed' }];
      });
      const answer = await submitOk(t.app, update);
      expect(action(answer)?.code).toBe('C');
      const authorizations = await t.ctx.store.listAuthorizations({ memberKey: `${PAYER}|LC-ITEM` });
      expect(authorizations.map((a) => [a.number, a.status])).toEqual([[approved.preAuthRef, 'cancelled']]);
    });

    test('CRD stops answering satisfied with a revoked authorization', async () => {
      const crd = signRequest('RX-LC-CRD-CANCEL');
      const info = onlyCoverageInformation((await callHook(t.app, crd)).body as CdsServiceResponse);
      const number = one(info, 'satisfied-pa-id');
      expect(number).toBeDefined();
      const original = pasBundleFor(crd);
      const approved = await submitOk(t.app, original);
      expect(approved.preAuthRef).toBe(number);
      await submitOk(t.app, updateOf(original, approved, (claim) => void (claim.extension = [certification('3')])));
      const again = onlyCoverageInformation((await callHook(t.app, { ...crd, hookInstance: crypto.randomUUID() })).body as CdsServiceResponse);
      expect(one(again, 'satisfied-pa-id')).not.toBe(number);
    });
  });

  describe('updates', () => {
    test('an unchanged approved line keeps its number; an added line is evaluated', async () => {
      const original = approvable('LC-UPD', 'RX-LC-UPD');
      const approved = await submitOk(t.app, original);
      const update = updateOf(original, approved, (claim) => {
        const added: ClaimItem = structuredClone(claim.item![0]!);
        added.sequence = 2;
        added.extension = [...(added.extension ?? []), { url: PAS_EXT.infoChanged, valueCode: 'added' }];
        claim.item!.push(added);
      });
      const answer = await submitOk(t.app, update);
      expect(action(answer, 0)).toMatchObject({ code: 'A1', number: approved.preAuthRef });
      expect(answer.item).toHaveLength(2);
      const authorizations = await t.ctx.store.listAuthorizations({ memberKey: `${PAYER}|LC-UPD` });
      expect(authorizations.filter((a) => a.status === 'approved').map((a) => a.number)).toEqual([approved.preAuthRef]);
      // The original now points at its replacement.
      const originalClaim = await t.ctx.store.getClaim(claimIdOf(approved));
      expect(originalClaim?.replacedByClaimId).toBe(claimIdOf(answer));
    });

    test('an update of a request that is not on file is a 400 naming related.claim', async () => {
      const bundle = approvable('LC-UNKNOWN', 'RX-LC-UNKNOWN');
      claimOf(bundle).related = [{ claim: { reference: 'Claim/no-such-claim' }, relationship: { coding: [{ code: 'prior' }] } }];
      const res = await postSubmit(t.app, bundle);
      expect(res.status).toBe(400);
      expect((res.body as OperationOutcome).issue[0]).toMatchObject({ code: 'not-found', expression: ['Bundle.entry[0].resource.related[0].claim'] });
      expect(await t.ctx.store.listAuthorizations({ memberKey: `${PAYER}|LC-UNKNOWN` })).toEqual([]);
    });
  });

  describe('authorizations on file', () => {
    test('a new order for the same member and drug is answered by the valid authorization, not a new review', async () => {
      const first = await submitOk(t.app, approvable('LC-ONFILE', 'RX-LC-ONFILE-A'));
      const second = await submitOk(t.app, approvable('LC-ONFILE', 'RX-LC-ONFILE-B'));
      expect(action(second)).toMatchObject({ code: 'A1', number: first.preAuthRef });
      expect(second.preAuthPeriod).toEqual(first.preAuthPeriod);
      expect(await t.ctx.store.listAuthorizations({ memberKey: `${PAYER}|LC-ONFILE` })).toHaveLength(1);
    });

    test('an explicit renewal (certificationType R) is reviewed for a new period instead', async () => {
      const first = await submitOk(t.app, approvable('LC-RENEW', 'RX-LC-RENEW-A'));
      const renewal = approvable('LC-RENEW', 'RX-LC-RENEW-B');
      const item = claimOf(renewal).item![0]!;
      item.extension = (item.extension ?? []).map((e) => (e.url === PAS_EXT.certificationType ? certification('R') : e));
      const answer = await submitOk(t.app, renewal);
      expect(action(answer)?.number).not.toBe(first.preAuthRef);
    });

    test('CRD: an equivalent order re-signed the next day is satisfied by the authorization granted the day before', async () => {
      const monday = onlyCoverageInformation((await callHook(t.app, signRequest('RX-LC-CRD-MON'))).body as CdsServiceResponse);
      expect(one(monday, 'pa-needed')).toBe('satisfied');
      const tuesday = onlyCoverageInformation((await callHook(t.app, signRequest('RX-LC-CRD-TUE'))).body as CdsServiceResponse);
      expect(one(tuesday, 'pa-needed')).toBe('satisfied');
      expect(one(tuesday, 'satisfied-pa-id')).toBe(one(monday, 'satisfied-pa-id'));
      expect(one(tuesday, 'expiry-date')).toBe(one(monday, 'expiry-date'));
      const orderKeys = (await t.ctx.store.listAuthorizations({ memberKey: `${PAYER}|GA7741920365` })).map((a) => a.orderKey);
      expect(orderKeys).not.toContain(`${ORDER_NUMBER_SYSTEM}|RX-LC-CRD-TUE`);
    });
  });

  describe('decision clock (CMS-0057-F)', () => {
    test.each([
      ['standard', 'normal', 7 * 24],
      ['expedited (Claim.priority stat)', 'stat', 72],
    ])('a %s pended request (priority %s) is due %i hours after receipt', async (_name, priority, hours) => {
      const answer = await submitOk(t.app, pending(`LC-CLOCK-${priority}`, priority));
      expect(action(answer)?.code).toBe('A4');
      const claim = await t.ctx.store.getClaim(claimIdOf(answer));
      expect(claim?.expedited).toBe(priority === 'stat');
      expect(claim?.dueAt).toBe(new Date(EVALUATION_DATE.getTime() + hours * 3_600_000).toISOString());
      expect(claim?.outcome).toBe('pend');
    });

    test('levelOfServiceCode U (urgent) makes a request expedited', async () => {
      const bundle = pending('LC-CLOCK-U');
      claimOf(bundle).extension = [
        { url: PAS_EXT.levelOfServiceCode, valueCodeableConcept: { coding: [{ system: 'https://codesystem.x12.org/005010/1338', code: 'U' }] } },
      ];
      const answer = await submitOk(t.app, bundle);
      expect((await t.ctx.store.getClaim(claimIdOf(answer)))?.expedited).toBe(true);
    });
  });
});

describe('two instances on one PostgreSQL', () => {
  const run = DATABASE_URL ? test : test.skip;
  run('the same Claim submitted to both at once: one decision, at most one authorization number', async () => {
    const schema = await freshSchema();
    const a = await createTestApp({ databaseUrl: schema.databaseUrl });
    const b = await createTestApp({ databaseUrl: schema.databaseUrl });
    try {
      const bundle = approvable('LC-TWO', 'RX-LC-TWO');
      const answers = await Promise.all([a, b, a, b].map((t) => postSubmit(t.app, bundle)));
      expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      const responses = answers.map((r) => (r.body as Bundle).entry?.[0]?.resource as ClaimResponse);
      expect(new Set(responses.map((r) => r.id)).size).toBe(1);
      expect(new Set(responses.map((r) => r.preAuthRef)).size).toBe(1);
      expect(await a.ctx.store.listAuthorizations({ memberKey: `${PAYER}|LC-TWO` })).toHaveLength(1);
      const decisions = await b.ctx.store.listClaims({ limit: 100 });
      expect(decisions).toHaveLength(1);
    } finally {
      await a.close();
      await b.close();
      await schema.drop();
    }
  }, 120_000);
});

describe('decision clock across daylight saving (CMS-0057-F calendar days, PAYER_TIME_ZONE America/New_York)', () => {
  test.each([
    // Thursday 15:00 EST, the Sunday after is spring forward: due the next Thursday 15:00 EDT.
    ['standard, received before spring forward', 'normal', '2026-03-05T20:00:00.000Z', '2026-03-12T19:00:00.000Z'],
    ['standard, received before fall back', 'normal', '2026-10-30T19:00:00.000Z', '2026-11-06T20:00:00.000Z'],
    ['expedited stays 72 elapsed hours', 'stat', '2026-03-06T20:00:00.000Z', '2026-03-09T20:00:00.000Z'],
  ])('%s: $submit at %s… is due at the same local time', async (_name, priority, received, due) => {
    const t = await createTestApp({ payerTimeZone: 'America/New_York' }, () => new Date(received));
    try {
      const answer = await submitOk(t.app, pending(`LC-DST-${priority}-${received}`, priority));
      expect(action(answer)?.code).toBe('A4');
      expect((await t.ctx.store.getClaim(claimIdOf(answer)))?.dueAt).toBe(due);
    } finally {
      await t.close();
    }
  });
});
