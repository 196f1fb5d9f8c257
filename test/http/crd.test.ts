/**
 * CRD end to end through the real Express app, engine, CQL and store: discovery, the three order
 * hooks on the fixtures/crd requests (built from the CP.PHAR.244 charts, so each decision is
 * known), configuration options, prefetch versus a real FHIR server, malformed requests, feedback
 * and audit. Every 200 answer passes checkCdsServiceResponse and checkCoverageInformation.
 */
import request from 'supertest';
import type { Bundle, Coverage, Extension, MedicationRequest, OperationOutcome, Organization, Task } from 'fhir/r4';
import type { CdsCard, CdsServiceResponse, DiscoveryResponse } from '../../src/crd/types';
import { CDS_HOOKS_CARD_TYPE_SYSTEM, CRD_TEMP_SYSTEM } from '../../src/crd/types';
import { CARD_TYPE_CODES } from '../../src/crd/discovery';
import { memberKey } from '../../src/store';
import { createTestApp, type TestApp } from '../support/app';
import { buildRequest, FIXTURE_REQUESTS, ORDER_NUMBER_SYSTEM } from '../support/crd-requests';
import {
  callHook,
  checkedApp,
  codes,
  comparable,
  coverageInformation,
  fixture,
  kineretDraft,
  one,
  onlyCoverageInformation,
  prefetchedResources,
  type CheckLog,
  type FixtureName,
  type HookRequest,
} from '../support/crd-client';
import { startLocalFhirServer, type LocalFhirServer } from '../support/fhir-server';
import { checkQuestionnaireTask } from '../crd/task-questionnaire';
import type express from 'express';

const QUESTIONNAIRE = 'http://pa.example.org/fhir/Questionnaire/cp-phar-244-kineret';
const POLICY_URL = 'http://pa.test/policies/cp-phar-244';
const TOKEN = 'ehr-access-token-4d2f9a';
/** Centene Medicaid (NAIC 60001) and the member ids of the three charts. */
const MEMBER = { approvable: memberKey('60001', 'GA7741920365') };

let t: TestApp;
let app: express.Express;
let checks: CheckLog;
let fhir: LocalFhirServer;

beforeAll(async () => {
  t = await createTestApp();
  ({ app, checks } = checkedApp(t.app));
  fhir = await startLocalFhirServer([], { token: TOKEN });
});

afterAll(async () => {
  await fhir.close();
  await t.close();
});

afterAll(() => {
  // The safety net: every 200 answer of the suite went through the checkers without a violation.
  expect(checks.problems).toEqual([]);
  expect(checks.checked).toBeGreaterThan(0);
});

type Kind = 'instructions' | 'alternatives' | 'launch' | 'form' | 'reference';
function kindOf(card: CdsCard): Kind {
  if (card.links?.some((l) => l.type === 'smart')) return 'launch';
  if (card.suggestions?.some((s) => s.actions?.some((a) => a.type === 'create' && a.resource?.resourceType === 'Task'))) return 'form';
  if (card.links?.length) return 'reference';
  if (card.suggestions?.length) return 'alternatives';
  return 'instructions';
}
const kinds = (response: CdsServiceResponse): Kind[] => response.cards.map(kindOf);
const cardOf = (response: CdsServiceResponse, kind: Kind): CdsCard | undefined => response.cards.find((c) => kindOf(c) === kind);

async function answer(body: HookRequest | Record<string, unknown>): Promise<CdsServiceResponse> {
  const res = await callHook(app, body);
  expect(res.status).toBe(200);
  return res.body as CdsServiceResponse;
}

function configured(body: HookRequest, configuration: Record<string, unknown>): HookRequest {
  return { ...body, extension: { ...body.extension, 'davinci-crd.configuration': configuration } };
}

/** The request with another order number: a different order as far as CRD and PAS are concerned. */
function withOrderNumber(body: HookRequest, value: string): HookRequest {
  kineretDraft(body).identifier = [{ use: 'official', system: ORDER_NUMBER_SYSTEM, value }];
  return body;
}

/**
 * The request for a member with nothing on file: another member id on the Coverage and another
 * order number. (An approved Kineret authorization on file makes a further order a continuation
 * request under CP.PHAR.244, so variants of the satisfied chart must not share its member.)
 */
function asNewMember(body: HookRequest, memberId: string): { body: HookRequest; member: string } {
  const coverage = searchBundle(body, 'coverage').entry![0]!.resource as Coverage;
  coverage.subscriberId = memberId;
  coverage.identifier = [{ system: 'http://pa.example.org/fhir/sid/medicaid-member-id', value: memberId }];
  return { body: withOrderNumber(body, `RX-${memberId}`), member: memberKey('60001', memberId) };
}

function searchBundle(body: HookRequest, key: string): Bundle {
  const value = body.prefetch[key];
  if (value?.resourceType !== 'Bundle') throw new Error(`prefetch.${key} is not a Bundle`);
  return value;
}

// ------------------------------------------------------------------------------------- discovery

