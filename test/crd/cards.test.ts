import type { MedicationRequest, Task } from 'fhir/r4';
import { answerOrders, escapeMarkdown, type AnswerContext, type OrderAnswerInput } from '../../src/crd/cards';
import { checkCdsServiceResponse } from '../support/crd-checks';
import { DEFAULT_CONFIGURATION, parseConfiguration, type CrdConfiguration } from '../../src/crd/discovery';
import { COVERAGE_INFORMATION_URL, type CdsCard, type CdsServiceResponse, type CrdVersion, type HookName } from '../../src/crd/types';
import { decisions, LEFLUNOMIDE_VS, METHOTREXATE_VS, policy } from './decisions';
import { draftOrder, RXNORM } from './fixtures';
import { checkQuestionnaireTask, PROFILE } from './task-questionnaire';

const GRANT = { number: 'PA-2026-000123', start: '2026-03-01', end: '2026-08-31' };
let ids = 0;

function context(overrides: Partial<AnswerContext> = {}, config: Partial<CrdConfiguration> = {}): AnswerContext {
  return {
    hook: 'order-sign',
    version: '2.0',
    config: { ...DEFAULT_CONFIGURATION, ...config },
    payerName: 'Test Health Plan',
    publicBaseUrl: 'https://pa.example.org/',
    coverage: 'Coverage/cov-1',
    newId: () => `id-${++ids}`,
    resolveAlternative: (alt) => (alt.valueSet === METHOTREXATE_VS ? { system: RXNORM, code: '105585', display: 'methotrexate 2.5 MG Oral Tablet' } : undefined),
    ...overrides,
  };
}

function order(decision: keyof typeof decisions, extra: Partial<OrderAnswerInput> = {}): OrderAnswerInput {
  return { order: draftOrder(), decision: decisions[decision], policy: decisions[decision].policy ? policy : null, assertionId: `ca-${decision}`, ...extra };
}

type Kind = 'instructions' | 'reference' | 'alternatives' | 'launch' | 'form';
function kindOf(card: CdsCard): Kind {
  if (card.links?.some((l) => l.type === 'smart')) return 'launch';
  if (card.suggestions?.some((s) => s.actions?.some((a) => a.type === 'create' && a.resource?.resourceType === 'Task'))) return 'form';
  if (card.links?.length) return 'reference';
  if (card.suggestions?.length) return 'alternatives';
  return 'instructions';
}

/** Every answer in this file must be a valid CRD response, coverage-information included. */
function answer(orders: OrderAnswerInput[], ctx: AnswerContext): CdsServiceResponse {
  const response = answerOrders(orders, ctx);
  expect(checkCdsServiceResponse(response, { hook: ctx.hook, version: ctx.version })).toEqual([]);
  return response;
}

