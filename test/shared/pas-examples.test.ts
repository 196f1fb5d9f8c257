/**
 * The PAS 2.2.1 IG's own example request Bundles, read from ../shared/ig at test time: each must be
 * accepted by parsePasRequest, read by extractPasContext, and answered with a PAS response Bundle.
 * None of them is a drug request, so the engine finds no policy: every item is pended (A4).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Bundle, Claim, ClaimResponse, Extension } from 'fhir/r4';
import { REPO_ROOT } from '../../src/config';
import type { Decision } from '../../src/engine/decision';
import { noPolicyDecision } from '../../src/engine/policy-engine';
import { extractPasContext } from '../../src/pas/context';
import { buildPasResponse, readReviewAction } from '../../src/pas/response';
import { parsePasRequest } from '../../src/pas/validate';

const TGZ = path.join(path.resolve(REPO_ROOT, '..', 'shared', 'ig'), 'hl7.fhir.us.davinci-pas-2.2.1.tgz');
const unpacked = fs.mkdtempSync(path.join(os.tmpdir(), 'pas-ig-'));
execFileSync('tar', ['-xzf', TGZ, '-C', unpacked, 'package/example']);
const EXAMPLES = path.join(unpacked, 'package', 'example');

afterAll(() => fs.rmSync(unpacked, { recursive: true, force: true }));

function read(file: string): Bundle {
  return JSON.parse(fs.readFileSync(path.join(EXAMPLES, file), 'utf8')) as Bundle;
}

const bundles = fs
  .readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.json'))
  .filter((f) => {
    const resource = JSON.parse(fs.readFileSync(path.join(EXAMPLES, f), 'utf8')) as { resourceType?: string; entry?: { resource?: Claim }[] };
    const first = resource.entry?.[0]?.resource;
    return resource.resourceType === 'Bundle' && first?.resourceType === 'Claim' && first.use === 'preauthorization';
  })
  .sort();

/** Warnings expected per example: the Surgical example's PractitionerRole (a care-team member, not
 * the requester) points at a Practitioner and a Location that the Bundle does not carry. */
const EXPECTED_WARNINGS: Record<string, string[]> = {
  'Bundle-SurgicalRequestBundleExample.json': ['Bundle.entry[6].resource.practitioner', 'Bundle.entry[6].resource.location[0]'],
  'Bundle-PASClaimInquiryBundleExample.json': [
    'Bundle.entry[0].resource.item[0].category',
    'Bundle.entry[0].resource.item[0].locationCodeableConcept',
    'Bundle.entry[0].resource.item[1].category',
    'Bundle.entry[0].resource.item[1].locationCodeableConcept',
  ],
};

/** The engine's own decision when no catalog policy covers a request. */
function noPolicy(): Decision {
  return noPolicyDecision('No policy in the catalog covers this payer, line of business and service.', new Date('2026-11-23T10:00:00Z'));
}

test('the package holds the six example request Bundles', () => {
  expect(bundles).toEqual([
    'Bundle-HomecareAuthorizationBundleExample.json',
    'Bundle-HomecareAuthorizationUpdateBundleExample.json',
    'Bundle-MedicalServicesAuthorizationBundleExample.json',
    'Bundle-PASClaimInquiryBundleExample.json',
    'Bundle-ReferralAuthorizationBundleExample.json',
    'Bundle-SurgicalRequestBundleExample.json',
  ]);
});

describe.each(bundles)('%s', (file) => {
  const request = parsePasRequest(read(file));
  const ctx = extractPasContext(request);

  test('is accepted, with only the expected warnings', () => {
    expect(request.warnings.map((w) => w.expression?.[0])).toEqual(EXPECTED_WARNINGS[file] ?? []);
    expect(request.warnings.every((w) => w.severity === 'warning')).toBe(true);
  });

  test('yields the patient, payer identifiers and one context per Claim item', () => {
    expect(ctx.patient.resource.resourceType).toBe('Patient');
    expect(ctx.patientBundle.entry?.[0]?.resource?.resourceType).toBe('Patient');
    expect(ctx.payer.identifiers.length).toBeGreaterThan(0);
    expect(ctx.items.map((i) => i.sequence)).toEqual((request.claim.item ?? []).map((i) => i.sequence));
    for (const item of ctx.items) expect(item.drugCodes.length).toBeGreaterThan(0);
  });

  test('is answered with a PAS response Bundle pending every item for review (no policy)', () => {
    const response = buildPasResponse({
      request: ctx,
      decisions: ctx.items.map(() => noPolicy()),
      responseId: 'ig-example-response',
      now: new Date('2026-11-23T10:00:00Z'),
    });
    expect(response.type).toBe('collection');
    expect(response.identifier?.value).toBe('ig-example-response');
    expect(response.timestamp).toBeDefined();
    expect(response.entry!.every((e) => typeof e.fullUrl === 'string')).toBe(true);
    const cr = response.entry![0]!.resource as ClaimResponse;
    expect(cr.resourceType).toBe('ClaimResponse');
    expect(cr.outcome).toBe('complete');
    expect(cr.request?.identifier).toEqual(request.claim.identifier?.[0]);
    expect(cr.preAuthRef).toBeUndefined();
    for (const item of cr.item ?? []) {
      expect(readReviewAction(item)).toEqual({ code: 'A4', number: undefined, reasons: [expect.objectContaining({ code: '0V' })] });
    }
    const fullUrls = response.entry!.map((e) => e.fullUrl);
    for (const ref of [cr.patient, cr.insurer, cr.requestor]) expect(fullUrls).toContain(ref?.reference);
    expect(cr.processNote?.[0]?.text).toContain('no prior authorization policy on file');
  });
});

test('our reviewAction uses the URLs and X12 306 system of the IG pended response example', () => {
  const example = JSON.parse(
    fs.readFileSync(path.join(EXAMPLES, 'ClaimResponse-PractitionerRequestorPendingResponseExample.json'), 'utf8'),
  ) as ClaimResponse;
  const theirs = example.item![0]!.adjudication[0]!;
  const ctx = extractPasContext(parsePasRequest(read('Bundle-ReferralAuthorizationBundleExample.json')));
  const ours = (
    buildPasResponse({ request: ctx, decisions: [noPolicy()], responseId: 'r1', now: new Date('2026-11-23T10:00:00Z') }).entry![0]!
      .resource as ClaimResponse
  ).item![0]!.adjudication[0]!;
  const shape = (ext: Extension[] | undefined) =>
    (ext ?? []).map((e) => ({
      url: e.url,
      sub: (e.extension ?? [])
        .filter((s) => s.url !== 'reasonCode')
        .map((s) => [s.url, s.valueCodeableConcept?.coding?.[0]?.system, s.valueCodeableConcept?.coding?.[0]?.code]),
    }));
  expect(ours.category).toEqual(theirs.category);
  expect(shape(ours.extension)).toEqual(shape(theirs.extension));
});