describe('GET /cds-services', () => {
  let doc: DiscoveryResponse;
  beforeAll(async () => {
    const res = await request(app).get('/cds-services');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    doc = res.body as DiscoveryResponse;
  });

  test('three services: order-sign, order-select, order-dispatch, each with a title and description', () => {
    expect(doc.services.map((s) => [s.hook, s.id])).toEqual([
      ['order-sign', 'pa-order-sign'],
      ['order-select', 'pa-order-select'],
      ['order-dispatch', 'pa-order-dispatch'],
    ]);
    for (const s of doc.services) {
      expect(s.title.length).toBeGreaterThan(10);
      expect(s.description.length).toBeGreaterThan(20);
    }
  });

  test('prefetch templates a CRD 2.0.1 client can fill: CDS Hooks tokens, the 2.0.1 context.draftOrders.<Type>.id token (deviations.md), _include (foundation.md); no FHIRPath', () => {
    // One key per type the policies' CQL retrieves (besides Patient and the orders' PractitionerRole).
    const chart = [
      'allergies',
      'conditions',
      'goals',
      'medicationAdministrations',
      'medicationDispenses',
      'medicationRequests',
      'medicationStatements',
      'observations',
      'questionnaireResponses',
    ];
    for (const s of doc.services) {
      expect(Object.keys(s.prefetch)).toEqual(['patient', 'coverage', 'orders', ...chart]);
      expect(s.prefetch.patient).toBe('Patient/{{context.patientId}}');
      expect(s.prefetch.coverage).toBe('Coverage?patient={{context.patientId}}&status=active&_include=Coverage:payor');
      for (const template of Object.values(s.prefetch)) {
        expect(template).toMatch(/^[A-Z][A-Za-z]+(\/|\?)/);
        const tokens = [...template.matchAll(/\{\{([^{}]+)\}\}/g)].map((m) => m[1]);
        expect(tokens.length).toBeGreaterThan(0);
        // 2.0.1 tokens only: context.<field> or context.<resource context>.<Type>.id.
        for (const token of tokens) expect(token).toMatch(/^context\.(patientId|draftOrders\.MedicationRequest\.id)$/);
      }
    }
    expect(doc.services[0]!.prefetch.orders).toMatch(/^MedicationRequest\?_id=\{\{context\.draftOrders\.MedicationRequest\.id\}\}&_include=MedicationRequest:requester&_include=MedicationRequest:medication/);
    // The observation template names the LOINC codes the policies read (CDAI, CRP, the IL1RN variant...).
    expect(doc.services[0]!.prefetch.observations).toContain('http://loinc.org|75842-5');
    expect(doc.services[0]!.prefetch.observations).toContain('http://loinc.org|69548-6');
  });

  test('davinci-crd.version and davinci-crd.configuration-options: codes from the CRD 2.0.1 cardType value set (required binding of CDSHookServicesExtensionConfiguration.code)', () => {
    for (const s of doc.services) {
      expect(s.extension['davinci-crd.version']).toEqual(['2.0', '2.1', '2.2']);
      const options = s.extension['davinci-crd.configuration-options'];
      expect(options.map((o) => o.code)).toEqual(['coverage-info', 'guideline', 'therapy-alternatives-req']);
      for (const o of options) {
        expect(CARD_TYPE_CODES).toContain(o.code);
        expect(o.type).toBe('boolean');
        expect(o.default).toBe(true);
        expect(o.name.length).toBeGreaterThan(3);
        expect(o.description.length).toBeGreaterThan(10);
      }
    }
  });

  test('the fixtures prefetch exactly what a client honouring these templates sends (fixtures are current)', () => {
    for (const [name, input] of Object.entries(FIXTURE_REQUESTS)) {
      const { hookInstance: _ignored, ...built } = buildRequest(input, t.ctx.engine) as unknown as HookRequest;
      const { hookInstance: _also, ...stored } = fixture(name as FixtureName);
      expect([name, stored]).toEqual([name, JSON.parse(JSON.stringify(built))]);
    }
  });
});

// ------------------------------------------------------------------------------- the answers

