/**
 * Molina Kineret guideline, Texas Marketplace appendix (Texas Insurance Code 1369.654: at most one
 * prior authorization a year for a drug that treats an autoimmune disease).
 *
 * How the catalog tells the Texas Marketplace plan (catalog/policies/molina-kineret-tx.json): a Molina
 * private coverage (Source of Payment Typology 5) whose Coverage.class of type plan is
 * MOLINA-TX-MARKETPLACE, or whose member lives in Texas. That more specific line wins over the general
 * Molina entry; both share the MolinaKineret library and the questionnaire.
 *
 * The rule (APPENDIX.TX, `approveWithoutReview`): a Molina approval of Kineret for this member that
 * began within the last 12 months is on file → approved without a new review; after 12 months, for
 * another member, another drug, or an off-label use (1369.654(b)(4)) the request is reviewed again.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, Condition, Coverage, MedicationRequest, Patient } from 'fhir/r4';
import { REPO_ROOT } from '../../src/config';
import type { PriorAuthorization } from '../../src/engine/request';
import { asPriorAuthorizations, memberKeyOf, openStore, type Store } from '../../src/store';
import { approvalBasis, type Decision } from '../../src/engine/decision';
import { criterion, getEngine, ofType, patch } from '../support/policy-kit';
import { CINCA, ICD10, kit, MUCKLE_WELLS, SNOMED } from './kit';

const { answer, load, evaluate, requestFor } = kit;
const BASE = 'ra-texas-marketplace';
const RULE = 'Molina Kineret guideline APPENDIX.TX';

const approval = (start: string, end: string, extra: Partial<PriorAuthorization> = {}): PriorAuthorization => ({
  number: 'PA-20260501-7K3QX9ZB',
  policyId: 'molina-kineret-tx',
  start,
  end,
  status: 'approved',
  ...extra,
});
/** Approved 1 May 2026 for 6 months (ended 31 Oct), so within the last 12 months on 20 Nov 2026. */
const RECENT = approval('2026-05-01', '2026-10-31');

function setCoverage(edit: (c: Coverage) => void): (b: Bundle) => void {
  return (b) => edit(ofType(b, 'Coverage')[0] as Coverage);
}
function setState(state: string): (b: Bundle) => void {
  return (b) => {
    patch<Patient>(b, 'Patient/pt-molina-tx', (p) => { p.address![0]!.state = state; });
  };
}
type Edit = (b: Bundle) => void;
const noEdit: Edit = () => undefined;

function expectRuleApproval(decision: Decision): void {
  expect(decision.outcome).toBe('approve');
  expect(decision.reviewRoute).toBe('auto');
  expect(decision.reasons).toEqual([expect.objectContaining({ code: 'prior-authorization-on-file', citation: RULE })]);
}

function expectReview(decision: Decision): void {
  expect(decision.outcome).toBe('pend');
  expect(decision.reasons.some((r) => r.code === 'prior-authorization-on-file')).toBe(false);
}

describe('which catalog entry a Molina member gets', () => {
  test.each([
    ['Texas Marketplace plan value and a Texas address', noEdit, 'molina-kineret-tx'],
    ['the plan value alone (member lives in Oklahoma)', setState('OK'), 'molina-kineret-tx'],
    ['a Texas address alone (another private plan value)', setCoverage((c) => { c.class![0]!.value = 'MOLINA-PRIVATE-OTHER'; }), 'molina-kineret-tx'],
    [
      'a private plan outside Texas',
      (b: Bundle) => { setState('OH')(b); setCoverage((c) => { c.class![0]!.value = 'MOLINA-OH-MARKETPLACE'; })(b); },
      'molina-kineret',
    ],
    [
      'Molina Medicaid in Texas (the appendix is for the Marketplace)',
      setCoverage((c) => { c.type = { coding: [{ system: 'urn:oid:2.16.840.1.113883.3.221.5', code: '2' }] }; c.class![0]!.value = 'TX-MCD-STAR'; }),
      'molina-kineret',
    ],
  ] as [string, Edit, string][])('%s → %s', async (_name, edit, policyId) => {
    const bundle = load(BASE);
    edit(bundle);
    const decision = await evaluate(bundle);
    expect(decision.policy?.id).toBe(policyId);
  });

  test('the two entries share library, questionnaire and criteria; only id, title, line and the rule differ', () => {
    const read = (f: string) => JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'catalog', 'policies', f), 'utf8')) as Record<string, unknown>;
    const { id: _a, title: _b, linesOfBusiness: general, ...base } = read('molina-kineret.json');
    const { id, title: _c, linesOfBusiness: texas, approveWithoutReview, ...tx } = read('molina-kineret-tx.json');
    expect(id).toBe('molina-kineret-tx');
    expect(tx).toEqual(base);
    expect(approveWithoutReview).toMatchObject({ id: 'APPENDIX.TX', expression: 'Texas Authorization On File' });
    expect(texas).toEqual([expect.objectContaining({ code: '5', planValues: ['MOLINA-TX-MARKETPLACE'], states: ['TX'], description: expect.stringContaining('Texas') })]);
    expect((general as { code: string }[]).map((l) => l.code).sort()).toEqual(['1', '2', '5']);
  });
});

