/**
 * `$next-question` (adaptive DTR form) on the CP.PHAR.244 charts: one criterion's questions a
 * round, only what the chart cannot answer, until the response is completed with the CRD
 * coverage-information the final Decision gives.
 */
import type {
  Bundle,
  Coverage,
  Extension,
  MedicationRequest,
  Questionnaire,
  QuestionnaireItem,
  QuestionnaireResponse,
  QuestionnaireResponseItemAnswer,
} from 'fhir/r4';
import { nextQuestion, ADAPTIVE } from '../../src/dtr/next-question';
import { populate } from '../../src/dtr/populate';
import { EXT } from '../../src/dtr/urls';
import { buildCoverageInformation } from '../../src/crd/coverage-information';
import { COVERAGE_INFORMATION_URL } from '../../src/crd/types';
import { chartRequest } from '../../src/engine/chart-request';
import type { Decision } from '../../src/engine/decision';
import { findItem } from '../../src/dtr/prepopulate';
import { answerValues, context, deps, EVALUATION_DATE, failure, KINERET_Q, load, originOf, param, parameters, resources, responseOf, serveChart } from './support/population';
import { kineretRequest } from '../pas/helpers';

const QR_CONTEXT = 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/qr-context';
const source = (): Questionnaire => deps().artifacts.byCanonical('Questionnaire', KINERET_Q) as Questionnaire;

/** The response a DTR client starts with: no items, naming the policy Questionnaire, its Coverage and order. */
function emptyResponse(patientId: string, coverage: string, order = 'MedicationRequest/medreq-kineret'): QuestionnaireResponse {
  return {
    resourceType: 'QuestionnaireResponse',
    id: 'adaptive-1',
    extension: [
      { url: QR_CONTEXT, valueReference: { reference: coverage } },
      { url: QR_CONTEXT, valueReference: { reference: order } },
    ],
    questionnaire: KINERET_Q,
    status: 'in-progress',
    subject: { reference: `Patient/${patientId}` },
  };
}

async function ask(response: QuestionnaireResponse, data?: Bundle): Promise<QuestionnaireResponse> {
  const body = data ? parameters(param('questionnaire-response', response), param('data', data)) : response;
  const { status, body: out } = await nextQuestion(body, deps());
  expect(status).toBe(200);
  return out;
}

function adaptiveOf(response: QuestionnaireResponse): Questionnaire {
  const id = response.questionnaire?.slice(1);
  return response.contained?.find((r) => r.resourceType === 'Questionnaire' && r.id === id) as Questionnaire;
}

/** The criterion groups of the adaptive form, each with its questions. */
function groups(response: QuestionnaireResponse): [string, string[]][] {
  return (adaptiveOf(response).item ?? []).filter((i) => i.type === 'group').map((g) => [g.linkId, (g.item ?? []).filter((i) => i.type !== 'display').map((i) => i.linkId)]);
}

/** Answers the unanswered questions of the last group (`undefined` leaves one empty). */
function answerLast(response: QuestionnaireResponse, pick: (linkId: string, item: QuestionnaireItem) => QuestionnaireResponseItemAnswer | undefined): QuestionnaireResponse {
  const next = structuredClone(response);
  const group = next.item?.at(-1);
  for (const item of group?.item ?? []) {
    if (item.answer?.length) continue;
    const answer = pick(item.linkId, findItem(adaptiveOf(next), item.linkId)!);
    if (answer) item.answer = [answer];
  }
  return next;
}

const yes = (): QuestionnaireResponseItemAnswer => ({ valueBoolean: true });
const no = (): QuestionnaireResponseItemAnswer => ({ valueBoolean: false });

function coverageInformation(response: QuestionnaireResponse): Record<string, unknown[]> {
  const ext = response.extension?.find((e) => e.url === COVERAGE_INFORMATION_URL);
  const out: Record<string, unknown[]> = {};
  for (const part of ext?.extension ?? []) {
    const value = part.valueCode ?? part.valueCodeableConcept?.text ?? part.valueReference?.reference ?? part.valueString ?? part.valueDate ?? part.valueCoding?.code;
    if (value !== undefined) (out[part.url] ??= []).push(value);
  }
  return out;
}

