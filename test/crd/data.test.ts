import type { Bundle, Coverage, FhirResource, MedicationRequest } from 'fhir/r4';
import { prefetchTemplates, PREFETCH_KEYS } from '../../src/crd/discovery';
import { gatherPatientData, pickCoverage, resolveOrderMedications, resolvePayer, resolveRequester, type PatientData } from '../../src/crd/data';
import { parseCdsHooksRequest, type CdsHooksRequest } from '../../src/crd/request';
import { drugCodes, toEvaluationRequest } from '../../src/crd/evaluation';
import { OperationOutcomeError } from '../../src/fhir/outcomes';
import { createFhirKitFetcher } from '../../src/fhir/fetcher';
import {
  allergies,
  conditions,
  coverage,
  draftOrder,
  medicationDispenses,
  medicationHistory,
  medicationStatements,
  observations,
  patient,
  PATIENT_ID,
  payerOrg,
  requesterRole,
  searchset,
  signRequestBody,
  startFhirServer,
  type TestFhirServer,
} from './fixtures';

const TOKEN = 'opaque-ehr-access-token';
const OBS_CODES = [{ system: 'http://loinc.org', code: '1988-5' }];
/** The chart these tests' policies read: the default types, observations by code. */
const REQUIREMENTS = [
  { type: 'Condition' },
  { type: 'MedicationRequest' },
  { type: 'MedicationStatement' },
  { type: 'MedicationDispense' },
  { type: 'Observation', codes: OBS_CODES },
  { type: 'AllergyIntolerance' },
];
const SIGN_TEMPLATES = prefetchTemplates('order-sign', { requirements: REQUIREMENTS });
const DISPATCH_TEMPLATES = prefetchTemplates('order-dispatch', { requirements: REQUIREMENTS });
/** The `orders` query for the draft order, as the client (or we) run it. */
const ORDERS_QUERY = SIGN_TEMPLATES.orders!.replace('{{context.draftOrders.MedicationRequest.id}}', 'draft-kineret');

/** What a CDS Client that honours every template would send. */
function fullPrefetch(): Record<string, FhirResource | null> {
  return {
    patient,
    coverage: searchset([coverage, payerOrg]),
    orders: searchset([draftOrder(), requesterRole]),
    conditions: searchset(conditions),
    medicationRequests: searchset(medicationHistory),
    medicationStatements: searchset(medicationStatements),
    medicationDispenses: searchset(medicationDispenses),
    observations: searchset(observations),
    allergies: searchset(allergies),
  };
}

let server: TestFhirServer;

beforeAll(async () => {
  server = await startFhirServer(
    {
      [`Patient/${PATIENT_ID}`]: () => ({ body: patient }),
      [`Coverage?patient=${PATIENT_ID}&status=active&_include=Coverage:payor`]: () => ({ body: searchset([coverage, payerOrg]) }),
      [ORDERS_QUERY]: () => ({ body: searchset([draftOrder(), requesterRole]) }),
      [DISPATCH_TEMPLATES.orders!.replace('{{context.patientId}}', PATIENT_ID)]: () => ({
        body: searchset([{ ...draftOrder({ id: 'placed-1', status: 'active' }) }, requesterRole]),
      }),
      'PractitionerRole?_id=role-rheum-1': () => ({ body: searchset([requesterRole]) }),
      // Conditions come in two pages, to exercise `next`.
      [`Condition?patient=${PATIENT_ID}`]: (base) => ({
        body: { ...searchset(conditions.slice(0, 2)), link: [{ relation: 'next', url: `${base}/Condition?patient=${PATIENT_ID}&page=2` }] },
      }),
      [`Condition?patient=${PATIENT_ID}&page=2`]: () => ({ body: searchset(conditions.slice(2)) }),
      [`MedicationRequest?patient=${PATIENT_ID}`]: () => ({ body: searchset(medicationHistory) }),
      [`MedicationStatement?patient=${PATIENT_ID}`]: () => ({ body: searchset(medicationStatements) }),
      [`MedicationDispense?patient=${PATIENT_ID}`]: () => ({ body: searchset(medicationDispenses) }),
      [`Observation?patient=${PATIENT_ID}&code=http://loinc.org|1988-5`]: () => ({ body: searchset(observations) }),
      [`AllergyIntolerance?patient=${PATIENT_ID}`]: () => ({ body: searchset(allergies) }),
      'Organization/org-centene': () => ({ body: payerOrg }),
      'Organization?_id=org-centene': () => ({ body: searchset([payerOrg]) }),
      'PractitionerRole?practitioner=prac-2': () => ({
        body: searchset([{ resourceType: 'PractitionerRole', id: 'role-2', active: true, practitioner: { reference: 'Practitioner/prac-2' } }]),
      }),
      'Medication/med-anakinra': () => ({
        body: {
          resourceType: 'Medication',
          id: 'med-anakinra',
          code: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '349325', display: 'anakinra 100 MG/0.67ML Prefilled Syringe' }] },
        },
      }),
      'MedicationRequest?_id=placed-1': () => ({ body: searchset([{ ...draftOrder({ id: 'placed-1', status: 'active' }) }]) }),
    },
    { token: TOKEN },
  );
});

