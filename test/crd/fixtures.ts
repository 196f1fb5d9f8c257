/**
 * Small, realistic FHIR R4 resources for the CRD tests (written for these tests; no IG or Synthea
 * content). One patient on Medicaid with rheumatoid arthritis, ordered anakinra (Kineret).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  AllergyIntolerance,
  Bundle,
  Condition,
  Coverage,
  FhirResource,
  MedicationDispense,
  MedicationRequest,
  MedicationStatement,
  Observation,
  Organization,
  Patient,
  PractitionerRole,
} from 'fhir/r4';

export const PATIENT_ID = 'pat-ra-1';
export const HOOK_INSTANCE = '0f8e2b9c-6a51-4f3e-9a3e-2a7c4b1d9e10';
export const NAIC = 'urn:oid:2.16.840.1.113883.6.300';
export const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';

export const patient: Patient = {
  resourceType: 'Patient',
  id: PATIENT_ID,
  name: [{ family: 'Rivera', given: ['Ana'] }],
  gender: 'female',
  birthDate: '1979-04-12',
  address: [{ use: 'home', line: ['12 Elm St'], city: 'Concord', state: 'NH', postalCode: '03301' }],
};

export const payerOrg: Organization = {
  resourceType: 'Organization',
  id: 'org-centene',
  name: 'Centene Corporation affiliated health plan',
  identifier: [{ system: NAIC, value: '60001' }],
};

export const coverage: Coverage = {
  resourceType: 'Coverage',
  id: 'cov-1',
  status: 'active',
  type: { coding: [{ system: 'urn:oid:2.16.840.1.113883.3.221.5', code: '2', display: 'MEDICAID' }] },
  subscriberId: 'M123456',
  beneficiary: { reference: `Patient/${PATIENT_ID}` },
  period: { start: '2025-01-01' },
  payor: [{ reference: 'Organization/org-centene' }],
  class: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/coverage-class', code: 'plan' }] }, value: 'MCD-STD' }],
};

export const requesterRole: PractitionerRole = {
  resourceType: 'PractitionerRole',
  id: 'role-rheum-1',
  active: true,
  practitioner: { reference: 'Practitioner/prac-1' },
  specialty: [{ coding: [{ system: 'http://nucc.org/provider-taxonomy', code: '207RR0500X', display: 'Rheumatology' }] }],
};

export const conditions: Condition[] = [
  {
    resourceType: 'Condition',
    id: 'cond-ra',
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'M05.79' }] },
    subject: { reference: `Patient/${PATIENT_ID}` },
    onsetDateTime: '2021-06-01',
  },
  {
    resourceType: 'Condition',
    id: 'cond-htn',
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    code: { coding: [{ system: 'http://snomed.info/sct', code: '38341003' }] },
    subject: { reference: `Patient/${PATIENT_ID}` },
  },
  {
    resourceType: 'Condition',
    id: 'cond-old',
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'resolved' }] },
    code: { coding: [{ system: 'http://snomed.info/sct', code: '195662009' }] },
    subject: { reference: `Patient/${PATIENT_ID}` },
  },
];

export const medicationHistory: MedicationRequest[] = [
  {
    resourceType: 'MedicationRequest',
    id: 'mr-mtx',
    status: 'completed',
    intent: 'order',
    medicationCodeableConcept: { coding: [{ system: RXNORM, code: '105585', display: 'methotrexate 2.5 MG Oral Tablet' }] },
    subject: { reference: `Patient/${PATIENT_ID}` },
    authoredOn: '2022-01-10',
  },
];

export const medicationStatements: MedicationStatement[] = [
  {
    resourceType: 'MedicationStatement',
    id: 'ms-hcq',
    status: 'completed',
    medicationCodeableConcept: { coding: [{ system: RXNORM, code: '979092', display: 'hydroxychloroquine sulfate 200 MG Oral Tablet' }] },
    subject: { reference: `Patient/${PATIENT_ID}` },
  },
];

export const medicationDispenses: MedicationDispense[] = [
  {
    resourceType: 'MedicationDispense',
    id: 'md-mtx',
    status: 'completed',
    medicationCodeableConcept: { coding: [{ system: RXNORM, code: '105585' }] },
    subject: { reference: `Patient/${PATIENT_ID}` },
    whenHandedOver: '2022-01-12',
  },
];

export const observations: Observation[] = [
  {
    resourceType: 'Observation',
    id: 'obs-crp',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '1988-5', display: 'C reactive protein' }] },
    subject: { reference: `Patient/${PATIENT_ID}` },
    valueQuantity: { value: 14, unit: 'mg/L', system: 'http://unitsofmeasure.org', code: 'mg/L' },
    effectiveDateTime: '2025-11-02',
  },
];

export const allergies: AllergyIntolerance[] = [
  {
    resourceType: 'AllergyIntolerance',
    id: 'alg-pcn',
    patient: { reference: `Patient/${PATIENT_ID}` },
    code: { coding: [{ system: 'http://snomed.info/sct', code: '91936005', display: 'Penicillin allergy' }] },
  },
];

export function draftOrder(overrides: Partial<MedicationRequest> = {}): MedicationRequest {
  return {
    resourceType: 'MedicationRequest',
    id: 'draft-kineret',
    status: 'draft',
    intent: 'order',
    medicationCodeableConcept: {
      coding: [{ system: RXNORM, code: '349325', display: 'anakinra 100 MG/0.67ML Prefilled Syringe' }],
      text: 'Kineret 100 mg/0.67 mL prefilled syringe',
    },
    subject: { reference: `Patient/${PATIENT_ID}` },
    requester: { reference: 'PractitionerRole/role-rheum-1' },
    authoredOn: '2026-03-01',
    dosageInstruction: [{ text: '100 mg subcutaneously once daily' }],
    reasonCode: [{ coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'M05.79' }] }],
    ...overrides,
  };
}

export function searchset(resources: FhirResource[]): Bundle {
  return { resourceType: 'Bundle', type: 'searchset', total: resources.length, entry: resources.map((resource) => ({ resource })) };
}

export function signRequestBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    hook: 'order-sign',
    hookInstance: HOOK_INSTANCE,
    context: {
      userId: 'PractitionerRole/role-rheum-1',
      patientId: PATIENT_ID,
      encounterId: 'enc-1',
      draftOrders: { resourceType: 'Bundle', type: 'collection', entry: [{ resource: draftOrder() }] },
    },
    ...extra,
  };
}

/** A tiny FHIR server on 127.0.0.1 that answers fixed URLs and records what it was asked. */
export interface TestFhirServer {
  baseUrl: string;
  requests: { url: string; authorization?: string }[];
  close(): Promise<void>;
}

export async function startFhirServer(
  routes: Record<string, (baseUrl: string) => { status?: number; body: unknown }>,
  options: { token?: string } = {},
): Promise<TestFhirServer> {
  const requests: { url: string; authorization?: string }[] = [];
  let baseUrl = '';
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '').replace(/^\/fhir\//, '');
    requests.push({ url, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    if (options.token && req.headers.authorization !== `Bearer ${options.token}`) {
      res.writeHead(401, { 'content-type': 'application/fhir+json' }).end(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login' }] }));
      return;
    }
    const route = routes[decodeURIComponent(url)];
    if (!route) {
      res.writeHead(404, { 'content-type': 'application/fhir+json' }).end(
        JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found', diagnostics: url }] }),
      );
      return;
    }
    const { status = 200, body } = route(baseUrl);
    res.writeHead(status, { 'content-type': 'application/fhir+json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`;
  return {
    baseUrl,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
