/**
 * DTR through the real app: artifact reads and searches, $expand, and $questionnaire-package
 * selecting the policy by payer + drug, by canonical, and by a CRD coverage-assertion-id.
 */
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import type { Bundle, Coverage, MedicationRequest, OperationOutcome, Parameters, Questionnaire } from 'fhir/r4';
import { createTestApp, type TestApp } from '../support/app';
import { noPolicyDecision } from '../../src/engine';
import { checkPackageBundle } from '../support/dtr-conformance';

const QUESTIONNAIRE = 'http://pa.example.org/fhir/Questionnaire/cp-phar-244-kineret';
const pas = JSON.parse(fs.readFileSync(path.join(__dirname, '../../fixtures/pas/kineret-request-base.json'), 'utf8')) as Bundle;
const coverage = pas.entry?.find((e) => e.resource?.resourceType === 'Coverage')?.resource as Coverage;
const payer = pas.entry?.find((e) => e.resource?.resourceType === 'Organization' && e.resource.id === 'payer-centene-60001')?.resource;
const order = pas.entry?.find((e) => e.resource?.resourceType === 'MedicationRequest')?.resource as MedicationRequest;
/** The Coverage names its payer by identifier, as a DTR client sends it without the Organization. */
const coverageWithPayer: Coverage = {
  ...coverage,
  payor: [{ identifier: { system: 'urn:oid:2.16.840.1.113883.6.300', value: '60001' }, display: (payer as { name?: string })?.name ?? 'payer' }],
};

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

function packageRequest(parameter: Parameters['parameter']) {
  return request(t.app)
    .post('/fhir/Questionnaire/$questionnaire-package')
    .set('Content-Type', 'application/fhir+json')
    .send(JSON.stringify({ resourceType: 'Parameters', parameter }));
}

function bundlesOf(body: Bundle | Parameters): Bundle[] {
  if (body.resourceType === 'Bundle') return [body];
  return (body.parameter ?? []).filter((p) => p.resource?.resourceType === 'Bundle').map((p) => p.resource as Bundle);
}

test('reads and searches the published Questionnaire, Library and ValueSet', async () => {
  const q = await request(t.app).get('/fhir/Questionnaire/cp-phar-244-kineret');
  expect(q.status).toBe(200);
  expect((q.body as Questionnaire).url).toBe(QUESTIONNAIRE);
  const lib = await request(t.app).get('/fhir/Library/CPPHAR244Kineret');
  expect(lib.status).toBe(200);
  expect(lib.body.content.map((c: { contentType: string }) => c.contentType).sort()).toEqual(['application/elm+json', 'text/cql']);
  const search = await request(t.app).get('/fhir/Questionnaire').query({ url: QUESTIONNAIRE });
  expect(search.status).toBe(200);
  expect((search.body as Bundle).entry?.filter((e) => e.search?.mode === 'match')).toHaveLength(1);
  const expand = await request(t.app).get('/fhir/ValueSet/$expand').query({ url: 'http://pa.example.org/fhir/ValueSet/drug-kineret' });
  expect(expand.status).toBe(200);
  expect(expand.body.expansion.contains.length).toBeGreaterThan(0);
  const missing = await request(t.app).get('/fhir/Library/NoSuchLibrary');
  expect(missing.status).toBe(404);
  expect((missing.body as OperationOutcome).issue[0]?.code).toBe('not-found');
});

test('$questionnaire-package selects the policy by the coverage payer and the ordered drug', async () => {
  const res = await packageRequest([
    { name: 'coverage', resource: coverageWithPayer },
    { name: 'order', resource: order },
  ]);
  expect(res.status).toBe(200);
  const bundles = bundlesOf(res.body);
  expect(bundles).toHaveLength(1);
  const bundle = bundles[0] as Bundle;
  expect(bundle.entry?.[0]?.resource?.resourceType).toBe('Questionnaire');
  expect((bundle.entry?.[0]?.resource as Questionnaire).url).toBe(QUESTIONNAIRE);
  expect(checkPackageBundle(bundle)).toEqual([]);
});

test('$questionnaire-package selects by canonical, and warns on an unknown canonical', async () => {
  const res = await packageRequest([
    { name: 'coverage', resource: coverageWithPayer },
    { name: 'questionnaire', valueCanonical: QUESTIONNAIRE },
    { name: 'questionnaire', valueCanonical: 'http://pa.example.org/fhir/Questionnaire/unknown' },
  ]);
  expect(res.status).toBe(200);
  expect(bundlesOf(res.body)).toHaveLength(1);
  expect(JSON.stringify(res.body)).toContain('unknown');
});