describe('order-sign, auth-needed: a typical RA patient whose chart lacks the step-therapy trials (order-sign-kineret)', () => {
  let response: CdsServiceResponse;
  let info: Extension;
  beforeAll(async () => {
    response = await answer(fixture('order-sign-kineret'));
    info = onlyCoverageInformation(response);
  });

  test('coverage-information: covered, auth-needed, clinical documentation with the DTR questionnaire', () => {
    expect(one(info, 'covered')).toBe('covered');
    expect(one(info, 'pa-needed')).toBe('auth-needed');
    expect(one(info, 'doc-needed')).toBe('clinical');
    expect(codes(info, 'doc-purpose')).toEqual(['withpa']);
    expect(one(info, 'questionnaire')).toBe(QUESTIONNAIRE);
    expect((info.extension ?? []).find((e) => e.url === 'billingCode')?.valueCoding?.code).toBe('J3590');
    expect((info.extension ?? []).find((e) => e.url === 'coverage')?.valueReference?.reference).toBe('Coverage/cov-pt-ra-partial');
    expect(one(info, 'date')).toBe('2026-11-20');
    expect(codes(info, 'satisfied-pa-id')).toEqual([]);
    const reasons = (info.extension ?? []).filter((e) => e.url === 'reason').map((e) => e.valueCodeableConcept?.text ?? '');
    expect(reasons.map((r) => /CP\.PHAR\.244 (I\.A\.[0-9.a-c]+)/.exec(r)?.[1])).toEqual(['I.A.5.a', 'I.A.5.b', 'I.A.5.c', 'I.A.6']);
    const policyLink = (info.extension ?? []).find((e) => e.url === 'detail')?.extension?.find((p) => p.url === 'value');
    expect(policyLink?.valueString ?? policyLink?.valueUrl).toBe(POLICY_URL);
  });

  test('the system action is an update carrying the whole order, unchanged except for the extension', () => {
    const body = fixture('order-sign-kineret');
    const action = response.systemActions?.[0];
    expect(action?.type).toBe('update');
    const { extension, ...rest } = action?.resource as MedicationRequest;
    expect(rest).toEqual(kineretDraft(body));
    expect(extension).toEqual([info]);
  });

  test('the coverage assertion is persisted with its criteria trace (DTR and PAS pick it up by id)', async () => {
    const id = one(info, 'coverage-assertion-id') ?? '';
    const assertion = await t.ctx.store.getCoverageAssertion(id);
    expect(assertion).toMatchObject({ policyId: 'cp-phar-244', questionnaire: QUESTIONNAIRE, orderKey: `${ORDER_NUMBER_SYSTEM}|RX-2026-118842`, authorizationNumber: null });
    const decision = await t.ctx.store.getDecision(assertion?.decisionId ?? '');
    expect(decision?.source).toBe('crd');
    expect(Object.fromEntries(decision?.decision.criteria.map((c) => [c.id, c.status]) ?? [])).toEqual({
      'I.A.1': 'met',
      'I.A.2': 'met',
      'I.A.3': 'met',
      'I.A.4': 'met',
      'I.A.5.a': 'unknown',
      'I.A.5.b': 'unknown',
      'I.A.5.c': 'unknown',
      'I.A.6': 'unknown',
      'I.A.7': 'met',
      'I.A.8': 'met',
    });
  });

  test('cards: instructions (warning), alternatives, policy reference; source label is the payer; 2.0 topic codes', () => {
    expect(kinds(response)).toEqual(['instructions', 'alternatives', 'launch', 'form', 'reference']);
    for (const card of response.cards) {
      expect(card.source.label).toBe('Centene Corporation affiliated health plan');
      expect(card.source.topic?.system).toBe(CRD_TEMP_SYSTEM);
      expect(card.extension?.['davinci-crd.associated-resource']).toEqual(['MedicationRequest/medreq-kineret']);
    }
  });

  test('Instructions card lists each undocumented criterion with its citation', () => {
    const card = cardOf(response, 'instructions')!;
    expect(card.indicator).toBe('warning');
    expect(card.source.topic?.code).toBe('coverage-info');
    expect(card.summary).toMatch(/prior authorization required; CP\.PHAR\.244 criteria 4 not documented/);
    const detail = card.detail ?? '';
    expect(detail).toContain('Not documented in the chart:');
    for (const citation of ['I.A.5.a', 'I.A.5.b', 'I.A.5.c', 'I.A.6']) expect(detail).toContain(`**CP.PHAR.244 ${citation}**`);
    for (const met of ['I.A.1', 'I.A.2', 'I.A.7', 'I.A.8']) expect(detail).not.toContain(`CP.PHAR.244 ${met}**`);
    expect(detail).not.toContain('Not met:');
  });

  test('External Reference card links the policy page this server serves, and it answers 200', async () => {
    const card = cardOf(response, 'reference')!;
    expect(card.source.topic?.code).toBe('guideline');
    expect(card.links).toEqual([{ label: expect.stringContaining('CP.PHAR.244'), url: POLICY_URL, type: 'absolute' }]);
    const page = await request(app).get(new URL(card.links![0]!.url).pathname);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.text).toContain('CP.PHAR.244');
  });

  test('Request Form Completion card: one create of a profile-taskquestionnaire Task for the same questionnaire', () => {
    const card = cardOf(response, 'form')!;
    expect(card.source.topic?.code).toBe('coverage-info');
    const actions = card.suggestions?.flatMap((s) => s.actions ?? []) ?? [];
    expect(actions.map((a) => a.type)).toEqual(['create']);
    const task = actions[0]!.resource as Task;
    expect(checkQuestionnaireTask(task)).toEqual([]);
    const body = fixture('order-sign-kineret');
    expect(task.for).toEqual({ reference: `Patient/${body.context.patientId}` });
    expect(task.basedOn).toEqual([{ reference: 'MedicationRequest/medreq-kineret' }]);
    expect(task.authoredOn).toBe(one(info, 'date'));
    expect(task.input?.filter((i) => i.valueCanonical).map((i) => i.valueCanonical)).toEqual([QUESTIONNAIRE]);
    const launch = cardOf(response, 'launch')!;
    expect(JSON.parse(launch.links![0]!.appContext!).questionnaire).toEqual([QUESTIONNAIRE]);
    expect(one(info, 'questionnaire')).toBe(QUESTIONNAIRE);
  });

  test('a CRD 2.2 request gets the DTR launch card but no form-completion card (2.2 resp-59)', async () => {
    const body = fixture('order-sign-kineret');
    const v22 = await answer({ ...body, extension: { ...body.extension, 'davinci-crd.requestedVersion': '2.2' } });
    expect(kinds(v22)).toContain('launch');
    expect(kinds(v22)).not.toContain('form');
  });

  test('propose-alternate-request card: one update of the draft order per preferred product of the open trials', () => {
    const card = cardOf(response, 'alternatives')!;
    expect(card.source.topic?.code).toBe('therapy-alternatives-req');
    expect(card.selectionBehavior).toBe('at-most-one');
    expect(card.detail).toContain('CP.PHAR.244 I.A.5.a');
    const proposed = card.suggestions!.map((s) => {
      expect(s.actions).toHaveLength(1);
      const action = s.actions![0]!;
      expect(action.type).toBe('update');
      const order = action.resource as MedicationRequest;
      expect(order.id).toBe('medreq-kineret');
      expect(order.extension).toBeUndefined();
      expect(order.dosageInstruction).toBeUndefined();
      return order.medicationCodeableConcept?.coding?.[0]?.code;
    });
    // adalimumab, tocilizumab and tofacitinib (RxNorm ingredients from the catalog value sets)
    expect(proposed).toEqual(['327361', '612865', '1357536']);
  });
});

