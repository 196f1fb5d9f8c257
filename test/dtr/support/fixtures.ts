/** Test support: the DTR fixture artifacts (test/dtr/fixtures) with the ELM test/global-setup.js compiled once per run. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Coverage, MedicationRequest, Parameters } from 'fhir/r4';
import { REPO_ROOT } from '../../../src/config';
import { loadArtifacts, type ArtifactPaths, type ArtifactRepository } from '../../../src/dtr/artifacts';

export const FIXTURES = path.join(__dirname, '..', 'fixtures');
export const BASE = 'http://pa.example.org/fhir';

/** Temporary folders made here, removed after the test file that imported this module. */
const temporary: string[] = [];
afterAll(() => {
  for (const dir of temporary.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});
function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  temporary.push(dir);
  return dir;
}

/** The fixture libraries' ELM, compiled by test/global-setup.js (jest's globalSetup) for the whole run. */
export const FIXTURE_ELM = path.join(REPO_ROOT, 'build', 'test-elm', 'dtr-fixtures');

/** A writable copy of the fixture folders (for tests that break them on purpose), ELM compiled. */
export function copyFixtures(): ArtifactPaths {
  const root = tempDir('dtr-fixtures-');
  fs.cpSync(FIXTURES, root, { recursive: true });
  const paths = {
    cql: path.join(root, 'cql'),
    elm: path.join(root, 'elm'),
    valueSets: path.join(root, 'valuesets'),
    questionnaires: path.join(root, 'questionnaires'),
  };
  // Reuse the compiled fixture ELM; stamp it newer than the copied sources.
  fs.cpSync(fixtureArtifacts().paths.elm, paths.elm, { recursive: true });
  const later = new Date(Date.now() + 1000);
  for (const file of fs.readdirSync(paths.elm)) fs.utimesSync(path.join(paths.elm, file), later, later);
  return paths;
}

let cached: { paths: ArtifactPaths; artifacts: ArtifactRepository } | undefined;

export function fixtureArtifacts(): { paths: ArtifactPaths; artifacts: ArtifactRepository } {
  if (!cached) {
    const paths = {
      cql: path.join(FIXTURES, 'cql'),
      elm: FIXTURE_ELM,
      valueSets: path.join(FIXTURES, 'valuesets'),
      questionnaires: path.join(FIXTURES, 'questionnaires'),
    };
    cached = { paths, artifacts: loadArtifacts(paths) };
  }
  return cached;
}

export function coverage(overrides: Partial<Coverage> = {}): Coverage {
  return {
    resourceType: 'Coverage',
    id: 'cov-1',
    status: 'active',
    beneficiary: { reference: 'Patient/pat-1' },
    payor: [{ identifier: { system: 'http://example.org/naic', value: '68069' } }],
    ...overrides,
  };
}

export function medicationOrder(overrides: Partial<MedicationRequest> = {}): MedicationRequest {
  return {
    resourceType: 'MedicationRequest',
    id: 'mr-1',
    status: 'draft',
    intent: 'order',
    subject: { reference: 'Patient/pat-1' },
    medicationCodeableConcept: {
      coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '727711', display: 'Kineret 0.67 ML Prefilled Syringe' }],
    },
    ...overrides,
  };
}

/** A $questionnaire-package input Parameters. */
export function packageInput(parts: {
  coverage?: Coverage[];
  order?: MedicationRequest[];
  questionnaire?: string[];
  context?: string;
  changedsince?: string;
}): Parameters {
  return {
    resourceType: 'Parameters',
    parameter: [
      ...(parts.coverage ?? [coverage()]).map((resource) => ({ name: 'coverage', resource })),
      ...(parts.order ?? []).map((resource) => ({ name: 'order', resource })),
      ...(parts.questionnaire ?? []).map((valueCanonical) => ({ name: 'questionnaire', valueCanonical })),
      ...(parts.context ? [{ name: 'context', valueString: parts.context }] : []),
      ...(parts.changedsince ? [{ name: 'changedsince', valueInstant: parts.changedsince }] : []),
    ],
  };
}

/**
 * The one package of a `$questionnaire-package` answer: a Parameters per dtr-qpackage-output-parameters
 * with exactly one `PackageBundle` (throws otherwise, naming what came back).
 */
export function packageOf(body: unknown): import('fhir/r4').Bundle {
  const parameters = body as import('fhir/r4').Parameters;
  const bundles = (parameters.parameter ?? []).filter((p) => p.name === 'PackageBundle');
  if (parameters.resourceType !== 'Parameters' || bundles.length !== 1) {
    throw new Error(`expected one PackageBundle, got ${JSON.stringify(body).slice(0, 400)}`);
  }
  return bundles[0]!.resource as import('fhir/r4').Bundle;
}
