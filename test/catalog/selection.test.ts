/** Policy selection by drug code: the same HCPCS system URLs for every protocol. */
import { loadConfig } from '../../src/config';
import { buildValueSetIndex, loadValueSets } from '../../src/catalog/terminology';
import { drugMatches, HCPCS_SYSTEMS } from '../../src/catalog/catalog';
import { loadPolicies } from '../../src/catalog/load';

const { paths } = loadConfig();
const valueSets = buildValueSetIndex(loadValueSets(paths.valueSets));
const policies = loadPolicies(paths.catalog, valueSets);
const carvykti = policies.find((p) => p.id === 'cp-phar-533');
const kineret = policies.find((p) => p.id === 'cp-phar-244');

test.each(HCPCS_SYSTEMS.map((s) => [s]))('Q2056 under %s identifies Carvykti', (system) => {
  expect(drugMatches(carvykti!, [{ system, code: 'Q2056' }], valueSets)).toBe(true);
});

test('an unclassified HCPCS code (J3590) never identifies a drug on its own', () => {
  expect(drugMatches(kineret!, [{ system: HCPCS_SYSTEMS[0], code: 'J3590' }], valueSets)).toBe(false);
});

test('the Kineret syringe (RxNorm 727711) identifies Kineret, not Carvykti', () => {
  const syringe = [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '727711' }];
  expect(drugMatches(kineret!, syringe, valueSets)).toBe(true);
  expect(drugMatches(carvykti!, syringe, valueSets)).toBe(false);
});

test("a value set's codes are built once and frozen, the same for a versioned url; an unknown url has none", () => {
  const url = 'http://pa.example.org/fhir/ValueSet/drug-adalimumab';
  const codes = valueSets.codes(url);
  expect(codes.length).toBeGreaterThan(0);
  expect(codes[0]).toEqual({ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '327361', display: expect.any(String) });
  expect(valueSets.codes(`${url}|${valueSets.valueSets.get(url)?.version}`)).toBe(codes);
  expect(Object.isFrozen(codes) && codes.every((c) => Object.isFrozen(c))).toBe(true);
  expect(valueSets.codes('http://pa.example.org/fhir/ValueSet/none')).toEqual([]);
});
