/**
 * The PAS 2.2.1 IG's example requests sent in the order a provider system would send them, over
 * HTTP to one server: Homecare, then MedicalServices (which reuses Homecare's identifier value
 * 111099), then the Homecare update (profile-claim-update: related.claim prior, item 2 cancelled
 * with infoCancelled and certificationType 3, item 3 added).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Bundle, ClaimResponse, OperationOutcome } from 'fhir/r4';
import { REPO_ROOT } from '../../src/config';
import { readReviewAction } from '../../src/pas/response';
import { createTestApp, type TestApp } from '../support/app';
import { claimIdOf, postSubmit, submitOk } from '../support/pas-requests';

const TGZ = path.join(path.resolve(REPO_ROOT, '..', 'shared', 'ig'), 'hl7.fhir.us.davinci-pas-2.2.1.tgz');
const unpacked = fs.mkdtempSync(path.join(os.tmpdir(), 'pas-ig-'));
execFileSync('tar', ['-xzf', TGZ, '-C', unpacked, 'package/example']);
const read = (file: string) => JSON.parse(fs.readFileSync(path.join(unpacked, 'package', 'example', file), 'utf8')) as Bundle;

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
  fs.rmSync(unpacked, { recursive: true, force: true });
});

test('Homecare, MedicalServices (same identifier), then the Homecare update', async () => {
  const homecare = await submitOk(t.app, read('Bundle-HomecareAuthorizationBundleExample.json'));
  expect(claimIdOf(homecare)).toBe('HomecareAuthorizationExample');
  expect(homecare.item).toHaveLength(2);

  // Not the stored answer to the Homecare request: the identifier names another request.
  const medical = await postSubmit(t.app, read('Bundle-MedicalServicesAuthorizationBundleExample.json'));
  expect(medical.status).toBe(409);
  expect((medical.body as OperationOutcome).issue[0]?.code).toBe('duplicate');

  // Sent again unchanged, Homecare gets its own answer back.
  expect((await submitOk(t.app, read('Bundle-HomecareAuthorizationBundleExample.json'))).id).toBe(homecare.id);

  const update = await submitOk(t.app, read('Bundle-HomecareAuthorizationUpdateBundleExample.json'));
  expect(update.item?.map((i) => [i.itemSequence, readReviewAction(i)?.code])).toEqual([
    [1, 'A4'],
    [2, 'C'],
    [3, 'A4'],
  ]);
  const original = (await t.ctx.store.getClaim('HomecareAuthorizationExample'))!;
  expect(original.replacedByClaimId).toBe(claimIdOf(update));
  const current = original.claimResponse as ClaimResponse;
  expect(current.item?.map((i) => readReviewAction(i)?.code)).toEqual(['A4', 'C']);
});
