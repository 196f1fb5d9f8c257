import type { Bundle, Claim, Patient } from 'fhir/r4';
import { findReferences, resourcesOfType } from '../../src/fhir/bundle-index';

const claim = {
  resourceType: 'Claim',
  patient: { reference: 'Patient/p1' },
  contained: [{ resourceType: 'Organization', id: 'o1', partOf: { reference: 'Organization/x' } }],
  text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">see Patient/p1</div>' },
  _status: { extension: [{ url: 'http://example.org/x', valueReference: { reference: 'Patient/hidden' } }] },
  provider: { reference: '#o1' },
  insurance: [{ sequence: 1, focal: true, coverage: { reference: 'urn:uuid:c1' } }],
  item: [
    { sequence: 1, extension: [{ url: 'http://example.org/a', valueString: 'a' }, { url: 'http://example.org/rs', valueReference: { reference: 'MedicationRequest/m1' } }] },
    { sequence: 2, extension: [{ url: 'http://example.org/rs', valueReference: { reference: 'MedicationRequest/m2' } }] },
  ],
} as unknown as Claim;

describe('findReferences', () => {
  test('every literal reference with its FHIRPath; contained resources, narrative and primitive extensions are not read', () => {
    expect(findReferences(claim).map((f) => [f.path, f.reference.reference])).toEqual([
      ['patient', 'Patient/p1'],
      ['insurance[0].coverage', 'urn:uuid:c1'],
      ['item[0].extension[1].valueReference', 'MedicationRequest/m1'],
      ['item[1].extension[0].valueReference', 'MedicationRequest/m2'],
    ]);
  });

  test('`#id` references only when asked, and paths below a given prefix', () => {
    expect(findReferences(claim, '', true).map((f) => f.path)).toEqual(['patient', 'provider', 'insurance[0].coverage', 'item[0].extension[1].valueReference', 'item[1].extension[0].valueReference']);
    expect(findReferences(claim.item, 'Claim.item').map((f) => f.path)).toEqual(['Claim.item[0].extension[1].valueReference', 'Claim.item[1].extension[0].valueReference']);
    expect(findReferences([{ reference: 'Patient/p1' }]).map((f) => f.path)).toEqual(['[0]']);
  });

  test('the reference object itself is given, so callers read its type and identifier too', () => {
    const found = findReferences(claim)[0];
    expect(found?.reference).toBe(claim.patient);
  });
});

describe('resourcesOfType', () => {
  test('the resources of one type in entry order; entries without an object resource, or not objects, are skipped', () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [{ resource: { resourceType: 'Patient', id: 'a' } }, null, 'x', {}, { resource: 'Patient' }, { resource: { resourceType: 'Condition', id: 'c' } }, { resource: { resourceType: 'Patient', id: 'b' } }],
    } as unknown as Bundle;
    expect(resourcesOfType<Patient>(bundle, 'Patient').map((p) => p.id)).toEqual(['a', 'b']);
    expect(resourcesOfType(bundle, 'Coverage')).toEqual([]);
    expect(resourcesOfType({ resourceType: 'Bundle', type: 'collection', entry: {} } as unknown as Bundle, 'Patient')).toEqual([]);
  });
});