afterAll(() => server.close());

function signRequest(prefetch: Record<string, FhirResource | null>, withServer = true): CdsHooksRequest {
  const extra: Record<string, unknown> = { prefetch };
  if (withServer) {
    extra.fhirServer = server.baseUrl;
    extra.fhirAuthorization = { access_token: TOKEN, token_type: 'Bearer', expires_in: 300, scope: 'user/*.read', subject: 'pa-service' };
  }
  return parseCdsHooksRequest(signRequestBody(extra), 'order-sign');
}

async function gather(prefetch: Record<string, FhirResource | null>, withServer = true): Promise<PatientData> {
  return gatherPatientData({ request: signRequest(prefetch, withServer), prefetchTemplates: SIGN_TEMPLATES });
}

function without(key: string): Record<string, FhirResource | null> {
  const p = fullPrefetch();
  delete p[key];
  return p;
}

describe('gatherPatientData: the same bundle whichever prefetch keys are missing', () => {
  let reference: PatientData;
  beforeAll(async () => {
    reference = await gather(fullPrefetch());
  });

  test('with complete prefetch nothing is fetched', () => {
    expect(reference.sources).toEqual(Object.fromEntries(Object.keys(fullPrefetch()).map((k) => [k, 'prefetch'])));
    expect(reference.warnings).toEqual([]);
    const types = reference.bundle.entry?.map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);
    expect(types).toEqual([
      'MedicationRequest/draft-kineret',
      `Patient/${PATIENT_ID}`,
      'Coverage/cov-1',
      'Organization/org-centene',
      'PractitionerRole/role-rheum-1',
      'Condition/cond-ra',
      'Condition/cond-htn',
      'Condition/cond-old',
      'MedicationRequest/mr-mtx',
      'MedicationStatement/ms-hcq',
      'MedicationDispense/md-mtx',
      'Observation/obs-crp',
      'AllergyIntolerance/alg-pcn',
    ]);
    expect(reference.bundle.type).toBe('collection');
    expect(reference.orders.map((o) => o.id)).toEqual(['draft-kineret']);
  });

  test.each(Object.keys(fullPrefetch()))('prefetch key "%s" missing: fetched from fhirServer, same bundle', async (key) => {
    const before = server.requests.length;
    const data = await gather(without(key));
    expect(data.sources[key]).toBe('fetched');
    expect(data.warnings).toEqual([]);
    expect(data.bundle).toEqual(reference.bundle);
    const asked = server.requests.slice(before);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  test('no prefetch at all: everything fetched, same bundle (Condition pages followed)', async () => {
    const data = await gather({});
    expect(data.bundle).toEqual(reference.bundle);
    expect(data.byKey.conditions?.map((c) => c.id)).toEqual(['cond-ra', 'cond-htn', 'cond-old']);
  });
});

describe('gatherPatientData: prefetch semantics', () => {
  test('a key with null means "no data": not fetched, not an error', async () => {
    const before = server.requests.length;
    const data = await gather({ ...fullPrefetch(), allergies: null });
    expect(data.sources.allergies).toBe('prefetch');
    expect(data.byKey.allergies).toEqual([]);
    expect(server.requests.length).toBe(before);
  });

  test('an OperationOutcome from the client is a warning, not re-queried', async () => {
    const before = server.requests.length;
    const data = await gather({
      ...fullPrefetch(),
      observations: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'timeout', diagnostics: 'lab system down' }] },
    });
    expect(server.requests.length).toBe(before);
    expect(data.sources.observations).toBe('failed');
    expect(data.warnings).toEqual([
      expect.objectContaining({ severity: 'warning', code: 'timeout', expression: ['prefetch.observations'], diagnostics: expect.stringMatching(/lab system down/) }),
    ]);
  });

  test('missing data and no fhirServer: 412 naming the keys', async () => {
    const error = await gather(without('conditions'), false).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperationOutcomeError);
    expect((error as OperationOutcomeError).status).toBe(412);
    expect((error as OperationOutcomeError).outcome.issue[0]?.diagnostics).toMatch(/conditions/);
  });

  test('complete prefetch and no fhirServer is fine', async () => {
    const data = await gather(fullPrefetch(), false);
    expect(data.fetcher).toBeUndefined();
    expect(data.bundle.entry?.[1]?.fullUrl).toBeUndefined();
  });

  test('a failing fhirServer read is a warning for that key only', async () => {
    const data = await gatherPatientData({
      request: signRequest(without('allergies')),
      prefetchTemplates: { ...SIGN_TEMPLATES, allergies: 'AllergyIntolerance?patient={{context.patientId}}&clinical-status=active' },
    });
    expect(data.sources.allergies).toBe('failed');
    expect(data.warnings).toEqual([
      expect.objectContaining({ code: 'transient', expression: ['prefetch.allergies'], diagnostics: expect.stringMatching(/HTTP 404/) }),
    ]);
  });

  test('a wrong access token gives warnings (HTTP 401), never an HTTP error of ours', async () => {
    const request = signRequest(without('conditions'));
    request.fhirAuthorization = { ...request.fhirAuthorization!, access_token: 'wrong' };
    const data = await gatherPatientData({ request, prefetchTemplates: SIGN_TEMPLATES });
    expect(data.warnings[0]?.diagnostics).toMatch(/HTTP 401/);
    expect(JSON.stringify(data.warnings)).not.toContain('wrong');
  });

  test('a paginated prefetch Bundle is completed from fhirServer', async () => {
    const firstPage: Bundle = {
      ...searchset(conditions.slice(0, 2)),
      link: [{ relation: 'next', url: `${server.baseUrl}/Condition?patient=${PATIENT_ID}&page=2` }],
    };
    const data = await gather({ ...fullPrefetch(), conditions: firstPage });
    expect(data.byKey.conditions?.map((c) => c.id)).toEqual(['cond-ra', 'cond-htn', 'cond-old']);
  });

  test('a next link to another origin is not followed (the token stays home)', async () => {
    const firstPage: Bundle = { ...searchset(conditions.slice(0, 1)), link: [{ relation: 'next', url: 'https://elsewhere.example.org/fhir/Condition?page=2' }] };
    const data = await gather({ ...fullPrefetch(), conditions: firstPage });
    expect(data.byKey.conditions?.map((c) => c.id)).toEqual(['cond-ra']);
    expect(data.warnings[0]?.diagnostics).toMatch(/outside/);
  });

  test('resources of another patient are left out with a warning', async () => {
    const stray = { ...conditions[0]!, id: 'cond-stray', subject: { reference: 'Patient/someone-else' } };
    const data = await gather({ ...fullPrefetch(), conditions: searchset([...conditions, stray]) });
    expect(data.byKey.conditions?.map((c) => c.id)).not.toContain('cond-stray');
    expect(data.warnings[0]?.expression).toEqual(['prefetch.conditions']);
  });

  test('a prefetched Patient that is not context.patientId is a 400', async () => {
    const error = await gather({ ...fullPrefetch(), patient: { ...patient, id: 'other' } }).catch((e: unknown) => e);
    expect((error as OperationOutcomeError).status).toBe(400);
    expect((error as OperationOutcomeError).outcome.issue[0]?.expression).toEqual(['prefetch.patient']);
  });

  test('a requester that is a Practitioner: its roles come with the orders key (_revinclude:iterate=PractitionerRole:practitioner), no read', async () => {
    const role2 = { resourceType: 'PractitionerRole' as const, id: 'role-2', active: true, practitioner: { reference: 'Practitioner/prac-2' } };
    const order = draftOrder({ requester: { reference: 'Practitioner/prac-2' } });
    const body = signRequestBody({ prefetch: { ...fullPrefetch(), orders: searchset([order, role2]) } });
    (body.context as { draftOrders: Bundle }).draftOrders.entry = [{ resource: order }];
    const data = await gatherPatientData({ request: parseCdsHooksRequest(body, 'order-sign'), prefetchTemplates: SIGN_TEMPLATES });
    expect(data.fetcher).toBeUndefined();
    await expect(resolveRequester(order, data)).resolves.toMatchObject({ id: 'role-2' });
  });
});

