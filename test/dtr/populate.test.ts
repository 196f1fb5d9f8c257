/**
 * `$populate` against the CP.PHAR.244 charts: each pre-filled answer is known from the chart (the
 * same values test/questionnaires/cp-phar-244.test.ts expects of the CQL), an item the chart is
 * silent on stays empty, every answer is marked `auto`; the data comes as a Bundle or from a FHIR
 * server behind a bearer token; malformed input is a 400 naming the element.
 */
import type { Coverage, MedicationRequest, Questionnaire, QuestionnaireItem, QuestionnaireResponseItem } from 'fhir/r4';
import { Code, Concept, Date as CqlDate, DateTime, Quantity } from 'cql-execution';
import { populate } from '../../src/dtr/populate';
import { answersFor } from '../../src/dtr/prepopulate';
import { DTR_PROFILE, EXT } from '../../src/dtr/urls';
import {
  answerValues,
  context,
  deps,
  failure,
  issuesOf,
  itemsOf,
  KINERET_Q,
  load,
  originOf,
  param,
  parameters,
  patientOf,
  resources,
  responseOf,
  serveChart,
  type ChartServer,
} from './support/population';

type Fixture = Parameters<typeof load>[0];

function chartRequest(fixture: Fixture, ...extra: ReturnType<typeof param>[]) {
  const chart = load(fixture);
  const order = resources(chart).find((r) => r.resourceType === 'MedicationRequest' && r.id === 'medreq-kineret') as MedicationRequest;
  const coverage = resources(chart).find((r) => r.resourceType === 'Coverage') as Coverage;
  return parameters(
    param('canonical', { valueUri: KINERET_Q }),
    param('subject', { reference: `Patient/${patientOf(chart).id}` }),
    context('coverage', coverage),
    context('order', { reference: `MedicationRequest/${order.id}` }),
    context('data', chart),
    ...extra,
  );
}

/** What each chart shows, item by item (a coded answer as its code). Items not listed stay empty. */
const EXPECTED: Record<Fixture, Record<string, unknown[]>> = {
  'ra-approvable': {
    indication: ['RA'],
    'continued-therapy': [false],
    'ra-acr-criteria': [true],
    'mtx-trial-failed': [true],
    'mtx-intolerance': [false],
    'adalimumab-failed': [true],
    'tocilizumab-failed': [true],
    'tofacitinib-failed': [true],
    'baseline-cdai': [31],
    'rheumatologist-consulted': [true],
    'no-combination': [true],
  },
  'ra-chart-only-partial': {
    indication: ['RA'],
    'continued-therapy': [false],
    'ra-acr-criteria': [true],
    'mtx-trial-failed': [true],
    'mtx-intolerance': [false],
    'rheumatologist-consulted': [true],
    'no-combination': [true],
  },
  'ra-continuation': {
    indication: ['RA'],
    'continued-therapy': [true],
    'ra-acr-criteria': [true],
    'mtx-trial-failed': [true],
    'mtx-intolerance': [false],
    'baseline-cdai': [34],
    'current-cdai': [14],
    'rheumatologist-consulted': [true],
    'no-combination': [true],
  },
  'ra-combination-adalimumab': {
    indication: ['RA'],
    'continued-therapy': [false],
    'ra-acr-criteria': [true],
    'mtx-trial-failed': [true],
    'mtx-intolerance': [false],
    'baseline-cdai': [27],
    'rheumatologist-consulted': [true],
    'no-combination': [false],
  },
  'nomid-child': { indication: ['CAPS'], 'continued-therapy': [false], 'mtx-intolerance': [false], 'nomid-diagnosis': [true], 'rheumatologist-consulted': [true], 'no-combination': [true] },
  dira: { indication: ['DIRA'], 'continued-therapy': [false], 'mtx-intolerance': [false], 'il1rn-mutation': [true], 'rheumatologist-consulted': [true], 'no-combination': [true] },
  'covid-outpatient': { indication: ['COVID19'], 'continued-therapy': [false], 'mtx-intolerance': [false], 'rheumatologist-consulted': [false], 'no-combination': [true] },
};

