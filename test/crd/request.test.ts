import type { Bundle } from 'fhir/r4';
import { parseCdsHooksRequest } from '../../src/crd/request';
import { evaluateToken, substituteTokens } from '../../src/crd/prefetch';
import { parseReference } from '../../src/fhir/reference';
import { OperationOutcomeError } from '../../src/fhir/outcomes';
import type { HookName } from '../../src/crd/types';
import { draftOrder, HOOK_INSTANCE, PATIENT_ID, signRequestBody } from './fixtures';

function issuesOf(body: unknown, hook: HookName = 'order-sign', options = {}): { expression: string; diagnostics: string; code: string }[] {
  try {
    parseCdsHooksRequest(body, hook, options);
  } catch (error) {
    expect(error).toBeInstanceOf(OperationOutcomeError);
    expect((error as OperationOutcomeError).status).toBe(400);
    return (error as OperationOutcomeError).outcome.issue.map((i) => ({
      expression: i.expression?.[0] ?? '',
      diagnostics: i.diagnostics ?? '',
      code: i.code,
    }));
  }
  throw new Error('expected a 400');
}

/** A body with one change made by `edit`. */
function edited(edit: (body: Record<string, any>) => void, hook: HookName = 'order-sign'): Record<string, unknown> {
  const body = structuredClone(signRequestBody({ hook })) as Record<string, any>;
  if (hook === 'order-select') body.context.selections = ['MedicationRequest/draft-kineret'];
  edit(body);
  return body;
}

describe('parseCdsHooksRequest: valid requests', () => {
  test('order-sign with fhirServer and fhirAuthorization', () => {
    const request = parseCdsHooksRequest(
      signRequestBody({
        fhirServer: 'https://ehr.example.org/fhir/',
        fhirAuthorization: { access_token: 'tok', token_type: 'Bearer', expires_in: 300, scope: 'user/*.read', subject: 'svc', patient: PATIENT_ID },
        prefetch: { patient: { resourceType: 'Patient', id: PATIENT_ID }, allergies: null },
        extension: { 'davinci-crd.configuration': { 'max-cards': 2 } },
        unknownField: 'kept, ignored',
      }),
      'order-sign',
    );
    expect(request.hook).toBe('order-sign');
    expect(request.hookInstance).toBe(HOOK_INSTANCE);
    expect(request.fhirServer).toBe('https://ehr.example.org/fhir');
    expect(request.prefetch.allergies).toBeNull();
    expect(request.context.draftOrders?.entry?.[0]?.resource?.id).toBe('draft-kineret');
  });

  test('order-select with selections', () => {
    const request = parseCdsHooksRequest(edited(() => undefined, 'order-select'), 'order-select');
    expect(request.context.selections).toEqual(['MedicationRequest/draft-kineret']);
  });

  test('order-dispatch with dispatchedOrders (hook 1.0) and without userId', () => {
    const request = parseCdsHooksRequest(
      { hook: 'order-dispatch', hookInstance: HOOK_INSTANCE, context: { patientId: PATIENT_ID, dispatchedOrders: ['MedicationRequest/a', 'MedicationRequest/b'], performer: 'Organization/pharm' } },
      'order-dispatch',
    );
    expect(request.context.dispatchedOrders).toEqual(['MedicationRequest/a', 'MedicationRequest/b']);
  });
});

