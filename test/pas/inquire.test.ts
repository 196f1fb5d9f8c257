/**
 * `Claim/$inquire` (issue 8, item 3) on PGlite and PostgreSQL: the IG's matching rule (payer,
 * member, provider, then any of identifier / service dates / item codes), the current decision
 * after a pend, Parameters in and out, the inquiry response shape, isolation and audit.
 */
import path from 'node:path';
import request from 'supertest';
import type { Bundle, Claim, ClaimItem, ClaimResponse, Coverage, Parameters as FhirParameters, Patient } from 'fhir/r4';
import { smartClients, type SmartClients } from '../support/smart-clients';
import { pasPackage } from '../support/ig';
import { latestRequests } from '../../src/pas/inquire';
import type { ClaimRecord } from '../../src/store';
import {
  appOn,
  backends,
  decide,
  readJson,
  RIVERSIDE_NPI,
  submitPended,
  type BackendApp,
} from '../subscriptions/support';

const IG = pasPackage();
const INQUIRY_PROFILE = 'http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-claim-inquiry';

/** A PASClaimInquiry Bundle asking about a submitted request, as a provider system would build it. */
function inquiryFor(submitted: Bundle, change: (claim: Claim, bundle: Bundle) => void = () => undefined): Bundle {
  const bundle = structuredClone(submitted);
  const claim = bundle.entry![0]!.resource as Claim;
  claim.meta = { profile: [INQUIRY_PROFILE] };
  claim.id = 'inquiry-1';
  bundle.entry![0]!.fullUrl = 'http://riverside-rheum.example.org/fhir/Claim/inquiry-1';
  bundle.identifier = { system: 'http://riverside-rheum.example.org/fhir/identifier/transaction', value: 'INQ-1' };
  change(claim, bundle);
  return bundle;
}

/** The item without its trace numbers (they are identifiers too). */
const untraced = (i: ClaimItem): ClaimItem => ({ ...i, extension: (i.extension ?? []).filter((e) => !e.url.endsWith('extension-itemTraceNumber')) });

const resourceOf = <T>(bundle: Bundle, type: string) => bundle.entry!.find((e) => e.resource?.resourceType === type)!.resource as T;

/** The same request for another member, under its own Claim identifier. */
function otherMember(bundle: Bundle, memberId: string): Bundle {
  const other = structuredClone(bundle);
  const claim = other.entry![0]!.resource as Claim;
  claim.identifier = [{ system: 'urn:test', value: `request-of-${memberId}` }];
  claim.id = `claim-of-${memberId}`;
  resourceOf<Coverage>(other, 'Coverage').subscriberId = memberId;
  resourceOf<Coverage>(other, 'Coverage').identifier = [{ system: 'urn:test', value: memberId }];
  resourceOf<Patient>(other, 'Patient').identifier = [{ system: 'urn:test', value: `MRN-${memberId}` }];
  return other;
}

