import type { Bundle, MedicationRequest, Patient, QuestionnaireResponse, RelatedPerson } from 'fhir/r4';
import { extractPasContext, toEvaluationRequest } from '../../src/pas/context';
import { parsePasRequest } from '../../src/pas/validate';
import { claimOf, entryOf, kineretRequest } from './helpers';

const CERT_URL = 'http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-certificationType';
const X12_1322 = 'https://codesystem.x12.org/005010/1322';

function contextOf(bundle: Bundle) {
  return extractPasContext(parsePasRequest(bundle));
}

function withCertification(code: string, level: 'item' | 'claim' = 'item'): Bundle {
  const bundle = kineretRequest();
  const claim = claimOf(bundle);
  const item = claim.item![0]!;
  item.extension = item.extension!.filter((e) => e.url !== CERT_URL);
  const ext = { url: CERT_URL, valueCodeableConcept: { coding: [{ system: X12_1322, code }] } };
  if (level === 'item') item.extension.push(ext);
  else claim.extension = [ext];
  return bundle;
}

function questionnaireResponse(id: string, subject = 'Patient/pat-kineret-1'): QuestionnaireResponse {
  return {
    resourceType: 'QuestionnaireResponse',
    id,
    questionnaire: 'http://pa.example.org/fhir/Questionnaire/cp-phar-244-kineret',
    status: 'completed',
    subject: { reference: subject },
    item: [{ linkId: 'no-combination', answer: [{ valueBoolean: true }] }],
  };
}

describe('extractPasContext on the Kineret request', () => {
  const ctx = contextOf(kineretRequest());

  test('patient, coverage, insurer and requester', () => {
    expect(ctx.patientId).toBe('pat-kineret-1');
    expect(ctx.patient.resource.birthDate).toBe('1979-03-14');
    expect(ctx.coverage.resource.id).toBe('cov-medicaid-1');
    expect(ctx.insurer.resource.id).toBe('payer-centene-60001');
    expect(ctx.provider.resource.resourceType).toBe('PractitionerRole');
  });

  test('payer: NAIC identifier once (insurer and payor are the same Organization), Medicaid, plan, state', () => {
    expect(ctx.payer).toEqual({
      identifiers: [{ system: 'urn:oid:2.16.840.1.113883.6.300', value: '60001' }],
      lineOfBusiness: [{ system: 'urn:oid:2.16.840.1.113883.3.221.5', code: '2', display: 'MEDICAID' }],
      planValues: ['MO-MEDICAID-MANAGED-CARE'],
      state: 'MO',
    });
  });

  test('the item: HCPCS, the ordered RxNorm product, place of service, initial certification, diagnosis', () => {
    expect(ctx.items).toHaveLength(1);
    const item = ctx.items[0]!;
    expect(item.sequence).toBe(1);
    expect(item.hcpcs.map((c) => c.code)).toEqual(['J3590']);
    expect(item.ndc).toEqual([]);
    expect(item.medicationRequest?.resource.id).toBe('mr-kineret-1');
    expect(item.rxnorm.map((c) => c.code)).toEqual(['727711']);
    expect(item.drugCodes.map((c) => `${c.system}|${c.code}`)).toEqual([
      'http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets|J3590',
      'http://www.nlm.nih.gov/research/umls/rxnorm|727711',
    ]);
    expect(item.orderId).toBe('mr-kineret-1');
    expect(item.placeOfService?.code).toBe('11');
    expect(item.certificationType).toEqual({ system: X12_1322, code: 'I', display: 'Initial' });
    expect(item.phaseHint).toBe('initial');
    // Claim.diagnosis and the order's reasonCode name the same code: listed once.
    expect(item.diagnoses.map((c) => c.code)).toEqual(['M05.79']);
    expect(item.traceNumbers.map((t) => t.value)).toEqual(['PA-2026-004417-1']);
    expect(item.servicedPeriod).toEqual({ start: '2026-12-01', end: '2027-05-31' });
  });

  test('the patient Bundle starts with the Patient and carries the chart, order, coverage and requester', () => {
    const types = ctx.patientBundle.entry!.map((e) => `${e.resource!.resourceType}/${e.resource!.id}`);
    expect(types[0]).toBe('Patient/pat-kineret-1');
    expect(types).toEqual(
      expect.arrayContaining([
        'Condition/cond-ra-1',
        'MedicationRequest/mr-kineret-1',
        'Coverage/cov-medicaid-1',
        'PractitionerRole/role-rheum-okafor',
        'Practitioner/prac-okafor',
        'Organization/payer-centene-60001',
      ]),
    );
    expect(ctx.patientBundle.type).toBe('collection');
  });

  test('toEvaluationRequest gives the engine one item', () => {
    const now = new Date('2026-11-23T10:00:00Z');
    const prior = [{ number: 'PA-1', policyId: 'cp-phar-244', start: '2026-01-01', end: '2026-06-30', status: 'approved' as const }];
    const req = toEvaluationRequest(ctx, ctx.items[0]!, prior, now);
    expect(req).toEqual({
      bundle: ctx.patientBundle,
      patientId: 'pat-kineret-1',
      payer: ctx.payer,
      drug: { codes: ctx.items[0]!.drugCodes, orderId: 'mr-kineret-1' },
      diagnoses: [expect.objectContaining({ code: 'M05.79' })],
      phaseHint: 'initial',
      placeOfService: expect.objectContaining({ code: '11' }),
      priorAuthorizations: prior,
      evaluationDate: now,
    });
  });
});