describe('parseCdsHooksRequest: each malformed element is named', () => {
  const cases: [string, Record<string, unknown>, string, RegExp, HookName?][] = [
    ['hook of another service', edited((b) => (b.hook = 'order-select')), 'hook', /must be "order-sign"/],
    ['hookInstance missing', edited((b) => delete b.hookInstance), 'hookInstance', /required/],
    ['hookInstance not a UUID', edited((b) => (b.hookInstance = 'call-42')), 'hookInstance', /UUID/],
    ['context missing', edited((b) => delete b.context), 'context', /required/],
    ['context.patientId missing', edited((b) => delete b.context.patientId), 'context.patientId', /required/],
    ['context.patientId not an id', edited((b) => (b.context.patientId = 'Patient/x y')), 'context.patientId', /FHIR resource id/],
    ['context.userId missing', edited((b) => delete b.context.userId), 'context.userId', /required/],
    ['context.userId not a reference', edited((b) => (b.context.userId = 'dr-jones')), 'context.userId', /relative reference/],
    ['context.draftOrders missing', edited((b) => delete b.context.draftOrders), 'context.draftOrders', /required/],
    ['context.draftOrders not a Bundle', edited((b) => (b.context.draftOrders = { resourceType: 'MedicationRequest' })), 'context.draftOrders.resourceType', /Bundle/],
    ['context.draftOrders of type searchset', edited((b) => (b.context.draftOrders.type = 'searchset')), 'context.draftOrders.type', /collection/],
    ['an entry without resource', edited((b) => (b.context.draftOrders.entry = [{ fullUrl: 'x' }])), 'context.draftOrders.entry[0].resource', /required/],
    ['an entry resource without resourceType', edited((b) => (b.context.draftOrders.entry = [{ resource: { id: 'x' } }])), 'context.draftOrders.entry[0].resource.resourceType', /required/],
    [
      'a draft order for another patient',
      edited((b) => (b.context.draftOrders.entry = [{ resource: draftOrder({ subject: { reference: 'Patient/other' } }) }])),
      'context.draftOrders.entry[0].resource.subject',
      /another patient/,
    ],
    ['fhirServer not a URL', edited((b) => (b.fhirServer = 'ehr.example.org')), 'fhirServer', /http\(s\) URL/],
    [
      'fhirAuthorization without fhirServer (cds-r-1)',
      edited((b) => (b.fhirAuthorization = { access_token: 't', token_type: 'Bearer', expires_in: 1, scope: 's', subject: 's' })),
      'fhirServer',
      /required when fhirAuthorization/,
    ],
    [
      'fhirAuthorization with another token_type',
      edited((b) => {
        b.fhirServer = 'https://ehr/fhir';
        b.fhirAuthorization = { access_token: 't', token_type: 'MAC', expires_in: 1, scope: 's', subject: 's' };
      }),
      'fhirAuthorization.token_type',
      /Bearer/,
    ],
    [
      'fhirAuthorization without access_token',
      edited((b) => {
        b.fhirServer = 'https://ehr/fhir';
        b.fhirAuthorization = { token_type: 'Bearer', expires_in: 1, scope: 's', subject: 's' };
      }),
      'fhirAuthorization.access_token',
      /required/,
    ],
    ['a prefetch value that is not a resource', edited((b) => (b.prefetch = { patient: 'Patient/1' })), 'prefetch.patient', /FHIR resource or null/],
    ['extension not an object', edited((b) => (b.extension = 'x')), 'extension', /object/],
    ['order-select without selections', edited((b) => delete b.context.selections, 'order-select'), 'context.selections', /required/, 'order-select'],
    [
      'order-select naming an order not in draftOrders',
      edited((b) => (b.context.selections = ['MedicationRequest/missing']), 'order-select'),
      'context.selections[0]',
      /not in context.draftOrders/,
      'order-select',
    ],
    [
      'order-dispatch without dispatchedOrders',
      { hook: 'order-dispatch', hookInstance: HOOK_INSTANCE, context: { patientId: PATIENT_ID, performer: 'Organization/p' } },
      'context.dispatchedOrders',
      /required/,
      'order-dispatch',
    ],
    [
      'order-dispatch without performer',
      { hook: 'order-dispatch', hookInstance: HOOK_INSTANCE, context: { patientId: PATIENT_ID, dispatchedOrders: ['MedicationRequest/a'] } },
      'context.performer',
      /required/,
      'order-dispatch',
    ],
  ];

  test.each(cases)('%s → 400 at %s', (_name, body, expression, text, hook = 'order-sign') => {
    const issues = issuesOf(body, hook);
    const found = issues.find((i) => i.expression === expression);
    expect(found).toBeDefined();
    expect(found?.diagnostics).toMatch(text);
  });

  test('several problems are reported together', () => {
    const issues = issuesOf(edited((b) => {
      b.hookInstance = 'x';
      delete b.context.patientId;
    }));
    expect(issues.map((i) => i.expression).sort()).toEqual(['context.patientId', 'hookInstance']);
  });

  test('a body that is not an object', () => {
    expect(issuesOf([1, 2])).toEqual([expect.objectContaining({ expression: '(request)', code: 'structure' })]);
  });

  test('production may require an https fhirServer', () => {
    const issues = issuesOf(edited((b) => (b.fhirServer = 'http://ehr.example.org/fhir')), 'order-sign', { requireHttpsFhirServer: true });
    expect(issues[0]).toMatchObject({ expression: 'fhirServer', diagnostics: expect.stringMatching(/https/) });
  });
});

