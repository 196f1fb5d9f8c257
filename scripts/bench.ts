/**
 * `npm run bench`: latency (p50 / p95 / p99) and throughput of the server's hot paths, measured
 * with autocannon against the real app on a loopback port (embedded store in a temp folder).
 *
 * Scenarios: PAS `$submit` with a typical Kineret request, the same with a large chart (thousands
 * of resources), and CRD `order-sign` for a typical patient when the CRD service is mounted.
 * Each request carries a fresh Claim identifier / hookInstance so no answer comes from a cache.
 *
 *   npm run bench -- [--duration 10] [--connections 4]
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import type { Bundle, BundleEntry, FhirResource } from 'fhir/r4';
import { loadConfig, REPO_ROOT } from '../src/config';
import { createApp } from '../src/http/app';
import { allRoutes } from '../src/http/routes';
import { silentLogger } from '../src/logger';
import { buildContext } from '../src/server';

interface Scenario {
  name: string;
  path: string;
  body: () => string;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

function readJson<T>(relative: string): T {
  return JSON.parse(fs.readFileSync(path.join(REPO_ROOT, relative), 'utf8')) as T;
}

/** The PAS fixture with `extra` more chart resources for the same patient (observations, conditions, fills). */
function enlarge(bundle: Bundle, extra: number): Bundle {
  const patientRef = (bundle.entry?.[0]?.resource as { patient?: { reference?: string } }).patient?.reference ?? 'Patient/unknown';
  const entries: BundleEntry[] = [];
  for (let i = 0; i < extra; i++) {
    const day = new Date(Date.UTC(2020, 0, 1) + i * 36e5 * 6).toISOString();
    const kind = i % 3;
    const resource: FhirResource =
      kind === 0
        ? {
            resourceType: 'Observation',
            id: `bench-obs-${i}`,
            status: 'final',
            subject: { reference: patientRef },
            code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
            effectiveDateTime: day,
            valueQuantity: { value: 60 + (i % 40), unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
          }
        : kind === 1
          ? {
              resourceType: 'Condition',
              id: `bench-cond-${i}`,
              subject: { reference: patientRef },
              clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'resolved' }] },
              code: { coding: [{ system: 'http://snomed.info/sct', code: '444814009', display: 'Viral sinusitis' }] },
              onsetDateTime: day,
            }
          : {
              resourceType: 'MedicationRequest',
              id: `bench-med-${i}`,
              status: 'completed',
              intent: 'order',
              subject: { reference: patientRef },
              authoredOn: day,
              medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '310965', display: 'ibuprofen 200 MG Oral Tablet' }] },
            };
    entries.push({ fullUrl: `urn:uuid:${crypto.randomUUID()}`, resource });
  }
  return { ...bundle, entry: [...(bundle.entry ?? []), ...entries] };
}

function withClaimIdentifier(bundle: Bundle): string {
  const claim = bundle.entry?.[0]?.resource as { identifier?: unknown };
  claim.identifier = [{ system: 'urn:example:bench', value: crypto.randomUUID() }];
  return JSON.stringify(bundle);
}

async function run(url: string, scenario: Scenario, duration: number, connections: number) {
  const result = await autocannon({
    url: `${url}${scenario.path}`,
    method: 'POST',
    headers: { 'content-type': 'application/fhir+json' },
    duration,
    connections,
    requests: [
      {
        setupRequest: (req) => ({ ...req, body: scenario.body() }),
      },
    ],
  });
  const failures = result.non2xx + result.errors + result.timeouts;
  return {
    scenario: scenario.name,
    requests: result.requests.total,
    failures,
    'p50 ms': result.latency.p50,
    'p95 ms': (result.latency as unknown as Record<string, number>).p97_5 !== undefined ? percentile(result, 95) : result.latency.p90,
    'p99 ms': result.latency.p99,
    'req/s': Math.round(result.requests.average * 10) / 10,
  };
}

/** autocannon reports p90, p97.5 and p99; p95 is interpolated between p90 and p97.5. */
function percentile(result: autocannon.Result, p: number): number {
  const l = result.latency as unknown as Record<string, number>;
  const p90 = l.p90 ?? 0;
  const p975 = l.p97_5 ?? p90;
  return Math.round((p90 + ((p - 90) / 7.5) * (p975 - p90)) * 10) / 10;
}

async function main(): Promise<void> {
  const duration = arg('duration', 10);
  const connections = arg('connections', 4);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-bench-'));
  const config = { ...loadConfig({ ...process.env, DATABASE_URL: process.env.DATABASE_URL ?? '' }), dataDir, port: 0 };
  if (!process.env.DATABASE_URL) delete (config as { databaseUrl?: string }).databaseUrl;
  const ctx = await buildContext(config, silentLogger);
  const app = createApp(ctx, allRoutes);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const typical = readJson<Bundle>('fixtures/pas/kineret-request-base.json');
  const large = enlarge(typical, 3000);
  const scenarios: Scenario[] = [
    { name: `PAS $submit, typical (${typical.entry?.length ?? 0} resources)`, path: '/fhir/Claim/$submit', body: () => withClaimIdentifier(structuredClone(typical)) },
    { name: `PAS $submit, large (${large.entry?.length ?? 0} resources)`, path: '/fhir/Claim/$submit', body: () => withClaimIdentifier(structuredClone(large)) },
  ];
  const crdRequestFile = path.join(REPO_ROOT, 'fixtures/crd/order-sign-kineret.json');
  if (fs.existsSync(crdRequestFile)) {
    const hook = JSON.parse(fs.readFileSync(crdRequestFile, 'utf8')) as { hookInstance: string; hook: string };
    scenarios.push({
      name: 'CRD order-sign, typical',
      path: `/cds-services/${(hook as { serviceId?: string }).serviceId ?? 'pa-order-sign'}`,
      body: () => JSON.stringify({ ...hook, hookInstance: crypto.randomUUID() }),
    });
  }

  process.stdout.write(`bench: ${duration}s per scenario, ${connections} connections, store ${ctx.store.backend}, node ${process.version}, ${os.cpus().length} CPUs\n`);
  const rows = [];
  for (const scenario of scenarios) {
    // Warm up (JIT, caches) before measuring.
    await autocannon({ url: `${url}${scenario.path}`, method: 'POST', headers: { 'content-type': 'application/fhir+json' }, amount: 20, connections: 1, requests: [{ setupRequest: (req) => ({ ...req, body: scenario.body() }) }] });
    rows.push(await run(url, scenario, duration, connections));
  }
  console.table(rows);
  server.close();
  await ctx.store.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  if (rows.some((r) => r.failures > 0)) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
