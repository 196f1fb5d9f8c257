/**
 * `Claim/$inquire` (Da Vinci PAS 2.2.1,
 * https://hl7.org/fhir/us/davinci-pas/OperationDefinition-Claim-inquiry.html): query by example.
 *
 * Supports: a PAS inquiry request Bundle (PASClaimInquiry first), bare or as the `resource`
 * parameter of a Parameters. A stored request matches when, as in X12 278 inquiry, the payer (Claim.insurer
 * or Coverage.payor identifiers), the member (Coverage.subscriberId or identifier, or a Patient
 * identifier) and the provider (Claim.provider: Organization, or a PractitionerRole's organization or
 * practitioner) all agree, and, when the inquiry gives any of them, at least one of: a Claim
 * identifier or item trace number, an overlapping service date, an item code. Each match is
 * answered with its CURRENT ClaimResponse (a final decision reached after a pend, or a cancellation)
 * in a PAS inquiry response Bundle; the output is Parameters with 0..* `return`.
 *
 * Isolation: a SMART client inquires only for its own organization (403 naming Claim.provider
 * otherwise) and only its organization's requests are searched. Every answer is audited
 * (`pas.inquire`, one row per ClaimResponse returned, or one for an empty answer).
 *
 * Does not support: X12 278 inquiry translation; matching on diagnosis or certification dates.
 */
import { organizationKeyOf } from './submitter';
import crypto from 'node:crypto';
import type { Bundle, BundleEntry, Claim, ClaimResponse, Coverage, Identifier, Parameters, Patient, Period } from 'fhir/r4';
import type { AuthenticatedClient } from '../auth/smart';
import { auditRead } from '../auth/audit';
import { badRequest, forbidden } from '../fhir/outcomes';
import type { ClaimRecord, Store } from '../store';
import { BundleIndex } from '../fhir/bundle-index';
import { isRecord } from '../fhir/json';
import { PAS_EXT } from './codes';
import { OPERATION_DEFINITIONS } from '../fhir/operation-definitions';
import { operationRules, readParameters } from '../fhir/parameters';
import { submitterKeysOf } from './submitter';

const PAS_SD = 'http://hl7.org/fhir/us/davinci-pas/StructureDefinition';
export const INQUIRY_PROFILE = {
  responseBundle: `${PAS_SD}/profile-pas-inquiry-response-bundle`,
  claimInquiryResponse: `${PAS_SD}/profile-claiminquiryresponse`,
} as const;

/** Candidates examined per inquiry (the newest first). */
const CANDIDATE_LIMIT = 500;

export interface InquireDeps {
  store: Store;
  clock: () => Date;
  /** `{publicBaseUrl}/fhir`. */
  fhirBase: string;
}

/** What a request (stored or inquired) says about who, for whom and what. */
export interface RequestFacts {
  payerIds: Set<string>;
  memberIds: Set<string>;
  providerKeys: string[];
  identifiers: Set<string>;
  periods: Array<{ start: string; end: string }>;
  codes: Set<string>;
}

const list = <T>(v: T[] | T | undefined | null): T[] => (Array.isArray(v) ? v : v ? [v] : []).filter((x): x is T => isRecord(x));
const values = (ids: Identifier[] | Identifier | undefined): string[] =>
  list(ids)
    .map((i) => i.value)
    .filter((v): v is string => typeof v === 'string' && v !== '');

/** PAS 2.2.1 Claim-inquiry: the Bundle as `resource`, else the first Bundle parameter (as `$submit` reads it). */
export const INQUIRE_RULES = operationRules(OPERATION_DEFINITIONS.inquire, { change: { resource: { byType: true } } });