test('$questionnaire-package selects by a CRD coverage-assertion-id; an unknown one is a 404', async () => {
  const decision = await t.ctx.engine.evaluatePolicy(t.ctx.engine.catalog.get('cp-phar-244')!, {
    bundle: pas,
    patientId: 'pat-kineret-1',
    payer: { identifiers: [{ system: 'urn:oid:2.16.840.1.113883.6.300', value: '60001' }], lineOfBusiness: [], planValues: [] },
    drug: { codes: [] },
    diagnoses: [],
    priorAuthorizations: [],
    evaluationDate: new Date('2026-11-20'),
  });
  const assertion = await t.ctx.store.saveCoverageAssertion({
    hookInstance: 'dtr-test',
    orderKey: null,
    patientKey: null,
    decision,
    questionnaire: QUESTIONNAIRE,
  });
  const res = await packageRequest([
    { name: 'coverage', resource: coverageWithPayer },
    { name: 'context', valueString: assertion.id },
  ]);
  expect(res.status).toBe(200);
  expect(bundlesOf(res.body)).toHaveLength(1);
  const unknown = await packageRequest([
    { name: 'coverage', resource: coverageWithPayer },
    { name: 'context', valueString: '00000000-0000-0000-0000-000000000000' },
  ]);
  expect(unknown.status).toBe(404);
});

test('$questionnaire-package without coverage, or with nothing to select by, is a 400 OperationOutcome', async () => {
  const noCoverage = await packageRequest([{ name: 'order', resource: order }]);
  expect(noCoverage.status).toBe(400);
  expect((noCoverage.body as OperationOutcome).resourceType).toBe('OperationOutcome');
  const nothing = await packageRequest([{ name: 'coverage', resource: coverageWithPayer }]);
  expect(nothing.status).toBe(400);
});

describe('SDC operations over HTTP', () => {
  const chart = JSON.parse(fs.readFileSync(path.join(__dirname, '../../fixtures/cp-phar-244/ra-approvable.json'), 'utf8')) as Bundle;
  const patientId = chart.entry?.find((e) => e.resource?.resourceType === 'Patient')?.resource?.id ?? '';

  test('$populate answers from the chart, each answer marked information-origin auto', async () => {
    const res = await request(t.app)
      .post('/fhir/Questionnaire/cp-phar-244-kineret/$populate')
      .set('Content-Type', 'application/fhir+json')
      .send(
        JSON.stringify({
          resourceType: 'Parameters',
          parameter: [
            { name: 'subject', valueReference: { reference: `Patient/${patientId}` } },
            { name: 'context', part: [{ name: 'name', valueString: 'data' }, { name: 'content', resource: chart }] },
          ],
        }),
      );
    expect(res.status).toBe(200);
    const response = (res.body as Parameters).parameter?.find((p) => p.name === 'response')?.resource as {
      resourceType: string;
      item?: unknown[];
    };
    expect(response.resourceType).toBe('QuestionnaireResponse');
    const text = JSON.stringify(response);
    expect(text).toContain('"linkId":"mtx-trial-failed"');
    expect(text).toContain('http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/information-origin');
  });

  test('$next-question asks the first questions the chart cannot answer, in an adaptive form', async () => {
    const res = await request(t.app)
      .post('/fhir/Questionnaire/$next-question')
      .set('Content-Type', 'application/fhir+json')
      .send(
        JSON.stringify({
          resourceType: 'Parameters',
          parameter: [
            {
              name: 'questionnaire-response',
              resource: { resourceType: 'QuestionnaireResponse', status: 'in-progress', questionnaire: QUESTIONNAIRE, subject: { reference: `Patient/${patientId}` } },
            },
            { name: 'data', resource: { ...chart, entry: (chart.entry ?? []).filter((e) => e.resource?.resourceType !== 'MedicationStatement' && !(e.resource?.resourceType === 'MedicationRequest' && e.resource.status !== 'draft')) } },
          ],
        }),
      );
    expect(res.status).toBe(200);
    expect(res.body.resourceType).toBe('QuestionnaireResponse');
    expect(res.body.status).toBe('in-progress');
    expect(res.body.contained?.[0]?.resourceType).toBe('Questionnaire');
    expect(res.body.questionnaire).toBe(`#${res.body.contained[0].id}`);
  });

  test('$populate for an unknown Questionnaire is a 404 OperationOutcome', async () => {
    const res = await request(t.app)
      .post('/fhir/Questionnaire/nope/$populate')
      .set('Content-Type', 'application/fhir+json')
      .send(JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'subject', valueReference: { reference: 'Patient/x' } }] }));
    expect(res.status).toBe(404);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });
});

