import type { Bundle, ClaimResponse, CommunicationRequest, Extension } from 'fhir/r4';
import type { Decision } from '../../src/engine/decision';
import { extractPasContext, type PasContext } from '../../src/pas/context';
import { buildPasResponse, buildPasResponseInSlices, readReviewAction, type PasAuthorization } from '../../src/pas/response';
import { parsePasRequest } from '../../src/pas/validate';
import { criterion, decisions, kineretRequest } from './helpers';

const PAS = 'http://hl7.org/fhir/us/davinci-pas/StructureDefinition';
const REVIEW_ACTION = `${PAS}/extension-reviewAction`;
const REVIEW_ACTION_CODE = `${PAS}/extension-reviewActionCode`;
const ITEM_PREAUTH_PERIOD = `${PAS}/extension-itemPreAuthPeriod`;
const X12_306 = 'https://codesystem.x12.org/005010/306';
const X12_886 = 'https://codesystem.x12.org/external/886';
const NOW = new Date('2026-11-23T15:04:05.000Z');
const AUTH: PasAuthorization = { number: 'PA-2026-000981', start: '2026-11-23', end: '2027-05-22' };

function context(): PasContext {
  return extractPasContext(parsePasRequest(kineretRequest()));
}

function respond(decision: Decision, authorization?: PasAuthorization): { bundle: Bundle; cr: ClaimResponse } {
  const bundle = buildPasResponse({
    request: context(),
    decisions: [decision],
    ...(authorization ? { authorization } : {}),
    responseId: 'b3a7c9e2-5d41-4f0e-9a61-2c8f1e7d4b10',
    now: NOW,
    baseUrl: 'https://pa.example.org/fhir',
    claimId: 'stored-claim-1',
  });
  return { bundle, cr: bundle.entry![0]!.resource as ClaimResponse };
}

function reviewActionExtension(cr: ClaimResponse): Extension {
  const ext = cr.item![0]!.adjudication[0]!.extension!.find((e) => e.url === REVIEW_ACTION);
  if (!ext) throw new Error('no reviewAction');
  return ext;
}

function communicationRequests(bundle: Bundle): CommunicationRequest[] {
  return bundle.entry!.map((e) => e.resource!).filter((r): r is CommunicationRequest => r.resourceType === 'CommunicationRequest');
}

describe('the PAS response Bundle', () => {
  const { bundle, cr } = respond(decisions.approve(), AUTH);

  test('is a collection with identifier and timestamp, ClaimResponse first', () => {
    expect(bundle.meta?.profile).toEqual([`${PAS}/profile-pas-response-bundle`]);
    expect(bundle.type).toBe('collection');
    // PAS: identifiers and fullUrls under the server's own base (PUBLIC_BASE_URL), not a fixed example host.
    expect(bundle.identifier).toEqual({ system: 'https://pa.example.org/fhir/identifier/pas-response-bundle', value: 'b3a7c9e2-5d41-4f0e-9a61-2c8f1e7d4b10' });
    expect(bundle.timestamp).toBe('2026-11-23T15:04:05.000Z');
    expect(bundle.entry![0]!.fullUrl).toBe('https://pa.example.org/fhir/ClaimResponse/b3a7c9e2-5d41-4f0e-9a61-2c8f1e7d4b10');
    expect(bundle.entry!.every((e) => typeof e.fullUrl === 'string' && e.resource)).toBe(true);
  });

  test('carries the Patient, the insurer and the requester (PractitionerRole with its Practitioner and Organization)', () => {
    expect(bundle.entry!.slice(1).map((e) => `${e.resource!.resourceType}/${e.resource!.id}`)).toEqual([
      'Patient/pat-kineret-1',
      'Organization/payer-centene-60001',
      'PractitionerRole/role-rheum-okafor',
      'Practitioner/prac-okafor',
      'Organization/org-riverside-rheum',
    ]);
  });

  test('ClaimResponse header per profile-claimresponse; its references resolve inside the response', () => {
    expect(cr.meta?.profile).toEqual([`${PAS}/profile-claimresponse`]);
    expect(cr.identifier).toEqual([{ system: 'https://pa.example.org/fhir/identifier/claim-response', value: 'b3a7c9e2-5d41-4f0e-9a61-2c8f1e7d4b10' }]);
    expect(cr.status).toBe('active');
    expect(cr.use).toBe('preauthorization');
    expect(cr.outcome).toBe('complete');
    expect(cr.type.coding?.[0]?.code).toBe('professional');
    expect(cr.created).toBe('2026-11-23T15:04:05.000Z');
    expect(cr.request).toEqual({
      // profile-claimresponse request 1..1 MS: the stored Claim, readable at this absolute URL, and its identifier.
      reference: 'https://pa.example.org/fhir/Claim/stored-claim-1',
      identifier: { system: 'http://riverside-rheum.example.org/fhir/identifier/prior-auth-request', value: 'PA-2026-004417' },
    });
    const fullUrls = bundle.entry!.map((e) => e.fullUrl);
    for (const ref of [cr.patient, cr.insurer, cr.requestor]) expect(fullUrls).toContain(ref?.reference);
  });
});