describe('gatherPatientData: order-select and order-dispatch', () => {
  test('order-select answers for the selected orders only, and keeps every draft in the bundle', async () => {
    const other = draftOrder({ id: 'draft-other', medicationCodeableConcept: { text: 'ibuprofen' } });
    const body = signRequestBody({ hook: 'order-select', prefetch: fullPrefetch() });
    const context = body.context as Record<string, unknown>;
    context.selections = ['MedicationRequest/draft-kineret'];
    (context.draftOrders as Bundle).entry = [{ resource: draftOrder() }, { resource: other }];
    const request = parseCdsHooksRequest(body, 'order-select');
    const data = await gatherPatientData({ request, prefetchTemplates: prefetchTemplates('order-select', { requirements: REQUIREMENTS }) });
    expect(data.orders.map((o) => o.id)).toEqual(['draft-kineret']);
    expect(data.bundle.entry?.map((e) => e.resource?.id)).toContain('draft-other');
  });

  test('order-dispatch reads the dispatched order and its requester from fhirServer (the patient\'s active orders, _include requester)', async () => {
    const request = parseCdsHooksRequest(
      {
        hook: 'order-dispatch',
        hookInstance: '3c2f7d4e-1b2a-4c3d-8e9f-0a1b2c3d4e5f',
        fhirServer: server.baseUrl,
        fhirAuthorization: { access_token: TOKEN, token_type: 'Bearer', expires_in: 300, scope: 'user/*.read', subject: 'pa-service' },
        context: { patientId: PATIENT_ID, order: 'MedicationRequest/placed-1', performer: 'Organization/pharmacy-1' },
        prefetch: { patient, coverage: searchset([coverage]) },
      },
      'order-dispatch',
    );
    expect(request.context.dispatchedOrders).toEqual(['MedicationRequest/placed-1']);
    const data = await gatherPatientData({ request, prefetchTemplates: DISPATCH_TEMPLATES });
    expect(data.sources.orders).toBe('fetched');
    expect(data.orders.map((o) => o.id)).toEqual(['placed-1']);
    expect(data.byKey.orders?.map((r) => r.id)).toEqual(['placed-1', 'role-rheum-1']);
  });
});

