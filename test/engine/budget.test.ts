/**
 * The time budget of one evaluation, in-process and on the worker pool, and the pool giving the
 * same decisions as the in-process engine. Past the budget every criterion left is unknown, with
 * a warning, and the request pends: never approved, never denied.
 */
import { loadConfig } from '../../src/config';
import { createPolicyEngine, timedOutDecision } from '../../src/engine';
import { createPooledEngine, evaluateSameRequestOnce } from '../../src/engine/pool';
import { readEngineSources } from '../../src/engine/sources';
import type { Decision } from '../../src/engine/decision';
import { getEngine, load, requestFor } from '../cp-phar-244/helpers';
import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, Claim, FhirResource } from 'fhir/r4';
import { chartRequirements } from '../../src/engine/data-requirements';
import { preparePatientData, retrievableOnly } from '../../src/engine/patient-data';
import { parsePasRequest } from '../../src/pas/validate';
import { extractPasContext, toEvaluationRequest } from '../../src/pas/context';
import { Code, Concept, Date as CqlDate, DateTime, Quantity } from 'cql-execution';
import { fromPortable, toPortable } from '../../src/engine/portable';
import { populate } from '../../src/dtr/populate';
import { context, deps, KINERET_Q, load as loadChart, param, parameters } from '../dtr/support/population';

const config = loadConfig();

function expectPendedForTime(decision: Decision): void {
  expect(decision.outcome).toBe('pend');
  expect(decision.criteria.length).toBeGreaterThan(0);
  for (const c of decision.criteria) expect(c.status).toBe('unknown');
  expect(decision.warnings.some((w) => /time budget/.test(w.diagnostics ?? ''))).toBe(true);
}

describe('in-process time budget', () => {
  test('an approvable chart with a budget of 0 ms pends with every criterion unknown and a warning', async () => {
    expect((await getEngine().evaluate(requestFor(load('ra-approvable')))).outcome).toBe('approve');
    const engine = createPolicyEngine(config.paths, { timeoutMs: 0 });
    expectPendedForTime(await engine.evaluate(requestFor(load('ra-approvable'))));
  });

  test('a use the policy denies is pended, not denied, when it was not evaluated in time', async () => {
    const request = requestFor(load('covid-outpatient'), { placeOfService: '11' });
    expect((await getEngine().evaluate(request)).outcome).toBe('deny');
    const policy = getEngine().catalog.get('cp-phar-244');
    if (!policy) throw new Error('cp-phar-244 is not in the catalog');
    const decision = timedOutDecision(policy, request, getEngine().valueSets, getEngine().timeZone, 5000);
    expect(decision.outcome).toBe('pend');
    expect(decision.reviewRoute).not.toBe('auto');
    expect(decision.reasons.at(-1)?.text).toMatch(/time budget \(5000 ms\)/);
  });
});