describe('A1: certified', () => {
  const { cr } = respond(decisions.approve(), AUTH);

  test('preAuthRef and preAuthPeriod from the authorization', () => {
    expect(cr.preAuthRef).toBe('PA-2026-000981');
    expect(cr.preAuthPeriod).toEqual({ start: '2026-11-23', end: '2027-05-22' });
  });

  test('item adjudication: category submitted, reviewAction A1 with the authorization number', () => {
    const item = cr.item![0]!;
    expect(item.itemSequence).toBe(1);
    expect(item.adjudication[0]!.category).toEqual({ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/adjudication', code: 'submitted' }] });
    expect(reviewActionExtension(cr).extension).toEqual([
      { url: REVIEW_ACTION_CODE, valueCodeableConcept: { coding: [{ system: X12_306, code: 'A1', display: 'Certified in total' }] } },
      { url: 'number', valueString: 'PA-2026-000981' },
    ]);
    expect(readReviewAction(item)).toEqual({ code: 'A1', number: 'PA-2026-000981', reasons: [] });
  });

  test('item extensions: trace number echoed, itemPreAuthPeriod from the decision, issue date', () => {
    const ext = cr.item![0]!.extension!;
    expect(ext.find((e) => e.url === ITEM_PREAUTH_PERIOD)).toEqual({ url: ITEM_PREAUTH_PERIOD, valuePeriod: { start: '2026-11-23', end: '2027-05-22' } });
    expect(ext.find((e) => e.url === `${PAS}/extension-itemPreAuthIssueDate`)?.valueDate).toBe('2026-11-23');
    expect(ext.find((e) => e.url === `${PAS}/extension-itemTraceNumber`)?.valueIdentifier?.value).toBe('PA-2026-004417-1');
  });

  test('disposition and note name the policy, indication and period', () => {
    expect(cr.disposition).toBe(
      'Item 1: certified under CP.PHAR.244 (Anakinra (Kineret) — Centene Medicaid clinical policy), Rheumatoid arthritis, initial therapy; ' +
        'authorization PA-2026-000981, valid 2026-11-23 to 2027-05-22.',
    );
    expect(cr.item![0]!.noteNumber).toEqual([1]);
    expect(cr.communicationRequest).toBeUndefined();
  });
});

describe('A4: pended with unknown criteria', () => {
  const { bundle, cr } = respond(decisions.pendUnknown());

  test('reviewAction A4 with X12 886 reasons 0U (information) and 0V (medical review); no authorization', () => {
    expect(readReviewAction(cr.item![0]!)).toEqual({
      code: 'A4',
      number: undefined,
      reasons: [
        { system: X12_886, code: '0U', display: 'Additional Patient Information required' },
        { system: X12_886, code: '0V', display: 'Requires Medical Review' },
      ],
    });
    expect(cr.preAuthRef).toBeUndefined();
    expect(cr.preAuthPeriod).toBeUndefined();
    expect(cr.item![0]!.extension!.some((e) => e.url === ITEM_PREAUTH_PERIOD)).toBe(false);
    expect(cr.outcome).toBe('complete');
  });

  test('processNote lists each unmet or unknown criterion with its citation, referenced from the item', () => {
    const texts = cr.processNote!.map((n) => n.text);
    expect(texts).toEqual([
      'Item 1: pended for clinical review by a physician reviewer under CP.PHAR.244 (Anakinra (Kineret) — Centene Medicaid clinical policy), Rheumatoid arthritis, initial therapy; 3 criteria need review.',
      'Item 1: CP.PHAR.244 I.A.4 — not shown by the request: Criterion I.A.4 text.',
      'Item 1: CP.PHAR.244 I.A.6 — not shown by the request: Criterion I.A.6 text.',
      'Item 1: CP.PHAR.244 I.A.8 — not met: Criterion I.A.8 text.',
    ]);
    expect(cr.processNote!.map((n) => n.number)).toEqual([1, 2, 3, 4]);
    expect(cr.item![0]!.noteNumber).toEqual([1, 2, 3, 4]);
  });

  test('a CommunicationRequest asks for the documentation of the unknown criteria', () => {
    const [request, ...more] = communicationRequests(bundle);
    expect(more).toEqual([]);
    expect(request).toBeDefined();
    const crEntry = bundle.entry!.find((e) => e.resource === request);
    expect(cr.communicationRequest).toEqual([{ reference: crEntry!.fullUrl }]);
    expect(request!.meta?.profile).toEqual([`${PAS}/profile-communicationrequest`]);
    expect(request!.status).toBe('active');
    expect(request!.identifier?.[0]?.value).toBe(request!.id);
    expect(request!.extension).toEqual([{ url: `${PAS}/extension-serviceLineNumber`, valuePositiveInt: 1 }]);
    expect(request!.category?.[0]?.coding).toEqual([{ system: 'https://codesystem.x12.org/005010/755', code: 'M1', display: 'Medical Record Attachment' }]);
    expect(request!.medium?.[0]?.coding).toEqual([{ system: 'https://codesystem.x12.org/005010/756', code: 'EL', display: 'Electronically Only' }]);
    expect(request!.payload).toEqual([
      {
        extension: [
          {
            url: `${PAS}/extension-communicatedDiagnosis`,
            valueCodeableConcept: { coding: [expect.objectContaining({ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'M05.79' })] },
          },
        ],
        contentString: '11506-3',
      },
    ]);
    expect(request!.note?.map((n) => n.text)).toEqual(['CP.PHAR.244 I.A.4: Criterion I.A.4 text.', 'CP.PHAR.244 I.A.6: Criterion I.A.6 text.']);
    expect(request!.requester?.reference).toBe(cr.insurer?.reference);
    expect(request!.subject?.reference).toBe(cr.patient?.reference);
    expect(request!.sender?.reference).toBe('http://riverside-rheum.example.org/fhir/Organization/org-riverside-rheum');
    expect(request!.about).toEqual([{ reference: bundle.entry![0]!.fullUrl }]);
  });
});

describe('A4: pended with unmet criteria only', () => {
  const decision = decisions.pendUnmet();
  decision.criteria[1]!.evidence = ['Patient/pat-kineret-1'];
  const { bundle, cr } = respond(decision);

  test('reason 0V, the unmet criterion cited with its evidence, no CommunicationRequest', () => {
    expect(readReviewAction(cr.item![0]!)?.code).toBe('A4');
    expect(readReviewAction(cr.item![0]!)?.reasons.map((r) => r.code)).toEqual(['0V']);
    expect(cr.processNote!.map((n) => n.text)).toEqual([
      'Item 1: pended for clinical review by a physician reviewer under CP.PHAR.244 (Anakinra (Kineret) — Centene Medicaid clinical policy), Rheumatoid arthritis, initial therapy; 1 criterion needs review.',
      'Item 1: CP.PHAR.244 I.A.3 — not met: Criterion I.A.3 text. Evidence: Patient/pat-kineret-1.',
    ]);
    expect(communicationRequests(bundle)).toEqual([]);
    expect(cr.communicationRequest).toBeUndefined();
  });
});

describe('A3: not certified', () => {
  const { bundle, cr } = respond(decisions.deny());

  test('reviewAction A3 with X12 886 0M and the reason text; citations in processNote', () => {
    const ext = reviewActionExtension(cr).extension!;
    expect(ext[0]).toEqual({ url: REVIEW_ACTION_CODE, valueCodeableConcept: { coding: [{ system: X12_306, code: 'A3', display: 'Not Certified' }] } });
    expect(ext[1]).toEqual({
      url: 'reasonCode',
      valueCodeableConcept: {
        coding: [{ system: X12_886, code: '0M', display: 'Non-covered Service' }],
        text: 'Combination use with a biologic DMARD or JAK inhibitor is not authorized.',
      },
    });
    expect(cr.processNote!.map((n) => n.text)).toEqual([
      'Item 1: not certified under CP.PHAR.244 (Anakinra (Kineret) — Centene Medicaid clinical policy), Rheumatoid arthritis, initial therapy.',
      'Item 1: CP.PHAR.244 III.B — Combination use with a biologic DMARD or JAK inhibitor is not authorized.',
      'Item 1: CP.PHAR.244 I.A.7 — not met: Criterion I.A.7 text.',
    ]);
    expect(cr.preAuthRef).toBeUndefined();
    expect(communicationRequests(bundle)).toEqual([]);
  });
});

describe('A4: no policy for this payer, line of business or drug', () => {
  const { bundle, cr } = respond(decisions.noPolicy());

  test('pended with 0V and a note that says why', () => {
    const action = readReviewAction(cr.item![0]!);
    expect(action?.code).toBe('A4');
    expect(action?.reasons.map((r) => r.code)).toEqual(['0V']);
    expect(cr.processNote).toEqual([
      {
        number: 1,
        type: 'display',
        text:
          'Item 1: pended for clinical review: no prior authorization policy on file covers this payer, line of business and product, ' +
          'so it cannot be decided automatically. No policy in the catalog matches payer 60001, line of business 2 and product J3590.',
      },
    ]);
    expect(cr.disposition).toBe(cr.processNote![0]!.text);
    expect(communicationRequests(bundle)).toEqual([]);
  });
});

describe('nothing is certified without everything an approval needs', () => {
  test.each([
    ['an unknown criterion', { ...decisions.approve(), criteria: [criterion('I.A.1', 'met'), criterion('I.A.4', 'unknown')] }, AUTH],
    ['an unmet criterion', { ...decisions.approve(), criteria: [criterion('I.A.3', 'unmet')] }, AUTH],
    ['no approval period', (({ approvalPeriod: _unused, ...rest }) => rest)(decisions.approve()), AUTH],
    ['no authorization number', decisions.approve(), undefined],
    ['no policy', { ...decisions.approve(), policy: null }, AUTH],
  ] as [string, Decision, PasAuthorization | undefined][])('approve with %s → A4', (_name, decision, authorization) => {
    const { cr } = respond(decision, authorization);
    expect(readReviewAction(cr.item![0]!)?.code).toBe('A4');
    expect(cr.preAuthRef).toBeUndefined();
    expect(cr.item![0]!.extension!.some((e) => e.url === ITEM_PREAUTH_PERIOD)).toBe(false);
  });
});

describe('several items', () => {
  test('each item is answered on its own; the header carries the one authorization', () => {
    const bundle = kineretRequest();
    const claim = bundle.entry![0]!.resource as import('fhir/r4').Claim;
    claim.item!.push({ ...structuredClone(claim.item![0]!), sequence: 2 });
    const ctx = extractPasContext(parsePasRequest(bundle));
    const response = buildPasResponse({
      request: ctx,
      decisions: [decisions.approve(), decisions.noPolicy()],
      authorization: AUTH,
      responseId: 'resp-2',
      now: NOW,
    });
    const cr = response.entry![0]!.resource as ClaimResponse;
    expect(cr.item!.map((i) => [i.itemSequence, readReviewAction(i)?.code])).toEqual([
      [1, 'A1'],
      [2, 'A4'],
    ]);
    expect(cr.preAuthRef).toBe('PA-2026-000981');
    expect(cr.item![1]!.noteNumber).toEqual([2]);
    expect(response.entry![0]!.fullUrl).toBe('http://pa.example.org/fhir/ClaimResponse/resp-2');
  });

  test('a decision count that does not match the items is a programming error', () => {
    expect(() =>
      buildPasResponse({ request: context(), decisions: [], responseId: 'resp-3', now: NOW }),
    ).toThrow('buildPasResponse: 0 decisions for 1 Claim items');
  });

  test('the answer to a long Claim, built in slices, is the same Bundle, and the event loop runs between the slices', async () => {
    const bundle = kineretRequest();
    const claim = bundle.entry![0]!.resource as import('fhir/r4').Claim;
    claim.item = Array.from({ length: 120 }, (_, i) => ({ ...structuredClone(claim.item![0]!), sequence: i + 1 }));
    const ctx = extractPasContext(parsePasRequest(bundle));
    const outcomes = [decisions.approve(), decisions.pendUnknown(), decisions.deny(), decisions.noPolicy()];
    const input = { request: ctx, decisions: ctx.items.map((_, i) => outcomes[i % 4]!), authorization: AUTH, responseId: 'resp-4', now: NOW };
    let turns = 0;
    const count = () => {
      turns += 1;
      if (!done) setImmediate(count);
    };
    let done = false;
    setImmediate(count);
    // A slice of 0 ms pauses at every point where the builder may.
    const sliced = await buildPasResponseInSlices(input, 0);
    done = true;
    expect(sliced).toEqual(buildPasResponse(input));
    expect((sliced.entry![0]!.resource as ClaimResponse).item).toHaveLength(120);
    expect(turns).toBeGreaterThanOrEqual(4);
  });
});

describe('must-support item extensions of profile-claimresponse (PAS 2.2.1)', () => {
  const ext = (cr: ClaimResponse, name: string): Extension[] => cr.item![0]!.extension!.filter((e) => e.url === `${PAS}/${name}`);

  test('requestedServiceDate echoes Claim.item.servicedPeriod; communicatedDiagnosis echoes the diagnoses of item.diagnosisSequence', () => {
    for (const decision of [decisions.approve(), decisions.pendUnknown(), decisions.deny()]) {
      const { cr } = respond(decision, AUTH);
      expect(ext(cr, 'extension-itemRequestedServiceDate')).toEqual([
        { url: `${PAS}/extension-itemRequestedServiceDate`, valuePeriod: { start: '2026-12-01', end: '2027-05-31' } },
      ]);
      expect(ext(cr, 'extension-communicatedDiagnosis').map((e) => e.valueCodeableConcept?.coding?.[0]?.code)).toEqual(['M05.79']);
    }
  });

  test('authorizedItemDetail on a certified item: the product and quantity authorized (as requested)', () => {
    const { cr } = respond(decisions.approve(), AUTH);
    const [detail] = ext(cr, 'extension-itemAuthorizedDetail');
    expect(detail?.extension?.find((e) => e.url === 'productOrServiceCode')?.valueCodeableConcept?.coding?.[0]?.code).toBe('J3590');
    expect(detail?.extension?.find((e) => e.url === 'quantity')?.valueQuantity).toEqual({ value: 30, unit: 'syringe' });
    expect(ext(cr, 'extension-administrationReferenceNumber')).toEqual([]);
  });

  test.each([
    ['pended', decisions.pendUnknown()],
    ['not certified', decisions.deny()],
  ])('administrationReferenceNumber on a %s item, no authorizedItemDetail', (_name, decision) => {
    const { cr } = respond(decision);
    expect(ext(cr, 'extension-administrationReferenceNumber')).toEqual([
      { url: `${PAS}/extension-administrationReferenceNumber`, valueString: 'b3a7c9e2-5d41-4f0e-9a61-2c8f1e7d4b10-1' },
    ]);
    expect(ext(cr, 'extension-itemAuthorizedDetail')).toEqual([]);
  });
});

describe('non-fatal warnings come back (an OperationOutcome entry after the ClaimResponse; the response Bundle entry slicing is open)', () => {
  test('request validation and decision warnings, once each; none: no OperationOutcome', () => {
    const request = context();
    request.warnings.push({ severity: 'warning', code: 'incomplete', diagnostics: 'Claim.supportingInfo[0] is not a known category', expression: ['Bundle.entry[0].resource.supportingInfo[0]'] });
    const decision = decisions.pendUnknown();
    decision.warnings.push({ severity: 'warning', code: 'exception', diagnostics: 'CQL "Trial Of Methotrexate" failed' });
    const bundle = buildPasResponse({ request, decisions: [decision], responseId: 'r-1', now: NOW, baseUrl: 'https://pa.example.org/fhir' });
    const outcomes = bundle.entry!.filter((e) => e.resource?.resourceType === 'OperationOutcome');
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]!.fullUrl).toBe('https://pa.example.org/fhir/OperationOutcome/r-1-warnings');
    const issues = (outcomes[0]!.resource as { issue: { diagnostics?: string }[] }).issue.map((i) => i.diagnostics);
    expect(issues).toEqual(expect.arrayContaining(['Claim.supportingInfo[0] is not a known category', 'CQL "Trial Of Methotrexate" failed']));
    expect(bundle.entry![0]!.resource?.resourceType).toBe('ClaimResponse');

    const clean = buildPasResponse({ request: context(), decisions: [decisions.approve()], authorization: AUTH, responseId: 'r-2', now: NOW });
    expect(clean.entry!.some((e) => e.resource?.resourceType === 'OperationOutcome')).toBe(context().warnings.length > 0);
  });
});
