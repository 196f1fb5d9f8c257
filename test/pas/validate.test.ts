import type { Bundle, Claim, Coverage, Parameters, PractitionerRole } from 'fhir/r4';
import { parsePasRequest } from '../../src/pas/validate';
import { claimOf, entryOf, kineretRequest, outcomeOf } from './helpers';

type Mutation = (bundle: Bundle) => unknown;

const mutate =
  (change: (bundle: Bundle, claim: Claim) => void): Mutation =>
  (bundle) => {
    change(bundle, claimOf(bundle));
    return bundle;
  };

const C = 'Bundle.entry[0].resource';

describe('parsePasRequest rejects malformed requests with one 400 OperationOutcome naming the element', () => {
  const cases: [string, Mutation, string, string][] = [
    ['a string body', () => 'not a bundle', 'Bundle', 'structure'],
    ['a JSON array', () => [kineretRequest()], 'Bundle', 'structure'],
    ['null', () => null, 'Bundle', 'structure'],
    ['a Patient instead of a Bundle', () => ({ resourceType: 'Patient', id: 'x' }), 'Bundle', 'invalid'],
    ['an object without resourceType', () => ({ type: 'collection' }), 'Bundle', 'invalid'],
    ['a Parameters without a Bundle', () => ({ resourceType: 'Parameters', parameter: [{ name: 'resource', valueString: 'x' }] }), 'Parameters.parameter', 'required'],
    ['a Parameters without parameter', () => ({ resourceType: 'Parameters' }), 'Parameters.parameter', 'required'],
    ['Bundle.type transaction', mutate((b) => (b.type = 'transaction')), 'Bundle.type', 'value'],
    ['an empty Bundle', mutate((b) => (b.entry = [])), 'Bundle.entry', 'required'],
    ['a Bundle without entry', mutate((b) => delete b.entry), 'Bundle.entry', 'required'],
    ['no Bundle.identifier', mutate((b) => delete b.identifier), 'Bundle.identifier', 'required'],
    ['no Bundle.timestamp', mutate((b) => delete b.timestamp), 'Bundle.timestamp', 'required'],
    ['a timestamp without time zone', mutate((b) => (b.timestamp = '2026-11-20T14:32:05')), 'Bundle.timestamp', 'value'],
    ['an entry without fullUrl', mutate((b) => delete b.entry![2]!.fullUrl), 'Bundle.entry[2].fullUrl', 'required'],
    ['a duplicate fullUrl', mutate((b) => (b.entry![3]!.fullUrl = b.entry![2]!.fullUrl)), 'Bundle.entry[3].fullUrl', 'duplicate'],
    ['an entry without resource', mutate((b) => delete b.entry![4]!.resource), 'Bundle.entry[4].resource', 'required'],
    ['the Claim not first', mutate((b) => b.entry!.reverse()), 'Bundle.entry[0].resource', 'invalid'],
    ['Claim.use claim', mutate((_, c) => (c.use = 'claim')), `${C}.use`, 'value'],
    ['Claim.use missing', mutate((_, c) => delete (c as Partial<Claim>).use), `${C}.use`, 'value'],
    ['Claim.status missing', mutate((_, c) => delete (c as Partial<Claim>).status), `${C}.status`, 'required'],
    ['Claim.status draft', mutate((_, c) => (c.status = 'draft')), `${C}.status`, 'value'],
    ['Claim.identifier missing', mutate((_, c) => delete c.identifier), `${C}.identifier`, 'required'],
    ['Claim.type missing', mutate((_, c) => delete (c as Partial<Claim>).type), `${C}.type`, 'required'],
    ['Claim.patient missing', mutate((_, c) => delete (c as Partial<Claim>).patient), `${C}.patient`, 'required'],
    ['Claim.created missing', mutate((_, c) => delete (c as Partial<Claim>).created), `${C}.created`, 'required'],
    ['Claim.created not a dateTime', mutate((_, c) => (c.created = 'yesterday')), `${C}.created`, 'value'],
    ['Claim.insurer missing', mutate((_, c) => delete c.insurer), `${C}.insurer`, 'required'],
    ['Claim.insurer by identifier only', mutate((_, c) => (c.insurer = { identifier: { system: 'urn:oid:2.16.840.1.113883.6.300', value: '60001' } })), `${C}.insurer`, 'required'],
    ['Claim.provider missing', mutate((_, c) => delete (c as Partial<Claim>).provider), `${C}.provider`, 'required'],
    ['Claim.priority missing', mutate((_, c) => delete (c as Partial<Claim>).priority), `${C}.priority`, 'required'],
    ['Claim.insurance empty', mutate((_, c) => (c.insurance = [])), `${C}.insurance`, 'required'],
    ['insurance without coverage', mutate((_, c) => delete (c.insurance[0] as Partial<Claim['insurance'][0]>).coverage), `${C}.insurance[0].coverage`, 'required'],
    ['Claim.item missing', mutate((_, c) => delete c.item), `${C}.item`, 'required'],
    ['item without productOrService', mutate((_, c) => delete (c.item![0] as Partial<NonNullable<Claim['item']>[0]>).productOrService), `${C}.item[0].productOrService`, 'required'],
    ['item without sequence', mutate((_, c) => delete (c.item![0] as Partial<NonNullable<Claim['item']>[0]>).sequence), `${C}.item[0].sequence`, 'required'],
    ['a dangling Coverage reference', mutate((_, c) => (c.insurance[0]!.coverage = { reference: 'Coverage/missing' })), `${C}.insurance[0].coverage`, 'not-found'],
    ['a dangling patient reference', mutate((_, c) => (c.patient = { reference: 'urn:uuid:9a5b1e1e-0000-4000-8000-000000000000' })), `${C}.patient`, 'not-found'],
    ['a dangling requestedService', mutate((_, c) => (c.item![0]!.extension![3]!.valueReference = { reference: 'MedicationRequest/gone' })), `${C}.item[0].extension[3].valueReference`, 'not-found'],
    ['a dangling diagnosisReference', mutate((_, c) => (c.diagnosis![0] = { sequence: 1, diagnosisReference: { reference: 'Condition/gone' } })), `${C}.diagnosis[0].diagnosisReference`, 'not-found'],
    ['a dangling supportingInfo', mutate((_, c) => (c.supportingInfo = [{ sequence: 1, category: { text: 'x' }, valueReference: { reference: 'QuestionnaireResponse/gone' } }])), `${C}.supportingInfo[0].valueReference`, 'not-found'],
    ['a dangling Coverage.payor', mutate((b) => ((entryOf(b, 'Coverage').resource as Coverage).payor = [{ reference: 'Organization/gone' }])), 'Bundle.entry[2].resource.payor[0]', 'not-found'],
    ['Coverage.payor missing', mutate((b) => delete (entryOf(b, 'Coverage').resource as Partial<Coverage>).payor), 'Bundle.entry[2].resource.payor', 'required'],
    ['a dangling Coverage.beneficiary', mutate((b) => ((entryOf(b, 'Coverage').resource as Coverage).beneficiary = { reference: 'Patient/gone' })), 'Bundle.entry[2].resource.beneficiary', 'not-found'],
    ['a dangling PractitionerRole.practitioner', mutate((b) => ((entryOf(b, 'PractitionerRole').resource as PractitionerRole).practitioner = { reference: 'Practitioner/gone' })), 'Bundle.entry[6].resource.practitioner', 'not-found'],
    ['an order whose subject dangles', mutate((b) => (entryOf(b, 'MedicationRequest').resource.subject = { reference: 'Patient/gone' })), 'Bundle.entry[8].resource.subject', 'not-found'],
    ['Claim.insurer naming a Patient', mutate((_, c) => (c.insurer = { reference: 'Patient/pat-kineret-1' })), `${C}.insurer`, 'invalid'],
    ['insurance.coverage naming an Organization', mutate((_, c) => (c.insurance[0]!.coverage = { reference: 'Organization/payer-centene-60001' })), `${C}.insurance[0].coverage`, 'invalid'],
    ['requestedService naming a Condition', mutate((_, c) => (c.item![0]!.extension![3]!.valueReference = { reference: 'Condition/cond-ra-1' })), `${C}.item[0].extension[3].valueReference`, 'invalid'],
  ];

  test.each(cases)('%s', (_name, build, expression, code) => {
    const { status, outcome } = outcomeOf(() => parsePasRequest(build(kineretRequest())));
    expect(status).toBe(400);
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0]?.severity).toBe('error');
    expect(outcome.issue[0]?.code).toBe(code);
    expect(outcome.issue[0]?.expression).toEqual([expression]);
    expect(outcome.issue[0]?.diagnostics).toEqual(expect.any(String));
  });

  test('several problems come back together, in document order, in one OperationOutcome', () => {
    const bundle = kineretRequest();
    delete bundle.timestamp;
    const claim = claimOf(bundle);
    claim.use = 'claim';
    delete claim.insurer;
    claim.insurance[0]!.coverage = { reference: 'Coverage/missing' };
    const { outcome } = outcomeOf(() => parsePasRequest(bundle));
    expect(outcome.issue.map((i) => i.expression?.[0])).toEqual([
      'Bundle.timestamp',
      `${C}.use`,
      `${C}.insurer`,
      `${C}.insurance[0].coverage`,
    ]);
    expect(outcome.issue.every((i) => i.severity === 'error')).toBe(true);
  });

  test('the message names what was found', () => {
    const bundle = kineretRequest();
    bundle.entry!.reverse();
    const { outcome } = outcomeOf(() => parsePasRequest(bundle));
    expect(outcome.issue[0]?.diagnostics).toBe(
      'The first entry of a PAS request Bundle must be the Claim (PAS rule ClaimFirst); found MedicationRequest (a Claim is at entry 8).',
    );
  });
});