describe('order-sign, satisfied: the chart meets every CP.PHAR.244 RA criterion (order-sign-satisfied)', () => {
  let response: CdsServiceResponse;
  let info: Extension;
  beforeAll(async () => {
    response = await answer(fixture('order-sign-satisfied'));
    info = onlyCoverageInformation(response);
  });

  test('pa-needed satisfied with satisfied-pa-id and expiry-date (CRD 2.2 requested); no documentation asked', () => {
    expect(one(info, 'covered')).toBe('covered');
    expect(one(info, 'pa-needed')).toBe('satisfied');
    expect(one(info, 'satisfied-pa-id')).toMatch(/^PA-\d{8}-[2-9A-Z]{8}$/);
    expect(one(info, 'expiry-date')).toBe('2027-05-19');
    expect(codes(info, 'doc-needed')).toEqual([]);
    expect(codes(info, 'questionnaire')).toEqual([]);
  });

  test('the authorization is persisted as approved for this order and member, through the expiry date', async () => {
    const authorization = await t.ctx.store.getAuthorization(one(info, 'satisfied-pa-id') ?? '');
    expect(authorization).toMatchObject({
      status: 'approved',
      policyId: 'cp-phar-244',
      memberKey: MEMBER.approvable,
      orderKey: `${ORDER_NUMBER_SYSTEM}|RX-2026-118907`,
      start: '2026-11-20',
      end: '2027-05-19',
    });
    const assertion = await t.ctx.store.getCoverageAssertion(one(info, 'coverage-assertion-id') ?? '');
    expect(assertion?.authorizationNumber).toBe(authorization?.number);
  });

  test('cards: the instructions card quotes the authorization; no alternatives; CRD 2.2 topic system', () => {
    expect(kinds(response)).toEqual(['instructions', 'reference']);
    const card = cardOf(response, 'instructions')!;
    expect(card.indicator).toBe('info');
    expect(card.summary).toContain(`prior authorization ${one(info, 'satisfied-pa-id')} approved through 2027-05-19`);
    for (const c of response.cards) expect(c.source.topic?.system).toBe(CDS_HOOKS_CARD_TYPE_SYSTEM);
    expect(cardOf(response, 'reference')?.extension?.['davinci-crd.associated-resource']).toEqual([{ reference: 'MedicationRequest/medreq-kineret' }]);
  });

  test('signing the same order again returns the same authorization, not a second one', async () => {
    const again = onlyCoverageInformation(await answer(fixture('order-sign-satisfied')));
    expect(one(again, 'pa-needed')).toBe('satisfied');
    expect(one(again, 'satisfied-pa-id')).toBe(one(info, 'satisfied-pa-id'));
    const approved = (await t.ctx.store.listAuthorizations({ memberKey: MEMBER.approvable })).filter((a) => a.orderKey === `${ORDER_NUMBER_SYSTEM}|RX-2026-118907`);
    expect(approved).toHaveLength(1);
  });

  test('a CRD 2.0.1 client (no requestedVersion) gets satisfied with an allowed-period detail instead of expiry-date', async () => {
    const body = fixture('order-sign-satisfied');
    delete body.extension;
    const v20 = onlyCoverageInformation(await answer(body));
    expect(one(v20, 'pa-needed')).toBe('satisfied');
    expect(one(v20, 'satisfied-pa-id')).toBe(one(info, 'satisfied-pa-id'));
    expect(codes(v20, 'expiry-date')).toEqual([]);
    const period = (v20.extension ?? [])
      .filter((e) => e.url === 'detail')
      .map((d) => d.extension?.find((p) => p.url === 'value')?.valuePeriod)
      .find(Boolean);
    expect(period).toEqual({ start: '2026-11-20', end: '2027-05-19' });
  });
});

describe('order-sign, not covered: active adalimumab, combination use is not authorized (order-sign-not-covered)', () => {
  let response: CdsServiceResponse;
  let info: Extension;
  beforeAll(async () => {
    response = await answer(fixture('order-sign-not-covered'));
    info = onlyCoverageInformation(response);
  });

  test('covered = not-covered, no pa-needed, the reason cites I.A.7 once', () => {
    expect(one(info, 'covered')).toBe('not-covered');
    expect(codes(info, 'pa-needed')).toEqual([]);
    expect(codes(info, 'doc-needed')).toEqual([]);
    const reasons = (info.extension ?? []).filter((e) => e.url === 'reason').map((e) => e.valueCodeableConcept?.text ?? '');
    expect(reasons.filter((r) => r.includes('CP.PHAR.244 I.A.7'))).toHaveLength(1);
  });

  test('a warning instructions card and the policy reference; no alternatives for a denied order', () => {
    expect(kinds(response)).toEqual(['instructions', 'reference']);
    expect(response.cards[0]).toMatchObject({ indicator: 'warning', summary: expect.stringMatching(/not covered under CP\.PHAR\.244/) });
    expect(response.cards[0]?.detail).toContain('CP.PHAR.244 I.A.7');
  });
});

