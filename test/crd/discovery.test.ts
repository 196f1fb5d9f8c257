import {
  buildDiscovery,
  CARD_TYPE_CODES,
  DEFAULT_CONFIGURATION,
  hookForServiceId,
  parseConfiguration,
  parseRequestedVersion,
  prefetchTemplates,
} from '../../src/crd/discovery';
import { OperationOutcomeError } from '../../src/fhir/outcomes';

describe('buildDiscovery', () => {
  const doc = buildDiscovery({
    requirements: [
      { type: 'AllergyIntolerance' },
      { type: 'Condition' },
      { type: 'MedicationDispense' },
      { type: 'MedicationRequest' },
      { type: 'MedicationStatement' },
      { type: 'Observation', codes: [{ system: 'http://loinc.org', code: '1988-5' }, { system: 'http://loinc.org', code: '30522-7' }] },
      { type: 'Patient' },
      { type: 'PractitionerRole' },
    ],
  });

  test('one service per order hook with the CDS Hooks required fields', () => {
    expect(doc.services.map((s) => [s.hook, s.id])).toEqual([
      ['order-sign', 'pa-order-sign'],
      ['order-select', 'pa-order-select'],
      ['order-dispatch', 'pa-order-dispatch'],
    ]);
    for (const service of doc.services) {
      expect(typeof service.title).toBe('string');
      expect(service.description.length).toBeGreaterThan(20);
      expect(service.extension['davinci-crd.version']).toEqual(['2.0', '2.1', '2.2']);
    }
  });

  test('order-sign prefetch: patient, active coverages with their payor, the draft orders with requester and medication (CRD 2.0.1 foundation.md query table), chart data', () => {
    const sign = doc.services[0]!;
    expect(sign.prefetch).toEqual({
      patient: 'Patient/{{context.patientId}}',
      coverage: 'Coverage?patient={{context.patientId}}&status=active&_include=Coverage:payor',
      orders:
        'MedicationRequest?_id={{context.draftOrders.MedicationRequest.id}}&_include=MedicationRequest:requester&_include=MedicationRequest:medication' +
        '&_include:iterate=PractitionerRole:organization&_include:iterate=PractitionerRole:practitioner&_revinclude:iterate=PractitionerRole:practitioner',
      conditions: 'Condition?patient={{context.patientId}}',
      medicationRequests: 'MedicationRequest?patient={{context.patientId}}',
      medicationStatements: 'MedicationStatement?patient={{context.patientId}}',
      medicationDispenses: 'MedicationDispense?patient={{context.patientId}}',
      observations: 'Observation?patient={{context.patientId}}&code=http://loinc.org|1988-5,http://loinc.org|30522-7',
      allergies: 'AllergyIntolerance?patient={{context.patientId}}',
    });
  });

  test('order-dispatch: dispatchedOrders are references no 2.0.1 token turns into ids, so the orders key asks for the active orders', () => {
    const dispatch = doc.services[2]!;
    expect(dispatch.prefetch.orders).toMatch(/^MedicationRequest\?patient=\{\{context\.patientId\}\}&status=active&_include=MedicationRequest:requester/);
    expect(JSON.stringify(dispatch.prefetch)).not.toMatch(/resolve\(|ofType\(|%/);
  });

  test('chart keys follow the data requirements: one patient search per type, coded when the requirement is, named after the type', () => {
    const templates = prefetchTemplates('order-sign', {
      requirements: [
        { type: 'Goal' },
        { type: 'Observation', codes: [{ system: 'http://loinc.org', code: '69548-6' }, { system: 'http://loinc.org', code: '29463-7' }] },
        { type: 'Patient' },
        { type: 'PractitionerRole' },
        { type: 'QuestionnaireResponse' },
        { type: 'FamilyMemberHistory' },
        { type: 'Immunization' },
      ],
    });
    expect(templates).toEqual({
      patient: 'Patient/{{context.patientId}}',
      coverage: 'Coverage?patient={{context.patientId}}&status=active&_include=Coverage:payor',
      orders: expect.stringMatching(/^MedicationRequest\?_id=/),
      goals: 'Goal?patient={{context.patientId}}',
      observations: 'Observation?patient={{context.patientId}}&code=http://loinc.org|29463-7,http://loinc.org|69548-6',
      questionnaireResponses: 'QuestionnaireResponse?patient={{context.patientId}}',
      familyMemberHistories: 'FamilyMemberHistory?patient={{context.patientId}}',
      immunizations: 'Immunization?patient={{context.patientId}}',
    });
  });

  test('without observation codes the template asks for laboratory results', () => {
    expect(prefetchTemplates('order-sign').observations).toBe('Observation?patient={{context.patientId}}&category=laboratory');
  });

  test('configuration options: codes only from the CRD 2.0.1 cardType value set (CDSHookServicesExtensionConfiguration.code, required binding), unique, with defaults', () => {
    for (const service of doc.services) {
      const options = service.extension['davinci-crd.configuration-options'];
      for (const o of options) {
        expect(Object.keys(o).sort()).toEqual(['code', 'default', 'description', 'name', 'type']);
        expect(CARD_TYPE_CODES).toContain(o.code);
        expect(['boolean', 'integer']).toContain(o.type);
        expect(typeof o.default).toBe(o.type === 'integer' ? 'number' : 'boolean');
      }
      for (const field of ['code', 'name', 'description'] as const) {
        expect(new Set(options.map((o) => o[field])).size).toBe(options.length);
      }
      expect(options.map((o) => o.code)).toEqual(['coverage-info', 'guideline', 'therapy-alternatives-req']);
    }
  });

  test('hookForServiceId', () => {
    expect(hookForServiceId('pa-order-dispatch')).toBe('order-dispatch');
    expect(hookForServiceId('order-sign')).toBeUndefined();
  });
});

describe('parseConfiguration', () => {
  test('no extension, or no configuration: every default, no warning', () => {
    expect(parseConfiguration(undefined)).toEqual({ config: DEFAULT_CONFIGURATION, warnings: [] });
    expect(parseConfiguration({ 'other.ext': 1 })).toEqual({ config: DEFAULT_CONFIGURATION, warnings: [] });
  });

  test('known options obeyed, unknown ones ignored silently', () => {
    const { config, warnings } = parseConfiguration({
      'davinci-crd.configuration': {
        'coverage-info': true,
        instructions: false,
        guideline: false,
        'therapy-alternatives-req': false,
        'unsolicited-determ': false,
        'max-cards': 3,
        'alt-drug': true,
        'dtr-clin': true,
        cost: false,
      },
    });
    // `instructions` is no card-type code (it was ours): ignored like any unknown option.
    expect(config).toEqual({ coverageInfo: true, guideline: false, therapyAlternativesReq: false, unsolicitedDeterm: false, maxCards: 3 });
    expect(warnings).toEqual([]);
  });

  test.each([
    [{ 'coverage-info': 'no' }, 'extension.davinci-crd.configuration.coverage-info'],
    [{ 'max-cards': -1 }, 'extension.davinci-crd.configuration.max-cards'],
    [{ 'max-cards': 2.5 }, 'extension.davinci-crd.configuration.max-cards'],
    [[1, 2], 'extension.davinci-crd.configuration'],
  ])('a known option of the wrong type keeps its default and warns: %j', (raw, expression) => {
    const { config, warnings } = parseConfiguration({ 'davinci-crd.configuration': raw });
    expect(config).toEqual(DEFAULT_CONFIGURATION);
    expect(warnings).toEqual([expect.objectContaining({ severity: 'warning', expression: [expression] })]);
  });

  test('max-cards 0 is allowed (system actions only)', () => {
    expect(parseConfiguration({ 'davinci-crd.configuration': { 'max-cards': 0 } }).config.maxCards).toBe(0);
  });
});

describe('parseRequestedVersion', () => {
  test.each([
    [undefined, '2.0'],
    [{}, '2.0'],
    [{ 'davinci-crd.requestedVersion': '2.2' }, '2.2'],
    [{ 'davinci-crd.requestedVersion': '2.2.1' }, '2.2'],
    [{ 'davinci-crd.requestedVersion': '2.0.1' }, '2.0'],
    [{ 'davinci-crd.requestedVersion': '2.1' }, '2.1'],
  ])('%j → %s', (extension, version) => {
    expect(parseRequestedVersion(extension)).toBe(version);
  });

  test.each([[{ 'davinci-crd.requestedVersion': '1.0' }], [{ 'davinci-crd.requestedVersion': 'latest' }], [{ 'davinci-crd.requestedVersion': 2.2 }]])(
    'unsupported %j → 400 on the extension',
    (extension) => {
      let error: unknown;
      try {
        parseRequestedVersion(extension);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(OperationOutcomeError);
      expect((error as OperationOutcomeError).status).toBe(400);
      expect((error as OperationOutcomeError).outcome.issue[0]?.expression).toEqual(['extension.davinci-crd.requestedVersion']);
    },
  );
});
