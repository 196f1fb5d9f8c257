/**
 * What a chart must hold for the policies, read from the ELM retrieves (src/engine/data-requirements.ts):
 * the catalog's compiled CQL, and small ELM libraries for the merging rules.
 */
import type { ValueSet } from 'fhir/r4';
import { buildValueSetIndex } from '../../src/catalog/terminology';
import { chartRequirements, type ElmTerminology } from '../../src/engine/data-requirements';
import { getEngine } from '../support/policy-kit';

const FHIR = '{http://hl7.org/fhir}';

const valueSet = (url: string, codes: string[]): ValueSet => ({
  resourceType: 'ValueSet',
  status: 'active',
  url,
  expansion: { timestamp: '2026-01-01', contains: codes.map((code) => ({ system: 'http://loinc.org', code })) },
});
const VALUE_SETS = buildValueSetIndex([valueSet('http://x/vs/weight', ['29463-7']), valueSet('http://x/vs/crp', ['1988-5'])]);

/** A one-library set whose statements are the given retrieves. */
function librarySet(...retrieves: Record<string, unknown>[]) {
  const elm = {
    library: {
      identifier: { id: 'Test' },
      valueSets: { def: [{ name: 'Weight', id: 'http://x/vs/weight' }, { name: 'CRP', id: 'http://x/vs/crp' }, { name: 'Unknown', id: 'http://x/vs/unknown' }] },
      codeSystems: { def: [{ name: 'LOINC', id: 'http://loinc.org' }] },
      codes: { def: [{ name: 'Variant', id: '69548-6', codeSystem: { name: 'LOINC' } }] },
      statements: { def: retrieves.map((expression, i) => ({ name: `S${i}`, expression })) },
    },
  } as ElmTerminology;
  return { libraries: new Map([['Test', { elm }]]) };
}

const byValueSet = (type: string, name: string) => ({ type: 'Retrieve', dataType: `${FHIR}${type}`, codeProperty: 'code', codes: { type: 'ValueSetRef', name } });
const byCode = (type: string, name: string) => ({
  type: 'Retrieve',
  dataType: `${FHIR}${type}`,
  codeProperty: 'code',
  codes: { type: 'ToList', operand: { type: 'CodeRef', name } },
});
const all = (type: string) => ({ type: 'Retrieve', dataType: `${FHIR}${type}` });

describe('chartRequirements', () => {
  test.each([
    ['coded retrieves of a type: the union of their codes', [byValueSet('Observation', 'Weight'), byCode('Observation', 'Variant')], [
      { type: 'Observation', codes: [{ system: 'http://loinc.org', code: '29463-7' }, { system: 'http://loinc.org', code: '69548-6' }] },
    ]],
    ['one uncoded retrieve: every resource of the type', [byValueSet('Observation', 'CRP'), all('Observation')], [{ type: 'Observation' }]],
    ['a value set with no expansion here: every resource of the type', [byValueSet('Condition', 'Unknown')], [{ type: 'Condition' }]],
    ['a filter on another element than code: every resource of the type', [{ ...byValueSet('MedicationRequest', 'CRP'), codeProperty: 'medication' }], [{ type: 'MedicationRequest' }]],
    ['types sorted, each once', [all('Goal'), all('AllergyIntolerance'), all('Goal')], [{ type: 'AllergyIntolerance' }, { type: 'Goal' }]],
  ])('%s', (_name, retrieves, expected) => {
    expect(chartRequirements(librarySet(...retrieves), VALUE_SETS)).toEqual(expected);
  });

  test("the catalog's CQL: every type its criteria read, the genetic result among the coded observations", () => {
    const engine = getEngine();
    const requirements = chartRequirements(engine.libraries, engine.valueSets);
    expect(requirements.map((r) => r.type)).toEqual([
      'AllergyIntolerance',
      'Condition',
      'Goal',
      'MedicationAdministration',
      'MedicationDispense',
      'MedicationRequest',
      'MedicationStatement',
      'Observation',
      'Patient',
      'PractitionerRole',
      'QuestionnaireResponse',
    ]);
    const observations = requirements.find((r) => r.type === 'Observation')?.codes ?? [];
    expect(observations).toEqual(expect.arrayContaining([
      { system: 'http://loinc.org', code: '69548-6' }, // IL1RN variant (DIRA)
      { system: 'http://loinc.org', code: '75842-5' }, // CDAI
      { system: 'http://loinc.org', code: '29463-7' }, // body weight
    ]));
    // MedicalMutual and Molina read every Condition (e.g. the active problems), so the key is uncoded.
    expect(requirements.find((r) => r.type === 'Condition')).toEqual({ type: 'Condition' });
  });
});
