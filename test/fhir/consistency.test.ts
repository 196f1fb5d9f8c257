/**
 * Cross-protocol consistency (issue 10): for every fixture chart, the engine input that CRD
 * (order-sign with the advertised prefetch, or with fhirServer alone → chart gatherer → Coverage and
 * payer), DTR (the chart as `$populate` /
 * `$next-question` data) and PAS (a `$submit` Bundle → PAS context) build from the same chart
 * selects the same policy and indication and gives the same criterion results. Includes a Molina
 * private-plan member whose address says `Texas`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, Claim, Coverage, FhirResource, MedicationRequest, Patient } from 'fhir/r4';
import { gatherPatientData, pickCoverage, resolveOrderMedications, resolvePayer } from '../../src/crd/data';
import { discoveryOptions } from '../../src/crd/hook';
import { prefetchTemplates } from '../../src/crd/discovery';
import { toEvaluationRequest as crdRequest } from '../../src/crd/evaluation';
import { chartRequest } from '../../src/engine/chart-request';
import type { Decision } from '../../src/engine/decision';
import type { EvaluationRequest } from '../../src/engine/request';
import { extractPasContext, toEvaluationRequest as pasRequest } from '../../src/pas/context';
import { parsePasRequest } from '../../src/pas/validate';
import { EHR_BASE, prefetchFor, REPO } from '../support/crd-requests';
import { startLocalFhirServer, type LocalFhirServer } from '../support/fhir-server';
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

/**
 * CRD as an EHR calls it: the draft order in the hook context and the chart either prefetched with
 * the advertised templates (each run against the chart as a FHIR server would answer it) or, with
 * no prefetch at all, read by the service from `fhirServer`.
 */
async function viaCrd(chart: Bundle, order: MedicationRequest, source: 'prefetch' | 'fhirServer'): Promise<EvaluationRequest> {
  const engine = getEngine();
  const patient = resourcesOf(chart).find((r): r is Patient => r.resourceType === 'Patient')!;
  const served = resourcesOf(chart).filter((r) => r !== order);
  const context = {
    patientId: patient.id,
    draftOrders: { resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl: `${EHR_BASE}/MedicationRequest/${order.id}`, resource: order }] },
  };
  ehr.setResources(served);
  const request = {
    hook: 'order-sign' as const,
    hookInstance: 'consistency',
    context: context as never,
    ...(source === 'prefetch'
      ? { prefetch: prefetchFor('order-sign', context, served, engine, EHR_BASE, [order]) }
      : { prefetch: {}, fhirServer: ehr.baseUrl }),
    extension: {},
  };
  const data = await gatherPatientData({ request, prefetchTemplates: prefetchTemplates('order-sign', discoveryOptions(engine)) });
  await resolveOrderMedications(data);
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
  // The chart says neither whether this is a first or a renewed request nor where the drug is
  // given, and the DTR app's Claim (app/dtr/src/pas.ts) declares neither: the template's `I` and
  // office would decide on facts CRD and DTR do not have.
  for (const item of claim.item ?? []) {
    item.extension = item.extension?.filter((ext) => !ext.url.endsWith('extension-certificationType'));
    delete item.locationCodeableConcept;
  }
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

let ehr: LocalFhirServer;
beforeAll(async () => {
  ehr = await startLocalFhirServer([]);
});
afterAll(() => ehr.close());

describe.each(charts)('%s', (_name, chart) => {
  test('CRD order-sign (prefetch, or fhirServer alone), DTR and PAS $submit select the same policy and indication and agree on every criterion', async () => {
    const engine = getEngine();
    const order = orderOf(chart);
    const requests = {
      crd: await viaCrd(chart, order, 'prefetch'),
      crdServer: await viaCrd(chart, order, 'fhirServer'),
      dtr: viaDtr(chart, order),
      pas: viaPas(chart, order),
    };
    expect(requests.crd.payer).toEqual(requests.dtr.payer);
    expect(requests.crdServer.payer).toEqual(requests.dtr.payer);
    expect(requests.pas.payer.state).toEqual(requests.dtr.payer.state);
    const [crd, crdServer, dtr, pas] = await Promise.all(
      [requests.crd, requests.crdServer, requests.dtr, requests.pas].map((r) => engine.evaluate(r)),
    );
    expect(dtr!.policy).not.toBeNull();
    expect(summary(crd!)).toEqual(summary(dtr!));
    expect(summary(crdServer!)).toEqual(summary(dtr!));
    expect(summary(pas!)).toEqual(summary(dtr!));
  });
});

test('the member in "Texas" lands on the Texas Marketplace entry in all three', async () => {
  const chart = texasByName();
  const order = orderOf(chart);
  const engine = getEngine();
  const decisions = await Promise.all([engine.evaluate(await viaCrd(chart, order, 'prefetch')), engine.evaluate(viaDtr(chart, order)), engine.evaluate(viaPas(chart, order))]);
  expect(decisions.map((d) => d.policy?.id)).toEqual(['molina-kineret-tx', 'molina-kineret-tx', 'molina-kineret-tx']);
});