/** The Decision the engine gives for the chart plus the completed response, as PAS would read it. */
async function decisionFor(chart: Bundle, response: QuestionnaireResponse): Promise<Decision> {
  const bundle: Bundle = { ...chart, entry: [...(chart.entry ?? []), { fullUrl: 'urn:uuid:4c9f5a3e-0a4e-4d57-9d1e-6a1f2b3c4d5e', resource: response }] };
  const order = resources(bundle).find((r) => r.resourceType === 'MedicationRequest' && r.id === 'medreq-kineret') as MedicationRequest;
  const coverage = resources(bundle).find((r) => r.resourceType === 'Coverage') as Coverage;
  const engine = deps().engine;
  const policy = engine.catalog.byQuestionnaire(KINERET_Q)!;
  return engine.evaluatePolicy(policy, chartRequest({ bundle, order, coverage, evaluationDate: EVALUATION_DATE }));
}

/** The extension the completed response should carry for a Decision (its assertion id aside). */
function expectedInformation(decision: Decision, coverage: string): Extension {
  const ext = buildCoverageInformation(decision, { version: '2.0', hook: 'order-sign', coverage, assertionId: 'x', date: '2026-11-20', billingCodes: ['J3590'] });
  return { ...ext, extension: ext.extension!.filter((e) => e.url !== 'coverage-assertion-id') };
}
const withoutAssertionId = (response: QuestionnaireResponse): Extension | undefined => {
  const ext = response.extension?.find((e) => e.url === COVERAGE_INFORMATION_URL);
  return ext && { ...ext, extension: ext.extension!.filter((e) => e.url !== 'coverage-assertion-id') };
};

