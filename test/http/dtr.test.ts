/**
 * DTR through the real app: artifact reads and searches, $expand, and $questionnaire-package
 * selecting the policy by payer + drug, by canonical, and by a CRD coverage-assertion-id.
 */
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import type { Bundle, Coverage, MedicationRequest, OperationOutcome, Parameters, Questionnaire } from 'fhir/r4';
import { createTestApp, type TestApp } from '../support/app';
import { checkPackageBundle } from '../../src/dtr/conformance';

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
