/**
 * The authorization service's decision path (src/authorization/decide.ts), without the engine or a
 * store: a scripted engine answer and the member's authorizations on file, table-driven.
 */
import type { Coverage, MedicationRequest } from 'fhir/r4';
import { decideOrder, drugKeyOf, grantAuthorization, type MemberFile, type OrderInput } from '../../src/authorization';
import type { Decision } from '../../src/engine/decision';
import type { PriorAuthorization } from '../../src/engine/request';
import type { Authorization } from '../../src/store';
import { memberKeyOf } from '../../src/store';

const VALUE_SET = 'http://pa.example.org/fhir/ValueSet/drug-kineret';
const catalog = { get: (id: string) => (id === 'cp-phar-244' ? ({ drug: { valueSet: VALUE_SET } } as never) : undefined) };
const coverage: Coverage = { resourceType: 'Coverage', status: 'active', subscriberId: 'M-1', beneficiary: { reference: 'Patient/p1' }, payor: [{ reference: 'Organization/o' }] };
const MEMBER = memberKeyOf('60001', coverage, 'p1');
const order: MedicationRequest = {
  resourceType: 'MedicationRequest',
  id: 'mr1',
  status: 'draft',
  intent: 'order',
  subject: { reference: 'Patient/p1' },
  identifier: [{ system: 'urn:orders', value: 'RX-1' }],
  medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '349325' }] },
};

function decision(outcome: Decision['outcome'], extra: Partial<Decision> = {}): Decision {
  return {
    policy: { id: 'cp-phar-244', title: 'Kineret', citationPrefix: 'CP.PHAR.244', version: '1' },
    indication: null,
    phase: 'initial',
    outcome,
    reviewRoute: 'auto',
    criteria: [],
    reasons: [{ code: outcome === 'approve' ? 'criteria-met' : outcome === 'deny' ? 'not-authorized' : 'criteria-unknown', text: outcome }],
    ...(outcome === 'approve' ? { approvalPeriod: { start: '2026-11-20', end: '2027-05-19' } } : {}),
    warnings: [],
    evaluatedAt: '2026-11-20T12:00:00.000Z',
    ...extra,
  };
}

function authorization(number: string, extra: Partial<Authorization> = {}): Authorization {
  return {
    number,
    memberKey: MEMBER,
    policyId: 'cp-phar-244',
    drugKey: VALUE_SET,
    orderKey: 'urn:orders|RX-OTHER',
    status: 'approved',
    basis: 'review',
    start: '2026-06-01',
    end: '2026-12-01',
    decisionId: null,
    createdAt: '2026-06-01T10:00:00.000Z',
    updatedAt: '2026-06-01T10:00:00.000Z',
    ...extra,
  };
}

const file = (authorizations: Authorization[]): MemberFile => ({ memberKey: MEMBER, authorizations, today: '2026-11-20' });
const input = (answer: Decision, extra: Partial<OrderInput> = {}): OrderInput => ({
  order,
  drugCodes: order.medicationCodeableConcept?.coding ?? [],
  evaluate: async () => answer,
  answerFromFile: true,
  ...extra,
});

