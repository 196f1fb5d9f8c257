/**
 * CDS Hooks requests for the CRD end-to-end suite, built from the CP.PHAR.244 chart fixtures
 * (fixtures/cp-phar-244), so that the decision each request leads to is known from the policy
 * suites. `npx tsx test/support/crd-requests.ts` rewrites fixtures/crd/*.json.
 *
 * The prefetch of each request is what a CDS Client that honours our discovery templates sends:
 * every template is run against the EHR's resources with the same search code the local FHIR
 * test server uses (fhir-server.ts), so a key left out and read from that server instead gives
 * the same resources.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, FhirResource, MedicationRequest } from 'fhir/r4';
import { loadConfig } from '../../src/config';
import { createPolicyEngine, type PolicyEngine } from '../../src/engine';
import { discoveryOptions } from '../../src/crd/hook';
import { prefetchTemplates } from '../../src/crd/discovery';
import { substituteTokens } from '../../src/crd/prefetch';
import type { HookName } from '../../src/crd/types';
import { answer } from './fhir-server';

export const REPO = path.join(__dirname, '..', '..');
export const CRD_FIXTURES = path.join(REPO, 'fixtures', 'crd');
/** The EHR the charts come from (fullUrls of fixtures/cp-phar-244). */
export const EHR_BASE = 'http://ehr.riverside-health.example.org/fhir';
/** The EHR's order numbers: the business identifier CRD and PAS both key the order on. */
export const ORDER_NUMBER_SYSTEM = 'http://ehr.riverside-health.example.org/fhir/sid/placer-order-number';

type Chart = 'ra-approvable' | 'ra-chart-only-partial' | 'ra-combination-adalimumab';

export function chartResources(chart: Chart): FhirResource[] {
  const bundle = JSON.parse(fs.readFileSync(path.join(REPO, 'fixtures', 'cp-phar-244', `${chart}.json`), 'utf8')) as Bundle;
  return (bundle.entry ?? []).map((e) => e.resource).filter((r): r is FhirResource => r !== undefined);
}

export interface BuildInput {
  hook: HookName;
  chart: Chart;
  hookInstance: string;
  orderNumber: string;
  /** Draft orders besides the Kineret order (order-sign / order-select). */
  otherDrafts?: MedicationRequest[];
  extension?: Record<string, unknown>;
}

/** Runs each discovery template, in order, against `served` as a CDS Client would. */
export function prefetchFor(
  hook: HookName,
  context: Record<string, unknown>,
  served: FhirResource[],
  engine: PolicyEngine,
  baseUrl = EHR_BASE,
  drafts: FhirResource[] = [],
): Record<string, FhirResource | null> {
  const prefetch: Record<string, FhirResource | null> = {};
  for (const [key, template] of Object.entries(prefetchTemplates(hook, discoveryOptions(engine)))) {
    const url = substituteTokens(template, { context, prefetched: prefetch });
    if (url === null) {
      prefetch[key] = null;
      continue;
    }
    // CRD 2.0.1 deviations.md: a query on context.draftOrders runs against the in-memory drafts too.
    const { status, body } = answer(template.includes('context.draftOrders') ? [...served, ...drafts] : served, url, baseUrl);
    if (status !== 200) throw new Error(`template ${key} (${url}) answered ${status}: ${JSON.stringify(body)}`);
    prefetch[key] = body as FhirResource;
  }
  return prefetch;
}