describe('unmet criteria', () => {
  test('a dose above 100 mg a day: the instructions card lists I.A.8 under "Not met" with its citation', async () => {
    const { body } = asNewMember(fixture('order-sign-satisfied'), 'GA0000000101');
    const order = kineretDraft(body);
    order.dosageInstruction![0]!.timing = { repeat: { frequency: 2, period: 1, periodUnit: 'd' } };
    const response = await answer(body);
    const info = onlyCoverageInformation(response);
    expect(one(info, 'pa-needed')).toBe('auth-needed');
    expect(codes(info, 'satisfied-pa-id')).toEqual([]);
    const detail = cardOf(response, 'instructions')?.detail ?? '';
    expect(detail).toMatch(/Not met:\n- \*\*CP\.PHAR\.244 I\.A\.8\*\*/);
    expect(detail).not.toContain('Not documented in the chart:');
    // no trial criterion is open, so no alternatives; a CRD 2.2 request (this fixture), so no form-completion card
    expect(kinds(response)).toEqual(['instructions', 'launch', 'reference']);
  });

  test('missing chart data is never an HTTP error: every chart key null → 200, criteria undocumented', async () => {
    const body = fixture('order-sign-kineret');
    for (const key of ['conditions', 'medicationRequests', 'medicationStatements', 'medicationDispenses', 'observations', 'allergies']) body.prefetch[key] = null;
    const info = onlyCoverageInformation(await answer(body));
    expect(one(info, 'pa-needed')).toBe('auth-needed');
    expect(one(info, 'doc-needed')).toBe('clinical');
  });
});

// ----------------------------------------------------------------------- configuration options

describe('davinci-crd.configuration is obeyed', () => {
  test('unsolicited-determ false: never satisfied, and no authorization is issued', async () => {
    const { body, member } = asNewMember(fixture('order-sign-satisfied'), 'GA0000000102');
    const response = await answer(configured(body, { 'unsolicited-determ': false }));
    const info = onlyCoverageInformation(response);
    expect(one(info, 'pa-needed')).toBe('auth-needed');
    expect(codes(info, 'satisfied-pa-id')).toEqual([]);
    expect(codes(info, 'doc-needed')).toEqual([]);
    expect(cardOf(response, 'instructions')?.summary).toMatch(/meets every CP\.PHAR\.244 criterion/);
    expect(await t.ctx.store.listAuthorizations({ memberKey: member })).toEqual([]);
  });

  test('unsolicited-determ false even for an order already granted: not satisfied', async () => {
    await answer(fixture('order-sign-satisfied'));
    const info = onlyCoverageInformation(await answer(configured(fixture('order-sign-satisfied'), { 'unsolicited-determ': false })));
    expect(one(info, 'pa-needed')).toBe('auth-needed');
  });

  test.each([
    ['guideline', { guideline: false }, ['instructions', 'alternatives', 'launch', 'form']],
    ['therapy-alternatives-req', { 'therapy-alternatives-req': false }, ['instructions', 'launch', 'form', 'reference']],
    // The DTR app launch and the form-completion Task stay: they are how the documentation the coverage information asks for gets done.
    ['every card type but coverage-info', { guideline: false, 'therapy-alternatives-req': false }, ['instructions', 'launch', 'form']],
    ['max-cards 0 (a CRD 2.2 request option)', { 'max-cards': 0 }, []],
  ])('%s switched off: those cards are gone, the coverage information stays', async (_name, configuration, expected) => {
    const response = await answer(configured(fixture('order-sign-kineret'), configuration));
    expect(kinds(response)).toEqual(expected);
    expect(one(onlyCoverageInformation(response), 'pa-needed')).toBe('auth-needed');
  });

  test('coverage-info false on a chart needing documentation: no launch and no form-completion card either', async () => {
    const response = await answer(configured(fixture('order-sign-kineret'), { 'coverage-info': false }));
    expect(response.systemActions).toBeUndefined();
    expect(kinds(response)).toEqual(['alternatives', 'reference']);
  });

  test('coverage-info false: no system action, no coverage-info instructions card, and never a grant', async () => {
    const { body, member } = asNewMember(fixture('order-sign-satisfied'), 'GA0000000103');
    const response = await answer(configured(body, { 'coverage-info': false }));
    expect(response.systemActions).toBeUndefined();
    expect(kinds(response)).toEqual(['reference']);
    expect(await t.ctx.store.listAuthorizations({ memberKey: member })).toEqual([]);
  });

  test.each([
    [1, ['instructions']],
    [2, ['instructions', 'alternatives']],
    [0, []],
  ])('max-cards %i keeps the most important cards', async (max, expected) => {
    const response = await answer(configured(fixture('order-sign-kineret'), { 'max-cards': max }));
    expect(kinds(response)).toEqual(expected);
    expect(coverageInformation(response)).toHaveLength(1);
  });

  test('unknown options are ignored and options of the wrong type fall back to their default', async () => {
    const plain = comparable(await answer(fixture('order-sign-kineret')));
    const odd = comparable(await answer(configured(fixture('order-sign-kineret'), { 'x-vendor-flag': true, instructions: 'no', 'max-cards': -1 })));
    expect(odd).toEqual(plain);
  });
});

// ------------------------------------------------------------------ order-select, order-dispatch

