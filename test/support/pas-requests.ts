/**
 * PAS request Bundles built from the charts the CRD fixtures come from (fixtures/cp-phar-244), so a
 * test can follow one order from order-sign to `Claim/$submit`, an update and a cancel.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, Claim, ClaimResponse, FhirResource, MedicationRequest } from 'fhir/r4';
import request from 'supertest';
import type express from 'express';
import { chartResources, EHR_BASE, ORDER_NUMBER_SYSTEM } from './crd-requests';
import { fixture, kineretDraft, type HookRequest } from './crd-client';

const PAS_BASE = path.join(__dirname, '../../fixtures/pas/kineret-request-base.json');
export const CLAIM_ID_SYSTEM = 'http://ehr.riverside-health.example.org/fhir/sid/pa-request';

/** An order-sign request for the satisfiable chart, its Kineret order numbered `orderNumber`. */
export function signRequest(orderNumber: string): HookRequest {
  const body = fixture('order-sign-satisfied');
  kineretDraft(body).identifier = [{ use: 'official', system: ORDER_NUMBER_SYSTEM, value: orderNumber }];
  return body;
}

/** The ra-approvable chart as the EHR holds it, without the draft order. */
export function approvableChart(): FhirResource[] {
  return chartResources('ra-approvable').filter((r) => !(r.resourceType === 'MedicationRequest' && r.id === 'medreq-kineret'));
}

/** The PAS request for the order of a CRD request, now signed (active), with a fresh Claim identifier. */
export function pasBundleFor(crd: HookRequest, resources: FhirResource[] = approvableChart(), claimIdentifier = `PA-${crypto.randomUUID()}`): Bundle {
  const base = JSON.parse(fs.readFileSync(PAS_BASE, 'utf8')) as Bundle;
  const claim = structuredClone(base.entry?.[0]?.resource as Claim);
  const order: MedicationRequest = { ...structuredClone(kineretDraft(crd)), status: 'active' };
  const idOf = (type: string) => {
    const found = resources.find((r) => r.resourceType === type && (type !== 'Organization' || r.id === 'org-centene-medicaid'));
    if (!found?.id) throw new Error(`the CRD request has no ${type}`);
    return `${type}/${found.id}`;
  };
  claim.identifier = [{ system: CLAIM_ID_SYSTEM, value: claimIdentifier }];
  claim.patient = { reference: idOf('Patient') };
  claim.insurer = { reference: idOf('Organization') };
  claim.provider = { reference: order.requester?.reference ?? idOf('PractitionerRole') };
  claim.insurance = [{ sequence: 1, focal: true, coverage: { reference: idOf('Coverage') } }];
  for (const ext of claim.item?.[0]?.extension ?? []) {
    if (ext.url.endsWith('extension-requestedService')) ext.valueReference = { reference: `MedicationRequest/${order.id}` };
  }
  return {
    ...base,
    identifier: { system: 'http://ehr.riverside-health.example.org/fhir/sid/pas-transaction', value: crypto.randomUUID() },
    entry: [claim, ...resources, order].map((resource) => ({ fullUrl: `${EHR_BASE}/${resource.resourceType}/${resource.id}`, resource })),
  };
}

export function claimOf(bundle: Bundle): Claim {
  return bundle.entry?.[0]?.resource as Claim;
}

/** POST Claim/$submit; the raw supertest response. */
export function postSubmit(app: express.Express, bundle: Bundle) {
  return request(app).post('/fhir/Claim/$submit').set('Content-Type', 'application/fhir+json').send(JSON.stringify(bundle));
}

/** POST Claim/$submit expecting 200; the ClaimResponse. */
export async function submitOk(app: express.Express, bundle: Bundle): Promise<ClaimResponse> {
  const res = await postSubmit(app, bundle);
  if (res.status !== 200) throw new Error(`$submit answered ${res.status}: ${JSON.stringify(res.body)}`);
  const claimResponse = (res.body as Bundle).entry?.[0]?.resource as ClaimResponse;
  if (claimResponse?.resourceType !== 'ClaimResponse') throw new Error('the PAS response does not start with a ClaimResponse');
  return claimResponse;
}

/** The stored Claim id a ClaimResponse names (`Claim/{id}`, relative or absolute). */
export function claimIdOf(response: ClaimResponse): string {
  const id = /(?:^|\/)Claim\/([^/]+)$/.exec(response.request?.reference ?? '')?.[1];
  if (!id) throw new Error(`ClaimResponse.request does not name a Claim: ${JSON.stringify(response.request)}`);
  return id;
}
