/**
 * The same patient bundle under two Centene plans: NH Healthy Families (payer 60002, NH.PHAR.244)
 * approves it and the Centene Medicaid plan (payer 60001, CP.PHAR.244) pends it. The one criterion
 * that differs is the RA biologic step: NH.PHAR.244 I.A.5 asks for one or more preferred products
 * (adalimumab and Xeljanz failed: met), CP.PHAR.244 I.A.5.b asks for Actemra too (never tried: unknown).
 */
import type { Decision } from '../../src/engine/decision';
import { criterion, statuses } from '../support/policy-kit';
import { kit } from './kit';

const BASE = 'ra-one-preferred-product';

/** Criteria both policies state the same way (same section ids). */
const SHARED = ['I.A.1', 'I.A.2', 'I.A.3', 'I.A.4', 'I.A.6', 'I.A.7', 'I.A.8'];

describe('one RA patient, two Centene plans', () => {
  let nh: Decision;
  let cp: Decision;
  beforeAll(async () => {
    const bundle = kit.load(BASE);
    nh = await kit.evaluate(bundle, { payerValue: '60002' });
    cp = await kit.evaluate(bundle, { payerValue: '60001' });
  });

  test('payer 60002 selects NH.PHAR.244 and approves for 6 months', () => {
    expect(nh.policy?.id).toBe('nh-phar-244');
    expect(nh.outcome).toBe('approve');
    expect(nh.approvalPeriod).toEqual({ start: '2026-11-20', end: '2027-05-19' });
    expect(nh.reasons).toEqual([expect.objectContaining({ code: 'criteria-met', citation: 'NH.PHAR.244 I.A' })]);
  });

  test('payer 60001 selects CP.PHAR.244 and pends it for a physician reviewer', () => {
    expect(cp.policy?.id).toBe('cp-phar-244');
    expect(cp.outcome).toBe('pend');
    expect(cp.reviewRoute).toBe('physician-reviewer');
    expect(cp.approvalPeriod).toBeUndefined();
  });

  test('the differing criterion is the preferred-product step: NH I.A.5 met, CP I.A.5.b (Actemra) unknown', () => {
    expect(criterion(nh, 'I.A.5')).toMatchObject({ citation: 'NH.PHAR.244 I.A.5', status: 'met' });
    expect(criterion(cp, 'I.A.5.b')).toMatchObject({ citation: 'CP.PHAR.244 I.A.5.b', status: 'unknown' });
    // The only reason CP gives is that one criterion.
    expect(cp.reasons).toEqual([expect.objectContaining({ code: 'criteria-unknown', citation: 'CP.PHAR.244 I.A.5.b' })]);
    // CP's other biologic steps agree with what made NH's I.A.5 met.
    expect(criterion(cp, 'I.A.5.a').status).toBe('met');
    expect(criterion(cp, 'I.A.5.c').status).toBe('met');
    expect(criterion(nh, 'I.A.5').evidence).toEqual(['MedicationRequest/medreq-xeljanz', 'MedicationStatement/medstmt-adalimumab']);
  });

  test('every criterion the two policies share decides the same for this patient', () => {
    const nhStatuses = statuses(nh);
    const cpStatuses = statuses(cp);
    for (const id of SHARED) expect([id, nhStatuses[id]]).toEqual([id, cpStatuses[id]]);
    expect(Object.keys(nhStatuses).filter((id) => !SHARED.includes(id))).toEqual(['I.A.5']);
    expect(Object.keys(cpStatuses).filter((id) => !SHARED.includes(id))).toEqual(['I.A.5.a', 'I.A.5.b', 'I.A.5.c']);
  });

  test('with an Actemra failure attested, CP.PHAR.244 approves the same patient too', async () => {
    const bundle = kit.load(BASE);
    bundle.entry!.push({
      resource: {
        resourceType: 'QuestionnaireResponse',
        id: 'qr-cp',
        questionnaire: 'http://pa.example.org/fhir/Questionnaire/cp-phar-244-kineret|1.0.0',
        status: 'completed',
        subject: { reference: 'Patient/pt-ra-approvable' },
        authored: '2026-11-19T16:05:00-05:00',
        item: [{ linkId: 'tocilizumab-failed', answer: [{ valueBoolean: true }] }],
      },
    });
    const decision = await kit.evaluate(bundle, { payerValue: '60001' });
    expect(criterion(decision, 'I.A.5.b').status).toBe('met');
    expect(decision.outcome).toBe('approve');
  });
});
