/**
 * A completed DTR QuestionnaireResponse sent with PAS `Claim/$submit` (Claim.supportingInfo →
 * the response in the request Bundle) changes the decision exactly as its answers say: "yes" to
 * what the chart could not show turns the pended Kineret request (CP.PHAR.244 I.A) into an
 * approval, "no" keeps it pended with those criteria unmet, a draft is not read. Both a static
 * response and the adaptive one `$next-question` completes.
 */
import type { Bundle, ClaimResponse, Coverage, MedicationRequest, QuestionnaireResponse, QuestionnaireResponseItemAnswer } from 'fhir/r4';
import { openStore, type Store } from '../../src/store';
import { submitClaim } from '../../src/pas/submit';
import { readReviewAction } from '../../src/pas/response';
import { silentLogger } from '../../src/logger';
import { nextQuestion } from '../../src/dtr/next-question';
import { findItem } from '../../src/dtr/prepopulate';
import type { Decision } from '../../src/engine/decision';
import { claimOf, kineretRequest } from '../pas/helpers';
import { deps, EVALUATION_DATE, KINERET_Q, originOf, param, parameters } from './support/population';

const BASE = 'http://riverside-rheum.example.org/fhir';
const PAS_TEMP = 'http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes';

let store: Store;
beforeAll(async () => {
  store = await openStore({ dataDir: 'memory://' });
});
afterAll(async () => {
  await store.close();
});

let counter = 0;
/**
 * The Kineret PAS request, made a new member with a new order and Claim identifier each time, so
 * that no test sees another's stored answer or authorization (an approval on file would make the
 * next request a continuation).
 */
function request(response?: QuestionnaireResponse, reference = response ? `QuestionnaireResponse/${response.id}` : undefined): Bundle {
  const n = ++counter;
  const bundle = kineretRequest();
  const claim = claimOf(bundle);
  claim.identifier = [{ system: 'urn:example:dtr-submit-tests', value: `claim-${process.pid}-${n}` }];
  for (const entry of bundle.entry ?? []) {
    if (entry.resource?.resourceType === 'Coverage') (entry.resource as Coverage).subscriberId = `MO-DTR-${process.pid}-${n}`;
    if (entry.resource?.resourceType === 'MedicationRequest') (entry.resource as MedicationRequest).identifier = [{ system: 'urn:example:orders', value: `order-${process.pid}-${n}` }];
  }
  if (response) {
    bundle.entry!.push({ fullUrl: `${BASE}/QuestionnaireResponse/${response.id}`, resource: response });
    claim.supportingInfo = [{ sequence: 1, category: { coding: [{ system: PAS_TEMP, code: 'additionalInformation' }] }, valueReference: { reference: reference! } }];
  }
  return bundle;
}

async function submit(bundle: Bundle): Promise<{ action?: string; claimResponse: ClaimResponse; decision: Decision }> {
  const result = await submitClaim({ engine: deps().engine, store, clock: () => EVALUATION_DATE, logger: silentLogger }, bundle, `req-${counter}`);
  expect(result.status).toBe(200);
  const claimResponse = result.body.entry?.[0]?.resource as ClaimResponse;
  const item = claimResponse.item?.[0];
  return { ...(item ? { action: readReviewAction(item)?.code } : {}), claimResponse, decision: result.decisions[0]! };
}

const statuses = (decision: Decision): Record<string, string> => Object.fromEntries(decision.criteria.map((c) => [c.id, c.status]));

type Answer = boolean | number;
function staticResponse(id: string, answers: Record<string, Answer>, status: QuestionnaireResponse['status'] = 'completed'): QuestionnaireResponse {
  const answer = (v: Answer): QuestionnaireResponseItemAnswer => (typeof v === 'boolean' ? { valueBoolean: v } : { valueDecimal: v });
  return {
    resourceType: 'QuestionnaireResponse',
    id,
    questionnaire: `${KINERET_Q}|1.0.0`,
    status,
    subject: { reference: 'Patient/pat-kineret-1' },
    authored: '2026-11-19T16:05:00-05:00',
    item: Object.entries(answers).map(([linkId, v]) => ({ linkId, answer: [answer(v)] })),
  };
}

/** What the chart of the PAS request cannot show (it has the RA diagnosis and the order only). */
const OPEN = { 'I.A.4': 'unknown', 'I.A.5.a': 'unknown', 'I.A.5.b': 'unknown', 'I.A.5.c': 'unknown', 'I.A.6': 'unknown', 'I.A.7': 'unknown' };
const YES = { 'mtx-trial-failed': true, 'adalimumab-failed': true, 'tocilizumab-failed': true, 'tofacitinib-failed': true, 'baseline-cdai': 27.5, 'no-combination': true };

