/**
 * CP.PHAR.533 decisions: every request goes to committee (PDAC) review with the full criteria evaluation,
 * never approved automatically; continued therapy is never authorized; approval limits (3 months, one
 * dose, tocilizumab); lines of business (commercial incl. marketplace/ICHRA, Medicaid; not Medicare);
 * the drug named by HCPCS Q2056; other diagnoses.
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../src/config';
import type { PolicyDefinition } from '../../src/catalog/types';
import { add, getEngine, remove, setSpecialty, statuses } from '../support/policy-kit';
import { administration, CILTA_CEL, ICD10, kit, removeMyelomaTherapy, SOP } from './kit';

const { answer, evaluate, load, requestFor } = kit;
const catalogEntry = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'catalog', 'policies', 'cp-phar-533.json'), 'utf8')) as PolicyDefinition;
const ALL_MET = {
  'I.A.1': 'met', 'I.A.2': 'met', 'I.A.3': 'met', 'I.A.4': 'met', 'I.A.5': 'met', 'I.A.6': 'met', 'I.A.7': 'met', 'I.A.8': 'met', 'I.A.9': 'met', 'I.A.10': 'met',
  'I.A approval duration': 'met',
};

describe('CP.PHAR.533: committee review', () => {
  test('every criterion met: pended for committee review, carrying the whole evaluation and the approval limits', async () => {
    const decision = await evaluate(load('rrmm-approvable'));
    expect(decision.policy?.id).toBe('cp-phar-533');
    expect(statuses(decision)).toEqual(ALL_MET);
    expect(decision.outcome).toBe('pend');
    expect(decision.reviewRoute).toBe('committee');
    expect(decision.approvalPeriod).toBeUndefined();
    expect(decision.reasons).toEqual([
      { code: 'review-required', text: 'All criteria are met; the policy requires committee review before approval.', citation: 'CP.PHAR.533 I.A' },
    ]);
    expect(decision.quantityNote).toMatch(/One Carvykti infusion only .*Q2056.*1 x 10\^8.*up to 4 doses of tocilizumab.*800 mg/);
    // The committee starts from the evidence of each criterion.
    for (const c of decision.criteria.filter((x) => x.id !== 'I.A.9')) expect([c.id, c.evidence.length > 0]).toEqual([c.id, true]);
  });

  test('criteria not met or not documented: still committee review, never a denial', async () => {
    const bundle = load('rrmm-approvable');
    setSpecialty(bundle, 'role-raman-hemonc', '207R00000X', 'Internal Medicine Physician');
    answer(bundle, { 'no-cns-involvement': false, 'no-prior-anti-bcma': null });
    const decision = await evaluate(bundle);
    expect(statuses(decision)).toEqual({ ...ALL_MET, 'I.A.2': 'unmet', 'I.A.6': 'unmet', 'I.A.7': 'unknown' });
    expect(decision.outcome).toBe('pend');
    expect(decision.reviewRoute).toBe('committee');
    expect(decision.reasons.map((r) => [r.code, r.citation])).toEqual([
      ['criteria-unmet', 'CP.PHAR.533 I.A.2'],
      ['criteria-unmet', 'CP.PHAR.533 I.A.6'],
      ['criteria-unknown', 'CP.PHAR.533 I.A.7'],
    ]);
  });

  test('no initial criterion denies on its own: every request reaches the committee', () => {
    const initial = catalogEntry.indications.flatMap((i) => i.initial.criteria);
    expect(initial.filter((c) => c.onUnmet === 'deny')).toEqual([]);
    expect(catalogEntry.reviewRoute).toBe('committee');
    expect(catalogEntry.indications.every((i) => (i.reviewRoute ?? catalogEntry.reviewRoute) === 'committee')).toBe(true);
  });
});

describe('CP.PHAR.533 II.A: continued therapy is never authorized', () => {
  test('a request for continued therapy (PAS certification type) is denied', async () => {
    const decision = await evaluate(load('rrmm-approvable'), { phaseHint: 'continuation' });
    expect(decision.phase).toBe('continuation');
    expect(decision.outcome).toBe('deny');
    expect(decision.reasons).toEqual([{ code: 'not-authorized', text: 'Continued therapy is not authorized: Carvykti is given as one dose only.', citation: 'CP.PHAR.533 II.A' }]);
    expect(decision.approvalPeriod).toBeUndefined();
  });

  test('a Carvykti infusion already given makes the request a second dose: denied', async () => {
    const bundle = load('rrmm-approvable');
    add(bundle, administration(bundle, 'medadmin-carvykti-2025', CILTA_CEL, '2025-12-02'));
    const decision = await evaluate(bundle);
    expect(decision.phase).toBe('continuation');
    expect(decision.outcome).toBe('deny');
  });

  test('a Carvykti approval on file that has run out makes it a second dose; one still running does not', async () => {
    const approval = { number: 'PA-533-2026-0007', policyId: 'cp-phar-533', start: '2026-05-01', end: '2026-07-31', status: 'approved' as const };
    expect((await evaluate(load('rrmm-approvable'), { priorAuthorizations: [approval] })).outcome).toBe('deny');
    const running = { ...approval, start: '2026-11-01', end: '2027-01-31' };
    const decision = await evaluate(load('rrmm-approvable'), { priorAuthorizations: [running] });
    expect(decision.phase).toBe('initial');
    expect(decision.outcome).toBe('pend');
  });

  test('the questionnaire saying Carvykti was already given makes it a second dose', async () => {
    const decision = await evaluate(answer(load('rrmm-approvable'), { 'continued-therapy': true }));
    expect(decision.outcome).toBe('deny');
  });
});

describe('CP.PHAR.533: selection and other uses', () => {
  test.each([
    ['commercial / marketplace (5)', '5'],
    ['Medicaid (2)', '2'],
    ['Medicaid HMO (21)', '21'],
  ])('%s: the policy applies', async (_name, code) => {
    const request = requestFor(load('rrmm-approvable'));
    request.payer.lineOfBusiness = [{ system: SOP, code }];
    const decision = await getEngine().evaluate(request);
    expect(decision.policy?.id).toBe('cp-phar-533');
    expect(decision.reviewRoute).toBe('committee');
  });

  test('Medicare (1): no policy in the catalog, clinical review', async () => {
    const request = requestFor(load('rrmm-approvable'));
    request.payer.lineOfBusiness = [{ system: SOP, code: '1' }];
    const decision = await getEngine().evaluate(request);
    expect(decision.policy).toBeNull();
    expect(decision.outcome).toBe('pend');
  });

  test('a claim naming only HCPCS Q2056 selects the policy', async () => {
    const request = requestFor(load('rrmm-approvable'));
    request.drug = { codes: [{ system: 'https://bluebutton.cms.gov/resources/codesystem/hcpcs', code: 'Q2056' }] };
    const decision = await getEngine().evaluate(request);
    expect(decision.policy?.id).toBe('cp-phar-533');
    expect(decision.indication?.id).toBe('MM');
  });

  test('another diagnosis (diffuse large B-cell lymphoma): the off-label or label-change policies, through the committee', async () => {
    const bundle = load('rrmm-approvable');
    remove(bundle, 'Condition/cond-mm');
    removeMyelomaTherapy(bundle);
    const decision = await evaluate(bundle, { diagnoses: [{ system: ICD10, code: 'C83.38' }] });
    expect(decision.indication?.id).toBe('OTHER');
    expect(decision.outcome).toBe('pend');
    expect(decision.reviewRoute).toBe('committee');
    expect(decision.reasons[0]).toMatchObject({ code: 'review-required', citation: 'CP.PHAR.533 I.B', text: expect.stringContaining('CP.CPA.09 commercial, HIM.PA.154 marketplace/ICHRA, CP.PMN.53 Medicaid') });
  });
});
