/**
 * Whatever JSON arrives, the PAS layer answers with a 400 OperationOutcome or a PAS response:
 * never another exception (which the HTTP layer would turn into a 500).
 */
import type { Bundle } from 'fhir/r4';
import { isOperationOutcomeError } from '../../src/fhir/outcomes';
import { extractPasContext } from '../../src/pas/context';
import { buildPasResponse } from '../../src/pas/response';
import { parsePasRequest } from '../../src/pas/validate';
import { decisions, kineretRequest } from './helpers';

type Json = unknown;

/** parse → extract → respond; 'rejected' for a 400, 'answered' for a response Bundle. */
function submit(body: Json): 'rejected' | 'answered' {
  try {
    const ctx = extractPasContext(parsePasRequest(body));
    const bundle = buildPasResponse({
      request: ctx,
      decisions: ctx.items.map(() => decisions.noPolicy()),
      responseId: 'fuzz',
      now: new Date('2026-11-23T10:00:00Z'),
    });
    expect(bundle.entry?.[0]?.resource?.resourceType).toBe('ClaimResponse');
    return 'answered';
  } catch (error) {
    if (isOperationOutcomeError(error)) {
      expect(error.status).toBe(400);
      return 'rejected';
    }
    throw error;
  }
}

/** Every path (keys and indices) inside the value. */
function paths(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => [[...prefix, i], ...paths(v, [...prefix, i])]);
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([k, v]) => [[...prefix, k], ...paths(v, [...prefix, k])]);
  }
  return [];
}

function setAt(root: Json, path: (string | number)[], replacement: Json | typeof DELETE): void {
  let node = root as Record<string | number, Json>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, Json>;
  const last = path[path.length - 1]!;
  if (replacement === DELETE) {
    if (Array.isArray(node)) node.splice(Number(last), 1);
    else delete node[last];
  } else {
    node[last] = replacement;
  }
}

const DELETE = Symbol('delete');
const GARBAGE: (Json | typeof DELETE)[] = [DELETE, null, 'x', 42, true, {}, [], [null], [1, 'a'], { reference: 7 }, { coding: 'x' }, ''];

/** Small deterministic PRNG (mulberry32) so failures reproduce. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('malformed shapes are 400s, not crashes', () => {
  const cases: [string, (b: Record<string, any>) => void][] = [
    ['Claim.insurance an object', (b) => (b.entry[0].resource.insurance = { coverage: { reference: 'Coverage/cov-medicaid-1' } })],
    ['Claim.item a string', (b) => (b.entry[0].resource.item = 'J3590')],
    ['Claim.diagnosis an object', (b) => (b.entry[0].resource.diagnosis = { sequence: 1 })],
    ['Claim.supportingInfo a number', (b) => (b.entry[0].resource.supportingInfo = 5)],
    ['item.extension an object', (b) => (b.entry[0].resource.item[0].extension = { url: 'x' })],
    ['item.extension with null', (b) => b.entry[0].resource.item[0].extension.push(null)],
    ['Claim.patient a string', (b) => (b.entry[0].resource.patient = 'Patient/pat-kineret-1')],
    ['a reference that is a number', (b) => (b.entry[0].resource.insurer = { reference: 60001 })],
    ['an entry that is null', (b) => b.entry.push(null)],
    ['Bundle.entry an object', (b) => (b.entry = { resource: {} })],
    ['Coverage.payor an object', (b) => (b.entry[2].resource.payor = { reference: 'Organization/payer-centene-60001' })],
    ['Coverage.class a string', (b) => (b.entry[2].resource.class = 'plan')],
    ['Patient.address a string', (b) => (b.entry[1].resource.address = 'St. Louis, MO')],
    ['Organization.identifier holding null', (b) => (b.entry[3].resource.identifier = [null, { value: 5 }])],
    ['medicationCodeableConcept.coding a string', (b) => (b.entry[8].resource.medicationCodeableConcept = { coding: '727711' })],
    ['MedicationRequest.reasonCode an object', (b) => (b.entry[8].resource.reasonCode = { text: 'RA' })],
  ];

  // Found by the fuzz suite (FUZZ_SEED=1293808234, 400 runs): a contained reference passed the checks and the context threw.
  test.each([
    ['Claim.insurance.coverage', (c: Record<string, any>) => (c.insurance[0].coverage = { reference: '#contained' }), 'insurance[0].coverage'],
    ['Claim.patient', (c: Record<string, any>) => (c.patient = { reference: '#pat' }), 'patient'],
    ['Claim.insurer', (c: Record<string, any>) => (c.insurer = { reference: '#payer' }), 'insurer'],
    ['Claim.provider', (c: Record<string, any>) => (c.provider = { reference: '#prov' }), 'provider'],
  ])('%s pointing at a contained resource is a 400 naming it', (_name, change, path) => {
    const bundle = kineretRequest() as unknown as Record<string, any>;
    change(bundle.entry[0].resource);
    try {
      parsePasRequest(bundle);
      throw new Error('accepted');
    } catch (error) {
      if (!isOperationOutcomeError(error)) throw error;
      expect(error.status).toBe(400);
      expect(error.outcome.issue.map((i) => i.expression?.[0])).toContain(`Bundle.entry[0].resource.${path}`);
    }
  });

  test.each(cases)('%s', (_name, change) => {
    const bundle = kineretRequest() as unknown as Record<string, any>;
    change(bundle);
    expect(['rejected', 'answered']).toContain(submit(bundle));
  });

  test('400 random corruptions of the Kineret request never throw anything but a 400', () => {
    const random = prng(20261123);
    const template = kineretRequest();
    const allPaths = paths(template);
    const results = { rejected: 0, answered: 0 };
    for (let i = 0; i < 400; i++) {
      const bundle = structuredClone(template) as Bundle;
      const changes = 1 + Math.floor(random() * 3);
      for (let c = 0; c < changes; c++) {
        const live = paths(bundle);
        const path = live[Math.floor(random() * live.length)] ?? allPaths[0]!;
        setAt(bundle, path, GARBAGE[Math.floor(random() * GARBAGE.length)]!);
      }
      results[submit(bundle)]++;
    }
    // Both kinds happen: the corruption is neither always fatal nor always ignored.
    expect(results.rejected).toBeGreaterThan(50);
    expect(results.answered).toBeGreaterThan(50);
  });
});