describe('APPENDIX.TX: one prior authorization a year', () => {
  test('without an approval on file the chart-only request is reviewed (the attestations are missing)', async () => {
    const decision = await evaluate(load(BASE));
    expect(decision.policy?.id).toBe('molina-kineret-tx');
    expect(decision.phase).toBe('initial');
    expectReview(decision);
    expect(criterion(decision, 'ALL.1').status).toBe('unknown');
  });

  test('a second request within 12 months of an approval is approved without a new review (criteria still recorded)', async () => {
    const decision = await evaluate(load(BASE), { priorAuthorizations: [RECENT] });
    expectRuleApproval(decision);
    // The approval ended 20 days ago: the request continues therapy, approved for the continuation period.
    expect(decision.phase).toBe('continuation');
    expect(decision.approvalPeriod).toEqual({ start: '2026-11-20', end: '2027-11-19' });
    expect(criterion(decision, 'CONT.A.1').status).toBe('unknown');
    expect(criterion(decision, 'CONT.A.1').citation).toBe('Molina Kineret guideline CONT.A.1');
  });

  test('an approval under the general Molina entry (same member and drug) counts too', async () => {
    expectRuleApproval(await evaluate(load(BASE), { priorAuthorizations: [approval('2026-02-02', '2026-08-01', { policyId: 'molina-kineret' })] }));
  });

  test('an approval that began 11 months ago still counts; as an initial request it gets 6 months', async () => {
    const decision = await evaluate(load(BASE), { priorAuthorizations: [approval('2025-12-21', '2026-06-20')] });
    expect(decision.phase).toBe('initial');
    expectRuleApproval(decision);
    expect(decision.approvalPeriod).toEqual({ start: '2026-11-20', end: '2027-05-19' });
  });

  test.each([
    ['began exactly 12 months ago', approval('2025-11-20', '2026-05-19')],
    ['began 13 months ago', approval('2025-10-15', '2026-04-14')],
    ['is for another drug (another policy)', approval('2026-05-01', '2026-10-31', { policyId: 'cp-phar-533' })],
    ['was denied', approval('2026-05-01', '2026-10-31', { status: 'denied' })],
    ['was only pended', approval('2026-05-01', '2026-10-31', { status: 'pended' })],
    ['was itself granted by this rule, without a review', approval('2026-05-01', '2026-10-31', { basis: 'rule' })],
  ])('an authorization that %s does not spare the review', async (_name, onFile) => {
    expectReview(await evaluate(load(BASE), { priorAuthorizations: [onFile] }));
  });

  test('the same approval does not apply outside the Texas Marketplace (Ohio private plan)', async () => {
    const bundle = load(BASE);
    setState('OH')(bundle);
    setCoverage((c) => { c.class![0]!.value = 'MOLINA-OH-MARKETPLACE'; })(bundle);
    const decision = await evaluate(bundle, { priorAuthorizations: [approval('2026-05-01', '2026-10-31', { policyId: 'molina-kineret' })] });
    expect(decision.policy?.id).toBe('molina-kineret');
    expectReview(decision);
  });

  describe('1369.654(b)(4): only FDA-approved uses (RA, NOMID, DIRA)', () => {
    const recodeTo = (codings: { system: string; code: string; display: string }[]) => (b: Bundle) => {
      patch<Condition>(b, 'Condition/cond-ra', (c) => { c.code = { coding: codings }; });
      patch<MedicationRequest>(b, 'MedicationRequest/medreq-kineret', (m) => { m.reasonCode = [{ coding: codings }]; });
    };

    test('systemic JIA (off-label) is reviewed again', async () => {
      const bundle = load(BASE);
      recodeTo([{ system: ICD10, code: 'M08.20', display: 'Juvenile rheumatoid arthritis with systemic onset, unspecified site' }])(bundle);
      const decision = await evaluate(bundle, { priorAuthorizations: [RECENT] });
      expect(decision.indication?.id).toBe('JIA');
      expectReview(decision);
    });

    test('Muckle-Wells syndrome (CAPS, not the labeled NOMID) is reviewed again', async () => {
      const bundle = load(BASE);
      recodeTo([{ system: SNOMED, code: MUCKLE_WELLS.code, display: MUCKLE_WELLS.display }, { system: ICD10, code: 'M04.2', display: 'Cryopyrin-associated periodic syndromes' }])(bundle);
      answer(bundle, { 'caps-phenotype': MUCKLE_WELLS });
      const decision = await evaluate(bundle, { priorAuthorizations: [RECENT] });
      expect(decision.indication?.id).toBe('CAPS');
      expectReview(decision);
    });

    test('CAPS coded only M04.2 with no phenotype given: not shown to be NOMID, reviewed again', async () => {
      const bundle = load(BASE);
      recodeTo([{ system: ICD10, code: 'M04.2', display: 'Cryopyrin-associated periodic syndromes' }])(bundle);
      expectReview(await evaluate(bundle, { priorAuthorizations: [RECENT] }));
    });

    test('NOMID / CINCA (labeled) is approved on file', async () => {
      const bundle = load(BASE);
      recodeTo([{ system: SNOMED, code: CINCA.code, display: CINCA.display }, { system: ICD10, code: 'M04.2', display: 'Cryopyrin-associated periodic syndromes' }])(bundle);
      const decision = await evaluate(bundle, { priorAuthorizations: [RECENT] });
      expect(decision.indication?.id).toBe('CAPS');
      expectRuleApproval(decision);
    });

    test('DIRA (labeled) is approved on file', async () => {
      const bundle = load(BASE);
      recodeTo([{ system: ICD10, code: 'M04.8', display: 'Other autoinflammatory syndromes' }])(bundle);
      const decision = await evaluate(bundle, { priorAuthorizations: [RECENT] });
      expect(decision.indication?.id).toBe('DIRA');
      expectRuleApproval(decision);
    });
  });
});

