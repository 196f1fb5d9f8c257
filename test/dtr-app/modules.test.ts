/**
 * The DTR app's pure modules (app/dtr/src), run under node: the launch context it reads, the
 * QuestionnaireResponse it saves, the PAS request it builds and the answer it reads, and its
 * in-browser pre-population, which must answer as `$populate` does from the package alone.
 */
import request from 'supertest';
import type { Bundle, ClaimResponse, Coverage, FhirResource, Library, MedicationRequest, Parameters, Questionnaire, QuestionnaireResponse, ValueSet } from 'fhir/r4';
import { readLaunchContext } from '../../app/dtr/src/launch-context';
import { readPackage } from '../../app/dtr/src/io';
import { buildPasRequest, readPasResponse } from '../../app/dtr/src/pas';
import { chartBundle, chartSearches, populateInBrowser, requiredTypes, type PackageContent } from '../../app/dtr/src/population';
import { answersByLinkId, autoAnswers, buildResponse, originOf } from '../../app/dtr/src/response';
import { containedForm, derivedFromUrl, isAdaptive } from '../../app/dtr/src/adaptive';
import { EXT } from '../../src/dtr/urls';
import { createTestApp, EVALUATION_DATE, type TestApp } from '../support/app';
import { chartResources } from '../support/crd-requests';

// Opening the app (PGlite, the engine) takes long on a busy machine.
jest.setTimeout(120_000);

describe('launch context', () => {
  test.each([
    [
      'CRD card launch: appContext with assertion id and questionnaire list, fhirContext order and coverage',
      {
        patient: 'pt-1',
        fhirContext: [{ reference: 'MedicationRequest/mr-1' }, { reference: 'https://ehr.example.org/fhir/Coverage/cov-1' }],
        appContext: '{"coverageAssertionId":"ca-1","questionnaire":["http://pa.example.org/fhir/Questionnaire/q"]}',
      },
      { patientId: 'pt-1', order: 'MedicationRequest/mr-1', coverage: 'Coverage/cov-1', questionnaires: ['http://pa.example.org/fhir/Questionnaire/q'], coverageAssertionId: 'ca-1', mode: 'crdlaunch' },
    ],
    [
      'appContext order and coverage (a single questionnaire as a string) win over fhirContext',
      { patient: 'pt-1', fhirContext: [{ reference: 'ServiceRequest/sr-9' }], appContext: '{"questionnaire":"http://q","order":"MedicationRequest/mr-2","coverage":"Coverage/c-2"}' },
      { patientId: 'pt-1', order: 'MedicationRequest/mr-2', coverage: 'Coverage/c-2', questionnaires: ['http://q'], mode: 'crdlaunch' },
    ],
    [
      'an order given as JSON content is read by its id',
      { patient: 'pt-1', appContext: JSON.stringify({ order: JSON.stringify({ resourceType: 'MedicationRequest', id: 'mr-3' }) }) },
      { patientId: 'pt-1', order: 'MedicationRequest/mr-3', questionnaires: [], mode: 'salaunch' },
    ],
    ['a response to resume: relaunch', { patient: 'pt-1', fhirContext: [{ type: 'QuestionnaireResponse', id: 'qr-1' }] }, { patientId: 'pt-1', response: 'QuestionnaireResponse/qr-1', questionnaires: [], mode: 'relaunch' }],
    ['appContext that is not JSON is ignored', { patient: 'pt-1', appContext: 'opaque' }, { patientId: 'pt-1', questionnaires: [], mode: 'salaunch' }],
    ['no patient, no context', {}, { questionnaires: [], mode: 'salaunch' }],
  ])('%s', (_name, token, expected) => {
    expect(readLaunchContext(token)).toEqual(expected);
  });
});

