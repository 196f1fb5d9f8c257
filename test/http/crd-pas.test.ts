/**
 * CRD and PAS share one authorization: order-sign grants it on the spot (`satisfied`), and a later
 * PAS `Claim/$submit` for the same order (same MedicationRequest business identifier) answers A1
 * with the same authorization number and period instead of a new decision.
 *
 * The PAS request is built from the same chart the order-sign fixture was built from
 * (fixtures/cp-phar-244/ra-approvable.json): the Claim of fixtures/pas/kineret-request-base.json
 * re-pointed at that patient, Coverage, payer and requester, and the order as signed.
 */
import type { Bundle, ClaimResponse, Coverage, Extension } from 'fhir/r4';
import type express from 'express';
import { readReviewAction } from '../../src/pas/response';
import type { CdsServiceResponse } from '../../src/crd/types';
import { createTestApp, type TestApp } from '../support/app';
import { ORDER_NUMBER_SYSTEM } from '../support/crd-requests';
import { callHook, checkedApp, one, onlyCoverageInformation, type CheckLog, type HookRequest } from '../support/crd-client';
import { approvableChart, pasBundleFor, signRequest, submitOk } from '../support/pas-requests';

let t: TestApp;
let app: express.Express;
let checks: CheckLog;

beforeAll(async () => {
  t = await createTestApp();
  ({ app, checks } = checkedApp(t.app));
});
afterAll(async () => {
  await t.close();
});
afterAll(() => {
  expect(checks.problems).toEqual([]);
  expect(checks.checked).toBeGreaterThan(0);
});

async function orderSign(body: HookRequest): Promise<Extension> {
  const res = await callHook(app, body);
  expect(res.status).toBe(200);
  return onlyCoverageInformation(res.body as CdsServiceResponse);
}

const submit = (bundle: Bundle): Promise<ClaimResponse> => submitOk(t.app, bundle);

describe('order-sign grants satisfied → a later PAS $submit for that order returns it', () => {
  test('A1 with the same authorization number and period', async () => {
    const crd = signRequest('RX-2026-FLOW-1');
    const info = await orderSign(crd);
    expect(one(info, 'pa-needed')).toBe('satisfied');
    const number = one(info, 'satisfied-pa-id');
    expect(number).toBeDefined();

    const claimResponse = await submit(pasBundleFor(crd));
    const action = readReviewAction(claimResponse.item![0]!);
    expect(action?.code).toBe('A1');
    expect(claimResponse.preAuthRef).toBe(number);
    expect(action?.number).toBe(number);
    expect(claimResponse.preAuthPeriod?.end).toBe(one(info, 'expiry-date'));

    // Still one authorization for the order: $submit returned it, it did not issue another.
    const forOrder = (await t.ctx.store.listAuthorizations({ memberKey: '60001|GA7741920365' })).filter((a) => a.orderKey === `${ORDER_NUMBER_SYSTEM}|RX-2026-FLOW-1`);
    expect(forOrder.map((a) => a.number)).toEqual([number]);
  });

  test('control: the same chart for another member with an order CRD never saw gets its own, new authorization from $submit', async () => {
    const resources = approvableChart();
    const coverage = resources.find((r): r is Coverage => r.resourceType === 'Coverage')!;
    coverage.subscriberId = 'GA0000000201';
    coverage.identifier = [{ system: 'http://pa.example.org/fhir/sid/medicaid-member-id', value: 'GA0000000201' }];
    const claimResponse = await submit(pasBundleFor(signRequest('RX-2026-FLOW-UNSEEN'), resources));
    expect(readReviewAction(claimResponse.item![0]!)?.code).toBe('A1');
    const issued = (await t.ctx.store.listAuthorizations({ memberKey: '60001|GA0000000201' })).map((a) => a.number);
    expect(issued).toEqual([claimResponse.preAuthRef]);
  });
});

describe('no policy for the member: CRD and PAS say the same thing', () => {
  // CRD 2.0.1 hooks.md (Hook categories): for order-sign CRD servers SHALL return a
  // coverage-information system action. A Centene commercial member ordering Kineret (the Kineret
  // policies are Medicaid-only): PAS pends for clinical review (A4), so CRD says auth-needed.
  const commercial = (coverage: Coverage): void => {
    coverage.type = { coding: [{ system: 'urn:oid:2.16.840.1.113883.3.221.5', code: '5', display: 'Commercial' }] };
  };

  test('CRD: covered, auth-needed, a reason; PAS: A4 for the same chart', async () => {
    const crd = signRequest('RX-2026-COMMERCIAL-1');
    const searchset = crd.prefetch.coverage as Bundle;
    commercial(searchset.entry![0]!.resource as Coverage);
    const res = await callHook(app, crd);
    expect(res.status).toBe(200);
    const info = onlyCoverageInformation(res.body as CdsServiceResponse);
    expect(one(info, 'covered')).toBe('covered');
    expect(one(info, 'pa-needed')).toBe('auth-needed');
    const reason = info.extension?.find((e) => e.url === 'reason');
    expect(JSON.stringify(reason)).toMatch(/line of business/);

    const resources = approvableChart();
    commercial(resources.find((r): r is Coverage => r.resourceType === 'Coverage')!);
    const claimResponse = await submit(pasBundleFor(crd, resources));
    expect(readReviewAction(claimResponse.item![0]!)?.code).toBe('A4');
    expect((claimResponse.processNote ?? []).map((n) => n.text).join(' ')).toMatch(/line of business/);
  });
});