describe('audit: every DTR operation and Questionnaire read writes one row (who, what, how it ended; no patient, no body)', () => {
  const chart = JSON.parse(fs.readFileSync(path.join(__dirname, '../../fixtures/cp-phar-244/ra-approvable.json'), 'utf8')) as Bundle;
  const patientId = chart.entry?.find((e) => e.resource?.resourceType === 'Patient')?.resource?.id ?? '';
  const post = (url: string, body: unknown) => request(t.app).post(url).set('Content-Type', 'application/fhir+json').send(JSON.stringify(body));
  const populateBody = {
    resourceType: 'Parameters',
    parameter: [
      { name: 'subject', valueReference: { reference: `Patient/${patientId}` } },
      { name: 'context', part: [{ name: 'name', valueString: 'data' }, { name: 'content', resource: chart }] },
    ],
  };
  /** The audit rows of one HTTP call, by its X-Request-Id. */
  async function rowsOf(res: request.Response) {
    const requestId = res.headers['x-request-id'];
    expect(requestId).toEqual(expect.any(String));
    return (await t.ctx.store.listAudit(500)).filter((r) => r.requestId === requestId);
  }

  test.each([
    ['$questionnaire-package', 'dtr.questionnaire-package', () => packageRequest([{ name: 'coverage', resource: coverageWithPayer }, { name: 'order', resource: order }]), 'packages:1'],
    ['$populate', 'dtr.populate', () => post('/fhir/Questionnaire/cp-phar-244-kineret/$populate', populateBody), 'in-progress'],
    ['$populate (type level)', 'dtr.populate', () => post('/fhir/Questionnaire/$populate', { ...populateBody, parameter: [...populateBody.parameter, { name: 'canonical', valueUri: QUESTIONNAIRE }] }), 'in-progress'],
    [
      '$next-question',
      'dtr.next-question',
      () =>
        post('/fhir/Questionnaire/$next-question', {
          resourceType: 'Parameters',
          parameter: [
            { name: 'questionnaire-response', resource: { resourceType: 'QuestionnaireResponse', status: 'in-progress', questionnaire: QUESTIONNAIRE, subject: { reference: `Patient/${patientId}` } } },
            { name: 'data', resource: chart },
          ],
        }),
      expect.stringMatching(/^(in-progress|completed)$/),
    ],
    ['Questionnaire read', 'dtr.questionnaire-read', () => request(t.app).get('/fhir/Questionnaire/cp-phar-244-kineret'), 'Questionnaire/cp-phar-244-kineret'],
  ])('%s: one row, action %s, the policy, the outcome, status 200', async (_name, action, call, outcome) => {
    const res = await call();
    expect(res.status).toBe(200);
    const rows = await rowsOf(res);
    expect(rows).toEqual([expect.objectContaining({ action, actor: null, policyId: 'cp-phar-244', outcome, status: 200, latencyMs: expect.any(Number) })]);
    // Nothing of the patient: no ids, names, birth dates, member ids, answers.
    const text = JSON.stringify(rows);
    for (const phi of [patientId, 'Delgado', '1978-06-14', 'GA7741920365', 'RX-2026-118842', 'methotrexate']) expect(text).not.toContain(phi);
  });

  test('a Questionnaire search is audited with the number of matches', async () => {
    const res = await request(t.app).get('/fhir/Questionnaire').query({ url: QUESTIONNAIRE });
    expect(res.status).toBe(200);
    expect(await rowsOf(res)).toEqual([expect.objectContaining({ action: 'dtr.questionnaire-search', outcome: 'Questionnaire:1', status: 200 })]);
  });

  test('a failed call is audited too: outcome error with its status', async () => {
    const unknownForm = await post('/fhir/Questionnaire/nope/$populate', { resourceType: 'Parameters', parameter: [{ name: 'subject', valueReference: { reference: 'Patient/x' } }] });
    expect(unknownForm.status).toBe(404);
    expect(await rowsOf(unknownForm)).toEqual([expect.objectContaining({ action: 'dtr.populate', outcome: 'error', status: 404, policyId: null })]);
    const noCoverage = await packageRequest([{ name: 'order', resource: order }]);
    expect(noCoverage.status).toBe(400);
    expect(await rowsOf(noCoverage)).toEqual([expect.objectContaining({ action: 'dtr.questionnaire-package', outcome: 'error', status: 400 })]);
    const missing = await request(t.app).get('/fhir/Questionnaire/no-such-form');
    expect(missing.status).toBe(404);
    expect(await rowsOf(missing)).toEqual([expect.objectContaining({ action: 'dtr.questionnaire-read', outcome: 'error', status: 404 })]);
    const notJson = await post('/fhir/Questionnaire/$next-question', { resourceType: 'Bundle' });
    expect(notJson.status).toBe(400);
    expect(await rowsOf(notJson)).toEqual([expect.objectContaining({ action: 'dtr.next-question', outcome: 'error', status: 400 })]);
  });

  test('a package for a CRD coverage assertion carries the CDS Hooks call it continues (hookInstance), not the patient', async () => {
    const decision = noPolicyDecision('test', new Date('2026-11-20'));
    const assertion = await t.ctx.store.saveCoverageAssertion({ hookInstance: 'crd-call-audit', orderKey: null, patientKey: null, decision, questionnaire: QUESTIONNAIRE });
    const res = await packageRequest([
      { name: 'coverage', resource: coverageWithPayer },
      { name: 'context', valueString: assertion.id },
    ]);
    expect(res.status).toBe(200);
    expect(await rowsOf(res)).toEqual([expect.objectContaining({ action: 'dtr.questionnaire-package', hookInstance: 'crd-call-audit', policyId: 'cp-phar-244', outcome: 'packages:1' })]);
  });

  test('Library and ValueSet reads (the package plumbing) are not audited', async () => {
    const res = await request(t.app).get('/fhir/Library/CPPHAR244Kineret');
    expect(res.status).toBe(200);
    expect(await rowsOf(res)).toEqual([]);
  });
});