describe('pickCoverage (CRD hook-13)', () => {
  async function withCoverages(covs: Coverage[]): Promise<PatientData> {
    return gather({ ...fullPrefetch(), coverage: searchset(covs) });
  }

  test('exactly one active Coverage', async () => {
    const data = await withCoverages([coverage, { ...coverage, id: 'cov-old', status: 'cancelled' }]);
    expect(pickCoverage(data, new Date('2026-03-01')).id).toBe('cov-1');
  });

  test.each([
    ['none', [] as Coverage[], /No active Coverage/],
    ['only a lapsed one', [{ ...coverage, period: { start: '2020-01-01', end: '2024-12-31' } }], /No active Coverage/],
    ['several', [coverage, { ...coverage, id: 'cov-2' }], /2 active Coverages/],
  ])('%s → 400 on prefetch.coverage', async (_name, covs, text) => {
    const data = await withCoverages(covs);
    let error: unknown;
    try {
      pickCoverage(data, new Date('2026-03-01'));
    } catch (e) {
      error = e;
    }
    expect((error as OperationOutcomeError).status).toBe(400);
    expect((error as OperationOutcomeError).outcome.issue[0]).toMatchObject({ expression: ['prefetch.coverage'], diagnostics: expect.stringMatching(text) });
  });
});