describe('answerOrders: each card type', () => {
  test('unknown trial criterion: coverage-information, instructions, alternatives, policy reference', () => {
    const response = answer([order('unknownTrial')], context());
    expect(response.cards.map(kindOf)).toEqual(['instructions', 'alternatives', 'launch', 'form', 'reference']);
    expect(response.systemActions).toHaveLength(1);
  });

  test('launch card: a smart link to the DTR app with the DTR appContext (coverage-assertion id, questionnaire, order, coverage)', () => {
    const response = answer([order('unknownTrial')], context());
    const card = response.cards.find((c) => kindOf(c) === 'launch');
    expect(card?.source.topic?.code).toBe('coverage-info');
    expect(card?.links).toEqual([{ label: 'Complete the Test Health Plan questionnaire', url: 'https://pa.example.org/dtr/launch', type: 'smart', appContext: expect.any(String) }]);
    const info = (response.systemActions?.[0]?.resource as MedicationRequest).extension?.find((e) => e.url === COVERAGE_INFORMATION_URL);
    const sub = (url: string) => info?.extension?.find((e) => e.url === url);
    expect(JSON.parse(card?.links?.[0]?.appContext ?? '{}')).toEqual({
      coverageAssertionId: sub('coverage-assertion-id')?.valueString,
      questionnaire: [sub('questionnaire')?.valueCanonical],
      order: 'MedicationRequest/draft-kineret',
      coverage: 'Coverage/cov-1',
    });
  });

  test.each([
    ['every criterion met', 'approved'],
    ['denied', 'denied'],
    ['no policy', 'noPolicy'],
  ] as const)('no launch card when there is nothing to document: %s', (_name, decision) => {
    const response = answer([order(decision)], context());
    expect(response.cards.filter((c) => kindOf(c) === 'launch')).toEqual([]);
  });

  test('form-completion card: one create of a Task conforming to CRD 2.0.1 profile-taskquestionnaire', () => {
    const draft = draftOrder({ encounter: { reference: 'Encounter/enc-1' } });
    const response = answer([order('unknownTrial', { order: draft })], context());
    const card = response.cards.find((c) => kindOf(c) === 'form');
    expect(card?.source.topic).toEqual({ system: 'http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp', code: 'coverage-info', display: 'Coverage Information' });
    expect(card?.selectionBehavior).toBe('at-most-one');
    expect(card?.extension).toEqual({ 'davinci-crd.associated-resource': ['MedicationRequest/draft-kineret'] });
    expect(card?.suggestions).toHaveLength(1);
    const actions = card?.suggestions?.[0]?.actions ?? [];
    expect(actions.map((a) => a.type)).toEqual(['create']);
    const task = actions[0]?.resource as Task;
    expect(checkQuestionnaireTask(task)).toEqual([]);
    // profile-taskquestionnaire: status fixed ready, intent fixed order; sdc-task code; for 1..1 the patient.
    expect(task.meta?.profile).toEqual([PROFILE]);
    expect(task.status).toBe('ready');
    expect(task.intent).toBe('order');
    expect(task.code).toEqual({ coding: [{ system: 'http://hl7.org/fhir/uv/sdc/CodeSystem/temp', code: 'complete-questionnaire' }] });
    expect(task.for).toEqual(draft.subject);
    expect(task.basedOn).toEqual([{ reference: 'MedicationRequest/draft-kineret' }]);
    expect(task.encounter).toEqual({ reference: 'Encounter/enc-1' });
    expect(task.requester).toEqual({ display: 'Test Health Plan' });
    expect(task.reasonCode).toEqual({ coding: [{ system: 'http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp', code: 'reason-prior-auth', display: 'Prior authorization' }] });
    // input:afterCompletion 1..*, type pattern CRD temp after-completion-action, value from afterCompletionCode.
    const after = task.input?.filter((i) => i.type.coding?.some((c) => c.code === 'after-completion-action'));
    expect(after?.map((i) => i.valueCodeableConcept?.coding?.[0]?.code)).toEqual(['prior-auth-include']);
  });

  test('form-completion, launch card and coverage-information name the same questionnaire canonical and date', () => {
    const response = answer([order('unknownTrial')], context({ date: '2026-03-02' }));
    const info = (response.systemActions?.[0]?.resource as MedicationRequest).extension?.find((e) => e.url === COVERAGE_INFORMATION_URL);
    const canonical = info?.extension?.find((e) => e.url === 'questionnaire')?.valueCanonical;
    expect(canonical).toBe(policy.questionnaire);
    const launch = response.cards.find((c) => kindOf(c) === 'launch');
    expect(JSON.parse(launch?.links?.[0]?.appContext ?? '{}').questionnaire).toEqual([canonical]);
    const task = response.cards.find((c) => kindOf(c) === 'form')?.suggestions?.[0]?.actions?.[0]?.resource as Task;
    const q = task.input?.filter((i) => i.type.coding?.some((c) => c.system === 'http://hl7.org/fhir/uv/sdc/CodeSystem/temp' && c.code === 'questionnaire'));
    expect(q?.map((i) => i.valueCanonical)).toEqual([canonical]);
    expect(task.authoredOn).toBe(info?.extension?.find((e) => e.url === 'date')?.valueDate);
  });

  test.each([
    ['every criterion met', 'approved', {}],
    ['denied', 'denied', {}],
    ['no policy', 'noPolicy', {}],
    ['review required without open criteria', 'reviewRequired', {}],
    ['order-select (never asks for documentation)', 'unknownTrial', { hook: 'order-select' }],
    ['a CRD 2.2 request (resp-59: not in place of DTR)', 'unknownTrial', { version: '2.2' }],
  ] as [string, keyof typeof decisions, Partial<AnswerContext>][])('no form-completion card: %s', (_name, decision, overrides) => {
    const response = answer([order(decision)], context(overrides));
    expect(response.cards.filter((c) => kindOf(c) === 'form')).toEqual([]);
  });

  test('CRD 2.0/2.1: a form-completion card exactly when there is a launch card, in every scenario and hook', () => {
    for (const hook of ['order-sign', 'order-select', 'order-dispatch'] as HookName[]) {
      for (const name of ['unknownTrial', 'unmetAndUnknown', 'denied', 'noPolicy', 'reviewRequired', 'approved'] as const) {
        const kinds = answer([order(name)], context({ hook, version: '2.1' })).cards.map(kindOf);
        expect([hook, name, kinds.includes('form')]).toEqual([hook, name, kinds.includes('launch')]);
      }
    }
  });

  test('no form-completion card when the order does not name a Patient (Task.for 1..1)', () => {
    const response = answer([order('unknownTrial', { order: draftOrder({ subject: { reference: 'Group/g-1' } }) })], context());
    expect(response.cards.map(kindOf)).toContain('launch');
    expect(response.cards.map(kindOf)).not.toContain('form');
  });

  test('checkQuestionnaireTask rejects what the profile forbids', () => {
    const task = answer([order('unknownTrial')], context()).cards.find((c) => kindOf(c) === 'form')?.suggestions?.[0]?.actions?.[0]?.resource as Task;
    const broken = (change: (t: Task) => void) => {
      const copy = structuredClone(task);
      change(copy);
      return checkQuestionnaireTask(copy).join('; ');
    };
    expect(broken((t) => (t.status = 'requested'))).toMatch(/status is fixed/);
    expect(broken((t) => (t.intent = 'plan'))).toMatch(/intent is fixed/);
    expect(broken((t) => (t.input = t.input?.filter((i) => !i.type.coding?.some((c) => c.code === 'after-completion-action'))))).toMatch(/afterCompletion input/);
    expect(broken((t) => delete (t as Partial<Task>).for)).toMatch(/for \(1\.\.1\)/);
    expect(broken((t) => (t.code = { text: 'fill in' }))).toMatch(/sdc-t1/);
  });

  test('instructions card: summary counts, detail lists each open criterion with its citation, topic coverage-info', () => {
    const [card] = answer([order('unmetAndUnknown')], context()).cards;
    expect(card?.indicator).toBe('warning');
    expect(card?.summary).toBe('Kineret 100 mg/0.67 mL prefilled syringe: prior authorization required; TP.PHAR.1 criteria 1 not met, 1 not documented');
    expect(card?.detail).toContain('- **TP.PHAR.1 I.A.2** Prescribed by or with a rheumatologist');
    expect(card?.detail).toContain('- **TP.PHAR.1 I.A.3** At least 3 months of methotrexate or leflunomide');
    expect(card?.detail).toMatch(/questionnaire/);
    expect(card?.detail).not.toContain('TP.PHAR.1 I.A.1');
    expect(card?.source).toEqual({
      label: 'Test Health Plan',
      topic: { system: 'http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp', code: 'coverage-info', display: 'Coverage Information' },
    });
    expect(card?.links).toBeUndefined();
    expect(card?.suggestions).toBeUndefined();
  });

  test('external reference card links to the policy page this server serves', () => {
    const ref = answer([order('unknownTrial')], context()).cards.find((c) => kindOf(c) === 'reference');
    expect(ref?.links).toEqual([{ label: 'TP.PHAR.1 Kineret (anakinra) – test policy', url: 'https://pa.example.org/policies/test-kineret-medicaid', type: 'absolute' }]);
    expect(ref?.source.topic?.code).toBe('guideline');
    expect(ref?.detail).toMatch(/1 of its criteria are not met or not documented/);
  });

  test('propose-alternate-request: one update suggestion per preferred product, order otherwise unchanged, dose cleared', () => {
    const draft = draftOrder();
    const alt = answer([order('unknownTrial', { order: draft })], context()).cards.find((c) => kindOf(c) === 'alternatives');
    expect(alt?.source.topic?.code).toBe('therapy-alternatives-req');
    expect(alt?.selectionBehavior).toBe('at-most-one');
    expect(alt?.suggestions?.map((s) => s.label)).toEqual(['Order methotrexate instead', 'Order leflunomide instead']);
    const [mtx, lef] = (alt?.suggestions ?? []).map((s) => s.actions?.[0]);
    expect(mtx?.type).toBe('update');
    const proposed = mtx?.resource as MedicationRequest;
    expect(proposed.id).toBe(draft.id);
    expect(proposed.medicationCodeableConcept).toEqual({ coding: [{ system: RXNORM, code: '105585', display: 'methotrexate 2.5 MG Oral Tablet' }], text: 'methotrexate' });
    expect(proposed.dosageInstruction).toBeUndefined();
    expect(proposed.subject).toEqual(draft.subject);
    expect(proposed.requester).toEqual(draft.requester);
    expect(proposed.note?.[0]?.text).toMatch(/TP\.PHAR\.1 I\.A\.3/);
    expect((lef?.resource as MedicationRequest).medicationCodeableConcept).toEqual({ text: 'leflunomide' });
    expect(alt?.detail).toContain('TP.PHAR.1 I.A.3');
    expect(LEFLUNOMIDE_VS).toMatch(/leflunomide/);
  });

  test('coverage-information system action: the whole order, unchanged but for the extension', () => {
    const draft = draftOrder({ note: [{ text: 'patient prefers evening injections' }] });
    const [action] = answer([order('unknownTrial', { order: draft })], context()).systemActions ?? [];
    expect(action?.type).toBe('update');
    const updated = action?.resource as MedicationRequest;
    const { extension, ...rest } = updated;
    expect(rest).toEqual(draft);
    expect(extension?.map((e) => e.url)).toEqual([COVERAGE_INFORMATION_URL]);
  });

  test('satisfied: instructions card gives the authorization number; no alternatives', () => {
    const response = answer([order('approved', { satisfiedAuthorization: GRANT })], context());
    expect(response.cards.map(kindOf)).toEqual(['instructions', 'reference']);
    expect(response.cards[0]?.summary).toBe('Kineret 100 mg/0.67 mL prefilled syringe: prior authorization PA-2026-000123 approved through 2026-08-31');
    expect(response.cards[0]?.indicator).toBe('info');
    const info = (response.systemActions?.[0]?.resource as MedicationRequest).extension?.[0];
    expect(info?.extension?.find((e) => e.url === 'satisfied-pa-id')?.valueString).toBe('PA-2026-000123');
  });

  test('not covered: warning instructions card, no alternatives', () => {
    const response = answer([order('denied')], context());
    expect(response.cards[0]).toMatchObject({ indicator: 'warning', summary: expect.stringMatching(/not covered under TP\.PHAR\.1/) });
    expect(response.cards.map(kindOf)).not.toContain('alternatives');
  });

  test('not covered with a trial criterion also open: still no alternatives (the denial stands whatever is tried)', () => {
    const denied = { ...decisions.denied, criteria: [...decisions.denied.criteria, ...decisions.unknownTrial.criteria.filter((c) => c.id === 'I.A.3')] };
    const response = answer([{ ...order('denied'), decision: denied }], context());
    expect(response.cards.map(kindOf)).toEqual(['instructions', 'reference']);
  });

  test('no policy: instructions card says why; no reference card; auth-needed', () => {
    const response = answer([{ order: draftOrder({ medicationCodeableConcept: { text: 'ibuprofen 800 mg' } }), decision: decisions.noPolicy, policy: null, assertionId: 'ca-np' }], context());
    expect(response.cards.map(kindOf)).toEqual(['instructions']);
    expect(response.cards[0]?.summary).toMatch(/^ibuprofen 800 mg: no Test Health Plan policy applies/);
  });

  test('cards name their order: associated-resource as strings (2.0/2.1) or References (2.2), topic system per version', () => {
    const v20 = answer([order('unknownTrial')], context()).cards[0];
    const v22 = answer([order('unknownTrial')], context({ version: '2.2' })).cards[0];
    expect(v20?.extension).toEqual({ 'davinci-crd.associated-resource': ['MedicationRequest/draft-kineret'] });
    expect(v22?.extension).toEqual({ 'davinci-crd.associated-resource': [{ reference: 'MedicationRequest/draft-kineret' }] });
    expect(v22?.source.topic?.system).toBe('http://terminology.hl7.org/CodeSystem/cdshooks-card-type');
    expect(answer([order('unknownTrial')], context({ version: '2.1' })).cards[0]?.source.topic?.system).toBe('http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp');
  });

  test('catalog text is escaped in Markdown details', () => {
    expect(escapeMarkdown('a*b_[c](d)<e>')).toBe('a\\*b\\_\\[c\\]\\(d\\)\\<e\\>');
  });
});