describe('the QuestionnaireResponse the app saves', () => {
  const draft: QuestionnaireResponse = {
    resourceType: 'QuestionnaireResponse',
    meta: { profile: ['http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-questionnaireresponse'] },
    extension: [{ url: EXT.qrContext, valueReference: { reference: 'MedicationRequest/mr-1' } }],
    questionnaire: 'http://pa.example.org/fhir/Questionnaire/q|1',
    status: 'in-progress',
    subject: { reference: 'Patient/pt-1' },
  };
  const prefilled = new Map([
    ['a', [{ valueBoolean: true }]],
    ['b', [{ valueCoding: { system: 's', code: 'x', display: 'X' } }]],
  ]);
  const exported: QuestionnaireResponse = {
    resourceType: 'QuestionnaireResponse',
    status: 'in-progress',
    item: [
      { linkId: 'a', answer: [{ valueBoolean: true }] },
      { linkId: 'g', item: [{ linkId: 'b', answer: [{ valueCoding: { system: 's', code: 'y' } }] }, { linkId: 'c', answer: [{ valueDecimal: 3 }] }] },
    ],
  };

  test('each answer says where it came from: auto (as pre-filled), override (changed), manual (typed)', () => {
    const qr = buildResponse({ draft, exported, prefilled, status: 'completed', id: 'qr-9', author: { reference: 'Practitioner/p-1' }, now: EVALUATION_DATE });
    const origins = [...answersByLinkId(qr.item)].map(([linkId, [answer]]) => [linkId, answer?.extension?.find((e) => e.url === EXT.informationOrigin)?.extension?.[0]?.valueCode]);
    expect(origins).toEqual([
      ['a', 'auto'],
      ['b', 'override'],
      ['c', 'manual'],
    ]);
    expect(qr).toMatchObject({ id: 'qr-9', status: 'completed', questionnaire: draft.questionnaire, subject: draft.subject, extension: draft.extension, author: { reference: 'Practitioner/p-1' }, authored: EVALUATION_DATE.toISOString() });
    expect(qr.meta?.profile).toEqual(draft.meta?.profile);
  });

  test('a coding matches by system and code only (renderers drop or change displays)', () => {
    expect(originOf('b', { valueCoding: { system: 's', code: 'x' } }, prefilled)).toBe('auto');
    expect(originOf('b', { valueCoding: { system: 'other', code: 'x' } }, prefilled)).toBe('override');
  });
});

describe('adaptive forms', () => {
  const SEARCH = 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-questionnaire-adapt-search';
  const FLAG = 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-questionnaireAdaptive';
  test.each([
    ['static form', {}, false],
    ['questionnaireAdaptive true', { extension: [{ url: FLAG, valueBoolean: true }] }, true],
    ['questionnaireAdaptive false', { extension: [{ url: FLAG, valueBoolean: false }] }, false],
    ['questionnaireAdaptive as the service url', { extension: [{ url: FLAG, valueUri: 'https://payer.example/fhir' }] }, true],
    ['adapt-search profile, versioned', { meta: { profile: [`${SEARCH}|2.0.1`] } }, true],
    ['another profile', { meta: { profile: ['http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-std-questionnaire'] } }, false],
  ])('isAdaptive: %s', (_name, extra, expected) => {
    expect(isAdaptive({ resourceType: 'Questionnaire', status: 'active', ...extra } as Questionnaire)).toBe(expected);
  });

  test('derivedFrom url without version; the contained form the response names', () => {
    expect(derivedFromUrl({ resourceType: 'Questionnaire', status: 'active', derivedFrom: ['http://x/Q/a|1.0.0'] })).toBe('http://x/Q/a');
    const form: Questionnaire = { resourceType: 'Questionnaire', id: 'adaptive', status: 'active' };
    const other: Questionnaire = { resourceType: 'Questionnaire', id: 'other', status: 'active' };
    const qr: QuestionnaireResponse = { resourceType: 'QuestionnaireResponse', status: 'in-progress', questionnaire: '#adaptive', contained: [other, form] };
    expect(containedForm(qr)).toBe(form);
    expect(containedForm({ ...qr, questionnaire: '#missing' })).toBeUndefined();
  });

  test('autoAnswers: only answers the server marked auto, without their extensions', () => {
    const origin = (code: string) => [{ url: EXT.informationOrigin, extension: [{ url: 'source', valueCode: code }] }];
    const items: QuestionnaireResponse['item'] = [
      { linkId: 'g', item: [{ linkId: 'a', answer: [{ valueBoolean: true, extension: origin('auto') }] }] },
      { linkId: 'b', answer: [{ valueBoolean: false, extension: origin('manual') }] },
      { linkId: 'c', answer: [{ valueBoolean: false }] },
    ];
    expect([...autoAnswers(items)]).toEqual([['a', [{ valueBoolean: true }]]]);
  });
});