describe('order-select and order-dispatch', () => {
  test('order-select answers the selected order only and never asks for documentation', async () => {
    const response = await answer(fixture('order-select-kineret'));
    const info = onlyCoverageInformation(response);
    expect((response.systemActions?.[0]?.resource as MedicationRequest).id).toBe('medreq-kineret');
    expect(one(info, 'pa-needed')).toBe('auth-needed');
    expect(codes(info, 'doc-needed')).toEqual([]);
    expect(codes(info, 'doc-purpose')).toEqual([]);
    expect(codes(info, 'questionnaire')).toEqual([]);
    expect(cardOf(response, 'instructions')?.detail).toContain('checked again when the order is signed');
    expect(cardOf(response, 'instructions')?.detail).not.toContain('questionnaire');
  });

  test('order-select on a chart that meets every criterion: never satisfied, no authorization issued', async () => {
    const { body: sign, member } = asNewMember(fixture('order-sign-satisfied'), 'GA0000000104');
    const body = { ...sign, hook: 'order-select' as const, context: { ...sign.context, selections: ['MedicationRequest/medreq-kineret'] } };
    const info = onlyCoverageInformation(await answer(body));
    expect(one(info, 'pa-needed')).toBe('auth-needed');
    expect(codes(info, 'satisfied-pa-id')).toEqual([]);
    expect(codes(info, 'doc-needed')).toEqual([]);
    expect(await t.ctx.store.listAuthorizations({ memberKey: member })).toEqual([]);
  });

  test('order-dispatch gives the order-sign answer (coverage information and cards)', async () => {
    const sign = await answer(fixture('order-sign-kineret'));
    const dispatch = await answer(fixture('order-dispatch-kineret'));
    const infoOf = (r: CdsServiceResponse) => comparable(r).systemActions?.map((a) => (a.resource as MedicationRequest).extension);
    expect(infoOf(dispatch)).toEqual(infoOf(sign));
    // The proposed alternatives update the order as each hook has it (a draft, or the signed order).
    const cardsOf = (r: CdsServiceResponse) =>
      comparable(r).cards.map((card) => ({
        ...card,
        suggestions: card.suggestions?.map((s) => ({ ...s, actions: s.actions?.map((a) => ({ ...a, resource: (a.resource as MedicationRequest).medicationCodeableConcept })) })),
      }));
    expect(cardsOf(dispatch)).toEqual(cardsOf(sign));
    expect(one(onlyCoverageInformation(dispatch), 'questionnaire')).toBe(QUESTIONNAIRE);
  });

  test('order-dispatch after order-sign granted the order: satisfied with the same authorization', async () => {
    const signed = onlyCoverageInformation(await answer(fixture('order-sign-satisfied')));
    const dispatchBody = buildRequest({ ...FIXTURE_REQUESTS['order-sign-satisfied']!, hook: 'order-dispatch' }, t.ctx.engine);
    const dispatched = onlyCoverageInformation(await answer(dispatchBody));
    expect(one(dispatched, 'pa-needed')).toBe('satisfied');
    expect(one(dispatched, 'satisfied-pa-id')).toBe(one(signed, 'satisfied-pa-id'));
    expect(one(dispatched, 'expiry-date')).toBe(one(signed, 'expiry-date'));
  });
});

// -------------------------------------------------------- prefetch versus the client's FHIR server