describe.each(backends)('Claim/$inquire on $name', (backend) => {
  const it_ = backend.enabled ? it : it.skip;
  let t: BackendApp;
  let submitted: { claimId: string; claimResponse: ClaimResponse; bundle: Bundle };

  const ask = async (body: unknown) => {
    return request(t.app).post('/fhir/Claim/$inquire').type('application/fhir+json').send(body as object);
  };
  const returned = (res: request.Response) => ((res.body as FhirParameters).parameter ?? []).map((p) => p.resource as Bundle);

  beforeAll(async () => {
    if (!backend.enabled) return;
    t = await appOn(backend);
    submitted = await submitPended(t.app);
    // Another member's request from the same provider: never in this member's answers.
    await submitPended(t.app, undefined, otherMember(submitted.bundle, 'ZZ0000001'));
  }, 60_000);
  afterAll(async () => {
    if (backend.enabled) await t.close();
  });

  it_('finds the pended request by its identifier and answers a PAS inquiry response Bundle in Parameters.return', async () => {
    const res = await ask(inquiryFor(submitted.bundle));
    expect(res.status).toBe(200);
    expect(res.body.resourceType).toBe('Parameters');
    const bundles = returned(res);
    expect(bundles).toHaveLength(1);
    expect(res.body.parameter[0].name).toBe('return');

    // Shape of the IG's PASClaimInquiryOperationResponseExample (profile-pas-inquiry-response-bundle).
    const answer = bundles[0]!;
    expect(answer.meta?.profile).toEqual(['http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-pas-inquiry-response-bundle']);
    expect(answer.type).toBe('collection');
    expect(answer.identifier).toEqual({ system: 'http://riverside-rheum.example.org/fhir/identifier/transaction', value: 'INQ-1' });
    expect(answer.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    for (const entry of answer.entry!) {
      expect(entry.fullUrl).toBeTruthy();
      expect(entry.resource).toBeTruthy();
      expect(entry.request).toBeUndefined();
      expect(entry.response).toBeUndefined();
    }
    const claimResponse = answer.entry![0]!.resource as ClaimResponse;
    expect(claimResponse.meta?.profile).toEqual(['http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-claiminquiryresponse']);
    expect(claimResponse).toMatchObject({ resourceType: 'ClaimResponse', id: submitted.claimResponse.id, disposition: submitted.claimResponse.disposition });
    expect(answer.entry!.some((e) => e.resource?.resourceType === 'Claim' && e.resource.id === submitted.claimId)).toBe(true);
  });

  it_('after a decision the inquiry gives the current (final) answer; the same in a Parameters input', async () => {
    await decide(t.ctx.store, submitted.claimId, 'approved after review');
    const res = await ask({ resourceType: 'Parameters', parameter: [{ name: 'resource', resource: inquiryFor(submitted.bundle) }] });
    expect(res.status).toBe(200);
    const [answer] = returned(res);
    expect((answer!.entry![0]!.resource as ClaimResponse).disposition).toBe('approved after review (version 2)');
  });

  it_('a cancelled request is answered with its cancellation (X12 306 C)', async () => {
    const pended = await submitPended(t.app, undefined, otherMember(submitted.bundle, 'CX0000002'));
    const cancel = structuredClone(pended.bundle);
    const claim = cancel.entry![0]!.resource as Claim;
    claim.extension = [
      ...(claim.extension ?? []),
      {
        url: 'http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-certificationType',
        valueCodeableConcept: { coding: [{ system: 'https://codesystem.x12.org/005010/1322', code: '3' }] },
      },
    ];
    expect((await request(t.app).post('/fhir/Claim/$submit').type('application/fhir+json').send(cancel)).status).toBe(200);
    const res = await ask(inquiryFor(pended.bundle));
    const answers = returned(res).map((b) => b.entry![0]!.resource as ClaimResponse);
    // One answer: the cancel is not a request for service of its own.
    expect(answers.map((r) => r.id)).toEqual([pended.claimResponse.id]);
    const answer = answers.find((r) => r.id === pended.claimResponse.id);
    expect(answer?.meta?.versionId).toBe('2');
    expect(JSON.stringify(answer?.item?.[0]?.adjudication)).toContain('"code":"C"');
  });

  it_.each<[string, (claim: Claim, bundle: Bundle) => void, number]>([
    ['identifier only', () => undefined, 1],
    [
      'a trace number-less inquiry with another identifier but an overlapping service date',
      (claim) => {
        claim.identifier = [{ system: 'urn:other', value: 'unknown' }];
        claim.item = claim.item!.map((i) => ({ ...untraced(i), productOrService: { coding: [{ system: 'urn:x', code: 'nothing' }] }, servicedPeriod: { start: '2027-01-01', end: '2027-01-31' } }));
      },
      1,
    ],
    [
      'another identifier, no date overlap, but the same item code',
      (claim) => {
        claim.identifier = [{ system: 'urn:other', value: 'unknown' }];
        claim.item = claim.item!.map((i) => ({ ...untraced(i), servicedPeriod: { start: '2020-01-01', end: '2020-01-31' } }));
      },
      1,
    ],
    [
      'another identifier, no date overlap, another item code',
      (claim) => {
        claim.identifier = [{ system: 'urn:other', value: 'unknown' }];
        claim.item = claim.item!.map((i) => ({ ...untraced(i), productOrService: { coding: [{ system: 'urn:x', code: 'nothing' }] }, servicedPeriod: { start: '2020-01-01', end: '2020-01-31' } }));
      },
      0,
    ],
    [
      'the member by a Patient identifier only (no Coverage given)',
      (claim, bundle) => {
        claim.insurance = [];
        bundle.entry = bundle.entry!.filter((e) => e.resource?.resourceType !== 'Coverage');
      },
      1,
    ],
    [
      'another member',
      (_claim, bundle) => {
        resourceOf<Coverage>(bundle, 'Coverage').subscriberId = 'XX9999999';
        resourceOf<Coverage>(bundle, 'Coverage').identifier = [];
        resourceOf<Patient>(bundle, 'Patient').identifier = [{ system: 'urn:x', value: 'MRN-NOBODY' }];
      },
      0,
    ],
    [
      'another payer',
      (claim, bundle) => {
        const payer = bundle.entry!.find((e) => e.resource?.resourceType === 'Organization' && e.resource.id === (claim.insurer?.reference ?? '').split('/')[1]);
        (payer!.resource as { identifier: unknown }).identifier = [{ system: 'urn:oid:2.16.840.1.113883.6.300', value: '99999' }];
        resourceOf<Coverage>(bundle, 'Coverage').payor = [{ identifier: { value: '99999' } }];
      },
      0,
    ],
    [
      'another provider',
      (_claim, bundle) => {
        for (const e of bundle.entry!) {
          if (e.resource?.resourceType === 'Organization' && e.resource.identifier?.[0]?.value === RIVERSIDE_NPI) e.resource.identifier[0].value = '1234567893';
          if (e.resource?.resourceType === 'Practitioner') e.resource.identifier = [{ system: 'http://hl7.org/fhir/sid/us-npi', value: '1111111112' }];
        }
      },
      0,
    ],
  ])('matching: %s', async (_name, change, expected) => {
    const res = await ask(inquiryFor(submitted.bundle, change));
    expect(res.status).toBe(200);
    expect(returned(res)).toHaveLength(expected);
  });

  // Needs ../shared (the IG package); test:shared's CI run has it beside the clone.
  (IG ? it_ : it.skip)("the IG's inquiry example is accepted (nothing of its provider is on file: no return)", async () => {
    const res = await ask(readJson(path.join(IG ?? '', 'example/Bundle-PASClaimInquiryBundleExample.json')));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ resourceType: 'Parameters', parameter: [] });
  });

  it_.each([
    ['a non-Bundle', { resourceType: 'Claim' }, 'Bundle'],
    ['a Bundle without the Claim first', { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Patient' } }] }, 'Bundle.entry[0].resource'],
    ['Parameters without resource', { resourceType: 'Parameters', parameter: [] }, 'Parameters.parameter'],
  ])('400 for %s, naming the element', async (_name, body, expression) => {
    const res = await ask(body);
    expect(res.status).toBe(400);
    expect(res.body.issue[0].expression).toEqual([expression]);
  });

  it_('every answer is audited (pas.inquire, the ClaimResponse returned)', async () => {
    await ask(inquiryFor(submitted.bundle));
    const audit = await t.ctx.store.listAudit(20);
    expect(audit.some((a) => a.action === 'pas.inquire' && a.outcome === `ClaimResponse/${submitted.claimResponse.id}` && a.status === 200)).toBe(true);
  });
});

describe('Claim/$inquire with SMART clients', () => {
  let t: BackendApp;
  let clients: SmartClients;
  const token = (clientId: string) => clients.token(t.app, clientId, 'system/Claim.cs');

  beforeAll(async () => {
    clients = await smartClients([['riverside', RIVERSIDE_NPI], ['other-clinic', '1234567893']], 'system/Claim.cs');
    t = await appOn(backends[0]!, { smartClients: clients.configs });
  }, 60_000);
  afterAll(() => t.close());

  test("a client inquires only as its own organization (403 naming Claim.provider) and finds only its organization's requests", async () => {
    const own = await token('riverside');
    const submitted = await submitPended(t.app, own);
    const inquiry = inquiryFor(submitted.bundle);
    const mine = await request(t.app).post('/fhir/Claim/$inquire').set('Authorization', `Bearer ${own}`).type('application/fhir+json').send(inquiry);
    expect(mine.status).toBe(200);
    expect(mine.body.parameter).toHaveLength(1);

    const other = await token('other-clinic');
    const foreign = await request(t.app).post('/fhir/Claim/$inquire').set('Authorization', `Bearer ${other}`).type('application/fhir+json').send(inquiry);
    expect(foreign.status).toBe(403);
    expect(foreign.body.issue[0].expression).toEqual(['Bundle.entry[0].resource.provider']);
    const audit = await t.ctx.store.listAudit(20);
    expect(audit.some((a) => a.action === 'pas.inquire' && a.actor === 'riverside')).toBe(true);
  });
});

describe('latestRequests: one answer per request for service', () => {
  const record = (id: string, outcome: ClaimRecord['outcome'], replaces: string | null, replacedBy: string | null) =>
    ({ id, outcome, replacesClaimId: replaces, replacedByClaimId: replacedBy }) as ClaimRecord;

  it('answers a replaced request by the update that replaced it', () => {
    const ids = latestRequests([record('a', 'approve', null, 'b'), record('b', 'approve', 'a', null)]).map((r) => r.id);
    expect(ids).toEqual(['b']);
  });

  it('answers a cancel by the request it cancelled', () => {
    const ids = latestRequests([record('a', 'cancelled', null, 'c'), record('c', 'cancelled', 'a', null)]).map((r) => r.id);
    expect(ids).toEqual(['a']);
  });

  it('keeps a cancel or an update whose earlier request did not match, and unrelated requests', () => {
    const ids = latestRequests([record('c', 'cancelled', 'x', null), record('u', 'pend', 'y', null), record('z', 'deny', null, null)]).map((r) => r.id);
    expect(ids).toEqual(['c', 'u', 'z']);
  });
});
