/**
 * Issue 12, PAS: business rejections and quantity-limited approvals, through `Claim/$submit` on the
 * real app (catalog, CQL, PGlite), for the ra-approvable chart that CP.PHAR.244 certifies.
 *
 * Rules followed (PAS 2.2.1 package):
 * - profile-claimresponse-base `ClaimResponse.error.code`: binding required to X12278RejectReasonCodes
 *   (X12 901, https://codesystem.x12.org/005010/901); `ClaimResponse.error` comment: "If the request
 *   contains errors then an error element should be provided and no adjudication related sections
 *   (item, addItem, or payment) should be present"; `outcome` from ClaimResponseOutcome (`error`).
 * - ClaimResponse-ErrorResponseExample: errorElement, errorPath and errorFollowupAction (X12 889) on the error.
 * - profile-coverage: `identifier:memberid` 1..*.
 * - profile-claimresponse-base: `addItem` (itemSequence, productOrService, quantity, serviced[x],
 *   adjudication.extension:reviewAction) must-support; extension-reviewActionCode X12 306 (`A6` modified).
 */
import type { Bundle, ClaimResponse, Coverage, Extension, OperationOutcome, Organization } from 'fhir/r4';
import { readReviewAction } from '../../src/pas/response';
import { loadConfig } from '../../src/config';
import { createTestApp, type TestApp } from '../support/app';
import { claimOf, pasBundleFor, postSubmit, signRequest, submitOk } from '../support/pas-requests';

let t: TestApp;
beforeAll(async () => {
  // A decision that times out on a loaded machine pends; these tests are about the answer, not the time.
  t = await createTestApp({ evaluation: { ...loadConfig().evaluation, timeoutMs: 60_000 } });
}, 60_000);
afterAll(async () => {
  await t.close();
});

const X12_901 = 'https://codesystem.x12.org/005010/901';
const PAS_SD = 'http://hl7.org/fhir/us/davinci-pas/StructureDefinition';

let counter = 0;
function approvable(change: (bundle: Bundle) => void = () => undefined): Bundle {
  counter += 1;
  const bundle = pasBundleFor(signRequest(`ORD-BR-${counter}`));
  change(bundle);
  return bundle;
}

const coverageOf = (bundle: Bundle) => bundle.entry!.find((e) => e.resource?.resourceType === 'Coverage')!.resource as Coverage;
const ext = (exts: Extension[] | undefined, name: string) => exts?.find((e) => e.url === `${PAS_SD}/${name}`);

async function rejected(bundle: Bundle): Promise<{ cr: ClaimResponse; body: Bundle }> {
  const res = await postSubmit(t.app, bundle);
  expect(res.status).toBe(200);
  const body = res.body as Bundle;
  const cr = body.entry?.[0]?.resource as ClaimResponse;
  expect(cr.resourceType).toBe('ClaimResponse');
  return { cr, body };
}

describe('business rejections: outcome error, X12 901 in ClaimResponse.error, no item (profile-claimresponse-base ClaimResponse.error)', () => {
  const cases: [string, (b: Bundle) => void, string, string][] = [
    ['a Coverage that is cancelled (X12 901 78)', (b) => void (coverageOf(b).status = 'cancelled'), '78', 'status'],
    [
      'a Coverage whose period ended before the requested dates (X12 901 78)',
      (b) => void (coverageOf(b).period = { start: '2020-01-01', end: '2025-12-31' }),
      '78',
      'period',
    ],
    [
      'a Coverage without a member id (profile-coverage identifier:memberid 1..*; X12 901 72)',
      (b) => {
        delete coverageOf(b).identifier;
        delete coverageOf(b).subscriberId;
      },
      '72',
      'identifier',
    ],
    [
      'no payer identifier on Claim.insurer or Coverage.payor (X12 901 T4, as the IG ErrorResponseExample)',
      (b) => {
        for (const e of b.entry ?? []) if (e.resource?.resourceType === 'Organization') delete (e.resource as Organization).identifier;
      },
      'T4',
      'identifier',
    ],
  ];

  test.each(cases)('%s', async (_name, change, code, element) => {
    const bundle = approvable(change);
    const { cr, body } = await rejected(bundle);
    expect(cr.outcome).toBe('error');
    expect(cr.item).toBeUndefined();
    expect(cr.addItem).toBeUndefined();
    expect(cr.preAuthRef).toBeUndefined();
    expect(cr.error).toHaveLength(1);
    const error = cr.error![0]!;
    expect(error.code.coding).toEqual([expect.objectContaining({ system: X12_901, code })]);
    expect(ext(error.extension, 'extension-errorPath')?.valueString).toMatch(new RegExp(`^Bundle\\.entry\\[\\d+\\]\\.resource\\.${element}$`));
    expect(ext(error.extension, 'extension-errorElement')?.extension?.[0]).toMatchObject({ url: 'error', valueString: expect.stringMatching(/^2010[AC]-NM109$/) });
    expect(ext(error.extension, 'extension-errorFollowupAction')?.valueCodeableConcept?.coding?.[0]).toMatchObject({
      system: 'https://codesystem.x12.org/005010/889',
      code: 'C',
    });
    expect(cr.disposition).toMatch(/^Rejected: /);
    // Nothing was adjudicated or stored: named by its identifier, not as a stored Claim.
    expect(cr.request).toEqual({ identifier: claimOf(bundle).identifier![0] });
    expect(body.entry?.some((e) => e.resource?.resourceType === 'ClaimResponse' && e !== body.entry?.[0])).toBe(false);
    expect(await t.ctx.store.findClaimByIdentifier(claimOf(bundle).identifier![0]!.system!, claimOf(bundle).identifier![0]!.value!)).toBeNull();
  });

  test('the same chart with an active Coverage is still certified (A1): the rules do not touch a valid request', async () => {
    const cr = await submitOk(t.app, approvable());
    expect(cr.outcome).toBe('complete');
    expect(cr.error).toBeUndefined();
    expect(readReviewAction(cr.item![0]!)?.code).toBe('A1');
  });

  test('a payer with identifiers the catalog does not serve is not rejected: pended for review (payers.md)', async () => {
    const bundle = approvable((b) => {
      for (const e of b.entry ?? []) {
        const org = e.resource as Organization;
        if (org.resourceType === 'Organization') for (const id of org.identifier ?? []) if (id.system === 'urn:oid:2.16.840.1.113883.6.300') id.value = '99999';
      }
    });
    const cr = await submitOk(t.app, bundle);
    expect(cr.outcome).toBe('complete');
    expect(readReviewAction(cr.item![0]!)?.code).toBe('A4');
  });
});

