/**
 * 201603 decisions: review routes (physician reviewer for requests that do not meet the criteria, the
 * Medical Director for COVID-19 and cytokine release syndrome), conditions not recommended for approval
 * recorded as such, never an automatic denial, approval durations, the site-of-care rule for Medicare
 * members, line-of-business selection, and the same patient under Centene's CP.PHAR.244.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Coding } from 'fhir/r4';
import { REPO_ROOT } from '../../src/config';
import type { PolicyDefinition } from '../../src/catalog/types';
import { add, getEngine, remove, setSpecialty, statement, statuses } from '../support/policy-kit';
import { ABATACEPT, ICD10, kit, SOP } from './kit';

const { evaluate, load, requestFor } = kit;
const dx = (code: string): Coding[] => [{ system: ICD10, code }];
const catalogEntry = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'catalog', 'policies', 'mm-201603.json'), 'utf8')) as PolicyDefinition;

describe('201603 review routes', () => {
  test.each([
    ['COVID-19 (U07.1)', 'U07.1', 'COVID19'],
    ['cytokine release syndrome (D89.839)', 'D89.839', 'CRS'],
  ])('%s goes to the Medical Director, initial or continued', async (_name, code, indication) => {
    for (const phaseHint of ['initial', 'continuation'] as const) {
      const decision = await evaluate(load('ra-approvable'), { diagnoses: dx(code), phaseHint });
      expect(decision.indication?.id).toBe(indication);
      expect(decision.outcome).toBe('pend');
      expect(decision.reviewRoute).toBe('medical-director');
      expect(decision.approvalPeriod).toBeUndefined();
      expect(decision.reasons).toEqual([expect.objectContaining({ code: 'review-required', citation: '201603 CNR.5', text: expect.stringContaining('Medical Director') })]);
    }
  });

  test.each([
    ['ankylosing spondylitis', 'M45.9', 'AS', 'CNR.1'],
    ['lupus arthritis', 'M32.14', 'LUPUS', 'CNR.3'],
    ['osteoarthritis', 'M16.0', 'OA', 'CNR.4'],
  ])('%s is recorded as not recommended and goes to a physician reviewer', async (_name, code, indication, section) => {
    const bundle = load('ra-approvable');
    remove(bundle, 'Condition/cond-ra');
    const decision = await evaluate(bundle, { diagnoses: dx(code) });
    expect(decision.indication?.id).toBe(indication);
    expect(decision.outcome).toBe('pend');
    expect(decision.reviewRoute).toBe('physician-reviewer');
    expect(decision.reasons).toEqual([
      expect.objectContaining({ code: 'review-required', citation: `201603 ${section}`, text: expect.stringMatching(/^Not recommended for approval: /) }),
    ]);
  });

  test('a use the policy does not list is reviewed case by case by a physician reviewer (CNR.6)', async () => {
    const bundle = load('ra-approvable');
    remove(bundle, 'Condition/cond-ra');
    const decision = await evaluate(bundle, { diagnoses: dx('L40.0') });
    expect(decision.indication?.id).toBe('OTHER');
    expect(decision.outcome).toBe('pend');
    expect(decision.reviewRoute).toBe('physician-reviewer');
    expect(decision.reasons[0]).toMatchObject({ code: 'review-required', citation: '201603 CNR.6' });
  });

  test('a combination with another biologic is pended as not recommended, not denied', async () => {
    const bundle = load('ra-approvable');
    add(bundle, statement(bundle, 'medstmt-orencia', ABATACEPT, '2026-09-01'));
    const decision = await evaluate(bundle);
    expect(decision.outcome).toBe('pend');
    expect(decision.reviewRoute).toBe('physician-reviewer');
    expect(decision.reasons).toEqual([expect.objectContaining({ code: 'criteria-unmet', citation: '201603 CNR.2', text: expect.stringContaining('Not recommended') })]);
  });

  test('the catalog never denies: no criterion denies when unmet and no phase is denied outright', () => {
    const phases = catalogEntry.indications.flatMap((i) => [i.initial, ...(i.continuation ? [i.continuation] : [])]);
    expect(phases.filter((p) => p.disposition === 'deny')).toEqual([]);
    const criteria = [...(catalogEntry.globalCriteria ?? []), ...phases.flatMap((p) => p.criteria)];
    expect(criteria.filter((c) => c.onUnmet === 'deny')).toEqual([]);
  });

  test('a request that fails every criterion is pended for a physician reviewer', async () => {
    const bundle = load('ra-approvable');
    remove(bundle, (r) => r.resourceType === 'MedicationDispense');
    add(bundle, statement(bundle, 'medstmt-orencia', ABATACEPT, '2026-10-20'));
    setSpecialty(bundle, 'role-osei-rheumatology', '207Q00000X', 'Family Medicine Physician');
    kit.answer(bundle, { 'targeted-dmard-trial': false, 'soc-clinically-unstable': false, 'soc-severe-reaction': false, 'soc-chemotherapy-or-dialysis': false, 'soc-impairment-no-caregiver': false, 'soc-unmanaged-adverse-events': false });
    const decision = await evaluate(bundle, { placeOfService: '22' });
    expect(statuses(decision)).toEqual({ 'CNR.2': 'unmet', '1.A.i': 'unmet', '1.A.ii': 'unmet', '1.A.iii': 'unmet' });
    expect(decision.outcome).toBe('pend');
    expect(decision.reviewRoute).toBe('physician-reviewer');
    expect(decision.reasons.map((r) => r.code)).toEqual(['criteria-unmet', 'criteria-unmet', 'criteria-unmet', 'criteria-unmet']);
  });
});

describe('201603 approval', () => {
  test('initial therapy: 6 months, with the RA dose from the Dosing section', async () => {
    const decision = await evaluate(load('ra-approvable'));
    expect(decision.outcome).toBe('approve');
    expect(decision.reviewRoute).toBe('auto');
    expect(decision.approvalPeriod).toEqual({ start: '2026-11-20', end: '2027-05-19' });
    expect(decision.quantityNote).toContain('100 mg once a day');
  });

  test.each(['caps-child', 'dira-infant', 'sjia-child', 'stills-adult'])('%s: approved for 6 months from the record (and its questionnaire)', async (base) => {
    const decision = await evaluate(load(base));
    expect(decision.outcome).toBe('approve');
    expect(decision.approvalPeriod).toEqual({ start: '2026-11-20', end: '2027-05-19' });
  });
});

describe('201603 site of care and line of business', () => {
  const medicare = (code: string) => {
    const request = requestFor(load('ra-approvable'), { placeOfService: '22' });
    request.payer.lineOfBusiness = [{ system: SOP, code, display: code === '1' ? 'MEDICARE' : 'Medicare Managed Care' }];
    return request;
  };

  test('hospital outpatient for an adult commercial member with no exception: pended', async () => {
    const decision = await evaluate(load('ra-approvable'), { placeOfService: '22' });
    expect(decision.outcome).toBe('pend');
    expect(decision.reasons).toEqual([expect.objectContaining({ code: 'criteria-unknown', citation: '201603 1.A.iii' })]);
  });

  test.each([
    ['Medicare (1)', '1'],
    ['Medicare Advantage (11)', '11'],
  ])('%s: the site-of-care rule does not apply', async (_name, code) => {
    const policy = getEngine().catalog.get('mm-201603')!;
    const decision = await getEngine().evaluatePolicy(policy, medicare(code));
    expect(statuses(decision)).toEqual({ 'CNR.2': 'met', '1.A.i': 'met', '1.A.ii': 'met', '1.A.iii': 'not-applicable' });
    expect(decision.outcome).toBe('approve');
  });

  test('the catalog serves 201603 for commercial members only: a Medicare request finds no policy and goes to review', async () => {
    const decision = await getEngine().evaluate(medicare('1'));
    expect(decision.policy).toBeNull();
    expect(decision.outcome).toBe('pend');
    expect(decision.reasons[0]?.code).toBe('no-policy');
  });
});

describe('the same RA patient under two payers', () => {
  test('approved by Medical Mutual (201603: one biologic trial is enough), pended by Centene Medicaid (CP.PHAR.244 wants Actemra and Xeljanz too)', async () => {
    const bundle = load('ra-approvable');
    const mm = await evaluate(bundle);
    expect(mm.policy?.id).toBe('mm-201603');
    expect(mm.outcome).toBe('approve');

    const request = requestFor(load('ra-approvable'));
    request.payer = { identifiers: [{ system: 'urn:oid:2.16.840.1.113883.6.300', value: '60001' }], lineOfBusiness: [{ system: SOP, code: '2' }], planValues: [] };
    const centene = await getEngine().evaluate(request);
    expect(centene.policy?.id).toBe('cp-phar-244');
    expect(centene.outcome).toBe('pend');
    expect(statuses(centene)).toMatchObject({ 'I.A.5.a': 'met', 'I.A.5.b': 'unknown', 'I.A.5.c': 'unknown' });
  });
});

