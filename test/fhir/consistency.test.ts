/**
 * Cross-protocol consistency (issue 10): for every fixture chart, the engine input that CRD
 * (order-sign prefetch → chart gatherer → Coverage and payer), DTR (the chart as `$populate` /
 * `$next-question` data) and PAS (a `$submit` Bundle → PAS context) build from the same chart
 * selects the same policy and indication and gives the same criterion results. Includes a Molina
 * private-plan member whose address says `Texas`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, Claim, Coverage, FhirResource, MedicationRequest, Patient } from 'fhir/r4';
import { gatherPatientData, pickCoverage, resolvePayer } from '../../src/crd/data';
import { discoveryOptions } from '../../src/crd/hook';
import { prefetchTemplates } from '../../src/crd/discovery';
import { toEvaluationRequest as crdRequest } from '../../src/crd/evaluation';
import { chartRequest } from '../../src/engine/chart-request';
import type { Decision } from '../../src/engine/decision';
import type { EvaluationRequest } from '../../src/engine/request';
import { extractPasContext, toEvaluationRequest as pasRequest } from '../../src/pas/context';
import { parsePasRequest } from '../../src/pas/validate';
import { EHR_BASE, prefetchFor, REPO } from '../support/crd-requests';
import { getEngine } from '../support/policy-kit';

const NOW = new Date('2026-11-20T15:00:00Z');
const POLICY_FOLDERS = ['cp-phar-244', 'cp-phar-533', 'mm-201603', 'molina-kineret', 'nh-phar-244'];

function load(file: string): Bundle {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Bundle;
}

const charts: [string, Bundle][] = POLICY_FOLDERS.flatMap((folder) =>
  fs
    .readdirSync(path.join(REPO, 'fixtures', folder))
    .filter((f) => f.endsWith('.json'))
    .map((f): [string, Bundle] => [`${folder}/${f}`, load(path.join(REPO, 'fixtures', folder, f))]),
);

/** The Molina private-plan member in Austin whose address writes the state out. */
function texasByName(): Bundle {
  const chart = load(path.join(REPO, 'fixtures', 'molina-kineret', 'ra-texas-marketplace.json'));
  for (const e of chart.entry ?? []) {
    if (e.resource?.resourceType === 'Patient') e.resource.address = [{ use: 'home', city: 'Austin', state: 'Texas', postalCode: '78701' }];
    if (e.resource?.resourceType === 'Coverage') e.resource.class = e.resource.class?.map((c) => ({ ...c, value: 'MOLINA-PRIVATE-OTHER' }));
  }
  return chart;
}
charts.push(['molina-kineret/ra-texas-marketplace.json with state "Texas"', texasByName()]);

const resourcesOf = (chart: Bundle): FhirResource[] => (chart.entry ?? []).map((e) => e.resource).filter((r): r is FhirResource => r !== undefined);

/** The order the chart is about: the MedicationRequest a policy is selected for. */
function orderOf(chart: Bundle): MedicationRequest {
  const engine = getEngine();
  const orders = resourcesOf(chart).filter((r): r is MedicationRequest => r.resourceType === 'MedicationRequest');
  const withPolicy = orders.find((order) => {
    const req = chartRequest({ bundle: chart, order, evaluationDate: NOW });
    return engine.catalog.select(req.payer, req.drug).policy !== null;
  });
  if (!withPolicy) throw new Error('no order in the chart has a policy');
  return withPolicy;
}

async function viaCrd(chart: Bundle, order: MedicationRequest): Promise<EvaluationRequest> {
  const engine = getEngine();
  const patient = resourcesOf(chart).find((r): r is Patient => r.resourceType === 'Patient')!;
  const served = resourcesOf(chart).filter((r) => r !== order);
  const context = {
    patientId: patient.id,
    draftOrders: { resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl: `${EHR_BASE}/MedicationRequest/${order.id}`, resource: order }] },
  };
  const request = {
    hook: 'order-sign' as const,
    hookInstance: 'consistency',
    context: context as never,
    prefetch: prefetchFor('order-sign', context, served, engine, EHR_BASE, [order]),
    extension: {},
  };
  const data = await gatherPatientData({ request, prefetchTemplates: prefetchTemplates('order-sign', discoveryOptions(engine)) });
  const coverage = pickCoverage(data, NOW);
  const payer = await resolvePayer(coverage, data);
  return crdRequest({ order: data.orders[0]!, data, patientId: patient.id!, payer, evaluationDate: NOW });
}

function viaDtr(chart: Bundle, order: MedicationRequest): EvaluationRequest {
  return chartRequest({ bundle: chart, order, evaluationDate: NOW });
}

