/**
 * preparePatientData: ids and `Type/id` references for the CQL, on a copy of the caller's bundle,
 * or in place when the caller hands the bundle over (a worker's own copy of a request).
 */
import type { Bundle } from 'fhir/r4';
import { preparePatientData } from '../../src/engine/patient-data';

const request = (): Bundle => ({
  resourceType: 'Bundle',
  type: 'collection',
  entry: [
    { fullUrl: 'urn:uuid:5d1c2b0e-0000-4000-8000-000000000001', resource: { resourceType: 'Patient' } },
    {
      fullUrl: 'urn:uuid:5d1c2b0e-0000-4000-8000-000000000002',
      resource: {
        resourceType: 'MedicationRequest',
        status: 'draft',
        intent: 'order',
        subject: { reference: 'urn:uuid:5d1c2b0e-0000-4000-8000-000000000001' },
        medicationCodeableConcept: { text: 'anakinra' },
      },
    },
  ],
});

describe('preparePatientData', () => {
  test('gives every resource an id and every reference Type/id, leaving the caller\'s bundle as it was', () => {
    const bundle = request();
    const before = structuredClone(bundle);
    const { bundle: prepared, patientId } = preparePatientData(bundle);
    expect(patientId).toBe('5d1c2b0e-0000-4000-8000-000000000001');
    const order = prepared.entry?.[1]?.resource as { id?: string; subject?: { reference?: string } };
    expect(order.id).toBe('5d1c2b0e-0000-4000-8000-000000000002');
    expect(order.subject?.reference).toBe(`Patient/${patientId}`);
    expect(bundle).toEqual(before);
    expect(prepared.entry?.[1]?.resource).not.toBe(bundle.entry?.[1]?.resource);
  });

  test('in place, the same result on the caller\'s own resources', () => {
    const copy = preparePatientData(request());
    const bundle = request();
    const inPlace = preparePatientData(bundle, undefined, { inPlace: true });
    expect(inPlace).toEqual(copy);
    expect(inPlace.bundle.entry?.[1]?.resource).toBe(bundle.entry?.[1]?.resource);
  });
});