describe('$next-question: an RA patient whose chart lacks step-therapy history', () => {
  const chart = () => load('ra-chart-only-partial');
  const start = () => emptyResponse('pt-ra-partial', 'Coverage/cov-pt-ra-partial');

  test('asks one criterion a round (I.A.5.a, I.A.5.b, I.A.5.c, I.A.6); answering yes completes with auth-needed, as the Decision (approve) says', async () => {
    const rounds: [string, string[]][] = [];
    let response = await ask(start(), chart());
    while (response.status === 'in-progress') {
      const all = groups(response);
      expect(all.slice(0, rounds.length)).toEqual(rounds); // earlier rounds unchanged
      expect(all).toHaveLength(rounds.length + 1); // one new group a round
      rounds.push(all.at(-1)!);
      expect(response.item?.map((i) => i.linkId)).toEqual(all.map(([g]) => g));
      response = await ask(
        answerLast(response, (linkId, item) => (item.type === 'boolean' ? yes() : linkId === 'baseline-cdai' ? { valueDecimal: 27.5 } : undefined)),
        chart(),
      );
      expect(rounds.length).toBeLessThan(10);
    }
    expect(rounds).toEqual([
      ['criterion-I.A.5.a', ['adalimumab-failed']],
      ['criterion-I.A.5.b', ['tocilizumab-failed']],
      ['criterion-I.A.5.c', ['tofacitinib-failed']],
      ['criterion-I.A.6', ['baseline-cdai', 'baseline-rapid3']],
    ]);
    expect(response.status).toBe('completed');
    expect(answerValues(response)).toEqual({ 'adalimumab-failed': [true], 'tocilizumab-failed': [true], 'tofacitinib-failed': [true], 'baseline-cdai': [27.5] });

    const decision = await decisionFor(chart(), response);
    expect(decision.outcome).toBe('approve');
    expect(decision.criteria.find((c) => c.id === 'I.A.6')?.evidence).toEqual(['QuestionnaireResponse/adaptive-1#baseline-cdai']);
    expect(coverageInformation(response)).toMatchObject({ coverage: ['Coverage/cov-pt-ra-partial'], covered: ['covered'], 'pa-needed': ['auth-needed'], billingCode: ['J3590'] });
    expect(coverageInformation(response)['doc-needed']).toBeUndefined();
    expect(withoutAssertionId(response)).toEqual(expectedInformation(decision, 'Coverage/cov-pt-ra-partial'));
    expect(coverageInformation(response)['coverage-assertion-id']?.[0]).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('"no" answers: a follow-up question inside I.A.5.c, then completed with the unmet criteria as reasons and doc-needed, as the Decision (pend) says', async () => {
    let response = await ask(start(), chart());
    const asked: string[] = [];
    while (response.status === 'in-progress') {
      asked.push(...(response.item?.at(-1)?.item ?? []).filter((i) => !i.answer).map((i) => i.linkId));
      response = await ask(answerLast(response, (_l, item) => (item.type === 'boolean' ? no() : undefined)), chart());
    }
    expect(asked).toEqual(['adalimumab-failed', 'tocilizumab-failed', 'tofacitinib-failed', 'tofacitinib-cardiovascular-risk', 'baseline-cdai', 'baseline-rapid3']);
    expect(groups(response).find(([g]) => g === 'criterion-I.A.5.c')).toEqual(['criterion-I.A.5.c', ['tofacitinib-failed', 'tofacitinib-cardiovascular-risk']]);
    const decision = await decisionFor(chart(), response);
    expect(decision.outcome).toBe('pend');
    const info = coverageInformation(response);
    expect(info).toMatchObject({ covered: ['covered'], 'pa-needed': ['auth-needed'], 'doc-needed': ['clinical'], 'doc-purpose': ['withpa'] });
    expect((info.reason as string[]).map((r) => /\((CP\.PHAR\.244 [^)]+)\)$/.exec(r)?.[1])).toEqual(['CP.PHAR.244 I.A.5.a', 'CP.PHAR.244 I.A.5.b', 'CP.PHAR.244 I.A.5.c', 'CP.PHAR.244 I.A.6']);
    expect(withoutAssertionId(response)).toEqual(expectedInformation(decision, 'Coverage/cov-pt-ra-partial'));
  });

  test('the adaptive Questionnaire: DTR adapt profile, derivedFrom the policy form, no url and no enableWhen; questions copied as the policy asks them', async () => {
    const first = await ask(start(), chart());
    const second = await ask(answerLast(first, () => yes()), chart());
    const adaptive = adaptiveOf(second);
    expect(second.questionnaire).toBe('#adaptive');
    expect(second.meta?.profile).toEqual([ADAPTIVE.responseProfile]);
    expect(adaptive).toMatchObject({
      resourceType: 'Questionnaire',
      meta: { profile: [ADAPTIVE.questionnaireProfile] },
      extension: [{ url: ADAPTIVE.adaptiveExtension, valueBoolean: true }],
      derivedFrom: [`${KINERET_Q}|1.0.0`],
      version: '1.0.0',
      status: 'active',
      title: source().title,
      text: { status: 'generated' },
    });
    expect(adaptive.url).toBeUndefined();
    expect(adaptive.text?.div).toContain('Did Actemra (tocilizumab) fail');
    expect(JSON.stringify(adaptive)).not.toContain('enableWhen');
    expect(JSON.stringify(adaptive)).not.toContain(EXT.initialExpression);
    const asked = findItem(adaptive, 'adalimumab-failed')!;
    const original = findItem(source(), 'adalimumab-failed')!;
    const expected = structuredClone(original);
    delete expected.extension; // only its initialExpression: the server pre-fills instead
    expect(original.extension?.map((e) => e.url)).toEqual([EXT.initialExpression]);
    expect(asked).toEqual(expected);
    const group = adaptive.item?.[0];
    expect(group).toMatchObject({ linkId: 'criterion-I.A.5.a', type: 'group' });
    expect(group?.text).toMatch(/\(CP\.PHAR\.244 I\.A\.5\.a\)$/);
    // The client's answer is kept as sent; the chart had nothing to pre-fill for these questions.
    expect(second.item?.[0]?.item?.[0]?.answer).toEqual([{ valueBoolean: true }]);
    expect(second.extension?.filter((e) => e.url === QR_CONTEXT)).toHaveLength(2);
  });

  test('with the chart on a FHIR server (fhirServer + accessToken), the requester role searched for, the first question is the same', async () => {
    const server = await serveChart(chart(), 'tok-1');
    try {
      const { body } = await nextQuestion(parameters(param('questionnaire-response', start()), param('fhirServer', { valueUrl: server.baseUrl }), param('accessToken', { valueString: 'tok-1' })), deps());
      expect(groups(body)).toEqual([['criterion-I.A.5.a', ['adalimumab-failed']]]);
      // The order names a Practitioner: the role (rheumatology, I.A.2) is searched for.
      expect(server.requests.map((r) => r.url)).toContain('PractitionerRole?practitioner=pract-marquez');
      expect(server.requests.every((r) => r.authorization === 'Bearer tok-1')).toBe(true);
    } finally {
      await server.close();
    }
  });

  test('a $populate response as the first input: its answers count as asked, the next question is I.A.5.a', async () => {
    const populated = responseOf(
      (
        await populate(
          parameters(
            param('canonical', { valueUri: KINERET_Q }),
            param('subject', { reference: 'Patient/pt-ra-partial' }),
            context('coverage', { reference: 'Coverage/cov-pt-ra-partial' }),
            context('order', { reference: 'MedicationRequest/medreq-kineret' }),
            param('data', chart()),
          ),
          deps(),
        )
      ).body,
    );
    const response = await ask(populated, chart());
    const adaptive = adaptiveOf(response);
    const roots = (adaptive.item ?? []).map((i) => i.linkId);
    expect(roots).toEqual([...Object.keys(answerValues(populated)), 'criterion-I.A.5.a']);
    expect(answerValues(response)).toEqual(answerValues(populated));
    expect(response.item?.find((i) => i.linkId === 'indication')?.answer?.map(originOf)).toEqual(['auto']);
  });
});

describe('$next-question: questions within one criterion follow the policy form’s enableWhen, applied by the server', () => {
  // The PAS request's chart: an RA diagnosis and the Kineret order, no medication history.
  const chart = (): Bundle => {
    const bundle = kineretRequest();
    bundle.entry = (bundle.entry ?? []).filter((e) => e.resource?.resourceType !== 'Claim');
    return bundle;
  };
  const start = () => emptyResponse('pat-kineret-1', 'Coverage/cov-medicaid-1', 'MedicationRequest/mr-kineret-1');

  test('I.A.4: methotrexate trial; after "no", intolerance (pre-filled from the chart, auto); after "yes", another DMARD', async () => {
    const first = await ask(start(), chart());
    expect(groups(first)).toEqual([['criterion-I.A.4', ['mtx-trial-failed']]]);
    const second = await ask(answerLast(first, () => no()), chart());
    expect(groups(second)).toEqual([['criterion-I.A.4', ['mtx-trial-failed', 'mtx-intolerance']]]);
    const prefilled = second.item?.[0]?.item?.find((i) => i.linkId === 'mtx-intolerance')?.answer;
    expect(prefilled?.map((a) => [a.valueBoolean, originOf(a)])).toEqual([[false, 'auto']]);
    // The clinician overrides the chart's "no" with a "yes".
    const overridden = structuredClone(second);
    overridden.item![0]!.item![1]!.answer = [{ valueBoolean: true }];
    const third = await ask(overridden, chart());
    expect(groups(third)).toEqual([['criterion-I.A.4', ['mtx-trial-failed', 'mtx-intolerance', 'cdmard-trial-failed']]]);
    // Confirming the chart's "no" instead closes I.A.4 (unmet) and moves on.
    const confirmed = await ask(second, chart());
    expect(groups(confirmed).map(([g]) => g)).toEqual(['criterion-I.A.4', 'criterion-I.A.5.a']);
  });
});

describe('$next-question: charts that need no question', () => {
  test('every criterion met: completed at once, no question, auth-needed', async () => {
    const response = await ask(emptyResponse('pt-ra-approvable', 'Coverage/cov-pt-ra-approvable'), load('ra-approvable'));
    expect(response.status).toBe('completed');
    expect(adaptiveOf(response).item).toEqual([]);
    expect(coverageInformation(response)).toMatchObject({ covered: ['covered'], 'pa-needed': ['auth-needed'] });
  });

  test('combination use with adalimumab (I.A.7, not authorized): completed at once, not-covered', async () => {
    const response = await ask(emptyResponse('pt-ra-combination', 'Coverage/cov-pt-ra-combination'), load('ra-combination-adalimumab'));
    expect(response.status).toBe('completed');
    const info = coverageInformation(response);
    expect(info.covered).toEqual(['not-covered']);
    expect(info['pa-needed']).toBeUndefined();
    expect((info.reason as string[]).some((r) => r.includes('CP.PHAR.244 I.A.7'))).toBe(true);
  });
});

describe('$next-question errors', () => {
  const chart = () => load('ra-chart-only-partial');
  const start = () => emptyResponse('pt-ra-partial', 'Coverage/cov-pt-ra-partial');

  test('a required question asked earlier and left unanswered → 400 required, naming it', async () => {
    const first = await ask(start(), chart());
    const result = await failure(() => nextQuestion(parameters(param('questionnaire-response', first), param('data', chart())), deps()));
    expect(result).toMatchObject({ status: 400, code: 'required', expression: ["Parameters.parameter[0].resource.item.where(linkId='adalimumab-failed')"] });
  });

  test('an answer to a question the adaptive form never asked → 400', async () => {
    const first = await ask(start(), chart());
    const sneaky = answerLast(first, () => yes());
    sneaky.item!.push({ linkId: 'tocilizumab-failed', answer: [{ valueBoolean: true }] });
    expect(await failure(() => nextQuestion(sneaky, deps()))).toMatchObject({ status: 400, expression: ["QuestionnaireResponse.item.where(linkId='tocilizumab-failed')"] });
  });

  test.each([
    ['not a QuestionnaireResponse', { resourceType: 'Patient' }, 400, 'QuestionnaireResponse'],
    ['Parameters without a questionnaire-response', parameters(param('data', { resourceType: 'Bundle', type: 'collection' })), 400, "Parameters.parameter.where(name='questionnaire-response')"],
    ['a status the form cannot continue', { ...emptyResponse('p', 'Coverage/c'), status: 'stopped' }, 400, 'QuestionnaireResponse.status'],
    ['no questionnaire', { ...emptyResponse('p', 'Coverage/c'), questionnaire: undefined }, 400, 'QuestionnaireResponse.questionnaire'],
    ['a contained Questionnaire that is not there', { ...emptyResponse('p', 'Coverage/c'), questionnaire: '#q1' }, 400, 'QuestionnaireResponse.questionnaire'],
    ['an item without linkId', { ...emptyResponse('p', 'Coverage/c'), item: [{ text: 'x' }] }, 400, 'QuestionnaireResponse.item[0].linkId'],
    [
      'an answer to something that is no question of the form',
      { ...emptyResponse('p', 'Coverage/c'), item: [{ linkId: 'ra', answer: [{ valueBoolean: true }] }] },
      400,
      "QuestionnaireResponse.item.where(linkId='ra')",
    ],
    ['a token without fhirServer', parameters(param('questionnaire-response', emptyResponse('p', 'Coverage/c')), param('accessToken', { valueString: 't' })), 400, 'Parameters.parameter[1]'],
  ])('%s → 400', async (_name, body, status, expression) => {
    expect(await failure(() => nextQuestion(body, deps()))).toMatchObject({ status, expression: [expression] });
  });

  test('a Questionnaire no policy uses → 404', async () => {
    const response = { ...emptyResponse('p', 'Coverage/c'), questionnaire: 'http://pa.example.org/fhir/Questionnaire/unknown' };
    expect(await failure(() => nextQuestion(response, deps()))).toMatchObject({ status: 404, code: 'not-found' });
  });

  test('data about another patient than the response subject → 400', async () => {
    const body = parameters(param('questionnaire-response', emptyResponse('someone-else', 'Coverage/c')), param('data', chart()));
    expect(await failure(() => nextQuestion(body, deps()))).toMatchObject({ status: 400, expression: ['Parameters.parameter[0].resource.subject'] });
  });

  test('the chart fixture is not changed by the operation', async () => {
    const bundle = chart();
    const before = JSON.stringify(bundle);
    await ask(start(), bundle);
    expect(JSON.stringify(bundle)).toBe(before);
  });
});