describe('PAS $submit with a DTR QuestionnaireResponse', () => {
  test('without a response the request is pended (A4) on exactly the criteria the chart cannot show', async () => {
    const { action, decision, claimResponse } = await submit(request());
    expect(action).toBe('A4');
    expect(decision.outcome).toBe('pend');
    expect(statuses(decision)).toEqual({ 'I.A.1': 'met', 'I.A.2': 'met', 'I.A.3': 'met', ...OPEN, 'I.A.8': 'met' });
    expect(claimResponse.preAuthRef).toBeUndefined();
  });

  test('"yes" to each open question flips the pend to an approval (A1), each criterion citing its answer', async () => {
    const { action, decision, claimResponse } = await submit(request(staticResponse('qr-yes', YES)));
    expect(decision.outcome).toBe('approve');
    expect(action).toBe('A1');
    expect(claimResponse.preAuthRef).toMatch(/^PA-\d{8}-[2-9A-Z]{8}$/);
    expect(decision.approvalPeriod).toEqual({ start: '2026-11-20', end: '2027-05-19' });
    const evidence = Object.fromEntries(decision.criteria.map((c) => [c.id, c.evidence.filter((e) => e.startsWith('QuestionnaireResponse/'))]));
    expect(evidence).toMatchObject({
      'I.A.4': ['QuestionnaireResponse/qr-yes#mtx-trial-failed'],
      'I.A.5.a': ['QuestionnaireResponse/qr-yes#adalimumab-failed'],
      'I.A.5.b': ['QuestionnaireResponse/qr-yes#tocilizumab-failed'],
      'I.A.6': ['QuestionnaireResponse/qr-yes#baseline-cdai'],
      'I.A.7': ['QuestionnaireResponse/qr-yes#no-combination'],
    });
  });

  test('"no" to the step-therapy questions keeps it pended (A4), those criteria unmet rather than unknown', async () => {
    const answers = { ...YES, 'mtx-trial-failed': false, 'adalimumab-failed': false, 'tocilizumab-failed': false };
    const { action, decision } = await submit(request(staticResponse('qr-no', answers)));
    expect(action).toBe('A4');
    expect(decision.outcome).toBe('pend');
    expect(statuses(decision)).toMatchObject({ 'I.A.4': 'unmet', 'I.A.5.a': 'unmet', 'I.A.5.b': 'unmet', 'I.A.6': 'met', 'I.A.7': 'met' });
    expect(decision.reasons.map((r) => [r.code, r.citation])).toEqual(
      expect.arrayContaining([
        ['criteria-unmet', 'CP.PHAR.244 I.A.4'],
        ['criteria-unmet', 'CP.PHAR.244 I.A.5.a'],
        ['criteria-unmet', 'CP.PHAR.244 I.A.5.b'],
      ]),
    );
  });

  test('one "yes" missing keeps it pended on that criterion alone', async () => {
    const rest: Record<string, Answer> = { ...YES };
    delete rest['baseline-cdai'];
    const { decision } = await submit(request(staticResponse('qr-partial', rest)));
    expect(decision.outcome).toBe('pend');
    expect(decision.reasons.map((r) => [r.code, r.citation])).toEqual([['criteria-unknown', 'CP.PHAR.244 I.A.6']]);
  });

  test('a draft (in-progress) response is not read: still pended on every open criterion', async () => {
    const { decision } = await submit(request(staticResponse('qr-draft', YES, 'in-progress')));
    expect(decision.outcome).toBe('pend');
    expect(statuses(decision)).toMatchObject(OPEN);
  });
});

describe('PAS $submit with the adaptive response $next-question completed', () => {
  /** The PAS request's chart (no Claim) as $next-question data. */
  const chart = (): Bundle => {
    const bundle = kineretRequest();
    bundle.entry = (bundle.entry ?? []).filter((e) => e.resource?.resourceType !== 'Claim');
    return bundle;
  };

  async function complete(pick: (linkId: string, type: string) => QuestionnaireResponseItemAnswer | undefined): Promise<QuestionnaireResponse> {
    let response: QuestionnaireResponse = {
      resourceType: 'QuestionnaireResponse',
      id: 'qr-adaptive',
      extension: [
        { url: 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/qr-context', valueReference: { reference: 'Coverage/cov-medicaid-1' } },
        { url: 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/qr-context', valueReference: { reference: 'MedicationRequest/mr-kineret-1' } },
      ],
      questionnaire: KINERET_Q,
      status: 'in-progress',
      subject: { reference: 'Patient/pat-kineret-1' },
    };
    for (let round = 0; round < 12 && response.status !== 'completed'; round += 1) {
      const { body } = await nextQuestion(parameters(param('questionnaire-response', response), param('data', chart())), deps());
      response = structuredClone(body);
      const adaptive = response.contained?.[0] as Parameters<typeof findItem>[0];
      for (const item of response.item?.at(-1)?.item ?? []) {
        // A clinician answers each new question, over the chart's suggestion (origin auto) if any.
        const answer = pick(item.linkId, findItem(adaptive, item.linkId)?.type ?? '');
        const answeredByClinician = item.answer?.some((a) => originOf(a) === undefined) ?? false;
        if (answer && !answeredByClinician) item.answer = [answer];
      }
    }
    expect(response.status).toBe('completed');
    return response;
  }

  test('answered "yes": the completed adaptive response (questionnaire #adaptive) flips the pend to an approval', async () => {
    const response = await complete((linkId, type) => (type === 'boolean' ? { valueBoolean: true } : linkId === 'baseline-cdai' ? { valueDecimal: 30 } : undefined));
    expect(response.questionnaire).toBe('#adaptive');
    const { action, decision } = await submit(request(response));
    expect(action).toBe('A1');
    expect(decision.outcome).toBe('approve');
    expect(decision.criteria.find((c) => c.id === 'I.A.6')?.evidence).toContain('QuestionnaireResponse/qr-adaptive#baseline-cdai');
  }, 60_000);

  test('answered "no": the same form keeps the request pended', async () => {
    const response = await complete((linkId, type) => (type === 'boolean' ? { valueBoolean: linkId === 'no-combination' } : undefined));
    const { action, decision } = await submit(request(response));
    expect(action).toBe('A4');
    expect(decision.outcome).toBe('pend');
    expect(statuses(decision)).toMatchObject({ 'I.A.4': 'unmet', 'I.A.5.a': 'unmet', 'I.A.7': 'met' });
  }, 60_000);
});