describe('the same answer whichever prefetch keys are missing (read from a real FHIR server)', () => {
  const cases: FixtureName[] = ['order-sign-kineret', 'order-sign-satisfied', 'order-sign-not-covered', 'order-select-kineret', 'order-dispatch-kineret'];

  function served(body: HookRequest): HookRequest {
    fhir.setResources(prefetchedResources(body));
    return {
      ...body,
      fhirServer: fhir.baseUrl,
      fhirAuthorization: { access_token: TOKEN, token_type: 'Bearer', expires_in: 300, scope: 'user/*.read', subject: 'pa-crd' },
    };
  }

  describe.each(cases)('%s', (name) => {
    let reference: CdsServiceResponse;
    beforeAll(async () => {
      reference = comparable(await answer(fixture(name)));
    });

    test.each(Object.keys(fixture(name).prefetch))('without prefetch key "%s"', async (key) => {
      const body = served(fixture(name));
      const wasNull = body.prefetch[key] === null;
      delete body.prefetch[key];
      const before = fhir.requests.length;
      const response = comparable(await answer(body));
      expect(response).toEqual(reference);
      const asked = fhir.requests.slice(before);
      // A key whose token has no value (no PractitionerRole requester) needs no read.
      if (!wasNull) expect(asked.length).toBeGreaterThan(0);
      for (const r of asked) expect(r.authorization).toBe(`Bearer ${TOKEN}`);
    });

    test('without any prefetch', async () => {
      const body = served(fixture(name));
      body.prefetch = {};
      const before = fhir.requests.length;
      expect(comparable(await answer(body))).toEqual(reference);
      const asked = fhir.requests.slice(before);
      expect(asked.length).toBeGreaterThanOrEqual(8);
      expect(asked.every((r) => r.authorization === `Bearer ${TOKEN}` && r.method === 'GET')).toBe(true);
      // The chart's searches go in one round trip.
      expect(asked.filter((r) => r.batch).length).toBeGreaterThanOrEqual(8);
    });
  });

  /** The fixture's request without prefetch, its chart served by `server`. */
  function chartOn(server: LocalFhirServer, name: FixtureName): HookRequest {
    const body = fixture(name);
    server.setResources(prefetchedResources(body));
    body.prefetch = {};
    body.fhirServer = server.baseUrl;
    body.fhirAuthorization = { access_token: TOKEN, token_type: 'Bearer', expires_in: 300, scope: 'user/*.read', subject: 'pa-crd' };
    return body;
  }

  test('a FHIR server that takes no batches gives the same answer, read one by one', async () => {
    const plain = await startLocalFhirServer([], { token: TOKEN, batch: false });
    try {
      const reference = comparable(await answer(fixture('order-sign-kineret')));
      const body = chartOn(plain, 'order-sign-kineret');
      expect(comparable(await answer(body))).toEqual(reference);
      expect(comparable(await answer(body))).toEqual(reference);
      // One refused batch, then single reads only.
      expect(plain.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
      expect(plain.requests.filter((r) => r.method === 'GET').length).toBeGreaterThanOrEqual(16);
    } finally {
      await plain.close();
    }
  });

  test('searches paged by the server (next links) give the same answer', async () => {
    const paged = await startLocalFhirServer([], { token: TOKEN, pageSize: 1 });
    try {
      const reference = comparable(await answer(fixture('order-sign-satisfied')));
      expect(comparable(await answer(chartOn(paged, 'order-sign-satisfied')))).toEqual(reference);
      expect(paged.requests.some((r) => r.url.includes('_page=2'))).toBe(true);
    } finally {
      await paged.close();
    }
  });

  test.each(Object.entries(fixture('order-sign-kineret').prefetch).filter(([, v]) => v !== null).map(([k]) => k))(
    'without "%s" and without fhirServer: 412 naming the key',
    async (key) => {
      const body = fixture('order-sign-kineret');
      delete body.prefetch[key];
      const res = await callHook(app, body);
      expect(res.status).toBe(412);
      expect((res.body as OperationOutcome).issue[0]?.diagnostics).toContain(key);
    },
  );

  test('a FHIR server that refuses the token: 200 with what is known, never our HTTP error', async () => {
    const body = served(fixture('order-sign-kineret'));
    (body.fhirAuthorization as { access_token: string }).access_token = 'expired-token';
    delete body.prefetch.conditions;
    const info = onlyCoverageInformation(await answer(body));
    expect(one(info, 'pa-needed')).toBe('auth-needed');
  });
});

// ---------------------------------------------------------------------------- malformed requests

describe('malformed requests → 400 OperationOutcome naming the element', () => {
  const cases: [string, (b: HookRequest) => unknown, string][] = [
    ['hookInstance not a UUID', (b) => ({ ...b, hookInstance: 'call-42' }), 'hookInstance'],
    ['context.patientId missing', (b) => ({ ...b, context: { ...b.context, patientId: undefined } }), 'context.patientId'],
    ['context.userId missing', (b) => ({ ...b, context: { ...b.context, userId: undefined } }), 'context.userId'],
    ['draftOrders of type searchset', (b) => ({ ...b, context: { ...b.context, draftOrders: { ...b.context.draftOrders, type: 'searchset' } } }), 'context.draftOrders.type'],
    ['draftOrders an array', (b) => ({ ...b, context: { ...b.context, draftOrders: b.context.draftOrders?.entry } }), 'context.draftOrders'],
    ['fhirAuthorization without fhirServer', (b) => ({ ...b, fhirAuthorization: { access_token: 'x', token_type: 'Bearer', expires_in: 60, scope: 's', subject: 'c' } }), 'fhirServer'],
    ['a draft order of another patient', (b) => {
      kineretDraft(b).subject = { reference: 'Patient/someone-else' };
      return b;
    }, 'context.draftOrders.entry[0].resource.subject'],
    ['hook of another service', (b) => ({ ...b, hook: 'order-select' }), 'hook'],
    ['a CRD version we do not support', (b) => ({ ...b, extension: { 'davinci-crd.requestedVersion': '3.0' } }), 'extension.davinci-crd.requestedVersion'],
  ];
  test.each(cases)('%s', async (_name, edit, expression) => {
    const res = await callHook(app, edit(fixture('order-sign-kineret')) as Record<string, unknown>, { serviceId: 'pa-order-sign' });
    expect(res.status).toBe(400);
    const expressions = (res.body as OperationOutcome).issue.flatMap((i) => i.expression ?? []);
    expect(expressions).toContain(expression);
  });

  test('a body that is not JSON: 400 OperationOutcome', async () => {
    const res = await request(app).post('/cds-services/pa-order-sign').set('Content-Type', 'application/json').send('{"hook": "order-sign",');
    expect(res.status).toBe(400);
    expect((res.body as OperationOutcome).resourceType).toBe('OperationOutcome');
  });

  test('an unknown service: 404 OperationOutcome', async () => {
    const res = await callHook(app, fixture('order-sign-kineret'), { serviceId: 'pa-appointment-book' });
    expect(res.status).toBe(404);
  });
});

describe('no Coverage this service answers for → 200, one neutral info card, no system action (CRD 2.0.1 hooks.md: 4xx/5xx only for errors; CDS Hooks 2.0 response)', () => {
  const coverageOf = (b: HookRequest): Coverage => searchBundle(b, 'coverage').entry![0]!.resource as Coverage;
  const cases: [string, (b: HookRequest) => void, RegExp][] = [
    ['no active Coverage', (b) => {
      b.prefetch.coverage = { resourceType: 'Bundle', type: 'searchset', total: 0, entry: [] };
    }, /no active coverage/],
    ['the Coverage could not be read (the client sent an OperationOutcome)', (b) => {
      b.prefetch.coverage = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'forbidden', diagnostics: 'no consent' }] };
    }, /could not be read/],
    ['two active Coverages of served payers', (b) => {
      const second = { ...coverageOf(b), id: 'cov-second' };
      searchBundle(b, 'coverage').entry!.push({ resource: second });
    }, /several active coverages/],
    ['a payer this server does not serve', (b) => {
      const org = searchBundle(b, 'coverage').entry!.find((e) => e.resource?.resourceType === 'Organization')!.resource as Organization;
      org.identifier = [{ system: 'urn:oid:2.16.840.1.113883.6.300', value: '99999' }];
    }, /payer/],
    ['a Coverage whose payer cannot be identified', (b) => {
      coverageOf(b).payor = [{ display: 'Some health plan' }];
    }, /does not identify its payer/],
  ];
  test.each(cases)('%s', async (_name, edit, text) => {
    const body = fixture('order-sign-kineret');
    edit(body);
    const response = await answer(body);
    expect(response.systemActions ?? []).toEqual([]);
    expect(response.cards).toHaveLength(1);
    const card = response.cards[0]!;
    expect(card).toMatchObject({ indicator: 'info', source: { topic: { system: CRD_TEMP_SYSTEM, code: 'coverage-info' } } });
    expect(card.summary.length).toBeLessThan(140);
    expect(card.summary).toMatch(text);
  });

  test('the unserved payer is named on the card (CRD cards.md: source.label is the insurer the user recognizes)', async () => {
    const body = fixture('order-sign-kineret');
    const org = searchBundle(body, 'coverage').entry!.find((e) => e.resource?.resourceType === 'Organization')!.resource as Organization;
    org.identifier = [{ system: 'urn:oid:2.16.840.1.113883.6.300', value: '99999' }];
    org.name = 'Lakeshore Mutual';
    expect((await answer(body)).cards[0]?.source.label).toBe('Lakeshore Mutual');
  });

  test('two active Coverages, one of a payer this server serves: answered for that one (CRD 2.0.1 foundation.md: clients SHOULD send only the relevant Coverages)', async () => {
    const body = fixture('order-sign-kineret');
    const other: Coverage = { ...coverageOf(body), id: 'cov-other-plan', payor: [{ identifier: { system: 'urn:oid:2.16.840.1.113883.6.300', value: '99999' } }] };
    searchBundle(body, 'coverage').entry!.push({ resource: other });
    const info = onlyCoverageInformation(await answer(body));
    expect(one(info, 'pa-needed')).toBe('auth-needed');
    expect(info.extension?.find((e) => e.url === 'coverage')?.valueReference?.reference).toBe(`Coverage/${coverageOf(body).id}`);
  });
});

