/**
 * Issue 12, DTR adaptive sessions. The entry point: `$questionnaire-package` for the adaptive
 * canonical returns the DTR `dtr-questionnaire-adapt-search` Questionnaire (DTR 2.0.1
 * OperationDefinition questionnaire-package: "for adaptive questionnaires, there will be no question
 * items"; the profile's `questionnaireAdaptive` extension) and a draft response that
 * `$next-question` takes. The end: the completed `$next-question` response carries the CRD
 * coverage-information extension (DTR 2.0.1 adaptive forms; CRD 2.0.1 ext-coverage-information:
 * `coverage-assertion-id` is the payer's id for the assertion, which later PAS/claim traffic and
 * `$questionnaire-package` `context` use to find it). The assertion is stored, as CRD stores its own,
 * so that id names something this payer knows.
 */
import request from 'supertest';
import type { Bundle, Coverage, Parameters, Questionnaire, QuestionnaireResponse } from 'fhir/r4';
import { COVERAGE_INFORMATION_URL } from '../../src/crd/types';
import { loadConfig } from '../../src/config';
import { createTestApp, type TestApp } from '../support/app';
import { KINERET_Q, load, resources } from './support/population';

const QR_CONTEXT = 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/qr-context';

let t: TestApp;
beforeAll(async () => {
  // A decision that times out on a loaded machine pends; these tests are about the answer, not the time.
  t = await createTestApp({ evaluation: { ...loadConfig().evaluation, timeoutMs: 60_000 } });
}, 60_000);
afterAll(async () => t.close());

test('a completed adaptive session stores its coverage assertion; $questionnaire-package finds the policy form by that context id', async () => {
  const chart: Bundle = load('ra-approvable');
  const coverage = resources(chart).find((r): r is Coverage => r.resourceType === 'Coverage')!;
  const start: QuestionnaireResponse = {
    resourceType: 'QuestionnaireResponse',
    extension: [
      { url: QR_CONTEXT, valueReference: { reference: `Coverage/${coverage.id}` } },
      { url: QR_CONTEXT, valueReference: { reference: 'MedicationRequest/medreq-kineret' } },
    ],
    questionnaire: KINERET_Q,
    status: 'in-progress',
    subject: { reference: 'Patient/pt-ra-approvable' },
  };
  const res = await request(t.app)
    .post('/fhir/Questionnaire/$next-question')
    .set('content-type', 'application/fhir+json')
    .send({ resourceType: 'Parameters', parameter: [{ name: 'questionnaire-response', resource: start }, { name: 'data', resource: chart }] });
  expect(res.status).toBe(200);
  const completed = res.body as QuestionnaireResponse;
  expect(completed.status).toBe('completed');
  const info = completed.extension?.find((e) => e.url === COVERAGE_INFORMATION_URL);
  const id = info?.extension?.find((e) => e.url === 'coverage-assertion-id')?.valueString;
  expect(id).toBeTruthy();

  const stored = await t.ctx.store.getCoverageAssertion(id!);
  expect(stored).toMatchObject({ id, policyId: 'cp-phar-244', questionnaire: KINERET_Q });
  expect(stored?.hookInstance).toMatch(/^dtr-next-question:/);

  const pkg = await request(t.app)
    .post('/fhir/Questionnaire/$questionnaire-package')
    .set('content-type', 'application/fhir+json')
    .send({ resourceType: 'Parameters', parameter: [{ name: 'coverage', resource: coverage }, { name: 'context', valueString: id }] });
  expect(pkg.status).toBe(200);
  const bundle = (pkg.body as Parameters).parameter?.find((p) => p.name === 'PackageBundle')?.resource as Bundle;
  expect((bundle.entry?.[0]?.resource as Questionnaire).url).toBe(KINERET_Q);
});

test('the adaptive entry point: the package carries the adapt-search form and a draft response; $next-question asks the first question', async () => {
  const chart: Bundle = load('ra-chart-only-partial');
  const coverage = resources(chart).find((r): r is Coverage => r.resourceType === 'Coverage')!;
  const order = resources(chart).find((r) => r.resourceType === 'MedicationRequest' && r.id === 'medreq-kineret')!;
  const pkg = await request(t.app)
    .post('/fhir/Questionnaire/$questionnaire-package')
    .set('content-type', 'application/fhir+json')
    .send({ resourceType: 'Parameters', parameter: [{ name: 'coverage', resource: coverage }, { name: 'order', resource: order }, { name: 'questionnaire', valueCanonical: `${KINERET_Q}-adaptive` }] });
  expect(pkg.status).toBe(200);
  const bundle = (pkg.body as Parameters).parameter?.find((p) => p.name === 'PackageBundle')?.resource as Bundle;
  const form = bundle.entry?.[0]?.resource as Questionnaire;
  expect(form).toMatchObject({
    meta: { profile: ['http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-questionnaire-adapt-search'] },
    url: `${KINERET_Q}-adaptive`,
    extension: [{ url: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-questionnaireAdaptive', valueBoolean: true }],
    derivedFrom: [expect.stringMatching(new RegExp(`^${KINERET_Q.replace(/\./g, '\\.')}\\|`))],
  });
  expect(form.item).toBeUndefined();
  // No items: no Libraries or ValueSets are needed.
  expect(bundle.entry?.map((e) => e.resource?.resourceType)).toEqual(['Questionnaire', 'QuestionnaireResponse']);
  const draft = bundle.entry?.[1]?.resource as QuestionnaireResponse;
  expect(draft.questionnaire).toBe(`${form.url}|${form.version}`);

  const res = await request(t.app)
    .post('/fhir/Questionnaire/$next-question')
    .set('content-type', 'application/fhir+json')
    .send({ resourceType: 'Parameters', parameter: [{ name: 'questionnaire-response', resource: draft }, { name: 'data', resource: chart }] });
  expect(res.status).toBe(200);
  const next = res.body as QuestionnaireResponse;
  expect(next.status).toBe('in-progress');
  const adaptive = next.contained?.find((r): r is Questionnaire => r.resourceType === 'Questionnaire');
  expect(adaptive?.derivedFrom?.[0]?.split('|')[0]).toBe(KINERET_Q);
  expect(adaptive?.item?.length).toBeGreaterThan(0);
});
