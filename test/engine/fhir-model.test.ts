/**
 * The FHIR model info cut to the types the compiled ELM reaches (scripts/fhir-model.mjs, written by
 * build:cql beside the ELM): the engine's resource wrapper must read every fixture resource exactly
 * as the full R4 model does, cover every type a library retrieves, and fall back to the full model
 * for any other type.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FHIRWrapper } from 'cql-exec-fhir';
import type { FhirResource } from 'fhir/r4';
import { loadCutFhirModel, loadElmFiles } from '../../src/core/knowledge';
import { REPO_ROOT } from '../../src/core/paths';
import { resourceWrapper } from '../../src/engine/data-provider';

const ELM = path.join(REPO_ROOT, 'dist', 'elm');
const cut = loadCutFhirModel(ELM);
const full = FHIRWrapper.FHIRv401();

/** Every resource in fixtures/ (bundles, prefetch, contained), found by its resourceType. */
function fixtureResources(): FhirResource[] {
  const found: FhirResource[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value !== null && typeof value === 'object') {
      if (typeof (value as { resourceType?: unknown }).resourceType === 'string') found.push(value as FhirResource);
      Object.values(value).forEach(walk);
    }
  };
  const files = (dir: string): string[] =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.json') ? [path.join(dir, e.name)] : []));
  for (const file of files(path.join(REPO_ROOT, 'fixtures'))) walk(JSON.parse(fs.readFileSync(file, 'utf8')));
  return found;
}

/** What cql-execution can read of a wrapped value: every element, recursively, as plain data. */
function read(value: unknown, depth = 0): unknown {
  if (value === undefined || value === null) return null;
  if (depth > 12) return '…';
  if (Array.isArray(value)) return value.map((v) => read(v, depth + 1));
  if (typeof value !== 'object') return value;
  if (value.constructor?.name === 'FHIRObject') {
    return Object.fromEntries(Object.keys(value).map((k) => [k, read((value as Record<string, unknown>)[k], depth + 1)]));
  }
  return `${value.constructor?.name}:${String(value)}`;
}

const retrievedTypes = () => {
  const types = new Set<string>();
  for (const { text } of loadElmFiles(ELM).values()) {
    for (const m of text.matchAll(/"dataType"\s*:\s*"\{http:\/\/hl7\.org\/fhir\}([\w.]+)"/g)) types.add(m[1] as string);
  }
  return types;
};

test('build:cql writes the cut model beside the ELM, far smaller than the full one', () => {
  expect(cut).toBeDefined();
  expect(cut!.types).toEqual(expect.arrayContaining(['Patient', 'Condition', 'MedicationRequest', 'Observation', 'Quantity', 'Extension']));
  expect(cut!.types.length).toBeLessThan(300);
});

test('every type a policy library retrieves is covered', () => {
  const types = retrievedTypes();
  expect(types.size).toBeGreaterThan(3);
  expect([...types].filter((t) => !cut!.types.includes(t))).toEqual([]);
});

test('every fixture resource of a covered type reads the same through the cut model as through the full one', () => {
  const wrapper = resourceWrapper(cut);
  const covered = fixtureResources().filter((r) => cut!.types.includes(r.resourceType));
  expect(new Set(covered.map((r) => r.resourceType)).size).toBeGreaterThan(5);
  for (const resource of covered) expect(read(wrapper.wrap(resource))).toEqual(read(full.wrap(resource)));
});

test('a resource of a type the cut model does not cover is wrapped with the full model', () => {
  const organization: FhirResource = { resourceType: 'Organization', id: 'o1', name: 'Plan', type: [{ coding: [{ system: 'http://x', code: 'pay' }] }] };
  expect(cut!.types).not.toContain('Organization');
  const wrapped = read(resourceWrapper(cut).wrap(organization)) as Record<string, unknown>;
  expect(wrapped).toEqual(read(full.wrap(organization)));
  expect(wrapped['name']).toEqual(expect.objectContaining({ value: 'Plan' }));
});
