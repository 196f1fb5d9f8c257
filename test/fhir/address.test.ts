/**
 * One state rule for CRD, DTR and PAS (issue 10): a Molina private-plan member whose address says
 * `Texas` must be matched to the Texas Marketplace entry by every protocol, not by PAS alone.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, Coverage, Patient } from 'fhir/r4';
import { currentHomeState, stateCode } from '../../src/fhir/address';
import { payerContext } from '../../src/fhir/order-context';
import { resolvePayer } from '../../src/crd/data';
import { extractPasContext } from '../../src/pas/context';
import { parsePasRequest } from '../../src/pas/validate';
import { getEngine } from '../support/policy-kit';

test.each([
  ['TX', 'TX'],
  ['tx', 'TX'],
  ['Texas', 'TX'],
  [' texas ', 'TX'],
  ['District of Columbia', 'DC'],
  ['Texarkana', undefined],
  ['', undefined],
  [42, undefined],
])('stateCode(%j) = %s', (raw, code) => {
  expect(stateCode(raw)).toBe(code);
});

test('the current home address wins over an old one and a work address', () => {
  const patient: Patient = {
    resourceType: 'Patient',
    address: [
      { use: 'home', state: 'OK', period: { start: '2010-01-01', end: '2020-01-01' } },
      { use: 'work', state: 'NM' },
      { use: 'home', state: 'Texas' },
    ],
  };
  expect(currentHomeState(patient)).toBe('TX');
  expect(currentHomeState({ address: [{ state: 'Ohio' }] })).toBe('OH');
  expect(currentHomeState(undefined)).toBeUndefined();
});

describe('a Molina private-plan member whose address says "Texas"', () => {
  const chart = JSON.parse(fs.readFileSync(path.join(__dirname, '../../fixtures/molina-kineret/ra-texas-marketplace.json'), 'utf8')) as Bundle;
  const resources = (chart.entry ?? []).map((e) => e.resource!);
  const patient = resources.find((r): r is Patient => r.resourceType === 'Patient')!;
  const coverage = resources.find((r): r is Coverage => r.resourceType === 'Coverage')!;
  patient.address = [{ use: 'home', line: ['1200 Congress Ave'], city: 'Austin', state: 'Texas', postalCode: '78701' }];
  coverage.class = coverage.class?.map((c) => ({ ...c, value: 'MOLINA-PRIVATE-OTHER' }));

  test('CRD, DTR/CLI and PAS read the same payer context and select the Texas Marketplace entry', async () => {
    const engine = getEngine();
    const dtr = payerContext(coverage, patient, chart);
    const crd = await resolvePayer(coverage, {
      bundle: chart,
      orders: [],
      sources: {},
      warnings: [],
    } as unknown as Parameters<typeof resolvePayer>[1]);
    expect(dtr.state).toBe('TX');
    expect(crd.state).toBe('TX');
    const selected = [dtr, crd].map((payer) => engine.catalog.select(payer, { codes: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '727711' }] }).policy?.id);
    expect(selected).toEqual(['molina-kineret-tx', 'molina-kineret-tx']);
  });
});

test('PAS reads the state the same way (the written-out name of the current home address)', () => {
  const bundle = JSON.parse(fs.readFileSync(path.join(__dirname, '../../fixtures/pas/kineret-request-base.json'), 'utf8')) as Bundle;
  const patient = bundle.entry!.find((e) => e.resource?.resourceType === 'Patient')!.resource as Patient;
  patient.address = [{ use: 'home', state: 'GA', period: { end: '2019-12-31' } }, { use: 'home', state: 'Texas' }];
  expect(extractPasContext(parsePasRequest(bundle)).payer.state).toBe('TX');
});
