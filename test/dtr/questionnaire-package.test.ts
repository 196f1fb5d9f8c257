import type { Bundle, OperationOutcome, Parameters, QuestionnaireResponse } from 'fhir/r4';
import { OperationOutcomeError } from '../../src/fhir/outcomes';
import { checkPackageBundle } from '../support/dtr-conformance';
import { questionnairePackage, type QuestionnairePackageDeps } from '../../src/dtr/questionnaire-package';
import { BASE, coverage, fixtureArtifacts, medicationOrder, packageInput, packageOf } from './support/fixtures';

const { artifacts } = fixtureArtifacts();
const FIXTURE_Q = `${BASE}/Questionnaire/dtr-fixture`;
const CONTINUATION_Q = `${BASE}/Questionnaire/dtr-fixture-continuation`;
const NOW = new Date('2025-03-01T10:00:00Z');

const deps = (overrides: Partial<QuestionnairePackageDeps> = {}): QuestionnairePackageDeps => ({
  artifacts,
  now: () => NOW,
  // Test stand-in for the engine: Kineret (RxNorm 727711) under payer 68069 → the fixture form.
  selectPolicy: (cov, order) =>
    cov.payor?.some((p) => p.identifier?.value === '68069') &&
    (order as { medicationCodeableConcept?: { coding?: { code?: string }[] } }).medicationCodeableConcept?.coding?.some((c) => c.code === '727711')
      ? { questionnaire: FIXTURE_Q }
      : null,
  lookupAssertion: (id) => (id === 'assertion-1' ? { questionnaire: `${CONTINUATION_Q}|1.1.0` } : null),
  ...overrides,
});