/** The `$submit` Bundle for the order: a Claim naming the chart's patient, payer, Coverage and the order. */
function viaPas(chart: Bundle, order: MedicationRequest): EvaluationRequest {
  const base = load(path.join(REPO, 'fixtures', 'pas', 'kineret-request-base.json'));
  const claim = structuredClone(base.entry?.[0]?.resource as Claim);
  const resources = resourcesOf(chart);
  const patient = resources.find((r): r is Patient => r.resourceType === 'Patient')!;
  const coverage = resources.find((r): r is Coverage => r.resourceType === 'Coverage' && r.status === 'active')!;
  const insurer = coverage.payor?.[0]?.reference;
  claim.patient = { reference: `Patient/${patient.id}` };
  if (insurer) claim.insurer = { reference: insurer };
  claim.provider = { reference: order.requester?.reference ?? claim.provider.reference! };
  claim.insurance = [{ sequence: 1, focal: true, coverage: { reference: `Coverage/${coverage.id}` } }];
  delete claim.diagnosis;
  for (const item of claim.item ?? []) {
    delete item.diagnosisSequence;
    for (const ext of item.extension ?? []) {
      if (ext.url.endsWith('extension-requestedService')) ext.valueReference = { reference: `MedicationRequest/${order.id}` };
    }
  }
  claim.item = claim.item?.slice(0, 1);
  const bundle: Bundle = {
    ...base,
    entry: [claim, ...resources].map((resource) => ({ fullUrl: `${EHR_BASE}/${resource.resourceType}/${resource.id}`, resource })),
  };
  const ctx = extractPasContext(parsePasRequest(bundle));
  return pasRequest(ctx, ctx.items[0]!, [], NOW);
}

/** What must agree: policy, indication, and each criterion's result. */
function summary(decision: Decision) {
  return {
    policy: decision.policy?.id ?? null,
    indication: decision.indication?.id ?? null,
    criteria: decision.criteria.map((c) => ({ id: c.id, status: c.status })),
  };
}

/**
 * Charts on which the protocols still disagree (found by this test, not yet mended): CRD reads
 * only what its prefetch queries return, so criteria that read other resources are `unknown` there;
 * PAS differs on COVID-19 outpatient and continuation charts. `test.failing` keeps them visible:
 * once one agrees, its test fails and it leaves this list.
 */
const KNOWN_DIVERGENT: Record<string, 'crd' | 'pas'> = {
  'cp-phar-244/covid-outpatient.json': 'pas',
  'cp-phar-244/dira.json': 'crd',
  'cp-phar-244/ra-continuation.json': 'pas',
  'cp-phar-533/rrmm-approvable.json': 'crd',
  'mm-201603/caps-child.json': 'crd',
  'mm-201603/dira-infant.json': 'crd',
  'mm-201603/ra-continuation.json': 'crd',
  'molina-kineret/caps-muckle-wells.json': 'crd',
  'molina-kineret/dira-infant.json': 'crd',
  'molina-kineret/ra-continuation.json': 'crd',
  'molina-kineret/ra-mtx-inadequate.json': 'crd',
  'molina-kineret/sjia-child.json': 'crd',
  'nh-phar-244/covid-outpatient.json': 'pas',
  'nh-phar-244/dira.json': 'crd',
  'nh-phar-244/ra-continuation.json': 'pas',
};

describe.each(charts)('%s', (name, chart) => {
  (KNOWN_DIVERGENT[name] ? test.failing : test)('CRD order-sign, DTR and PAS $submit select the same policy and indication and agree on every criterion', async () => {
    const engine = getEngine();
    const order = orderOf(chart);
    const requests = { crd: await viaCrd(chart, order), dtr: viaDtr(chart, order), pas: viaPas(chart, order) };
    expect(requests.crd.payer).toEqual(requests.dtr.payer);
    expect(requests.pas.payer.state).toEqual(requests.dtr.payer.state);
    const [crd, dtr, pas] = await Promise.all([engine.evaluate(requests.crd), engine.evaluate(requests.dtr), engine.evaluate(requests.pas)]);
    expect(dtr!.policy).not.toBeNull();
    expect(summary(crd!)).toEqual(summary(dtr!));
    expect(summary(pas!)).toEqual(summary(dtr!));
  });
});

test('the member in "Texas" lands on the Texas Marketplace entry in all three', async () => {
  const chart = texasByName();
  const order = orderOf(chart);
  const engine = getEngine();
  const decisions = await Promise.all([engine.evaluate(await viaCrd(chart, order)), engine.evaluate(viaDtr(chart, order)), engine.evaluate(viaPas(chart, order))]);
  expect(decisions.map((d) => d.policy?.id)).toEqual(['molina-kineret-tx', 'molina-kineret-tx', 'molina-kineret-tx']);
});