/** The non-display items of a Questionnaire as linkId paths, to compare trees. */
function questionnaireTree(items: QuestionnaireItem[] | undefined, prefix = ''): string[] {
  return (items ?? []).filter((i) => i.type !== 'display').flatMap((i) => [`${prefix}${i.linkId}`, ...questionnaireTree(i.item, `${prefix}${i.linkId}/`)]);
}
function responseTree(items: QuestionnaireResponseItem[] | undefined, prefix = ''): string[] {
  return (items ?? []).flatMap((i) => [`${prefix}${i.linkId}`, ...responseTree(i.item, `${prefix}${i.linkId}/`)]);
}

describe('$populate from a data Bundle', () => {
  test.each(Object.keys(EXPECTED) as Fixture[])('%s: exactly the answers the chart gives, each marked auto', async (fixture) => {
    const { status, body } = await populate(chartRequest(fixture), deps());
    expect(status).toBe(200);
    const response = responseOf(body);
    expect(answerValues(response)).toEqual(EXPECTED[fixture]);
    for (const item of itemsOf(response.item)) for (const answer of item.answer ?? []) expect([item.linkId, originOf(answer)]).toEqual([item.linkId, 'auto']);
    expect(issuesOf(body)).toEqual([]);
  });

  test('the response: DTR profile, versioned canonical, in-progress, subject, contexts, the questionnaire tree without display items', async () => {
    const { body } = await populate(chartRequest('ra-approvable'), deps());
    const response = responseOf(body);
    const questionnaire = deps().artifacts.byCanonical('Questionnaire', KINERET_Q) as Questionnaire;
    expect(response).toMatchObject({
      resourceType: 'QuestionnaireResponse',
      meta: { profile: [DTR_PROFILE.questionnaireResponse] },
      questionnaire: `${KINERET_Q}|1.0.0`,
      status: 'in-progress',
      subject: { reference: 'Patient/pt-ra-approvable' },
      authored: '2026-11-20T15:00:00.000Z',
    });
    expect(response.extension?.filter((e) => e.url === EXT.qrContext).map((e) => e.valueReference?.reference)).toEqual([
      'Coverage/cov-pt-ra-approvable',
      'MedicationRequest/medreq-kineret',
    ]);
    expect(response.extension?.find((e) => e.url === EXT.intendedUse)?.valueCodeableConcept?.coding?.[0]?.code).toBe('withpa');
    expect(responseTree(response.item)).toEqual(questionnaireTree(questionnaire.item));
    // Groups keep their place; the RA questions sit inside ra / ra-initial.
    expect(responseTree(response.item)).toContain('ra/ra-initial/adalimumab-failed');
    // Coded answers carry the answer ValueSet's display.
    expect(itemsOf(response.item).find((i) => i.linkId === 'indication')?.answer?.[0]?.valueCoding).toEqual({
      system: 'http://pa.example.org/fhir/CodeSystem/cp-phar-244-indication',
      code: 'RA',
      display: 'Rheumatoid arthritis',
    });
  });

  test('the same answers at instance level, by questionnaireRef, by the questionnaire resource, and with the data as a top-level parameter', async () => {
    const chart = load('ra-chart-only-partial');
    const common = [param('subject', { reference: 'Patient/pt-ra-partial' }), param('data', chart)];
    const questionnaire = deps().artifacts.byId('Questionnaire', 'cp-phar-244-kineret') as Questionnaire;
    const variants = await Promise.all([
      populate(parameters(...common), deps(), 'cp-phar-244-kineret'),
      populate(parameters(param('questionnaireRef', { reference: 'Questionnaire/cp-phar-244-kineret' }), ...common), deps()),
      populate(parameters(param('questionnaire', structuredClone(questionnaire)), ...common), deps()),
      populate(parameters(param('questionnaire', { valueCanonical: `${KINERET_Q}|1.0.0` }), context('patientData', chart), common[0]!), deps()),
    ]);
    for (const { body } of variants) expect(answerValues(responseOf(body))).toEqual(EXPECTED['ra-chart-only-partial']);
  });

  test('without coverage and order the response has no qr-context and does not claim the DTR profile', async () => {
    const { body } = await populate(parameters(param('canonical', { valueUri: KINERET_Q }), param('subject', { reference: 'Patient/pt-ra-partial' }), param('data', load('ra-chart-only-partial'))), deps());
    const response = responseOf(body);
    expect(response.meta).toBeUndefined();
    expect(response.extension?.map((e) => e.url)).toEqual([EXT.intendedUse]);
  });

  test('without any patient data: no answers, and issues say why', async () => {
    const { status, body } = await populate(parameters(param('canonical', { valueUri: KINERET_Q }), param('subject', { reference: 'Patient/p1' }), param('local', { valueBoolean: true })), deps());
    expect(status).toBe(200);
    expect(answerValues(responseOf(body))).toEqual({ 'mtx-intolerance': [false] });
    const codes = issuesOf(body).map((i) => [i.severity, i.code]);
    expect(codes).toEqual(expect.arrayContaining([['warning', 'incomplete'], ['warning', 'not-supported']]));
  });

  test('a context name the Questionnaire does not declare is reported and not used', async () => {
    const { body } = await populate(chartRequest('ra-chart-only-partial', context('encounter', { reference: 'Encounter/e1' })), deps());
    expect(answerValues(responseOf(body))).toEqual(EXPECTED['ra-chart-only-partial']);
    expect(issuesOf(body)).toEqual([expect.objectContaining({ severity: 'warning', code: 'not-supported', diagnostics: expect.stringContaining('context encounter') })]);
  });
});