describe('POST ValueSet/$expand (FHIR R4 operations: parameters in a Parameters body; DTR dtr-payer-service lists $expand)', () => {
  const post = (url: string, parameter: Parameters['parameter']) =>
    request(t.app).post(url).set('Content-Type', 'application/fhir+json').send(JSON.stringify({ resourceType: 'Parameters', parameter }));

  test('the same expansion as GET, paging included; by id too', async () => {
    const url = 'http://pa.example.org/fhir/ValueSet/drug-kineret';
    const get = await request(t.app).get('/fhir/ValueSet/$expand').query({ url, offset: 1, count: 2 });
    const posted = await post('/fhir/ValueSet/$expand', [
      { name: 'url', valueUri: url },
      { name: 'offset', valueInteger: 1 },
      { name: 'count', valueInteger: 2 },
    ]);
    expect(posted.status).toBe(200);
    expect(posted.body).toEqual(get.body);
    const byId = await post('/fhir/ValueSet/drug-kineret/$expand', []);
    expect(byId.status).toBe(200);
    expect(byId.body.expansion.contains.length).toBeGreaterThan(0);
  });

  test('a ValueSet in the body is not supported (400 naming the parameter); no url is a 400', async () => {
    const inline = await post('/fhir/ValueSet/$expand', [{ name: 'valueSet', resource: { resourceType: 'ValueSet', status: 'active' } as never }]);
    expect(inline.status).toBe(400);
    expect((inline.body as OperationOutcome).issue[0]?.expression).toEqual(['Parameters.parameter[0]']);
    expect((await post('/fhir/ValueSet/$expand', [])).status).toBe(400);
  });
});