describe('decideOrder', () => {
  test('a fresh approval comes back with the authorization that granting it files', async () => {
    const result = await decideOrder(file([]), input(decision('approve')), catalog);
    expect(result.keys).toEqual({ memberKey: '60001|M-1', drugKey: VALUE_SET, orderKey: 'urn:orders|RX-1' });
    expect(result.onFile).toBeUndefined();
    expect(result.grant).toEqual({
      memberKey: '60001|M-1',
      policyId: 'cp-phar-244',
      drugKey: VALUE_SET,
      orderKey: 'urn:orders|RX-1',
      status: 'approved',
      basis: 'review',
      start: '2026-11-20',
      end: '2027-05-19',
    });
  });

  test('an approval a policy rule made (one a year) is filed with basis rule', async () => {
    const ruled = decision('approve', { reasons: [{ code: 'prior-authorization-on-file', text: 'rule' }] });
    expect((await decideOrder(file([]), input(ruled), catalog)).grant?.basis).toBe('rule');
  });

  test.each<[string, Decision['outcome'], Authorization[], Partial<OrderInput>, string | undefined]>([
    ['a valid authorization for the drug answers a pended order', 'pend', [authorization('PA-1')], {}, 'PA-1'],
    ['the one for this very order first', 'pend', [authorization('PA-1'), authorization('PA-2', { orderKey: 'urn:orders|RX-1' })], {}, 'PA-2'],
    ['a fresh deny wins over the authorization on file', 'deny', [authorization('PA-1')], {}, undefined],
    ['not when answers from file are off (renewal, unsolicited determinations off)', 'pend', [authorization('PA-1')], { answerFromFile: false }, undefined],
    ['not an expired one', 'pend', [authorization('PA-1', { end: '2026-11-19' })], {}, undefined],
    ['not a cancelled one', 'pend', [authorization('PA-1', { status: 'cancelled' })], {}, undefined],
    ['not another member\'s', 'pend', [authorization('PA-1', { memberKey: '60001|M-2' })], {}, undefined],
    ['the number an unchanged line kept answers even with answers from file off', 'pend', [authorization('PA-K', { end: '2026-01-01' })], { answerFromFile: false, keptNumber: 'PA-K' }, 'PA-K'],
    ['a kept number that was cancelled does not', 'pend', [authorization('PA-K', { status: 'cancelled' })], { answerFromFile: false, keptNumber: 'PA-K' }, undefined],
  ])('%s', async (_name, outcome, onFile, extra, answeredBy) => {
    const result = await decideOrder(file(onFile), input(decision(outcome), extra), catalog);
    expect(result.onFile?.number).toBe(answeredBy);
    if (answeredBy) {
      expect(result.decision.outcome).toBe('approve');
      expect(result.decision.reasons[0]?.code).toBe('authorization-on-file');
      expect(result.grant).toBeUndefined();
    } else {
      expect(result.decision.outcome).toBe(outcome);
    }
  });

  test('the engine sees the authorizations on file as prior therapy; CRD leaves out this order\'s own', async () => {
    const seen: PriorAuthorization[][] = [];
    const on = [authorization('PA-OWN', { orderKey: 'urn:orders|RX-1' }), authorization('PA-OTHER')];
    const evaluate = async (prior: PriorAuthorization[]) => {
      seen.push(prior);
      return decision('pend');
    };
    await decideOrder(file(on), input(decision('pend'), { evaluate }), catalog);
    await decideOrder(file(on), input(decision('pend'), { evaluate, ownOrderIsNotPrior: true }), catalog);
    expect(seen.map((s) => s.map((p) => p.number))).toEqual([['PA-OWN', 'PA-OTHER'], ['PA-OTHER']]);
  });

  test('no policy: the drug is keyed by the product code; an order known only by id is keyed under its FHIR server', async () => {
    const { id: _id, identifier: _identifier, ...bare } = order;
    const result = await decideOrder(file([]), input(decision('pend', { policy: null }), { order: { ...bare, id: 'mr9' }, fhirServer: 'https://ehr.example.org/fhir/' }), catalog);
    expect(result.keys).toEqual({ memberKey: MEMBER, drugKey: 'http://www.nlm.nih.gov/research/umls/rxnorm|349325', orderKey: 'https://ehr.example.org/fhir|MedicationRequest/mr9' });
  });
});

describe('grantAuthorization and drugKeyOf', () => {
  test.each([
    ['the policy drug value set', { drug: { valueSet: VALUE_SET } }, [{ system: 's', code: 'c' }], VALUE_SET],
    ['the first product code without a policy', undefined, [{ system: 's', code: 'c' }, { system: 't', code: 'd' }], 's|c'],
    ['unknown-drug when the order names no code', undefined, [], 'unknown-drug'],
  ])('drug key: %s', (_name, policy, codes, key) => {
    expect(drugKeyOf(policy, codes)).toBe(key);
  });

  test('a reviewer approval is filed approved, with basis review and the period given', () => {
    expect(grantAuthorization({ memberKey: MEMBER, drugKey: VALUE_SET, orderKey: null }, { policyId: null, basis: 'review', period: { start: '2026-11-20', end: '2027-11-19' } })).toEqual({
      memberKey: MEMBER,
      policyId: null,
      drugKey: VALUE_SET,
      orderKey: null,
      status: 'approved',
      basis: 'review',
      start: '2026-11-20',
      end: '2027-11-19',
    });
  });
});