describe('answerOrders: configuration options are obeyed', () => {
  const all = (): OrderAnswerInput[] => [order('unknownTrial')];

  test.each([
    ['guideline', { guideline: false }, ['instructions', 'alternatives', 'launch', 'form'], 1],
    ['therapy-alternatives-req', { therapyAlternativesReq: false }, ['instructions', 'launch', 'form', 'reference'], 1],
    ['coverage-info (also withholds the coverage-info-topic instructions, launch and form-completion cards)', { coverageInfo: false }, ['alternatives', 'reference'], 0],
    ['max-cards 1', { maxCards: 1 }, ['instructions'], 1],
    ['max-cards 0', { maxCards: 0 }, [], 1],
  ] as [string, Partial<CrdConfiguration>, Kind[], number][])('%s off', (_name, config, kinds, actions) => {
    const response = answer(all(), context({}, config));
    expect(response.cards.map(kindOf)).toEqual(kinds);
    expect(response.systemActions?.length ?? 0).toBe(actions);
  });

  test('options arrive through the request extension; unknown ones change nothing', () => {
    const { config } = parseConfiguration({ 'davinci-crd.configuration': { guideline: false, 'alt-drug': false, 'max-cards': 5 } });
    expect(answer(all(), context({ config })).cards.map(kindOf)).toEqual(['instructions', 'alternatives', 'launch', 'form']);
  });

  test('max-cards keeps warnings first across orders', () => {
    const second: OrderAnswerInput = { ...order('approved', { satisfiedAuthorization: GRANT }), order: draftOrder({ id: 'draft-2' }) };
    const response = answer([second, order('unmetAndUnknown')], context({}, { maxCards: 2 }));
    expect(response.cards[0]?.indicator).toBe('warning');
    expect(response.cards[0]?.extension).toEqual({ 'davinci-crd.associated-resource': ['MedicationRequest/draft-kineret'] });
    expect(response.cards).toHaveLength(2);
    expect(response.systemActions).toHaveLength(2);
  });

  test('an authorization while unsolicited-determ is off is a server bug, not an answer', () => {
    expect(() => answerOrders([order('approved', { satisfiedAuthorization: GRANT })], context({}, { unsolicitedDeterm: false }))).toThrow(/unsolicited-determ/);
  });
});