describe('APPENDIX.TX with the store: same member, another member, a year later', () => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore({ dataDir: 'memory://' });
  });
  afterAll(async () => {
    await store.close();
  });

  const PAYER = '60003';
  const memberOf = (b: Bundle) => memberKeyOf(PAYER, ofType(b, 'Coverage')[0]!, 'pt-molina-tx');
  async function decideWithStore(bundle: Bundle, evaluationDate: Date): Promise<Decision> {
    const onFile = asPriorAuthorizations(await store.listAuthorizations({ memberKey: memberOf(bundle) }));
    return getEngine().evaluate({ ...requestFor(bundle, { evaluationDate }), priorAuthorizations: onFile });
  }
  /** A fully documented first request (the questionnaire gives the attestations). */
  function documented(): Bundle {
    const bundle = load(BASE);
    answer(bundle, { 'no-untreated-infection': true, 'non-preferred-product': false, 'baseline-evaluation': true, 'treatment-goals': true, 'mtx-max-tolerated-dose': true });
    return bundle;
  }

  test('first request: reviewed against the criteria and approved; filed under the member', async () => {
    const bundle = documented();
    const decision = await decideWithStore(bundle, new Date('2026-11-20T15:00:00Z'));
    expect(decision.outcome).toBe('approve');
    expect(decision.reasons.map((r) => r.code)).toEqual(['criteria-met']);
    await store.createAuthorization({
      memberKey: memberOf(bundle),
      policyId: decision.policy!.id,
      drugKey: '72435',
      status: 'approved',
      start: decision.approvalPeriod!.start,
      end: decision.approvalPeriod!.end,
    });
  });

  test('same member, 4 months later, chart only: approved without a new review, and filed as a rule approval', async () => {
    const bundle = load(BASE);
    const decision = await decideWithStore(bundle, new Date('2027-03-20T15:00:00Z'));
    expectRuleApproval(decision);
    expect(approvalBasis(decision)).toBe('rule');
    await store.createAuthorization({
      memberKey: memberOf(bundle),
      policyId: decision.policy!.id,
      drugKey: '72435',
      status: 'approved',
      basis: approvalBasis(decision),
      start: decision.approvalPeriod!.start,
      end: decision.approvalPeriod!.end,
    });
  });

  test('another member with the same chart: nothing on file, reviewed', async () => {
    const other = load(BASE);
    setCoverage((c) => { c.subscriberId = 'MTX9900112'; c.identifier![0]!.value = 'MTX9900112'; })(other);
    expect(await store.listAuthorizations({ memberKey: memberOf(other) })).toEqual([]);
    expectReview(await decideWithStore(other, new Date('2027-03-20T15:00:00Z')));
  });

  // The rule approval of 2027-03-20 is within 12 months, but it was not a review: it cannot open a new year.
  test('same member, 13 months after the reviewed approval (a rule approval since): reviewed again', async () => {
    const decision = await decideWithStore(load(BASE), new Date('2027-12-21T15:00:00Z'));
    expect(decision.policy?.id).toBe('molina-kineret-tx');
    expectReview(decision);
  });
});