describe('certificationType (X12 1322) maps to the therapy phase', () => {
  test.each([
    ['I', 'item', 'initial'],
    ['R', 'item', 'continuation'],
    ['4', 'item', 'continuation'],
    ['S', 'item', undefined],
    ['3', 'item', undefined],
    ['R', 'claim', 'continuation'],
  ] as const)('%s on the %s → %s', (code, level, phase) => {
    const item = contextOf(withCertification(code, level)).items[0]!;
    expect(item.certificationType?.code).toBe(code);
    expect(item.phaseHint).toBe(phase);
  });

  test('no certificationType → no hint (the engine decides from the history)', () => {
    const bundle = kineretRequest();
    const item = claimOf(bundle).item![0]!;
    item.extension = item.extension!.filter((e) => e.url !== CERT_URL);
    expect(contextOf(bundle).items[0]!.phaseHint).toBeUndefined();
  });
});

describe('extractPasContext on variations senders produce', () => {
  test('QuestionnaireResponses from supportingInfo, from a referenced Bundle, and loose in the request', () => {
    const bundle = kineretRequest();
    const direct = questionnaireResponse('qr-direct');
    const nested = questionnaireResponse('qr-nested');
    const loose = questionnaireResponse('qr-loose');
    const other = questionnaireResponse('qr-other-patient', 'Patient/someone-else');
    const dtrBundle: Bundle = { resourceType: 'Bundle', id: 'dtr-1', type: 'collection', entry: [{ fullUrl: 'urn:uuid:7e1f3a52-3f7c-4c55-9d0e-000000000001', resource: nested }] };
    const base = 'http://riverside-rheum.example.org/fhir';
    bundle.entry!.push(
      { fullUrl: `${base}/QuestionnaireResponse/qr-direct`, resource: direct },
      { fullUrl: `${base}/Bundle/dtr-1`, resource: dtrBundle },
      { fullUrl: `${base}/QuestionnaireResponse/qr-loose`, resource: loose },
      { fullUrl: `${base}/QuestionnaireResponse/qr-other-patient`, resource: other },
    );
    const info = (sequence: number, reference: string) => ({
      sequence,
      category: { coding: [{ system: 'http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes', code: 'additionalInformation' }] },
      valueReference: { reference },
    });
    claimOf(bundle).supportingInfo = [info(1, 'QuestionnaireResponse/qr-direct'), info(2, 'Bundle/dtr-1')];
    const ctx = contextOf(bundle);
    expect(ctx.questionnaireResponses.map((q) => q.id)).toEqual(['qr-direct', 'qr-nested', 'qr-loose']);
    const ids = ctx.patientBundle.entry!.map((e) => `${e.resource!.resourceType}/${e.resource!.id}`);
    expect(ids).toEqual(expect.arrayContaining(['QuestionnaireResponse/qr-direct', 'QuestionnaireResponse/qr-nested', 'QuestionnaireResponse/qr-loose']));
    expect(ids).not.toContain('QuestionnaireResponse/qr-other-patient');
    expect(ids).not.toContain('Bundle/dtr-1');
  });

  test('another Patient and what is about them stay out of the patient Bundle', () => {
    const bundle = kineretRequest();
    const parent: Patient = { resourceType: 'Patient', id: 'parent-1', name: [{ family: 'Delgado' }] };
    const theirOrder: MedicationRequest = { ...entryOf(bundle, 'MedicationRequest').resource, id: 'mr-parent', subject: { reference: 'Patient/parent-1' } };
    const base = 'http://riverside-rheum.example.org/fhir';
    bundle.entry!.splice(1, 0, { fullUrl: `${base}/Patient/parent-1`, resource: parent });
    bundle.entry!.push({ fullUrl: `${base}/MedicationRequest/mr-parent`, resource: theirOrder });
    const ctx = contextOf(bundle);
    const ids = ctx.patientBundle.entry!.map((e) => `${e.resource!.resourceType}/${e.resource!.id}`);
    expect(ids[0]).toBe('Patient/pat-kineret-1');
    expect(ids).not.toContain('Patient/parent-1');
    expect(ids).not.toContain('MedicationRequest/mr-parent');
  });

  test('an order naming its drug through a Medication resource; NDC on the claim line', () => {
    const bundle = kineretRequest();
    const order = entryOf(bundle, 'MedicationRequest').resource;
    delete order.medicationCodeableConcept;
    order.medicationReference = { reference: 'Medication/med-kineret' };
    bundle.entry!.push({
      fullUrl: 'http://riverside-rheum.example.org/fhir/Medication/med-kineret',
      resource: {
        resourceType: 'Medication',
        id: 'med-kineret',
        code: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '727711' }] },
      },
    });
    claimOf(bundle).item![0]!.productOrService = { coding: [{ system: 'http://hl7.org/fhir/sid/ndc', code: '66658-0234-07' }] };
    const item = contextOf(bundle).items[0]!;
    expect(item.rxnorm.map((c) => c.code)).toEqual(['727711']);
    expect(item.ndc.map((c) => c.code)).toEqual(['66658-0234-07']);
    expect(item.hcpcs).toEqual([]);
  });

  test('ids from urn:uuid fullUrls when the sender gave none', () => {
    const bundle = kineretRequest();
    const byRef = new Map<string, string>();
    bundle.entry!.forEach((e, i) => {
      const uuid = `urn:uuid:5b0c2f6e-1111-4aaa-8bbb-${String(i).padStart(12, '0')}`;
      byRef.set(`${e.resource!.resourceType}/${e.resource!.id}`, uuid);
      e.fullUrl = uuid;
    });
    const text = JSON.stringify(bundle).replace(/"reference":"([A-Za-z]+\/[A-Za-z0-9\-.]+)"/g, (_m, ref: string) => `"reference":"${byRef.get(ref) ?? ref}"`);
    const rewritten = JSON.parse(text) as Bundle;
    rewritten.entry!.forEach((e) => delete e.resource!.id);
    const ctx = contextOf(rewritten);
    expect(ctx.patientId).toBe('5b0c2f6e-1111-4aaa-8bbb-000000000001');
    expect(ctx.items[0]!.orderId).toBe('5b0c2f6e-1111-4aaa-8bbb-000000000008');
    const order = ctx.patientBundle.entry!.find((e) => e.resource?.resourceType === 'MedicationRequest');
    expect(order?.resource?.id).toBe('5b0c2f6e-1111-4aaa-8bbb-000000000008');
    // The caller's Bundle is not modified.
    expect(rewritten.entry![8]!.resource!.id).toBeUndefined();
  });

  test('state from a subscriber RelatedPerson written with the full state name', () => {
    const bundle = kineretRequest();
    const subscriber: RelatedPerson = {
      resourceType: 'RelatedPerson',
      id: 'rp-1',
      patient: { reference: 'Patient/pat-kineret-1' },
      address: [{ use: 'home', state: 'Texas' }],
    };
    bundle.entry!.push({ fullUrl: 'http://riverside-rheum.example.org/fhir/RelatedPerson/rp-1', resource: subscriber });
    entryOf(bundle, 'Coverage').resource.subscriber = { reference: 'RelatedPerson/rp-1' };
    expect(contextOf(bundle).payer.state).toBe('TX');
  });

  test('an item pointing at its diagnoses by diagnosisSequence gets only those', () => {
    const bundle = kineretRequest();
    const claim = claimOf(bundle);
    claim.diagnosis!.push({ sequence: 2, diagnosisCodeableConcept: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'M06.4' }] } });
    const ctx = contextOf(bundle);
    expect(ctx.diagnoses.map((c) => c.code)).toEqual(['M05.79', 'M06.4']);
    expect(ctx.items[0]!.diagnoses.map((c) => c.code)).toEqual(['M05.79']);
  });

  test('a payer named only by an identifier-less Organization warns that it cannot be matched', () => {
    const bundle = kineretRequest();
    delete entryOf(bundle, 'Organization').resource.identifier;
    const ctx = contextOf(bundle);
    expect(ctx.payer.identifiers).toEqual([]);
    expect(ctx.warnings.map((w) => w.expression?.[0])).toContain('Bundle.entry[0].resource.insurer');
  });
});