// ------------------------------------------------------------------------------- feedback, audit

describe('feedback', () => {
  test('accepted feedback is stored', async () => {
    const response = await answer(fixture('order-sign-kineret'));
    const card = response.cards[0]!;
    const feedback = {
      feedback: [
        { card: card.uuid, outcome: 'overridden', overrideReason: { reason: { code: 'already-documented', display: 'Already documented' }, userComment: 'MTX trial in outside records' }, outcomeTimestamp: '2026-11-20T15:02:00Z' },
        { card: response.cards[1]!.uuid, outcome: 'accepted', acceptedSuggestions: [{ id: response.cards[1]!.suggestions?.[0]?.uuid }], outcomeTimestamp: '2026-11-20T15:02:10Z' },
      ],
    };
    const res = await request(app).post('/cds-services/pa-order-sign/feedback').set('Content-Type', 'application/json').send(feedback);
    expect(res.status).toBe(200);
    const stored = await t.ctx.store.listFeedback('pa-order-sign');
    expect(stored.map((f) => f.feedback)).toContainEqual(feedback);
  });

  test.each([
    ['no feedback array', {}, 'feedback'],
    ['an empty feedback array', { feedback: [] }, 'feedback'],
    ['a card that is not a string', { feedback: [{ card: 7, outcome: 'accepted' }] }, 'feedback[0].card'],
    ['an unknown outcome', { feedback: [{ card: 'c1', outcome: 'ignored' }] }, 'feedback[0].outcome'],
  ])('%s → 400 naming %s', async (_name, body, expression) => {
    const res = await request(app).post('/cds-services/pa-order-sign/feedback').set('Content-Type', 'application/json').send(body);
    expect(res.status).toBe(400);
    expect((res.body as OperationOutcome).issue[0]?.expression).toEqual([expression]);
  });

  test('feedback for an unknown service: 404', async () => {
    const res = await request(app).post('/cds-services/nope/feedback').set('Content-Type', 'application/json').send({ feedback: [{ card: 'c', outcome: 'accepted' }] });
    expect(res.status).toBe(404);
  });
});

describe('audit', () => {
  test('one row per invocation: hookInstance, payer, policy, outcome, latency, status; no PHI', async () => {
    const bodies = [fixture('order-sign-kineret'), fixture('order-sign-satisfied'), fixture('order-sign-not-covered'), fixture('order-dispatch-kineret')];
    for (const body of bodies) await answer(body);
    const bad = fixture('order-sign-kineret');
    bad.prefetch.patient = { resourceType: 'Patient', id: 'someone-else' };
    expect((await callHook(app, bad)).status).toBe(400);

    const rows = await t.ctx.store.listAudit(200);
    const byInstance = (b: HookRequest) => rows.filter((r) => r.hookInstance === b.hookInstance);
    for (const body of bodies) expect(byInstance(body)).toHaveLength(1);
    expect(byInstance(bodies[0]!)[0]).toMatchObject({ action: 'crd.order-sign', payerId: '60001', policyId: 'cp-phar-244', outcome: 'pend', status: 200, actor: null });
    expect(byInstance(bodies[1]!)[0]).toMatchObject({ outcome: 'satisfied', status: 200 });
    expect(byInstance(bodies[2]!)[0]).toMatchObject({ outcome: 'deny', status: 200 });
    expect(byInstance(bodies[3]!)[0]).toMatchObject({ action: 'crd.order-dispatch', outcome: 'pend' });
    expect(byInstance(bad)[0]).toMatchObject({ action: 'crd.order-sign', outcome: 'error', status: 400 });
    for (const body of bodies) expect(byInstance(body)[0]?.latencyMs).toEqual(expect.any(Number));

    // Nothing that identifies the patient: ids, names, birth dates, member ids, order numbers.
    const text = JSON.stringify(rows);
    for (const phi of ['pt-ra-partial', 'pt-ra-approvable', 'pt-ra-combination', 'Delgado', '1978-06-14', 'GA7741920365', 'RX-2026-118842', 'RX-2026-118907']) {
      expect(text).not.toContain(phi);
    }
  });
});