describe('quantity-limited approvals: A6 with the authorized line in addItem (CP.PHAR.244 I.A.8.b: at most 1 syringe per day)', () => {
  function asking(value: number, unit = 'syringe'): Bundle {
    return approvable((b) => {
      const item = claimOf(b).item![0]!;
      item.quantity = { value, unit };
      item.servicedPeriod = { start: '2026-12-01', end: '2027-05-31' };
    });
  }

  test('400 syringes for Dec 1 to May 31 are cut to one a day of the authorized days (A6, addItem, citation)', async () => {
    const cr = await submitOk(t.app, asking(400));
    const item = cr.item![0]!;
    const action = readReviewAction(item);
    expect(action?.code).toBe('A6');
    expect(action?.number).toBe(cr.preAuthRef);
    // Authorized 2026-11-20 to 2027-05-19 (6 months, CP.PHAR.244 I.A); asked from 2026-12-01: 170 days.
    expect(cr.preAuthPeriod).toEqual({ start: '2026-11-20', end: '2027-05-19' });
    expect(cr.addItem).toHaveLength(1);
    const added = cr.addItem![0]!;
    expect(added.itemSequence).toEqual([1]);
    expect(added.quantity).toEqual({ value: 170, unit: 'syringe' });
    expect(added.productOrService).toEqual(claimOf(asking(1)).item![0]!.productOrService);
    expect(added.servicedPeriod).toEqual({ start: '2026-12-01', end: '2027-05-31' });
    expect(readReviewAction({ itemSequence: 1, adjudication: added.adjudication })).toEqual({ code: 'A6', number: cr.preAuthRef, reasons: [] });
    expect(ext(added.extension, 'extension-itemPreAuthPeriod')?.valuePeriod).toEqual(cr.preAuthPeriod);
    const detail = ext(item.extension, 'extension-itemAuthorizedDetail');
    expect(detail?.extension?.find((e) => e.url === 'quantity')?.valueQuantity).toEqual({ value: 170, unit: 'syringe' });
    const notes = (cr.processNote ?? []).filter((n) => added.noteNumber?.includes(n.number ?? -1)).map((n) => n.text);
    expect(notes.join(' ')).toContain('modified under CP.PHAR.244 I.A.8.b — 400 syringe asked, 170 syringe authorized');
  });

  test('30 syringes over the same period are within the limit: A1, no addItem, the quantity as asked', async () => {
    const cr = await submitOk(t.app, asking(30, 'syringes'));
    expect(readReviewAction(cr.item![0]!)?.code).toBe('A1');
    expect(cr.addItem).toBeUndefined();
  });

  test('a quantity in another unit is not compared: A1 as asked, with a warning naming Claim.item.quantity', async () => {
    const res = await postSubmit(t.app, asking(400, 'mL'));
    const body = res.body as Bundle;
    const cr = body.entry![0]!.resource as ClaimResponse;
    expect(readReviewAction(cr.item![0]!)?.code).toBe('A1');
    const outcome = body.entry!.find((e) => e.resource?.resourceType === 'OperationOutcome')?.resource as OperationOutcome;
    expect(outcome.issue).toContainEqual(
      expect.objectContaining({ severity: 'warning', code: 'not-supported', expression: ['Bundle.entry[0].resource.item[0].quantity'] }),
    );
  });
});