describe('prefetch tokens', () => {
  const drafts: Bundle = {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [
      { resource: draftOrder({ id: 'o1', requester: { reference: 'PractitionerRole/r1' } }) },
      { resource: draftOrder({ id: 'o2', requester: { reference: 'https://ehr.example.org/fhir/PractitionerRole/r2/_history/3' } }) },
      { resource: draftOrder({ id: 'o3', requester: { reference: 'Practitioner/p9' } }) },
      { resource: { resourceType: 'ServiceRequest', id: 's1', status: 'draft', intent: 'order', subject: { reference: 'Patient/x' } } },
    ],
  };
  const scope = {
    context: { patientId: 'pat 1', userId: 'PractitionerRole/r1', draftOrders: drafts, dispatchedOrders: ['MedicationRequest/m1', 'ServiceRequest/s9'] },
    prefetched: {},
  };

  test.each([
    ['context.patientId', ['pat 1']],
    ['userPractitionerRoleId', ['r1']],
    ['userPractitionerId', []],
    ['context.draftOrders.MedicationRequest.id', ['o1', 'o2', 'o3']],
    ['context.draftOrders.entry.resource.ofType(MedicationRequest).requester.resolve().ofType(PractitionerRole).id', ['r1', 'r2']],
    ['context.draftOrders.entry.resource.ofType(MedicationRequest).requester.resolve().ofType(Practitioner).id', ['p9']],
    ['context.dispatchedOrders.resolve().ofType(MedicationRequest).id', ['m1']],
    ['context.draftOrders.ServiceRequest.id|context.draftOrders.MedicationRequest.id', ['s1', 'o1', 'o2', 'o3']],
  ])('%s', (token, values) => {
    expect(evaluateToken(token, scope)).toEqual(values);
  });

  test('substitution encodes values; an empty token means "nothing to read"', () => {
    expect(substituteTokens('Patient/{{context.patientId}}', scope)).toBe('Patient/pat%201');
    expect(substituteTokens('PractitionerRole?_id={{userPractitionerId}}', scope)).toBeNull();
    expect(substituteTokens('MedicationRequest?_id={{context.draftOrders.MedicationRequest.id}}', scope)).toBe('MedicationRequest?_id=o1,o2,o3');
  });

  test('%key reads a previous prefetch result', () => {
    const withOrders = { ...scope, prefetched: { orders: { resourceType: 'Bundle' as const, type: 'searchset' as const, entry: [{ resource: draftOrder({ requester: { reference: 'PractitionerRole/r7' } }) }] } } };
    expect(substituteTokens('PractitionerRole?_id={{%orders.entry.resource.ofType(MedicationRequest).requester.resolve().ofType(PractitionerRole).id}}', withOrders)).toBe(
      'PractitionerRole?_id=r7',
    );
  });

  test('parseReference', () => {
    expect(parseReference('Patient/123')).toEqual({ resourceType: 'Patient', id: '123' });
    expect(parseReference('https://x/fhir/Patient/123/_history/2')).toEqual({ resourceType: 'Patient', id: '123' });
    expect(parseReference('#contained')).toBeUndefined();
    expect(parseReference('urn:uuid:0f8e2b9c-6a51-4f3e-9a3e-2a7c4b1d9e10')).toBeUndefined();
  });
});