const types = (bundle: Bundle): string[] => (bundle.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.resourceType === 'Library' ? e.resource.name : e.resource?.id}`);
const responseOf = (bundle: Bundle): QuestionnaireResponse =>
  bundle.entry!.find((e) => e.resource?.resourceType === 'QuestionnaireResponse')!.resource as QuestionnaireResponse;
const outcomeOf = (parameters: Parameters): OperationOutcome | undefined =>
  parameters.parameter?.find((p) => p.name === 'operationOutcome')?.resource as OperationOutcome | undefined;
const bundlesOf = (parameters: Parameters): Bundle[] =>
  (parameters.parameter ?? []).filter((p) => p.name === 'PackageBundle').map((p) => p.resource as Bundle);

async function expectError(body: unknown, status: number, expression?: string, d = deps()): Promise<OperationOutcomeError> {
  const error = await questionnairePackage(body, d).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OperationOutcomeError);
  const ooe = error as OperationOutcomeError;
  expect(ooe.status).toBe(status);
  if (expression) expect(ooe.outcome.issue[0]?.expression).toEqual([expression]);
  return ooe;
}

describe('$questionnaire-package: selection', () => {
  test('by canonical: one form, no warnings → Parameters with one PackageBundle (dtr-qpackage-output-parameters), complete and conformant', async () => {
    const { status, body } = await questionnairePackage(packageInput({ questionnaire: [FIXTURE_Q], order: [medicationOrder()] }), deps());
    expect(status).toBe(200);
    const bundle = packageOf(body);
    expect(bundle).toMatchObject({
      resourceType: 'Bundle',
      type: 'collection',
      meta: { profile: ['http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/DTR-QPackageBundle'] },
    });
    expect(types(bundle)).toEqual([
      'Questionnaire/dtr-fixture',
      'Library/DtrFixturePolicy',
      'Library/DtrFixtureCommon',
      'Library/DtrFixtureHelpers',
      'ValueSet/dtr-fixture-specialties',
      'ValueSet/dtr-fixture-diagnoses',
      'ValueSet/dtr-fixture-prior-drugs',
      `QuestionnaireResponse/${responseOf(bundle).id}`,
    ]);
    expect(bundle.entry![1]!.fullUrl).toBe(`${BASE}/Library/DtrFixturePolicy`);
    for (const entry of bundle.entry!) {
      if (entry.resource?.resourceType === 'ValueSet') expect(entry.resource.expansion?.contains?.length).toBeGreaterThan(0);
    }
    expect(checkPackageBundle(bundle)).toEqual([]);
  });

  test('the draft QuestionnaireResponse follows dtr-questionnaireresponse and links the client Coverage and order', async () => {
    const { body } = await questionnairePackage(packageInput({ questionnaire: [FIXTURE_Q], order: [medicationOrder()] }), deps());
    const response = responseOf(packageOf(body));
    expect(response).toMatchObject({
      meta: { profile: ['http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-questionnaireresponse'], lastUpdated: NOW.toISOString() },
      questionnaire: `${FIXTURE_Q}|1.0.0`,
      status: 'in-progress',
      subject: { reference: 'Patient/pat-1' },
      authored: NOW.toISOString(),
      extension: [
        { url: 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/qr-context', valueReference: { reference: 'Coverage/cov-1' } },
        { url: 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/qr-context', valueReference: { reference: 'MedicationRequest/mr-1' } },
        {
          url: 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/intendedUse',
          valueCodeableConcept: { coding: [{ system: 'http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp', code: 'withpa' }] },
        },
      ],
    });
    // The item tree without answers: no display items, groups nested.
    expect(response.item?.map((i) => i.linkId)).toEqual(['diagnosis', 'prior-therapy', 'consult', 'last-weight-date']);
    expect(response.item?.[1]?.item?.map((i) => i.linkId)).toEqual(['prior-drug', 'prior-drug-reason']);
    expect(JSON.stringify(response)).not.toContain('"answer"');
  });

  test("by the order's drug and the coverage's payer (injected selectPolicy)", async () => {
    const seen: [string | undefined, string | undefined][] = [];
    const d = deps();
    const select = d.selectPolicy!;
    const { body } = await questionnairePackage(
      packageInput({ order: [medicationOrder()] }),
      deps({
        selectPolicy: (c, o, referenced) => {
          seen.push([c.id, o.id]);
          return select(c, o, referenced);
        },
      }),
    );
    expect(seen).toEqual([['cov-1', 'mr-1']]);
    expect(packageOf(body).entry?.[0]?.resource?.id).toBe('dtr-fixture');
    expect(checkPackageBundle(packageOf(body))).toEqual([]);
  });

  test('by context: the CRD coverage-assertion-id (injected lookupAssertion), version-specific', async () => {
    // The engine is left out here so that only the assertion selects.
    const { body } = await questionnairePackage(packageInput({ context: 'assertion-1', order: [medicationOrder()] }), deps({ selectPolicy: undefined }));
    const bundle = packageOf(body);
    expect(bundle.entry?.[0]?.resource).toMatchObject({ id: 'dtr-fixture-continuation', version: '1.1.0' });
    expect(responseOf(bundle).questionnaire).toBe(`${CONTINUATION_Q}|1.1.0`);
    expect(checkPackageBundle(bundle)).toEqual([]);
  });

  test('several forms → Parameters with one PackageBundle each; a form selected twice appears once', async () => {
    const { status, body } = await questionnairePackage(
      packageInput({ questionnaire: [FIXTURE_Q, CONTINUATION_Q], context: 'assertion-1', order: [medicationOrder()] }),
      deps(),
    );
    expect(status).toBe(200);
    const parameters = body as Parameters;
    expect(parameters.meta?.profile).toEqual(['http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-qpackage-output-parameters']);
    const bundles = bundlesOf(parameters);
    expect(bundles.map((b) => b.entry?.[0]?.resource?.id)).toEqual(['dtr-fixture', 'dtr-fixture-continuation']);
    expect(outcomeOf(parameters)).toBeUndefined();
    for (const bundle of bundles) expect(checkPackageBundle(bundle)).toEqual([]);
  });

  test('several coverages and orders: each form links the coverage and orders that selected it', async () => {
    const other = medicationOrder({ id: 'mr-2', medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '1' }] } });
    const { body } = await questionnairePackage(
      packageInput({ coverage: [coverage(), coverage({ id: 'cov-2', payor: [{ display: 'Other payer' }] })], order: [medicationOrder(), other] }),
      deps(),
    );
    const parameters = body as Parameters;
    const [bundle] = bundlesOf(parameters);
    const contexts = responseOf(bundle!).extension!.filter((e) => e.url.endsWith('qr-context')).map((e) => e.valueReference?.reference);
    expect(contexts).toEqual(['Coverage/cov-1', 'MedicationRequest/mr-1']);
    // The order nothing applies to is reported, not silently dropped.
    expect(outcomeOf(parameters)?.issue).toEqual([
      expect.objectContaining({ severity: 'warning', code: 'not-found', expression: ['Parameters.parameter[3].resource'] }),
    ]);
  });
});

describe('$questionnaire-package: warnings travel with the answer', () => {
  test('unknown canonical → 200, Parameters with an outcome warning naming the parameter', async () => {
    const { status, body } = await questionnairePackage(packageInput({ questionnaire: [`${BASE}/Questionnaire/unknown`] }), deps());
    expect(status).toBe(200);
    const parameters = body as Parameters;
    expect(bundlesOf(parameters)).toHaveLength(0);
    expect(outcomeOf(parameters)?.issue).toEqual([
      {
        severity: 'warning',
        code: 'not-found',
        diagnostics: `Requested questionnaire: Questionnaire ${BASE}/Questionnaire/unknown is not published by this server`,
        expression: ['Parameters.parameter[1].value'],
      },
    ]);
  });

  test('a known and an unknown canonical → the known package plus the warning', async () => {
    const { body } = await questionnairePackage(packageInput({ questionnaire: [`${FIXTURE_Q}|9.9.9`, FIXTURE_Q], order: [medicationOrder()] }), deps());
    const parameters = body as Parameters;
    expect(bundlesOf(parameters).map((b) => b.entry?.[0]?.resource?.id)).toEqual(['dtr-fixture']);
    expect(outcomeOf(parameters)?.issue.map((i) => i.expression)).toEqual([['Parameters.parameter[2].value']]);
  });

  test('an order no policy applies to → 200 with a warning, no package', async () => {
    const { body } = await questionnairePackage(packageInput({ order: [medicationOrder({ medicationCodeableConcept: { text: 'aspirin' } })] }), deps());
    const parameters = body as Parameters;
    expect(bundlesOf(parameters)).toHaveLength(0);
    expect(outcomeOf(parameters)?.issue[0]?.diagnostics).toMatch(/No prior-authorization questionnaire of this payer applies to MedicationRequest\/mr-1 \(aspirin\)/);
  });

  test('no selectPolicy configured: orders select nothing and say so', async () => {
    const { body } = await questionnairePackage(packageInput({ order: [medicationOrder()] }), deps({ selectPolicy: undefined }));
    expect(outcomeOf(body as Parameters)?.issue[0]?.code).toBe('not-found');
  });

  test('a selection problem the client can fix is the warning, instead of "no questionnaire applies"', async () => {
    const { body } = await questionnairePackage(
      packageInput({ order: [medicationOrder()] }),
      deps({ selectPolicy: () => ({ problem: 'Coverage/cov-1.payor (Organization/ehr-org-7) carries no payer identifier' }) }),
    );
    expect(outcomeOf(body as Parameters)?.issue[0]).toMatchObject({ severity: 'warning', code: 'incomplete', diagnostics: expect.stringContaining('Organization/ehr-org-7') });
  });

  test('changedsince after every artifact → nothing changed (informational outcome); before → the package', async () => {
    const future = await questionnairePackage(packageInput({ questionnaire: [FIXTURE_Q], changedsince: '2999-01-01T00:00:00Z' }), deps());
    expect(bundlesOf(future.body as Parameters)).toHaveLength(0);
    expect(outcomeOf(future.body as Parameters)?.issue[0]).toMatchObject({ severity: 'information', code: 'informational' });
    const past = await questionnairePackage(packageInput({ questionnaire: [FIXTURE_Q], changedsince: '2000-01-01T00:00:00Z', order: [medicationOrder()] }), deps());
    expect(bundlesOf(past.body as Parameters)).toHaveLength(1);
    // dtr-qpackage-output-parameters needs PackageBundle 1..*: claimed only when there is a package.
    expect((past.body as Parameters).meta?.profile).toEqual(['http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-qpackage-output-parameters']);
    expect((future.body as Parameters).meta).toBeUndefined();
  });
});

describe('$questionnaire-package: input names and types of DTR 2.0.1, 2.1 and 2.2', () => {
  test.each([
    ['valueCanonical', { name: 'questionnaire', valueCanonical: FIXTURE_Q }],
    ['valueUri', { name: 'questionnaire', valueUri: FIXTURE_Q }],
    ['valueUrl', { name: 'questionnaire', valueUrl: FIXTURE_Q }],
  ])('questionnaire as %s', async (_label, parameter) => {
    const body = { resourceType: 'Parameters', parameter: [{ name: 'coverage', resource: coverage() }, { name: 'order', resource: medicationOrder() }, parameter] };
    const result = await questionnairePackage(body, deps());
    expect(packageOf(result.body).entry?.[0]?.resource?.id).toBe('dtr-fixture');
  });

  test.each([
    ['valueInstant (2.0.1–2.2 input profiles)', { name: 'changedsince', valueInstant: '2000-01-01T00:00:00Z' }],
    ['valueDateTime (2.0.1 OperationDefinition)', { name: 'changedsince', valueDateTime: '2000-01-01' }],
  ])('changedsince as %s', async (_label, parameter) => {
    const body = packageInput({ questionnaire: [FIXTURE_Q], order: [medicationOrder()] });
    body.parameter!.push(parameter);
    expect(bundlesOf((await questionnairePackage(body, deps())).body as Parameters)).toHaveLength(1);
  });

  test('`referenced` (2.0.1) and unknown parameters do not disturb the answer', async () => {
    const body = packageInput({ questionnaire: [FIXTURE_Q], order: [medicationOrder()] });
    body.parameter!.push({ name: 'referenced', resource: { resourceType: 'Patient', id: 'pat-1' } }, { name: 'futureThing', valueString: 'x' });
    expect(bundlesOf((await questionnairePackage(body, deps())).body as Parameters)).toHaveLength(1);
  });

  test('a coverage with only an identifier is linked by identifier', async () => {
    const cov = coverage({ id: undefined, identifier: [{ system: 'urn:ehr:coverage', value: 'C-9' }] });
    const { body } = await questionnairePackage(packageInput({ coverage: [cov], questionnaire: [FIXTURE_Q], order: [medicationOrder()] }), deps());
    expect(responseOf(packageOf(body)).extension?.[0]?.valueReference).toEqual({ type: 'Coverage', identifier: { system: 'urn:ehr:coverage', value: 'C-9' } });
  });
});

describe('$questionnaire-package: errors', () => {
  test.each([
    ['not a Parameters', { resourceType: 'Bundle' }, 'Parameters'],
    ['parameter not an array', { resourceType: 'Parameters', parameter: {} }, 'Parameters.parameter'],
    ['no coverage', { resourceType: 'Parameters', parameter: [{ name: 'questionnaire', valueCanonical: FIXTURE_Q }] }, "Parameters.parameter.where(name='coverage')"],
    [
      'none of order, questionnaire, context',
      { resourceType: 'Parameters', parameter: [{ name: 'coverage', resource: coverage() }] },
      "Parameters.parameter.where(name='order' or name='questionnaire' or name='context')",
    ],
    ['coverage that is not a Coverage', { resourceType: 'Parameters', parameter: [{ name: 'coverage', resource: { resourceType: 'Patient' } }] }, 'Parameters.parameter[0].resource'],
    [
      'order that is not a request',
      { resourceType: 'Parameters', parameter: [{ name: 'coverage', resource: coverage() }, { name: 'order', resource: { resourceType: 'Patient', id: 'p' } }] },
      'Parameters.parameter[1].resource',
    ],
    [
      'questionnaire without a canonical',
      { resourceType: 'Parameters', parameter: [{ name: 'coverage', resource: coverage() }, { name: 'questionnaire', valueBoolean: true }] },
      'Parameters.parameter[1].valueCanonical',
    ],
    [
      'changedsince that is not a date',
      { resourceType: 'Parameters', parameter: [{ name: 'coverage', resource: coverage() }, { name: 'questionnaire', valueCanonical: FIXTURE_Q }, { name: 'changedsince', valueInstant: 'yesterday' }] },
      'Parameters.parameter[2].valueInstant',
    ],
    [
      'context twice',
      { resourceType: 'Parameters', parameter: [{ name: 'coverage', resource: coverage() }, { name: 'context', valueString: 'a' }, { name: 'context', valueString: 'b' }] },
      'Parameters.parameter[2]',
    ],
    [
      'a parameter without a name',
      { resourceType: 'Parameters', parameter: [{ resource: coverage() }] },
      'Parameters.parameter[0].name',
    ],
    [
      'an order the response cannot reference (no id, no identifier)',
      { resourceType: 'Parameters', parameter: [{ name: 'coverage', resource: coverage() }, { name: 'order', resource: { ...medicationOrder(), id: undefined } }] },
      'Parameters.parameter[1].resource.id',
    ],
  ])('%s → 400 naming the element', async (_label, body, expression) => {
    const error = await expectError(body, 400, expression);
    expect(error.outcome.issue[0]?.severity).toBe('error');
  });

  test('unknown context → 404', async () => {
    const error = await expectError(packageInput({ context: 'no-such-assertion' }), 404);
    expect(error.outcome.issue[0]).toMatchObject({ code: 'not-found', diagnostics: 'No coverage assertion with id no-such-assertion is known to this payer' });
  });

  test('context given but no assertion store configured → 404, not a crash', async () => {
    await expectError(packageInput({ context: 'assertion-1' }), 404, undefined, deps({ lookupAssertion: undefined }));
  });

  test('a coverage without beneficiary and an order without subject → 400 on the beneficiary', async () => {
    const cov = coverage({ beneficiary: undefined as never });
    await expectError(
      packageInput({ coverage: [cov], questionnaire: [FIXTURE_Q], order: [medicationOrder({ subject: undefined as never })] }),
      400,
      "Parameters.parameter.where(name='coverage').resource.beneficiary",
    );
  });
});
