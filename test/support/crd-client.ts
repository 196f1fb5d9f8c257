/**
 * A CDS Client for the CRD HTTP suites: loads the fixtures/crd requests, calls the real app
 * through supertest, and runs the CRD response checkers on every answer.
 *
 * Two layers make sure no answer escapes the checkers: `callHook` checks each 200 answer where
 * the test made the call (so a failure points at the test), and `checkedApp` wraps the app so that
 * every POST /cds-services/{id} answer that goes through it is checked too (`checks` collects the
 * counts and violations; each suite asserts them in afterAll).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import type { Bundle, Extension, FhirResource, MedicationRequest, OperationOutcome } from 'fhir/r4';
import { checkCdsServiceResponse } from './crd-checks';
import { checkCoverageInformation } from '../../src/crd/coverage-information';
import { hookForServiceId, parseRequestedVersion, SERVICE_IDS } from '../../src/crd/discovery';
import { COVERAGE_INFORMATION_URL, type CdsServiceResponse, type CrdVersion, type HookName } from '../../src/crd/types';
import { CRD_FIXTURES } from './crd-requests';

/** A CDS Hooks request body as the fixtures hold it (loosely typed: tests edit it freely). */
export interface HookRequest {
  hook: HookName;
  hookInstance: string;
  fhirServer?: string;
  fhirAuthorization?: Record<string, unknown>;
  context: Record<string, unknown> & { patientId: string; draftOrders?: Bundle };
  prefetch: Record<string, FhirResource | null>;
  extension?: Record<string, unknown>;
}

export type FixtureName = 'order-sign-kineret' | 'order-sign-satisfied' | 'order-sign-not-covered' | 'order-select-kineret' | 'order-dispatch-kineret';

/** A deep copy of a fixture request with a fresh hookInstance (each call is a new invocation). */
export function fixture(name: FixtureName): HookRequest {
  const body = JSON.parse(fs.readFileSync(path.join(CRD_FIXTURES, `${name}.json`), 'utf8')) as HookRequest;
  return { ...body, hookInstance: crypto.randomUUID() };
}

export function versionOf(body: { extension?: Record<string, unknown> }): CrdVersion {
  return parseRequestedVersion(body.extension);
}

/** Every violation of the CRD response rules, for the hook and version of the request. */
export function violations(response: CdsServiceResponse, hook: HookName, version: CrdVersion): string[] {
  const problems = checkCdsServiceResponse(response, { hook, version });
  for (const info of coverageInformation(response)) problems.push(...checkCoverageInformation(info, { hook, version }));
  return problems;
}

export interface CheckLog {
  /** 200 answers of hook services checked by `checkedApp`. */
  checked: number;
  problems: string[];
}

/** The app behind a layer that checks every 200 answer of a hook service. */
export function checkedApp(inner: express.Express): { app: express.Express; checks: CheckLog } {
  const checks: CheckLog = { checked: 0, problems: [] };
  const outer = express();
  outer.use((req, res, next) => {
    const match = /^\/cds-services\/([^/]+)$/.exec(req.path);
    const hook = match?.[1] ? hookForServiceId(match[1]) : undefined;
    if (req.method === 'POST' && hook) {
      const send = res.send.bind(res);
      res.send = (body?: unknown) => {
        if (res.statusCode === 200) {
          checks.checked += 1;
          try {
            const parsed = JSON.parse(typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : JSON.stringify(body)) as CdsServiceResponse;
            const version = versionOf((req.body ?? {}) as { extension?: Record<string, unknown> });
            checks.problems.push(...violations(parsed, hook, version).map((p) => `${req.path}: ${p}`));
          } catch (error) {
            checks.problems.push(`${req.path}: answer is not a CDS Hooks response (${(error as Error).message})`);
          }
        }
        return send(body);
      };
    }
    next();
  });
  outer.use(inner);
  return { app: outer, checks };
}

export interface CallOptions {
  headers?: Record<string, string>;
  /** Service id; default the one of `body.hook`. */
  serviceId?: string;
}

/** POSTs a hook request; a 200 answer must pass every CRD check, anything else must be an OperationOutcome. */
export async function callHook(app: express.Express, body: HookRequest | Record<string, unknown>, options: CallOptions = {}) {
  const hook = (body as { hook?: HookName }).hook ?? 'order-sign';
  const serviceId = options.serviceId ?? SERVICE_IDS[hook] ?? 'pa-order-sign';
  let call = request(app).post(`/cds-services/${serviceId}`).set('Content-Type', 'application/json');
  for (const [name, value] of Object.entries(options.headers ?? {})) call = call.set(name, value);
  const res = await call.send(JSON.stringify(body));
  if (res.status === 200) {
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(violations(res.body as CdsServiceResponse, hook, versionOf(body as HookRequest))).toEqual([]);
  } else {
    expect((res.body as OperationOutcome).resourceType).toBe('OperationOutcome');
    expect((res.body as OperationOutcome).issue?.[0]?.severity).toBe('error');
  }
  return res;
}

export function coverageInformation(response: CdsServiceResponse): Extension[] {
  return (response.systemActions ?? []).flatMap((a) => ((a.resource as MedicationRequest | undefined)?.extension ?? []).filter((e) => e.url === COVERAGE_INFORMATION_URL));
}

/** The one coverage-information of a one-order answer. */
export function onlyCoverageInformation(response: CdsServiceResponse): Extension {
  const all = coverageInformation(response);
  expect(all).toHaveLength(1);
  return all[0] as Extension;
}

export function codes(info: Extension, url: string): string[] {
  return (info.extension ?? []).filter((e) => e.url === url).map((e) => e.valueCode ?? e.valueString ?? e.valueCanonical ?? e.valueDate ?? '');
}

export function one(info: Extension, url: string): string | undefined {
  const values = codes(info, url);
  expect(values.length).toBeLessThanOrEqual(1);
  return values[0];
}

/** The answer without what differs between two calls by design: card / suggestion uuids and the assertion id. */
export function comparable(response: CdsServiceResponse): CdsServiceResponse {
  const copy = structuredClone(response);
  for (const card of copy.cards) {
    delete card.uuid;
    for (const suggestion of card.suggestions ?? []) delete suggestion.uuid;
    for (const link of card.links ?? []) {
      if (link.appContext) link.appContext = link.appContext.replace(/"coverageAssertionId":"[^"]*"/, '"coverageAssertionId":"<assertion id>"');
    }
  }
  for (const info of coverageInformation(copy)) {
    for (const part of info.extension ?? []) if (part.url === 'coverage-assertion-id') part.valueString = '<assertion id>';
  }
  return copy;
}

/** Every resource of a request's prefetch (search Bundles flattened), without duplicates. */
export function prefetchedResources(body: HookRequest): FhirResource[] {
  const seen = new Map<string, FhirResource>();
  for (const value of Object.values(body.prefetch)) {
    if (!value) continue;
    const resources = value.resourceType === 'Bundle' ? (value.entry ?? []).map((e) => e.resource).filter((r): r is FhirResource => r !== undefined) : [value];
    for (const r of resources) seen.set(`${r.resourceType}/${r.id}`, r);
  }
  return [...seen.values()];
}

/** The Kineret draft order of an order-sign / order-select request. */
export function kineretDraft(body: HookRequest): MedicationRequest {
  const order = body.context.draftOrders?.entry?.map((e) => e.resource).find((r): r is MedicationRequest => r?.resourceType === 'MedicationRequest' && r.id === 'medreq-kineret');
  if (!order) throw new Error('no Kineret draft order in the request');
  return order;
}