describe('worker pool', () => {
  // One pool for the tests that compare it with the in-process engine: a worker thread loads the
  // engine and the R4 definitions from TypeScript (seconds of CPU).
  let pool: ReturnType<typeof createPooledEngine>;
  beforeAll(() => {
    pool = createPooledEngine({ ...config, evaluation: { workers: 1, timeoutMs: 60000 } });
  });
  afterAll(async () => pool?.close?.());

  test('decides as the in-process engine does', async () => {
    for (const base of ['ra-approvable', 'ra-chart-only-partial', 'covid-outpatient', 'ra-continuation'] as const) {
      expect(await pool.evaluate(requestFor(load(base)))).toEqual(await getEngine().evaluate(requestFor(load(base))));
    }
  }, 120000);

  test('a worker decides with the policies the main thread validated, not with its own read of the catalog', async () => {
    const sources = readEngineSources(config.paths);
    const policies = sources.policies.map((p) => (p.id === 'cp-phar-244' ? { ...p, title: `${p.title} (as validated)` } : p));
    const given = createPooledEngine({ ...config, evaluation: { workers: 1, timeoutMs: 60000 } }, { sources: { ...sources, policies } });
    try {
      const decision = await given.evaluate(requestFor(load('ra-approvable')));
      expect(decision.outcome).toBe('approve');
      expect(decision.policy?.title).toMatch(/\(as validated\)$/);
    } finally {
      await given.close?.();
    }
  }, 120000);

  test('a PAS request decides as in-process although its Claim (a type no library retrieves) stays on the main thread', async () => {
    const bundle = JSON.parse(fs.readFileSync(path.join(__dirname, '../../fixtures/pas/kineret-request-base.json'), 'utf8')) as Bundle;
    const claim = bundle.entry?.[0]?.resource as Claim;
    const first = claim.item?.[0];
    if (first) claim.item = Array.from({ length: 50 }, (_, i) => ({ ...first, sequence: i + 1 }));
    const ctx = extractPasContext(parsePasRequest(bundle));
    const request = toEvaluationRequest(ctx, ctx.items[0] as NonNullable<(typeof ctx.items)[0]>, [], new Date('2026-11-20T15:00:00Z'));
    const retrieved = new Set(chartRequirements(getEngine().libraries, getEngine().valueSets).map((r) => r.type));
    expect(retrieved.has('Claim')).toBe(false);
    const sent = retrievableOnly(request.bundle, retrieved);
    expect(JSON.stringify(sent).length).toBeLessThan(JSON.stringify(request.bundle).length / 5);
    expect(await pool.evaluate(request)).toEqual(await getEngine().evaluate(request));
  }, 120000);

  test('DTR pre-population on the pool: the same $populate answers and issues as in-process', async () => {
    for (const fixture of ['ra-approvable', 'ra-chart-only-partial'] as const) {
      const chart = loadChart(fixture);
      const order = (chart.entry ?? []).find((e) => e.resource?.resourceType === 'MedicationRequest' && e.resource.id === 'medreq-kineret')?.resource;
      const coverage = (chart.entry ?? []).find((e) => e.resource?.resourceType === 'Coverage')?.resource;
      const patient = (chart.entry ?? []).find((e) => e.resource?.resourceType === 'Patient')?.resource;
      const body = parameters(
        param('canonical', { valueUri: KINERET_Q }),
        param('subject', { reference: `Patient/${patient?.id}` }),
        context('coverage', coverage as FhirResource),
        context('order', { reference: `MedicationRequest/${order?.id}` }),
        context('data', chart),
      );
      const local = await populate(structuredClone(body), deps());
      const pooled = await populate(structuredClone(body), { ...deps(), engine: pool });
      expect(local.status).toBe(200);
      expect(JSON.stringify(local.body)).toContain('"valueBoolean":true');
      expect(JSON.stringify(pooled.body).replace(/"id":"[^"]+"/g, '')).toBe(JSON.stringify(local.body).replace(/"id":"[^"]+"/g, ''));
    }
  }, 120000);

  test('CQL values cross the thread boundary as data and come back as the same CQL values', () => {
    const values = [
      new Code('M06.9', 'http://hl7.org/fhir/sid/icd-10-cm', undefined, 'RA'),
      new Concept([new Code('a', 's')], 'text'),
      DateTime.parse('2026-11-20T10:00:00.000+00:00'),
      CqlDate.parse('2026-11'),
      new Quantity(12.5, 'mg'),
      [true, 3, 'x', null],
      { tuple: new Quantity(1, 'kg'), _other: 'y' },
    ];
    const results = new Map<string, { value: unknown }>(values.map((value, i) => [`v${i}`, { value }]));
    const back = fromPortable(structuredClone(toPortable(results)));
    for (const [name, result] of results) {
      const got = back.get(name);
      expect(got && 'value' in got ? got.value : undefined).toEqual(result.value);
    }
    expect(back.get('v0') && (back.get('v0') as { value: unknown }).value).toBeInstanceOf(Code);
    expect(back.get('v2') && (back.get('v2') as { value: unknown }).value).toBeInstanceOf(DateTime);
  });

  test('a task past its budget and grace is stopped: pended with every criterion unknown, and the pool answers again', async () => {
    const pool = createPooledEngine({ ...config, evaluation: { workers: 1, timeoutMs: 1 } }, { graceMs: 0 });
    try {
      expectPendedForTime(await pool.evaluate(requestFor(load('ra-approvable'))));
      expectPendedForTime(await pool.evaluate(requestFor(load('ra-approvable'))));
    } finally {
      await pool.close?.();
    }
  }, 120000);
});