describe('resolvePayer and resolveRequester', () => {
  test('payer identifiers come from the payor Organization read from fhirServer', async () => {
    const data = await gather(fullPrefetch());
    const payer = await resolvePayer(pickCoverage(data), data);
    expect(payer).toEqual({
      identifiers: [{ system: 'urn:oid:2.16.840.1.113883.6.300', value: '60001' }],
      lineOfBusiness: [{ system: 'urn:oid:2.16.840.1.113883.3.221.5', code: '2', display: 'MEDICAID' }],
      planValues: ['MCD-STD'],
      state: 'NH',
    });
    expect(data.bundle.entry?.some((e) => e.resource?.id === 'org-centene')).toBe(true);
  });

  test('a payor given by identifier needs no read; no identifier at all is a 400', async () => {
    const data = await gather(fullPrefetch(), false);
    const byIdentifier = { ...coverage, payor: [{ identifier: { system: 'urn:oid:2.16.840.1.113883.6.300', value: '60004' } }] };
    await expect(resolvePayer(byIdentifier, data)).resolves.toMatchObject({ identifiers: [{ value: '60004' }] });
    const anonymous = { ...coverage, payor: [{ display: 'Some plan' }] };
    await expect(resolvePayer(anonymous, data)).rejects.toMatchObject({ status: 400 });
  });

  test('requester PractitionerRole from the data; for a Practitioner requester, searched by practitioner', async () => {
    const data = await gather(fullPrefetch());
    await expect(resolveRequester(draftOrder(), data)).resolves.toMatchObject({ id: 'role-rheum-1' });
    const byPractitioner: MedicationRequest = draftOrder({ requester: { reference: 'Practitioner/prac-2' } });
    await expect(resolveRequester(byPractitioner, data)).resolves.toMatchObject({ id: 'role-2' });
    await expect(resolveRequester(draftOrder({ requester: { display: 'Dr. Who' } }), data)).resolves.toBeUndefined();
  });

  /** An order-sign request whose draft order names its prescriber as a Practitioner, read through a fetcher that records when each read was asked. */
  async function gatherWithPractitionerRequester(prefetch: Record<string, FhirResource | null>, withOrder: FhirResource[] = []) {
    const order = draftOrder({ requester: { reference: 'Practitioner/prac-2' } });
    const body = signRequestBody({
      prefetch: { ...prefetch, orders: searchset([order, ...withOrder]) },
      fhirServer: server.baseUrl,
      fhirAuthorization: { access_token: TOKEN, token_type: 'Bearer', expires_in: 300, scope: 'user/*.read', subject: 'pa-service' },
    });
    (body.context as { draftOrders: Bundle }).draftOrders = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: order }] };
    const reads: { url: string; answeredBefore: number }[] = [];
    let answered = 0;
    const data = await gatherPatientData({
      request: parseCdsHooksRequest(body, 'order-sign'),
      prefetchTemplates: SIGN_TEMPLATES,
      fetcher: (access) => {
        const real = createFhirKitFetcher(access);
        return { baseUrl: real.baseUrl, get: (url) => (reads.push({ url, answeredBefore: answered }), real.get(url).finally(() => (answered += 1))) };
      },
    });
    return { data, reads };
  }

  test("a draft order's requester the prefetch lacks is read beside the chart's reads, not after them", async () => {
    const { data, reads } = await gatherWithPractitionerRequester(without('conditions'));
    const search = reads.filter((r) => r.url === 'PractitionerRole?practitioner=prac-2');
    expect(search).toEqual([{ url: 'PractitionerRole?practitioner=prac-2', answeredBefore: 0 }]);
    // The conditions come in two pages: read after the requester's search was asked.
    expect(reads.filter((r) => r.url.includes('Condition?patient=')).length).toBe(2);
    expect(data.bundle.entry?.filter((e) => e.resource?.resourceType === 'PractitionerRole').map((e) => e.resource?.id)).toEqual(['role-2']);
    expect(data.warnings).toEqual([]);
  });

  test("a requester's role in the prefetch is not read at all", async () => {
    const role2 = { resourceType: 'PractitionerRole', id: 'role-2', active: true, practitioner: { reference: 'Practitioner/prac-2' } } as const;
    const { data, reads } = await gatherWithPractitionerRequester(fullPrefetch(), [role2]);
    expect(reads).toEqual([]);
    expect(data.bundle.entry?.filter((e) => e.resource?.resourceType === 'PractitionerRole').map((e) => e.resource?.id)).toEqual(['role-2']);
  });

  test('PREFETCH_KEYS names the keys of the templates', () => {
    expect(Object.keys(SIGN_TEMPLATES)).toEqual(
      expect.arrayContaining([PREFETCH_KEYS.patient, PREFETCH_KEYS.coverage, PREFETCH_KEYS.orders, PREFETCH_KEYS.observations]),
    );
  });
});