/** The inquiry Bundle, from a bare body or the `resource` parameter of a Parameters. */
export function parseInquiry(body: unknown): { bundle: Bundle; claim: Claim } {
  if (!isRecord(body)) throw badRequest('The request body must be a PAS inquiry Bundle, or a Parameters carrying one.', 'Bundle', 'structure');
  let raw: unknown = body;
  if (body.resourceType === 'Parameters') raw = readParameters(body, INQUIRE_RULES).first('resource')!.resource;
  if (!isRecord(raw) || raw.resourceType !== 'Bundle') {
    throw badRequest(`Expected a PAS inquiry request Bundle, got ${isRecord(raw) ? String(raw.resourceType) : 'nothing'}.`, 'Bundle', 'invalid');
  }
  const bundle = raw as unknown as Bundle;
  const claim = bundle.entry?.[0]?.resource;
  if (claim?.resourceType !== 'Claim') {
    throw badRequest('The first entry of a PAS inquiry Bundle must be the PASClaimInquiry Claim.', 'Bundle.entry[0].resource', 'invalid');
  }
  if (!list(claim.identifier).some((i) => i.value)) {
    throw badRequest('The PASClaimInquiry needs an identifier (Claim.identifier 1..1).', 'Bundle.entry[0].resource.identifier', 'required');
  }
  if (!claim.insurer) throw badRequest('The PASClaimInquiry needs the payer (Claim.insurer).', 'Bundle.entry[0].resource.insurer', 'required');
  if (!claim.patient) throw badRequest('The PASClaimInquiry needs the member (Claim.patient).', 'Bundle.entry[0].resource.patient', 'required');
  if (!claim.provider) throw badRequest('The PASClaimInquiry needs the provider (Claim.provider).', 'Bundle.entry[0].resource.provider', 'required');
  return { bundle, claim };
}

function periodOf(p: Period | undefined, date?: string): { start: string; end: string } | null {
  const start = (p?.start ?? date ?? '').slice(0, 10);
  const end = (p?.end ?? p?.start ?? date ?? '').slice(0, 10);
  return start || end ? { start: start || '0000-01-01', end: end || '9999-12-31' } : null;
}

/** Facts of a Bundle whose first entry is the Claim (a PAS request or inquiry). */
export function factsOf(bundle: Bundle): RequestFacts {
  const index = new BundleIndex(bundle);
  const first = index.entry(0);
  const claim = first?.resource as Claim;
  const from = first?.fullUrl;
  const payerIds = new Set<string>(values(claim.insurer?.identifier));
  const insurer = index.resolveAs(claim.insurer, from, 'Organization');
  values(insurer?.resource.identifier).forEach((v) => payerIds.add(v));

  const memberIds = new Set<string>(values(claim.patient?.identifier));
  const patient = index.resolveAs(claim.patient, from, 'Patient');
  values((patient?.resource as Patient | undefined)?.identifier).forEach((v) => memberIds.add(v));
  for (const insurance of list(claim.insurance)) {
    const coverage = index.resolveAs(insurance.coverage, from, 'Coverage')?.resource as Coverage | undefined;
    if (!coverage) continue;
    if (coverage.subscriberId) memberIds.add(coverage.subscriberId);
    values(coverage.identifier).forEach((v) => memberIds.add(v));
    for (const payor of list(coverage.payor)) {
      values(payor.identifier).forEach((v) => payerIds.add(v));
      values((index.resolveAs(payor, from, 'Organization')?.resource)?.identifier).forEach((v) => payerIds.add(v));
    }
  }

  const identifiers = new Set<string>(values(claim.identifier));
  const periods: Array<{ start: string; end: string }> = [];
  const codes = new Set<string>();
  const billable = periodOf(claim.billablePeriod);
  if (billable) periods.push(billable);
  for (const item of list(claim.item)) {
    for (const e of list(item.extension)) if (e.url === PAS_EXT.itemTraceNumber) values(e.valueIdentifier).forEach((v) => identifiers.add(v));
    const served = periodOf(item.servicedPeriod, item.servicedDate);
    if (served) periods.push(served);
    for (const c of list(item.productOrService?.coding)) if (c.code) codes.add(`${c.system ?? ''}|${c.code}`);
  }
  return { payerIds, memberIds, providerKeys: submitterKeysOf(bundle), identifiers, periods, codes };
}

const overlaps = <T>(a: Iterable<T>, b: Set<T>) => [...a].some((x) => b.has(x));

/** Same code, and the same system when both give one. */
function codesMatch(asked: Set<string>, stored: Set<string>): boolean {
  const storedList = [...stored];
  return [...asked].some((a) => {
    const [system, code] = [a.slice(0, a.lastIndexOf('|')), a.slice(a.lastIndexOf('|') + 1)];
    return storedList.some((s) => {
      const [sSystem, sCode] = [s.slice(0, s.lastIndexOf('|')), s.slice(s.lastIndexOf('|') + 1)];
      return sCode === code && (system === '' || sSystem === '' || system === sSystem);
    });
  });
}

