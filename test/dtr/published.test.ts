/**
 * The repository's real DTR content: every CQL library in cql/ (with its ELM in dist/elm, built by
 * `npm run build:cql`), every Questionnaire in questionnaires/, every policy in catalog/policies/.
 * Generic over whatever those folders hold.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Coverage, Library, MedicationRequest, Parameters, ValueSet } from 'fhir/r4';
import { loadConfig } from '../../src/config';
import { buildValueSetIndex, loadValueSets } from '../../src/catalog/terminology';
import { createCatalog, PAYER_TYPE_SYSTEM } from '../../src/catalog/catalog';
import { loadPolicies } from '../../src/catalog/load';
import { payerContext } from '../../src/fhir/order-context';
import type { PolicyDefinition } from '../../src/catalog/types';
import { loadArtifacts } from '../../src/dtr/artifacts';
import { checkPackageBundle, reviewLibraries } from '../support/dtr-conformance';
import { questionnairePackage, type SelectPolicy } from '../../src/dtr/questionnaire-package';
import { coverage, medicationOrder, packageInput, packageOf } from './support/fixtures';

const { paths } = loadConfig();
const artifacts = loadArtifacts(paths);
const valueSetIndex = buildValueSetIndex(loadValueSets(paths.valueSets));
const policies = loadPolicies(paths.catalog, valueSetIndex);
const catalog = createCatalog(policies, valueSetIndex);

/**
 * Test stand-in for the engine's selector: the catalog's own payer/line-of-business/drug selection
 * over the coverage and the order's RxNorm codes.
 */
const selectPolicy: SelectPolicy = (cov, order) => {
  const codes = (order as MedicationRequest).medicationCodeableConcept?.coding ?? [];
  const selection = catalog.select(payerContext(cov, undefined, { resourceType: 'Bundle', type: 'collection' }), { codes });
  return selection.policy ? { questionnaire: selection.policy.questionnaire } : null;
};

/** A Coverage and a drug order the policy covers, built from the policy itself. */
function requestFor(policy: PolicyDefinition): { cov: Coverage; order: MedicationRequest } {
  const payer = policy.payers[0]!.identifiers[0]!;
  const line = policy.linesOfBusiness[0]!;
  const cov = coverage({
    payor: [{ identifier: payer }],
    type: { coding: [{ system: PAYER_TYPE_SYSTEM, code: line.code }] },
    ...(line.planValues?.[0] ? { class: [{ type: { coding: [{ code: 'plan' }] }, value: line.planValues[0] }] } : {}),
  });
  const drug = artifacts.expandValueSet(policy.drug.valueSet)?.expansion?.contains?.find((c) => c.system?.includes('rxnorm'));
  const order = medicationOrder({ medicationCodeableConcept: { coding: [{ system: drug?.system, code: drug?.code, display: drug?.display }] } });
  return { cov, order };
}

const cqlFiles = fs.existsSync(paths.cql) ? fs.readdirSync(paths.cql, { recursive: true }).map(String).filter((f) => f.endsWith('.cql')) : [];

test('every CQL library in cql/ is published as a Library with CQL, ELM and its dependencies', () => {
  const libraries = artifacts.list('Library') as Library[];
  expect(libraries.map((l) => l.name).sort()).toEqual(
    cqlFiles.map((f) => /^\s*library\s+("[^"]+"|\w+)/m.exec(fs.readFileSync(path.join(paths.cql, f), 'utf8'))![1]!.replace(/"/g, '')).sort(),
  );
  expect(reviewLibraries(libraries, artifacts.list('ValueSet') as ValueSet[]).errors).toEqual([]);
  for (const library of libraries) {
    const closure = artifacts.libraryClosure(library.name!).slice(1);
    expect((library.relatedArtifact ?? []).map((r) => r.resource)).toEqual(closure.map((n) => `${artifacts.canonicalBase}/Library/${n}|${artifacts.library(n)!.version}`));
  }
});

test('every ValueSet in catalog/valuesets/ can be served expanded', () => {
  const notExpandable = artifacts.list('ValueSet').filter((v) => !artifacts.expandValueSet(`${v.url}|${v.version ?? ''}`.replace(/\|$/, '')));
  expect(notExpandable.map((v) => v.id)).toEqual([]);
});

const questionnaires = artifacts.list('Questionnaire').map((q) => [q.id!, q.url!, q.version] as const);
const describeQuestionnaires = questionnaires.length > 0 ? describe.each(questionnaires) : describe.skip.each([['(none yet)', '', undefined] as const]);

describeQuestionnaires('Questionnaire %s', (_id, url, version) => {
  test('its package by canonical passes the DTR payer conformance checks', async () => {
    const { body } = await questionnairePackage(packageInput({ questionnaire: [`${url}|${version}`], order: [medicationOrder()] }), { artifacts });
    expect(checkPackageBundle(packageOf(body))).toEqual([]);
  });
});

describe.each(policies.map((p) => [p.id, p] as const))('policy %s', (_id, policy) => {
  test('names a published Questionnaire and Library', () => {
    expect(artifacts.byCanonical('Questionnaire', policy.questionnaire)?.url).toBe(policy.questionnaire);
    expect(artifacts.byCanonical('Library', `${artifacts.canonicalBase}/Library/${policy.library.name}|${policy.library.version}`)).toBeDefined();
  });

  test("$questionnaire-package for its drug order (selected by payer and drug) passes and carries the policy's library", async () => {
    const { cov, order } = requestFor(policy);
    const { body } = await questionnairePackage(packageInput({ coverage: [cov], order: [order] }), { artifacts, selectPolicy });
    const bundle = packageOf(body);
    expect((body as Parameters).parameter?.find((p) => p.name === 'operationOutcome')).toBeUndefined();
    expect(bundle.entry?.[0]?.resource).toMatchObject({ resourceType: 'Questionnaire', url: policy.questionnaire });
    expect(checkPackageBundle(bundle)).toEqual([]);
    const libraries = bundle.entry!.filter((e) => e.resource?.resourceType === 'Library').map((e) => e.resource as Library);
    expect(libraries).toEqual(expect.arrayContaining([expect.objectContaining({ name: policy.library.name, version: policy.library.version })]));
  });
});

describe('canonical references in the published Questionnaires are version-specific (DTR 2.0.1 dtr-std-questionnaire)', () => {
  test.each(artifacts.list('Questionnaire').map((q) => [q.id!, q] as const))('%s: cqf-library and every answerValueSet carry |version of a published artifact', (_id, q) => {
    const libraries = (q.extension ?? []).filter((e) => e.url === 'http://hl7.org/fhir/StructureDefinition/cqf-library').map((e) => e.valueCanonical ?? '');
    expect(libraries.length).toBeGreaterThan(0);
    for (const canonical of libraries) {
      expect(canonical).toMatch(/\|[^|]+$/);
      expect(artifacts.byCanonical('Library', canonical)).toBeDefined();
    }
    const walk = (items: typeof q.item): string[] => (items ?? []).flatMap((i) => [...(i.answerValueSet ? [i.answerValueSet] : []), ...walk(i.item)]);
    for (const canonical of walk(q.item)) {
      expect(canonical).toMatch(/\|[^|]+$/);
      expect(artifacts.byCanonical('ValueSet', canonical)).toBeDefined();
    }
  });
});
