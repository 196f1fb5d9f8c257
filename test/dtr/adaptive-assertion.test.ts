/**
 * Issue 12, DTR adaptive sessions: the completed `$next-question` response carries the CRD
 * coverage-information extension (DTR 2.0.1 adaptive forms; CRD 2.0.1 ext-coverage-information:
 * `coverage-assertion-id` is the payer's id for the assertion, which later PAS/claim traffic and
 * `$questionnaire-package` `context` use to find it). The assertion is stored, as CRD stores its own,
 * so that id names something this payer knows.
 */
import request from 'supertest';
import type { Bundle, Coverage, Parameters, Questionnaire, QuestionnaireResponse } from 'fhir/r4';
import { COVERAGE_INFORMATION_URL } from '../../src/crd/types';
import { createTestApp, type TestApp } from '../support/app';
import { KINERET_Q, load, resources } from './support/population';

const QR_CONTEXT = 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/qr-context';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
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