describe('resolveOrderMedications', () => {
  test('a Medication named by medicationReference is read from fhirServer, so the drug is known (CRD 2.0.1 foundation.md: MedicationRequest:medication is part of the order data)', async () => {
    const order = draftOrder({ medicationReference: { reference: 'Medication/med-anakinra' } });
    delete order.medicationCodeableConcept;
    const data = await gatherPatientData({ request: signRequest(fullPrefetch()), prefetchTemplates: SIGN_TEMPLATES });
    data.orders = [order];
    expect(drugCodes(order, data.bundle)).toEqual([]);
    await resolveOrderMedications(data);
    expect(drugCodes(order, data.bundle).map((c) => c.code)).toEqual(['349325']);
    expect(server.requests.some((r) => r.url === 'Medication/med-anakinra')).toBe(true);
  });

  test('an unreadable Medication is a warning naming it', async () => {
    const order = draftOrder({ medicationReference: { reference: 'Medication/missing' } });
    delete order.medicationCodeableConcept;
    const data = await gatherPatientData({ request: signRequest(fullPrefetch()), prefetchTemplates: SIGN_TEMPLATES });
    data.orders = [order];
    await resolveOrderMedications(data);
    expect(data.warnings.map((w) => w.diagnostics).join(' ')).toMatch(/Medication\/missing/);
  });
});

describe('toEvaluationRequest', () => {
  test('the engine input for an order: whole bundle, drug codes, reason diagnoses, payer', async () => {
    const data = await gather(fullPrefetch());
    const payer = await resolvePayer(pickCoverage(data), data);
    const order = draftOrder({ reasonReference: [{ reference: 'Condition/cond-htn' }] });
    const when = new Date('2026-03-01T12:00:00Z');
    const request = toEvaluationRequest({ order, data, patientId: PATIENT_ID, payer, evaluationDate: when });
    expect(request.bundle).toBe(data.bundle);
    expect(request.drug).toEqual({ codes: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '349325', display: 'anakinra 100 MG/0.67ML Prefilled Syringe' }], orderId: 'draft-kineret' });
    expect(request.diagnoses).toEqual([
      { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'M05.79' },
      { system: 'http://snomed.info/sct', code: '38341003' },
    ]);
    expect(request).toMatchObject({ patientId: PATIENT_ID, payer, priorAuthorizations: [], evaluationDate: when });
  });

  test('a contained Medication supplies the drug codes', async () => {
    const order = draftOrder({
      medicationCodeableConcept: undefined,
      medicationReference: { reference: '#med' },
      contained: [{ resourceType: 'Medication', id: 'med', code: { coding: [{ system: 'http://hl7.org/fhir/sid/ndc', code: '66658-0234-07' }] } }],
    });
    expect(drugCodes(order, { resourceType: 'Bundle', type: 'collection' })).toEqual([{ system: 'http://hl7.org/fhir/sid/ndc', code: '66658-0234-07' }]);
  });
});