describe('$populate: non-fatal problems travel as issues beside the response', () => {
  function withItems(...items: QuestionnaireItem[]): Questionnaire {
    const questionnaire = structuredClone(deps().artifacts.byId('Questionnaire', 'cp-phar-244-kineret') as Questionnaire);
    questionnaire.item = [...(questionnaire.item ?? []), ...items];
    return questionnaire;
  }
  const cql = (linkId: string, type: QuestionnaireItem['type'], expression: string, language = 'text/cql'): QuestionnaireItem => ({
    linkId,
    type,
    text: linkId,
    extension: [{ url: EXT.initialExpression, valueExpression: { language, expression } }],
  });

  test('a failing or missing definition, a misfit value and a FHIRPath expression leave their items empty; the rest is filled', async () => {
    const questionnaire = withItems(
      cql('x-missing', 'boolean', '"CPPHAR244Kineret"."No Such Definition"'),
      cql('x-misfit', 'decimal', '"CPPHAR244Kineret"."RA Diagnosis (Chart)"'),
      cql('x-fhirpath', 'string', '%patient.name.family', 'text/fhirpath'),
      cql('x-other-library', 'boolean', '"NoSuchLibrary"."Anything"'),
      cql('x-age', 'integer', '"CPPHAR244Kineret"."Age In Years"'),
      cql('x-now', 'dateTime', '"CPPHAR244Kineret"."Now"'),
      cql('x-order-id', 'string', '"CPPHAR244Kineret"."Requested Order Id"'),
    );
    const { status, body } = await populate(
      parameters(param('questionnaire', questionnaire), param('subject', { reference: 'Patient/pt-ra-partial' }), param('data', load('ra-chart-only-partial'))),
      deps(),
    );
    expect(status).toBe(200);
    const values = answerValues(responseOf(body));
    expect(values).toMatchObject(EXPECTED['ra-chart-only-partial']);
    expect(values['x-age']).toEqual([57]);
    // CQL's Now() is the request's instant (15:00 UTC) at the payer's offset (America/New_York).
    expect(values['x-now']).toEqual(['2026-11-20T10:00:00.000-05:00']);
    expect(values['x-order-id']).toEqual(['medreq-kineret']);
    for (const linkId of ['x-missing', 'x-misfit', 'x-fhirpath', 'x-other-library']) expect(values[linkId]).toBeUndefined();
    const issues = issuesOf(body);
    const about = (linkId: string) => issues.find((i) => i.diagnostics?.startsWith(`Item ${linkId}`));
    expect(about('x-missing')).toMatchObject({ severity: 'warning', code: 'exception' });
    expect(about('x-missing')?.diagnostics).toContain('no such definition');
    expect(about('x-misfit')).toMatchObject({ severity: 'warning', code: 'processing' });
    expect(about('x-misfit')?.diagnostics).toContain('Boolean value, which does not fit a decimal item');
    expect(about('x-fhirpath')).toMatchObject({ code: 'not-supported' });
    expect(about('x-other-library')).toMatchObject({ code: 'not-found' });
    expect(issues).toHaveLength(4);
  });
});