test('identical requests about one bundle are evaluated once; an edited bundle again', async () => {
  let calls = 0;
  const base = getEngine();
  const engine = evaluateSameRequestOnce({ ...base, evaluate: (r) => (calls++, base.evaluate(r)) });
  const request = requestFor(load('ra-approvable'));
  const [a, b] = [await engine.evaluate(request), await engine.evaluate({ ...request })];
  expect(calls).toBe(1);
  expect(b).toEqual(a);
  expect(b).not.toBe(a);
  // Each caller's fields and lists are its own; what they hold is shared, and frozen.
  a.warnings.push({ severity: 'warning', code: 'informational', diagnostics: 'added by one caller' });
  a.outcome = 'deny';
  expect(b.warnings).toHaveLength(a.warnings.length - 1);
  expect(b.outcome).not.toBe('deny');
  expect(() => {
    (b.criteria[0] as { status: string }).status = 'met';
  }).toThrow(TypeError);
  request.bundle.entry?.push({ resource: { resourceType: 'Observation', id: 'added', status: 'final', code: { text: 'added' } } });
  await engine.evaluate(request);
  expect(calls).toBe(2);
});

describe('retrievableOnly', () => {
  const bundle = {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [
      { fullUrl: 'urn:uuid:p', resource: { resourceType: 'Patient', id: 'p' } },
      { fullUrl: 'urn:uuid:claim-1', resource: { resourceType: 'Claim', patient: { reference: 'urn:uuid:p' }, item: [{ sequence: 1 }] } },
      { resource: { resourceType: 'Claim', id: 'c2', patient: { reference: 'urn:uuid:p' } } },
      { resource: { resourceType: 'Basic', code: { text: 'no id, no fullUrl' } } },
      { fullUrl: 'urn:uuid:cond', resource: { resourceType: 'Condition', subject: { reference: 'urn:uuid:p' }, evidence: [{ detail: [{ reference: 'urn:uuid:claim-1' }] }] } },
      { resource: { resourceType: 'Observation', status: 'final', code: { text: 'no id' }, subject: { reference: 'Patient/p' } } },
    ],
  } as unknown as Bundle;

  test('a resource of a type no one retrieves becomes a stub in its place; the retrieved ones get the same ids and references', () => {
    const types = new Set(['Condition', 'Observation']);
    const sent = retrievableOnly(bundle, types);
    expect(sent.entry?.map((e) => e.resource)).toEqual([
      { resourceType: 'Patient', id: 'p' },
      { resourceType: 'Claim' },
      { resourceType: 'Claim', id: 'c2' },
      { resourceType: 'Basic' },
      bundle.entry?.[4]?.resource,
      bundle.entry?.[5]?.resource,
    ]);
    const read = (b: Bundle) => preparePatientData(b, 'p').bundle.entry?.map((e) => e.resource).filter((r) => types.has(r?.resourceType ?? ''));
    expect(read(sent)).toEqual(read(bundle));
    // The Condition's reference to the Claim and the generated id of the Observation are as from the whole bundle.
    expect(JSON.stringify(read(sent))).toContain('"reference":"Claim/claim-1"');
    expect(JSON.stringify(read(sent))).toContain('"id":"generated-2"');
  });

  test('the bundle itself when every resource is of a retrieved type', () => {
    expect(retrievableOnly(bundle, new Set(['Claim', 'Basic', 'Condition', 'Observation']))).toBe(bundle);
  });
});