describe('hooks and versions', () => {
  test.each([
    ['order-select', '2.0'],
    ['order-select', '2.2'],
    ['order-sign', '2.2'],
    ['order-dispatch', '2.1'],
  ] as [HookName, CrdVersion][])('%s / CRD %s: every scenario gives a valid response', (hook, version) => {
    for (const name of ['unknownTrial', 'unmetAndUnknown', 'denied', 'noPolicy', 'reviewRequired', 'approved'] as const) {
      answer([order(name)], context({ hook, version }));
    }
  });

  test('order-select never asks for documentation, in the extension or the card', () => {
    const response = answer([order('unmetAndUnknown')], context({ hook: 'order-select' }));
    const info = (response.systemActions?.[0]?.resource as MedicationRequest).extension?.[0];
    expect(info?.extension?.some((e) => e.url === 'doc-needed' || e.url === 'questionnaire')).toBe(false);
    expect(response.cards[0]?.detail).toMatch(/checked again when the order is signed/);
    expect(response.cards[0]?.detail).not.toMatch(/questionnaire/);
  });
});

describe('checkCdsServiceResponse catches broken responses', () => {
  const valid = (): CdsServiceResponse => structuredClone(answerOrders([order('unknownTrial')], context()));

  test.each([
    ['summary too long', (r: CdsServiceResponse) => (r.cards[0]!.summary = 'x'.repeat(140)), /summary/],
    ['no topic', (r: CdsServiceResponse) => delete r.cards[0]!.source.topic, /topic/],
    ['no uuid', (r: CdsServiceResponse) => delete r.cards[0]!.uuid, /uuid/],
    ['suggestions without selectionBehavior', (r: CdsServiceResponse) => delete r.cards[1]!.selectionBehavior, /selectionBehavior/],
    ['a suggestion with create only', (r: CdsServiceResponse) => (r.cards[1]!.suggestions![0]!.actions![0]!.type = 'create'), /crd-respar-1/],
    ['a relative link', (r: CdsServiceResponse) => (r.cards[2]!.links![0]!.url = '/policies/x'), /absolute URL/],
    ['a system action without coverage-information', (r: CdsServiceResponse) => delete (r.systemActions![0]!.resource as MedicationRequest).extension, /crd-respci1/],
    [
      'a broken coverage-information',
      (r: CdsServiceResponse) => {
        const info = (r.systemActions![0]!.resource as MedicationRequest).extension![0]!;
        info.extension = info.extension!.filter((e) => e.url !== 'coverage-assertion-id');
      },
      /coverage-assertion-id is required/,
    ],
  ])('%s', (_name, breakIt, text) => {
    const response = valid();
    breakIt(response);
    expect(checkCdsServiceResponse(response, { version: '2.0' }).some((p) => text.test(p))).toBe(true);
  });
});