export function buildRequest(input: BuildInput, engine: PolicyEngine): Record<string, unknown> {
  const resources = chartResources(input.chart);
  const kineret = resources.find((r): r is MedicationRequest => r.resourceType === 'MedicationRequest' && r.id === 'medreq-kineret');
  const patient = resources.find((r) => r.resourceType === 'Patient');
  const role = resources.find((r) => r.resourceType === 'PractitionerRole');
  if (!kineret || !patient?.id || !role?.id) throw new Error(`${input.chart}: no Kineret order, Patient or PractitionerRole`);
  const order: MedicationRequest = {
    ...structuredClone(kineret),
    identifier: [{ use: 'official', system: ORDER_NUMBER_SYSTEM, value: input.orderNumber }],
  };
  const chart = resources.filter((r) => r !== kineret);
  const draftEntry = (o: MedicationRequest) => ({ fullUrl: `${EHR_BASE}/MedicationRequest/${o.id}`, resource: o });

  let context: Record<string, unknown>;
  let served: FhirResource[];
  if (input.hook === 'order-dispatch') {
    // A signed order on its way to the pharmacy: it is on the EHR's server now, active.
    const signed: MedicationRequest = { ...order, status: 'active' };
    served = [...chart, signed];
    context = {
      patientId: patient.id,
      dispatchedOrders: [`MedicationRequest/${order.id}`],
      performer: 'Organization/org-specialty-pharmacy',
    };
  } else {
    // Draft orders live only in the hook context until they are signed.
    served = chart;
    const drafts = [order, ...(input.otherDrafts ?? [])];
    context = {
      userId: `PractitionerRole/${role.id}`,
      patientId: patient.id,
      encounterId: `enc-${patient.id}-2026-11-18`,
      draftOrders: { resourceType: 'Bundle', type: 'collection', entry: drafts.map(draftEntry) },
      ...(input.hook === 'order-select' ? { selections: [`MedicationRequest/${order.id}`] } : {}),
    };
  }
  return {
    hook: input.hook,
    hookInstance: input.hookInstance,
    context,
    prefetch: prefetchFor(input.hook, context, served, engine, EHR_BASE, input.hook === 'order-dispatch' ? [] : [order, ...(input.otherDrafts ?? [])]),
    ...(input.extension ? { extension: input.extension } : {}),
  };
}

/** A second draft order the catalog has no policy for (order-select: not selected). */
export function folicAcidDraft(patientId: string): MedicationRequest {
  return {
    resourceType: 'MedicationRequest',
    id: 'medreq-folic-acid',
    status: 'draft',
    intent: 'order',
    medicationCodeableConcept: {
      coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '310410', display: 'folic acid 1 MG Oral Tablet' }],
      text: 'folic acid 1 MG Oral Tablet',
    },
    subject: { reference: `Patient/${patientId}` },
    authoredOn: '2026-11-18T15:14:00-05:00',
    requester: { reference: 'PractitionerRole/role-marquez-rheumatology', display: 'Dr. Elena R. Marquez' },
    dosageInstruction: [{ text: '1 tablet by mouth once daily' }],
  };
}

export const FIXTURE_REQUESTS: Record<string, BuildInput> = {
  'order-sign-kineret': { hook: 'order-sign', chart: 'ra-chart-only-partial', hookInstance: 'd3b9f6a2-41c7-4e0b-9a57-6c1f2e8b4d01', orderNumber: 'RX-2026-118842' },
  'order-sign-satisfied': {
    hook: 'order-sign',
    chart: 'ra-approvable',
    hookInstance: '5e0c2a7d-93b4-4f6e-8d21-0a9b7c3e5f12',
    orderNumber: 'RX-2026-118907',
    extension: { 'davinci-crd.requestedVersion': '2.2' },
  },
  'order-sign-not-covered': { hook: 'order-sign', chart: 'ra-combination-adalimumab', hookInstance: 'a1f47c3e-2b8d-4c95-b0e6-7d3a9f1c2e23', orderNumber: 'RX-2026-119015' },
  'order-select-kineret': {
    hook: 'order-select',
    chart: 'ra-chart-only-partial',
    hookInstance: '7c2e9b14-5a3f-4d8e-b6c1-2f9a0d4e7b34',
    orderNumber: 'RX-2026-118842',
    otherDrafts: [folicAcidDraft('pt-ra-partial')],
  },
  'order-dispatch-kineret': { hook: 'order-dispatch', chart: 'ra-chart-only-partial', hookInstance: 'e8a1d5c9-7f2b-4a63-9e04-3b6c8d1f0a45', orderNumber: 'RX-2026-118842' },
};

if (require.main === module) {
  const engine = createPolicyEngine(loadConfig().paths);
  fs.mkdirSync(CRD_FIXTURES, { recursive: true });
  for (const [name, input] of Object.entries(FIXTURE_REQUESTS)) {
    const file = path.join(CRD_FIXTURES, `${name}.json`);
    fs.writeFileSync(file, `${JSON.stringify(buildRequest(input, engine), null, 2)}\n`);
    process.stdout.write(`wrote ${path.relative(REPO, file)}\n`);
  }
}