describe('Questionnaire/$log-questionnaire-errors (DTR 2.0.1 OperationDefinition log-questionnaire-errors, SHOULD; input dtr-log-errors-input-parameters)', () => {
  const report = (canonical: string) => ({
    resourceType: 'Parameters',
    parameter: [
      { name: 'questionnaire', valueCanonical: canonical },
      {
        name: 'operationOutcome',
        resource: {
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'error', code: 'exception', diagnostics: 'DTR app 3.1 (2026-11-20T10:00:00-05:00): CQL "Trial Of Methotrexate" failed', expression: ['Questionnaire.item[2]'] }],
        },
      },
    ],
  });
  const log = (body: unknown) => request(t.app).post('/fhir/Questionnaire/$log-questionnaire-errors').set('Content-Type', 'application/fhir+json').send(JSON.stringify(body));

  test('stored as received and audited; the answer is an informational OperationOutcome', async () => {
    const res = await log(report(`${QUESTIONNAIRE}|1.0.0`));
    expect(res.status).toBe(200);
    expect((res.body as OperationOutcome).issue.map((i) => i.severity)).toEqual(['information']);
    const stored = await t.ctx.store.listFeedback('dtr.log-questionnaire-errors', 5);
    expect(stored[0]?.feedback).toMatchObject({ questionnaire: `${QUESTIONNAIRE}|1.0.0`, operationOutcome: { issue: [{ code: 'exception' }] } });
    const audit = await t.ctx.store.listAudit(50);
    expect(audit.some((a) => a.action === 'dtr.log-questionnaire-errors' && a.status === 200)).toBe(true);
  });

  test('a Questionnaire we do not publish is stored with a warning', async () => {
    const res = await log(report('http://elsewhere.example.org/Questionnaire/x|2'));
    expect(res.status).toBe(200);
    expect((res.body as OperationOutcome).issue[1]).toMatchObject({ severity: 'warning', code: 'not-found' });
  });

  test.each([
    ['no OperationOutcome', { resourceType: 'Parameters', parameter: [{ name: 'questionnaire', valueCanonical: QUESTIONNAIRE }] }],
    ['not Parameters', { resourceType: 'OperationOutcome', issue: [] }],
  ])('%s: 400 OperationOutcome', async (_name, body) => {
    const res = await log(body);
    expect(res.status).toBe(400);
    expect((res.body as OperationOutcome).resourceType).toBe('OperationOutcome');
  });
});

describe('GET /fhir/metadata states exactly what is served', () => {
  test('each operation with its OperationDefinition canonical; DTR payer service and PAS Intermediary instantiated', async () => {
    const res = await request(t.app).get('/fhir/metadata');
    expect(res.status).toBe(200);
    const rest = res.body.rest[0];
    const ops = Object.fromEntries(
      rest.resource.map((r: { type: string; operation?: { name: string; definition: string }[] }) => [r.type, (r.operation ?? []).map((o) => `${o.name} ${o.definition}`)]),
    );
    expect(ops).toEqual({
      Claim: [
        'submit http://hl7.org/fhir/us/davinci-pas/OperationDefinition/Claim-submit|2.2.1',
        'inquire http://hl7.org/fhir/us/davinci-pas/OperationDefinition/Claim-inquiry|2.2.1',
      ],
      ClaimResponse: [],
      Subscription: ['status http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-status'],
      Questionnaire: [
        'questionnaire-package http://hl7.org/fhir/us/davinci-dtr/OperationDefinition/questionnaire-package|2.0.1',
        'log-questionnaire-errors http://hl7.org/fhir/us/davinci-dtr/OperationDefinition/log-questionnaire-errors|2.0.1',
        'populate http://hl7.org/fhir/uv/sdc/OperationDefinition/Questionnaire-populate',
        'next-question http://hl7.org/fhir/uv/sdc/OperationDefinition/Questionnaire-next-question',
      ],
      Library: [],
      ValueSet: ['expand http://hl7.org/fhir/OperationDefinition/ValueSet-expand'],
    });
    expect(res.body.instantiates).toEqual([
      'http://hl7.org/fhir/us/davinci-pas/CapabilityStatement/IntermediaryCapabilities',
      'http://hl7.org/fhir/us/davinci-dtr/CapabilityStatement/dtr-payer-service',
    ]);
    expect(rest.security).toBeUndefined();
    // Every declared operation answers (not 404) on this app.
    const calls: [string, string][] = [
      ['post', '/fhir/Claim/$submit'],
      ['post', '/fhir/Claim/$inquire'],
      ['get', '/fhir/Subscription'],
      ['post', '/fhir/Questionnaire/$questionnaire-package'],
      ['post', '/fhir/Questionnaire/$log-questionnaire-errors'],
      ['post', '/fhir/Questionnaire/$populate'],
      ['post', '/fhir/Questionnaire/$next-question'],
      ['get', '/fhir/ValueSet/$expand'],
      ['get', '/fhir/Library'],
    ];
    for (const [method, url] of calls) {
      const r = method === 'get' ? await request(t.app).get(url) : await request(t.app).post(url).set('Content-Type', 'application/fhir+json').send('{"resourceType":"Parameters"}');
      expect([url, r.status]).not.toEqual([url, 404]);
    }
  });
});