describe('parsePasRequest accepts valid requests', () => {
  test('the Kineret request, bare', () => {
    const req = parsePasRequest(kineretRequest());
    expect(req.wrapped).toBe(false);
    expect(req.claim.id).toBe('pa-kineret-4417');
    expect(req.claimFullUrl).toBe('http://riverside-rheum.example.org/fhir/Claim/pa-kineret-4417');
    expect(req.warnings).toEqual([]);
  });

  test('the Kineret request inside a Parameters "resource"', () => {
    const parameters: Parameters = {
      resourceType: 'Parameters',
      parameter: [{ name: 'resource', resource: kineretRequest() }],
    };
    const req = parsePasRequest(parameters);
    expect(req.wrapped).toBe(true);
    expect(req.bundle.identifier?.value).toBe('TX-2026-004417');
  });

  test('urn:uuid fullUrls referenced by urn:uuid, and resources without ids', () => {
    const bundle = kineretRequest();
    const uuids = new Map<string, string>();
    bundle.entry!.forEach((e, i) => {
      const uuid = `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
      uuids.set(`${e.resource!.resourceType}/${e.resource!.id}`, uuid);
      e.fullUrl = uuid;
    });
    const text = JSON.stringify(bundle).replace(/"reference":"([A-Za-z]+\/[A-Za-z0-9\-.]+)"/g, (_m, ref: string) => `"reference":"${uuids.get(ref) ?? ref}"`);
    const rewritten = JSON.parse(text) as Bundle;
    rewritten.entry!.forEach((e) => delete e.resource!.id);
    const req = parsePasRequest(rewritten);
    expect(req.warnings).toEqual([]);
    expect(req.index.resolve(claimOf(rewritten).patient.reference)?.resource.resourceType).toBe('Patient');
  });

  test('relative references resolve against the base of a RESTful fullUrl, not just by Type/id', () => {
    const bundle = kineretRequest();
    // Two Organizations with the same Type/id on different servers: only the base decides.
    const other = structuredClone(entryOf(bundle, 'Organization'));
    other.fullUrl = 'http://elsewhere.example.org/fhir/Organization/payer-centene-60001';
    other.resource.name = 'Another server';
    bundle.entry!.splice(1, 0, other);
    const req = parsePasRequest(bundle);
    const insurer = req.index.resolveReference(claimOf(bundle).insurer, req.claimFullUrl);
    expect(insurer?.fullUrl).toBe('http://riverside-rheum.example.org/fhir/Organization/payer-centene-60001');
  });

  test('missing PAS item extensions and unresolved second-level references are warnings, not errors', () => {
    const bundle = kineretRequest();
    const claim = claimOf(bundle);
    claim.item![0]!.extension = claim.item![0]!.extension!.filter((e) => !e.url.endsWith('extension-certificationType'));
    entryOf(bundle, 'Patient').resource.managingOrganization = { reference: 'Organization/not-sent' };
    const req = parsePasRequest(bundle);
    expect(req.warnings.map((w) => [w.severity, w.expression?.[0]])).toEqual([
      ['warning', `${C}.item[0].extension`],
      ['warning', 'Bundle.entry[1].resource.managingOrganization'],
    ]);
  });
});
