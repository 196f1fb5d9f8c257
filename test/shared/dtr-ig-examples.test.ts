/**
 * The DTR 2.0.1 IG's own example instances (read from ../shared/ig at test time) against our
 * $questionnaire-package input handling and our package conformance checks.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Bundle, Parameters, Questionnaire, QuestionnaireResponse } from 'fhir/r4';
import { loadConfig, REPO_ROOT } from '../../src/config';
import { loadArtifacts } from '../../src/dtr/artifacts';
import { checkPackageBundle, reviewPackageBundle } from '../support/dtr-conformance';
import { questionnairePackage } from '../../src/dtr/questionnaire-package';

const TGZ = path.join(path.resolve(REPO_ROOT, '..', 'shared', 'ig'), 'hl7.fhir.us.davinci-dtr-2.0.1.tgz');
const unpacked = fs.mkdtempSync(path.join(os.tmpdir(), 'dtr-ig-'));
execFileSync('tar', ['-xzf', TGZ, '-C', unpacked, 'package/example']);
const read = <T>(file: string): T => JSON.parse(fs.readFileSync(path.join(unpacked, 'package', 'example', file), 'utf8')) as T;

afterAll(() => fs.rmSync(unpacked, { recursive: true, force: true }));

const artifacts = loadArtifacts(loadConfig().paths);

describe('the IG input example (Parameters-QuestionnairePackageInputParamsExample)', () => {
  const input = read<Parameters>('Parameters-QuestionnairePackageInputParamsExample.json');

  test('is accepted; its ServiceRequest (a blood gas panel) selects no drug policy → 200 with a warning', async () => {
    const { status, body } = await questionnairePackage(input, { artifacts, selectPolicy: () => null });
    expect(status).toBe(200);
    const outcome = (body as Parameters).parameter?.find((p) => p.name === 'operationOutcome')?.resource;
    expect(outcome).toMatchObject({ issue: [{ severity: 'warning', code: 'not-found', expression: ['Parameters.parameter[1].resource'] }] });
  });

  test.each(artifacts.list('Questionnaire').map((q) => [q.id!, `${q.url}|${q.version}`]))(
    'with our Questionnaire %s requested too → a conformant package linked to the example Coverage and ServiceRequest',
    async (_id, canonical) => {
      const withCanonical: Parameters = { ...input, parameter: [...(input.parameter ?? []), { name: 'questionnaire', valueCanonical: canonical }] };
      const { body } = await questionnairePackage(withCanonical, { artifacts, selectPolicy: () => null });
      const bundle = (body as Parameters).parameter?.find((p) => p.name === 'PackageBundle')?.resource as Bundle;
      expect(checkPackageBundle(bundle)).toEqual([]);
      const response = bundle.entry!.find((e) => e.resource?.resourceType === 'QuestionnaireResponse')!.resource as QuestionnaireResponse;
      expect(response.subject).toEqual({ reference: 'Patient/examplepatient' });
      expect(response.extension?.filter((e) => e.url.endsWith('/qr-context')).map((e) => e.valueReference?.reference)).toEqual([
        'Coverage/CoverageExample',
        'ServiceRequest/ServiceRequestExample',
      ]);
    },
  );
});

test("the IG's QuestionnaireResponse example passes our QuestionnaireResponse checks (qr-context, intendedUse, information-origin incl. dtrx-1)", () => {
  const questionnaire = read<Questionnaire>('Questionnaire-home-o2-std-questionnaire.json');
  const response = read<QuestionnaireResponse>('QuestionnaireResponse-home-o2-questionnaireresponse.json');
  // Pointed at the example Questionnaire and read as a draft; the example's items go beyond the
  // (abridged) example Questionnaire, so unknown linkIds are expected and left out.
  const draft = { ...response, questionnaire: `${questionnaire.url}|${questionnaire.version}`, status: 'in-progress' as const };
  const { errors } = reviewPackageBundle({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: questionnaire }, { resource: draft }] });
  expect(errors.filter((e) => e.startsWith('QuestionnaireResponse') && !e.endsWith('linkId is not in the Questionnaire'))).toEqual([]);
});

test("the IG's package Bundle example is flagged for what a payer package must add", () => {
  const errors = checkPackageBundle(read<Bundle>('Bundle-home-o2-questionnairepackage-bundle.json'));
  expect(errors).toEqual(
    expect.arrayContaining([
      'Questionnaire home-o2-std-questionnaire: cqf-library http://example.org/fhir/Library/quick is not the url (and version) of a Library in the package',
      'Questionnaire home-o2-std-questionnaire: no item has a text/cql initialExpression (nothing is pre-populated from the chart)',
      'the package holds no draft QuestionnaireResponse for the Questionnaire',
    ]),
  );
});