describe('$questionnaire-package for the EHR Coverage as stored (payor a literal reference, no identifier)', () => {
  const asStored: Coverage = { ...coverage, payor: [{ reference: 'Organization/ehr-org-centene', display: 'Centene' }] };
  const centene = { resourceType: 'Organization' as const, id: 'ehr-org-centene', identifier: [{ system: 'urn:oid:2.16.840.1.113883.6.300', value: '60001' }], name: 'Centene' };

  test('no way to tell the payer: the warning names exactly what is missing and how to send it', async () => {
    const res = await packageRequest([{ name: 'coverage', resource: asStored }, { name: 'order', resource: order }]);
    expect(res.status).toBe(200);
    const outcome = (res.body as Parameters).parameter?.find((p) => p.name === 'operationOutcome')?.resource as OperationOutcome;
    expect(outcome.issue[0]?.diagnostics).toMatch(/payor \(Organization\/ehr-org-centene\) carries no payer identifier.*contained.*context/);
    expect(bundlesOf(res.body)).toHaveLength(0);
  });

  test('the CRD coverage-assertion-id ("context") needs no payer: the package, no warning', async () => {
    const assertion = await t.ctx.store.saveCoverageAssertion({
      hookInstance: 'dtr-as-stored',
      orderKey: null,
      patientKey: null,
      decision: noPolicyDecision('test', new Date('2026-11-20')),
      questionnaire: QUESTIONNAIRE,
    });
    const res = await packageRequest([{ name: 'coverage', resource: asStored }, { name: 'order', resource: order }, { name: 'context', valueString: assertion.id }]);
    expect(bundlesOf(res.body)).toHaveLength(1);
    expect((res.body as Parameters).parameter?.find((p) => p.name === 'operationOutcome')).toBeUndefined();
  });

  test('context without an order: the draft QuestionnaireResponse\'s qr-context holds the Coverage and the assertion\'s order (dtr-questionnaireresponse)', async () => {
    const assertion = await t.ctx.store.saveCoverageAssertion({
      hookInstance: 'dtr-qr-context',
      orderKey: 'http://ehr.example.org/sid/placer-order|RX-77',
      patientKey: null,
      decision: noPolicyDecision('test', new Date('2026-11-20')),
      questionnaire: QUESTIONNAIRE,
    });
    const res = await packageRequest([{ name: 'coverage', resource: asStored }, { name: 'context', valueString: assertion.id }]);
    const [bundle] = bundlesOf(res.body);
    const draft = bundle!.entry!.find((e) => e.resource?.resourceType === 'QuestionnaireResponse')!.resource as { extension?: { url: string; valueReference?: Record<string, unknown> }[] };
    const contexts = (draft.extension ?? []).filter((e) => e.url === 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/qr-context').map((e) => e.valueReference);
    expect(contexts).toEqual([
      { reference: 'Coverage/cov-medicaid-1' },
      { type: 'MedicationRequest', identifier: { system: 'http://ehr.example.org/sid/placer-order', value: 'RX-77' } },
    ]);
  });

  test('a contained Organization tells the payer', async () => {
    const contained: Coverage = { ...asStored, contained: [{ ...centene, id: 'payer' }], payor: [{ reference: '#payer' }] };
    const res = await packageRequest([{ name: 'coverage', resource: contained }, { name: 'order', resource: order }]);
    expect(bundlesOf(res.body).map((b) => (b.entry?.[0]?.resource as Questionnaire).url)).toEqual([QUESTIONNAIRE]);
  });

  test('the Organization sent in "referenced" (DTR 2.0.1 input) tells the payer', async () => {
    const res = await packageRequest([{ name: 'coverage', resource: asStored }, { name: 'order', resource: order }, { name: 'referenced', resource: centene }]);
    expect(bundlesOf(res.body).map((b) => (b.entry?.[0]?.resource as Questionnaire).url)).toEqual([QUESTIONNAIRE]);
  });
});