/** Whether a stored request answers the inquiry (see the module comment for the rule). */
export function matches(asked: RequestFacts, stored: RequestFacts): boolean {
  if (!overlaps(asked.payerIds, stored.payerIds)) return false;
  if (!overlaps(asked.memberIds, stored.memberIds)) return false;
  if (!asked.providerKeys.some((k) => stored.providerKeys.includes(k))) return false;
  const given = asked.identifiers.size > 0 || asked.periods.length > 0 || asked.codes.size > 0;
  if (!given) return true;
  return (
    overlaps(asked.identifiers, stored.identifiers) ||
    asked.periods.some((a) => stored.periods.some((s) => a.start <= s.end && s.start <= a.end)) ||
    codesMatch(asked.codes, stored.codes)
  );
}

/** The current answer to a stored request as a PAS inquiry response Bundle. */
export function inquiryResponseBundle(record: ClaimRecord, inquiry: Bundle, fhirBase: string, now: Date): Bundle {
  const entries: BundleEntry[] = (record.responseBundle.entry ?? []).map((e, i) => {
    const resource =
      i === 0 && e.resource?.resourceType === 'ClaimResponse'
        ? ({ ...e.resource, meta: { ...(e.resource.meta ?? {}), profile: [INQUIRY_PROFILE.claimInquiryResponse] } } as ClaimResponse)
        : e.resource;
    return { fullUrl: e.fullUrl ?? `urn:uuid:${crypto.randomUUID()}`, ...(resource ? { resource } : {}) };
  });
  entries.push({ fullUrl: `${fhirBase}/Claim/${record.id}`, resource: record.claim });
  return {
    resourceType: 'Bundle',
    id: crypto.randomUUID(),
    meta: { profile: [INQUIRY_PROFILE.responseBundle] },
    ...(inquiry.identifier ? { identifier: inquiry.identifier } : {}),
    type: 'collection',
    timestamp: now.toISOString(),
    entry: entries,
  };
}

/**
 * One answer per request for service, in its latest form: a request an update replaced is answered
 * by the update; a cancel is answered by the request it cancelled (whose current ClaimResponse
 * carries the cancellation), not as a request of its own.
 */
export function latestRequests(found: ClaimRecord[]): ClaimRecord[] {
  const ids = new Set(found.map((r) => r.id));
  const isCancel = (r: ClaimRecord) => r.outcome === 'cancelled' && r.replacesClaimId !== null;
  return found.filter((r) => {
    if (isCancel(r)) return r.replacesClaimId === null || !ids.has(r.replacesClaimId);
    const replacement = r.replacedByClaimId !== null ? found.find((x) => x.id === r.replacedByClaimId) : undefined;
    return replacement === undefined || isCancel(replacement);
  });
}

export async function inquire(
  deps: InquireDeps,
  body: unknown,
  requestId: string,
  client?: AuthenticatedClient,
): Promise<{ status: number; body: Parameters }> {
  const { bundle } = parseInquiry(body);
  const asked = factsOf(bundle);
  const clientKey = organizationKeyOf(client);
  if (clientKey && !asked.providerKeys.includes(clientKey)) {
    throw forbidden(
      `This client inquires for ${clientKey}; Claim.provider does not carry that identifier.`,
      'Bundle.entry[0].resource.provider',
    );
  }
  if (asked.providerKeys.length === 0) {
    throw badRequest('Claim.provider must resolve to a provider with an identifier (system and value).', 'Bundle.entry[0].resource.provider', 'required');
  }
  const candidates = await deps.store.findClaimsBySubmitter({
    submitterKeys: asked.providerKeys,
    ...(clientKey ? { requiredKey: clientKey } : {}),
    payerIds: [...asked.payerIds],
    limit: CANDIDATE_LIMIT,
  });
  const now = deps.clock();
  const found = latestRequests(candidates.filter((record) => matches(asked, factsOf(record.requestBundle))));
  const parameters: Parameters = {
    resourceType: 'Parameters',
    parameter: found.map((record) => ({ name: 'return', resource: inquiryResponseBundle(record, bundle, deps.fhirBase, now) })),
  };
  for (const record of found) {
    await auditRead(deps.store, { requestId, client, action: 'pas.inquire', target: `ClaimResponse/${record.claimResponseId}`, status: 200 });
  }
  if (found.length === 0) await auditRead(deps.store, { requestId, client, action: 'pas.inquire', target: 'Claim/$inquire', status: 200 });
  return { status: 200, body: parameters };
}