describe('the PAS request and its answer', () => {
  const chart = chartResources('ra-chart-only-partial');
  const order = chart.find((r): r is MedicationRequest => r.resourceType === 'MedicationRequest')!;
  const coverage = chart.find((r): r is Coverage => r.resourceType === 'Coverage')!;
  const response: QuestionnaireResponse = { resourceType: 'QuestionnaireResponse', id: 'qr-1', status: 'completed', questionnaire: 'http://q' };
  let n = 0;
  const input = { ehrBase: 'https://ehr.example.org/fhir/', order, coverage, resources: chart, response, now: EVALUATION_DATE, newId: () => `id-${++n}` };

  test('a PAS request Bundle: the Claim first, each resource once with an absolute fullUrl, the response as supportingInfo', () => {
    const bundle = buildPasRequest(input);
    const claim = bundle.entry?.[0]?.resource;
    expect(claim).toMatchObject({
      resourceType: 'Claim',
      use: 'preauthorization',
      patient: { reference: 'Patient/pt-ra-partial' },
      insurer: { reference: 'Organization/org-centene-medicaid' },
      // PAS: a PractitionerRole or Organization, not the order's Practitioner requester.
      provider: { reference: 'PractitionerRole/role-marquez-rheumatology' },
      insurance: [{ sequence: 1, focal: true, coverage: { reference: 'Coverage/cov-pt-ra-partial' } }],
      supportingInfo: [{ valueReference: { reference: 'QuestionnaireResponse/qr-1' } }],
      diagnosis: [{ sequence: 1, diagnosisCodeableConcept: order.reasonCode?.[0] }],
    });
    const keys = bundle.entry!.map((e) => `${e.resource!.resourceType}/${e.resource!.id}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys).toEqual(expect.arrayContaining(['MedicationRequest/medreq-kineret', 'Coverage/cov-pt-ra-partial', 'QuestionnaireResponse/qr-1', 'PractitionerRole/role-marquez-rheumatology']));
    for (const entry of bundle.entry!) expect(entry.fullUrl).toBe(`https://ehr.example.org/fhir/${entry.resource!.resourceType}/${entry.resource!.id}`);
  });

  test('Claim.provider: the requesting practitioner\'s role; a PractitionerRole or Organization requester as is', () => {
    expect(buildPasRequest({ ...input, resources: chart.filter((r) => r.resourceType !== 'PractitionerRole') }).entry?.[0]?.resource).toMatchObject({ provider: { reference: 'Practitioner/pract-marquez' } });
    const byOrg = { ...order, requester: { reference: 'Organization/org-riverside-rheumatology' } };
    expect(buildPasRequest({ ...input, order: byOrg }).entry?.[0]?.resource).toMatchObject({ provider: { reference: 'Organization/org-riverside-rheumatology' } });
  });

  test('the completed response goes, not the draft copy of it the chart was read with', () => {
    const draftCopy: QuestionnaireResponse = { ...response, status: 'in-progress' };
    const bundle = buildPasRequest({ ...input, resources: [...chart, draftCopy] });
    const sent = bundle.entry!.map((e) => e.resource!).filter((r): r is QuestionnaireResponse => r.resourceType === 'QuestionnaireResponse');
    expect(sent).toEqual([response]);
  });

  test.each([
    ['no payer', { coverage: { ...coverage, payor: [] } }, /names no payer/],
    ['no requester', { order: { ...order, requester: undefined } }, /names no requester/],
  ])('refuses to build without what PAS needs: %s', (_name, change, message) => {
    expect(() => buildPasRequest({ ...input, ...(change as Partial<typeof input>) })).toThrow(message);
  });

  const claimResponse = (code: string, extra: Partial<ClaimResponse> = {}): Bundle => ({
    resourceType: 'Bundle',
    type: 'collection',
    entry: [
      {
        resource: {
          resourceType: 'ClaimResponse',
          id: 'cr-1',
          status: 'active',
          type: { coding: [] },
          use: 'preauthorization',
          patient: {},
          created: '2026-11-20',
          insurer: {},
          outcome: 'complete',
          item: [
            {
              itemSequence: 1,
              adjudication: [
                {
                  category: { coding: [{ code: 'submitted' }] },
                  extension: [
                    {
                      url: 'http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-reviewAction',
                      extension: [{ url: 'http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-reviewActionCode', valueCodeableConcept: { coding: [{ system: 'https://codesystem.x12.org/005010/306', code }] } }],
                    },
                  ],
                },
              ],
            },
          ],
          ...extra,
        },
      },
    ],
  });

  test.each([
    ['A1', 'approved', { preAuthRef: 'PA-1', preAuthPeriod: { start: '2026-11-20', end: '2027-05-19' } }, { number: 'PA-1', period: { start: '2026-11-20', end: '2027-05-19' } }],
    ['A4', 'pended', { processNote: [{ text: 'Item 1: CP.PHAR.244 I.A.6 — not shown' }] }, { notes: ['Item 1: CP.PHAR.244 I.A.6 — not shown'] }],
    ['A3', 'denied', { disposition: 'not covered' }, { disposition: 'not covered' }],
    ['A6', 'other', {}, {}],
  ])('reads %s as %s', (code, kind, extra, expected) => {
    expect(readPasResponse(claimResponse(code, extra as Partial<ClaimResponse>))).toMatchObject({ code, kind, ...expected });
  });

  test('an answer that is not a PAS response Bundle is an error, not a decision', () => {
    expect(() => readPasResponse({ resourceType: 'OperationOutcome', issue: [] })).toThrow(/PAS response Bundle/);
  });
});

describe('pre-population from the package alone answers as $populate does', () => {
  let t: TestApp;
  let content: PackageContent;
  const chart = chartResources('ra-chart-only-partial');
  const order = chart.find((r): r is MedicationRequest => r.resourceType === 'MedicationRequest')!;
  const coverage = chart.find((r): r is Coverage => r.resourceType === 'Coverage')!;

  beforeAll(async () => {
    t = await createTestApp();
    const res = await request(t.app)
      .post('/fhir/Questionnaire/$questionnaire-package')
      .set('content-type', 'application/fhir+json')
      .send({ resourceType: 'Parameters', parameter: [{ name: 'coverage', resource: coverage }, { name: 'order', resource: order }, { name: 'questionnaire', valueCanonical: 'http://pa.example.org/fhir/Questionnaire/cp-phar-244-kineret' }] });
    expect(res.status).toBe(200);
    // As the app reads it: the dtr-qpackage-output-parameters shape (PackageBundle), or a bare Bundle.
    const resources = (readPackage(res.body as Bundle | Parameters).bundles[0]?.entry ?? []).map((e) => e.resource!);
    content = {
      questionnaire: resources.find((r): r is Questionnaire => r.resourceType === 'Questionnaire')!,
      libraries: resources.filter((r): r is Library => r.resourceType === 'Library'),
      valueSets: resources.filter((r): r is ValueSet => r.resourceType === 'ValueSet'),
    };
  });
  afterAll(async () => t.close());

  async function populateOnServer(resources: FhirResource[]): Promise<Map<string, unknown>> {
    const body: Parameters = {
      resourceType: 'Parameters',
      parameter: [
        { name: 'subject', valueReference: { reference: 'Patient/pt-ra-partial' } },
        { name: 'context', part: [{ name: 'name', valueString: 'data' }, { name: 'content', resource: { resourceType: 'Bundle', type: 'collection', entry: resources.map((resource) => ({ resource })) } }] },
      ],
    };
    const res = await request(t.app).post('/fhir/Questionnaire/cp-phar-244-kineret/$populate').set('content-type', 'application/fhir+json').send(body);
    const qr = (res.body as Parameters).parameter!.find((p) => p.name === 'response')!.resource as QuestionnaireResponse;
    return new Map([...answersByLinkId(qr.item)].map(([k, v]) => [k, v.map(({ extension: _e, ...value }) => value)]));
  }

  test('the same answers for the same chart', async () => {
    const inBrowser = await populateInBrowser(content, { chart: chartBundle(chart), patientId: 'pt-ra-partial', order, coverage, evaluationDate: EVALUATION_DATE });
    expect(inBrowser.issues.filter((i) => i.severity !== 'information')).toEqual([]);
    expect(inBrowser.answers.size).toBeGreaterThanOrEqual(5);
    expect(new Map([...inBrowser.answers].map(([k, v]) => [k, v.map(({ extension: _e, ...value }) => value)]))).toEqual(await populateOnServer(chart));
  });

  test('what the app reads from the EHR: one patient search per type the Libraries retrieve', () => {
    const types = requiredTypes(content.libraries);
    expect(types).toEqual(expect.arrayContaining(['Condition', 'MedicationStatement', 'Observation']));
    expect(chartSearches(types, 'pt-1')).toEqual(expect.arrayContaining(['Condition?patient=pt-1']));
    expect(chartSearches(types, 'pt-1').some((q) => q.startsWith('Patient') || q.startsWith('PractitionerRole'))).toBe(false);
  });

  test('a package missing a Library or a ValueSet does not pre-populate silently from elsewhere', async () => {
    const input = { chart: chartBundle(chart), patientId: 'pt-ra-partial', order, coverage, evaluationDate: EVALUATION_DATE };
    const withoutElm = { ...content, libraries: content.libraries.map((l, i) => (i === 0 ? { ...l, content: l.content?.filter((c) => c.contentType !== 'application/elm+json') } : l)) };
    await expect(populateInBrowser(withoutElm, input)).rejects.toThrow(/has no ELM/);
    const withoutValueSets = await populateInBrowser({ ...content, valueSets: [] }, input);
    const full = await populateInBrowser(content, input);
    expect(withoutValueSets.answers).not.toEqual(full.answers);
    expect(withoutValueSets.issues.map((i) => i.diagnostics)).toEqual(expect.arrayContaining([expect.stringMatching(/^The package lacks ValueSet http:\/\/pa\.example\.org\/fhir\/ValueSet\/\S+, which Library CPPHAR244Kineret uses/)]));
    expect(full.issues.filter((i) => i.severity === 'warning')).toEqual([]);
  });
});
