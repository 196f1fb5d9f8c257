/**
 * Real-world-shaped records nobody here wrote: the Synthea RA patients in ../shared/data/synthea
 * (R4 transaction Bundles with urn:uuid references; some not valid R4), each wrapped as a PAS
 * request for Kineret to a payer the catalog serves. Every one must be answered without a 5xx
 * and none may be approved: none documents the full step therapy the policy requires.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import type { Bundle, BundleEntry, ClaimResponse, FhirResource } from 'fhir/r4';
import { REPO_ROOT } from '../../src/config';
import { readReviewAction } from '../../src/pas/response';
import { createTestApp, type TestApp } from '../support/app';

const SYNTHEA = path.resolve(REPO_ROOT, '..', 'shared', 'data', 'synthea');
const files = fs.existsSync(SYNTHEA) ? fs.readdirSync(SYNTHEA).filter((f) => f.endsWith('.json') && f !== 'MANIFEST.json') : [];

/** The record's clinical resources (not its own claims) plus a Kineret PAS request around them. */
function asKineretRequest(record: Bundle): Bundle {
  const entries = (record.entry ?? []).filter(
    (e): e is BundleEntry & { resource: FhirResource } =>
      e.resource !== undefined && !['Claim', 'ExplanationOfBenefit'].includes(e.resource.resourceType),
  );
  const patientEntry = entries.find((e) => e.resource.resourceType === 'Patient');
  const patientUrl = patientEntry?.fullUrl ?? `Patient/${patientEntry?.resource.id ?? 'unknown'}`;
  const id = (prefix: string) => `urn:uuid:${prefix}-${crypto.randomUUID().slice(prefix.length + 1)}`;
  const urls = { payer: id('a'), coverage: id('b'), practitioner: id('c'), role: id('d'), order: id('e'), claim: id('f') };
  const fresh: BundleEntry[] = [
    {
      fullUrl: urls.claim,
      resource: {
        resourceType: 'Claim',
        identifier: [{ system: 'urn:example:synthea-claims', value: crypto.randomUUID() }],
        status: 'active',
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/claim-type', code: 'pharmacy' }] },
        use: 'preauthorization',
        patient: { reference: patientUrl },
        created: '2026-11-20T10:00:00Z',
        insurer: { reference: urls.payer },
        provider: { reference: urls.role },
        priority: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/processpriority', code: 'normal' }] },
        insurance: [{ sequence: 1, focal: true, coverage: { reference: urls.coverage } }],
        diagnosis: [
          {
            sequence: 1,
            diagnosisCodeableConcept: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'M06.9' }] },
          },
        ],
        item: [
          {
            sequence: 1,
            extension: [
              { url: 'http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-requestedService', valueReference: { reference: urls.order } },
            ],
            productOrService: { coding: [{ system: 'http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets', code: 'J3590' }] },
            quantity: { value: 28 },
          },
        ],
      },
    },
    {
      fullUrl: urls.payer,
      resource: { resourceType: 'Organization', name: 'Centene plan', identifier: [{ system: 'urn:oid:2.16.840.1.113883.6.300', value: '60001' }] },
    },
    {
      fullUrl: urls.coverage,
      resource: {
        resourceType: 'Coverage',
        status: 'active',
        subscriberId: 'SYN-1',
        beneficiary: { reference: patientUrl },
        payor: [{ reference: urls.payer }],
        type: { coding: [{ system: 'urn:oid:2.16.840.1.113883.3.221.5', code: '2', display: 'Medicaid' }] },
      },
    },
    { fullUrl: urls.practitioner, resource: { resourceType: 'Practitioner', name: [{ family: 'Rheum', given: ['Ada'] }] } },
    {
      fullUrl: urls.role,
      resource: {
        resourceType: 'PractitionerRole',
        practitioner: { reference: urls.practitioner },
        specialty: [{ coding: [{ system: 'http://nucc.org/provider-taxonomy', code: '207RR0500X' }] }],
      },
    },
    {
      fullUrl: urls.order,
      resource: {
        resourceType: 'MedicationRequest',
        status: 'active',
        intent: 'order',
        subject: { reference: patientUrl },
        requester: { reference: urls.role },
        authoredOn: '2026-11-20',
        medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '727711' }] },
        dosageInstruction: [
          {
            timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } },
            doseAndRate: [{ doseQuantity: { value: 100, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' } }],
          },
        ],
      },
    },
  ];
  return {
    resourceType: 'Bundle',
    identifier: { system: 'urn:example:synthea-bundles', value: crypto.randomUUID() },
    type: 'collection',
    timestamp: '2026-11-20T10:00:00Z',
    entry: [...fresh, ...entries.map((e) => ({ ...(e.fullUrl ? { fullUrl: e.fullUrl } : {}), resource: e.resource }))],
  };
}

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

test('the Synthea records are present beside the repository', () => {
  expect(files.length).toBeGreaterThan(0);
});

describe.each(files)('%s as a Kineret PAS request', (file) => {
  test('is answered without a 5xx and never approved', async () => {
    const record = JSON.parse(fs.readFileSync(path.join(SYNTHEA, file), 'utf8')) as Bundle;
    const res = await request(t.app)
      .post('/fhir/Claim/$submit')
      .set('Content-Type', 'application/fhir+json')
      .send(JSON.stringify(asKineretRequest(record)));
    // The wrapper is a valid PAS request; the records inside (some not valid R4) must still be evaluated.
    expect(res.status).toBe(200);
    const claimResponse = (res.body as Bundle).entry?.[0]?.resource as ClaimResponse;
    expect(claimResponse.resourceType).toBe('ClaimResponse');
    for (const item of claimResponse.item ?? []) expect(readReviewAction(item)?.code).not.toBe('A1');
    expect(claimResponse.preAuthRef).toBeUndefined();
  });
});