describe('answersFor: CQL values to answers of the item type', () => {
  const item = (type: QuestionnaireItem['type'], extra: Partial<QuestionnaireItem> = {}): QuestionnaireItem => ({ linkId: 'q', type, ...extra });
  test.each([
    ['boolean', true, item('boolean'), [{ valueBoolean: true }]],
    ['decimal', 27.5, item('decimal'), [{ valueDecimal: 27.5 }]],
    ['decimal from a Quantity', new Quantity(68.4, 'kg'), item('decimal'), [{ valueDecimal: 68.4 }]],
    ['integer', 48, item('integer'), [{ valueInteger: 48 }]],
    ['string', 'Dr. Okafor', item('string'), [{ valueString: 'Dr. Okafor' }]],
    ['text', 'notes', item('text'), [{ valueString: 'notes' }]],
    ['Code', new Code('RA', 'http://x/cs', undefined, 'Rheumatoid arthritis'), item('choice'), [{ valueCoding: { system: 'http://x/cs', code: 'RA', display: 'Rheumatoid arthritis' } }]],
    ['Concept of one code', new Concept([new Code('M05.79', 'http://hl7.org/fhir/sid/icd-10-cm')]), item('open-choice'), [{ valueCoding: { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'M05.79' } }]],
    ['Date', new CqlDate(2026, 10, 28), item('date'), [{ valueDate: '2026-10-28' }]],
    ['DateTime as date', new DateTime(2026, 10, 28, 9, 30, 0, 0, 0), item('date'), [{ valueDate: '2026-10-28' }]],
    ['DateTime', new DateTime(2026, 10, 28, 9, 30, 0, 0, 0), item('dateTime'), [{ valueDateTime: '2026-10-28T09:30:00.000+00:00' }]],
    ['Quantity', new Quantity(68.4, 'kg'), item('quantity'), [{ valueQuantity: { value: 68.4, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' } }]],
    ['null', null, item('boolean'), []],
    ['an empty list', [], item('string', { repeats: true }), []],
    ['a list for a repeating item', ['a', 'b'], item('string', { repeats: true }), [{ valueString: 'a' }, { valueString: 'b' }]],
  ] as const)('%s', (_name, value, target, answers) => {
    expect(answersFor(value, target as QuestionnaireItem)).toEqual({ answers });
  });

  test.each([
    ['a Boolean for a decimal item', true, item('decimal'), 'returned a Boolean value, which does not fit a decimal item'],
    ['a fraction for an integer item', 2.5, item('integer'), 'returned a Decimal value, which does not fit a integer item'],
    ['two values for a single item', ['a', 'b'], item('string'), 'returned 2 values for an item that does not repeat'],
    [
      'a code outside the answer options',
      new Code('XX', 'http://x/cs'),
      item('choice', { answerOption: [{ valueCoding: { system: 'http://x/cs', code: 'RA' } }] }),
      "returned http://x/cs|XX, which is not among the item's answer options",
    ],
    ['a group', true, item('group'), 'cannot pre-populate a group item'],
  ] as const)('%s is a problem, not an answer', (_name, value, target, problem) => {
    expect(answersFor(value, target as QuestionnaireItem)).toEqual({ problem });
  });
});

describe('$populate from a FHIR server with a bearer token', () => {
  let server: ChartServer;
  const TOKEN = 'ehr-access-token-1';
  beforeAll(async () => {
    server = await serveChart(load('ra-approvable'), TOKEN);
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => {
    server.requests.length = 0;
  });

  const fromServer = (token: string) =>
    parameters(
      param('canonical', { valueUri: KINERET_Q }),
      param('subject', { reference: 'Patient/pt-ra-approvable' }),
      context('coverage', { reference: 'Coverage/cov-pt-ra-approvable' }),
      context('order', { reference: 'MedicationRequest/medreq-kineret' }),
      param('fhirServer', { valueUrl: server.baseUrl }),
      param('accessToken', { valueString: token }),
    );

  test('reads the chart (paged searches, the order, its requester role) and fills the same answers as from a Bundle', async () => {
    const { status, body } = await populate(fromServer(TOKEN), deps());
    expect(status).toBe(200);
    expect(answerValues(responseOf(body))).toEqual(EXPECTED['ra-approvable']);
    expect(issuesOf(body)).toEqual([]);
    const urls = server.requests.map((r) => r.url);
    // The order and Coverage come with the patient's searches; the requester's role is read by id.
    expect(urls).toEqual(expect.arrayContaining(['Patient/pt-ra-approvable', 'MedicationRequest?patient=pt-ra-approvable', 'Coverage?patient=pt-ra-approvable&status=active&_include=Coverage:payor', 'PractitionerRole/role-marquez-rheumatology']));
    expect(urls.some((u) => u.startsWith('MedicationDispense?patient=pt-ra-approvable') && u.includes('_offset=4'))).toBe(true);
    expect(server.requests.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  test('a refused token: the reads fail, the response has no chart answers, and issues name fhirServer', async () => {
    const { status, body } = await populate(fromServer('wrong-token'), deps());
    expect(status).toBe(200);
    expect(answerValues(responseOf(body))).toEqual({ 'mtx-intolerance': [false] });
    const issues = issuesOf(body);
    expect(issues.length).toBeGreaterThan(0);
    expect(issues.filter((i) => i.code === 'transient').length).toBeGreaterThan(0);
    expect(issues.find((i) => i.code === 'transient')?.expression).toEqual(['Parameters.parameter[4]']);
  });
});

describe('$populate errors', () => {
  const subject = param('subject', { reference: 'Patient/pt-ra-partial' });
  const canonical = param('canonical', { valueUri: KINERET_Q });
  const cases: [string, unknown, number, string][] = [
    ['not a Parameters', { resourceType: 'Questionnaire' }, 400, 'Parameters'],
    ['a parameter without a name', { resourceType: 'Parameters', parameter: [{ valueString: 'x' }] }, 400, 'Parameters.parameter[0].name'],
    ['no questionnaire', parameters(subject), 400, "Parameters.parameter.where(name='questionnaire')"],
    ['two questionnaires', parameters(canonical, param('questionnaireRef', { reference: 'Questionnaire/cp-phar-244-kineret' }), subject), 400, 'Parameters.parameter[1].valueReference'],
    ['no subject', parameters(canonical), 400, "Parameters.parameter.where(name='subject')"],
    ['a subject that is not a Patient', parameters(canonical, param('subject', { reference: 'Group/g1' })), 400, 'Parameters.parameter[1].valueReference'],
    ['a context without a name', parameters(canonical, subject, { name: 'context', part: [{ name: 'content', valueReference: { reference: 'Coverage/c' } }] }), 400, 'Parameters.parameter[2].part'],
    ['a coverage context that is not a Coverage', parameters(canonical, subject, context('coverage', { reference: 'Patient/pt-ra-partial' })), 400, 'Parameters.parameter[2].part[1].valueReference'],
    ['a data parameter that is not a Bundle', parameters(canonical, subject, param('data', { resourceType: 'Patient', id: 'p' })), 400, 'Parameters.parameter[2].resource'],
    ['a token without fhirServer', parameters(canonical, subject, param('accessToken', { valueString: 't' })), 400, 'Parameters.parameter[2]'],
    ['a fhirServer that is not an http URL', parameters(canonical, subject, param('fhirServer', { valueUrl: 'ftp://ehr' })), 400, 'Parameters.parameter[2].valueUrl'],
    ['a context patient that is not the subject', parameters(canonical, subject, context('patient', { reference: 'Patient/other' })), 400, 'Parameters.parameter[2].part[1].valueReference'],
    ['data about another patient', parameters(canonical, subject, param('data', load('ra-approvable'))), 400, 'Parameters.parameter[1].valueReference'],
    ['an inline Questionnaire without url', parameters(param('questionnaire', { resourceType: 'Questionnaire', status: 'active', item: [] }), subject), 400, 'Parameters.parameter[0].resource.url'],
  ];
  test.each(cases.map(([name, body, status, expression]) => ({ name, body, status, expression })))('$name → $status naming $expression', async ({ body, status, expression }) => {
    expect(await failure(() => populate(body, deps()))).toMatchObject({ status, expression: [expression] });
  });

  test.each([
    ['an unknown canonical', parameters(param('canonical', { valueUri: 'http://pa.example.org/fhir/Questionnaire/nope' }), subject), undefined],
    ['an unknown identifier', parameters(param('identifier', { valueIdentifier: { system: 'urn:x', value: 'nope' } }), subject), undefined],
    ['an unknown instance id', parameters(subject), 'nope'],
  ])('%s → 404', async (_name, body, id) => {
    expect(await failure(() => populate(body, deps(), id))).toMatchObject({ status: 404, code: 'not-found' });
  });
});
