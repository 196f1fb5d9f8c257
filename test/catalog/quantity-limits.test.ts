/**
 * Structured count limits in the catalog (issue 12, PAS A6): each one is taken from its policy's
 * text and cited by section, and the schema refuses a limit that limits nothing.
 */
import { loadConfig } from '../../src/config';
import { buildValueSetIndex, loadValueSets } from '../../src/catalog/terminology';
import { loadPolicies } from '../../src/catalog/load';
import { policySchema } from '../../src/catalog/types';

const { paths } = loadConfig();
const policies = loadPolicies(paths.catalog, buildValueSetIndex(loadValueSets(paths.valueSets)));

/** [policy, indication, phase, cited section, units per day, units per authorization] */
const expected: [string, string, 'initial' | 'continuation', string, number | undefined, number | undefined][] = [
  ['cp-phar-244', 'RA', 'initial', 'I.A.8.b', 1, undefined], // "8. Dose does not exceed ... b. 1 syringe per day"
  ['nh-phar-244', 'RA', 'initial', 'I.A.8.b', 1, undefined], // same wording in NH.PHAR.244
  ['molina-kineret', 'RA', 'initial', 'QUANTITY', 1, undefined], // "RA: 100 mg daily (28 syringes per 28 days)"
  ['molina-kineret', 'RA', 'continuation', 'QUANTITY', 1, undefined],
  ['molina-kineret-tx', 'RA', 'initial', 'QUANTITY', 1, undefined],
  ['molina-kineret-tx', 'RA', 'continuation', 'QUANTITY', 1, undefined],
  ['mm-201603', 'RA', 'initial', 'Dosing', 1, undefined], // "RA: 100 mg/day ... Each syringe is a single use dose"
  ['mm-201603', 'RA', 'continuation', 'Dosing', 1, undefined],
  ['cp-phar-533', 'MM', 'initial', 'I.A approval duration', undefined, 1], // one Carvykti infusion
];

test.each(expected)('%s %s %s: limit cited as %s', (id, indication, phase, section, perDay, perAuthorization) => {
  const limit = policies.find((p) => p.id === id)?.indications.find((i) => i.id === indication)?.[phase]?.quantityLimit;
  expect(limit).toMatchObject({ section, ...(perDay ? { perDay } : {}), ...(perAuthorization ? { perAuthorization } : {}) });
});

test('weight-based phases (mg/kg) carry no count limit: their CQL criterion checks the dose', () => {
  const limited = policies.flatMap((p) =>
    p.indications.flatMap((i) => (['initial', 'continuation'] as const).filter((ph) => i[ph]?.quantityLimit).map((ph) => `${p.id} ${i.id} ${ph}`)),
  );
  expect(limited.sort()).toEqual(expected.map(([id, ind, ph]) => `${id} ${ind} ${ph}`).sort());
});

test('a quantityLimit with neither perDay nor perAuthorization is refused', () => {
  const policy = structuredClone(policies.find((p) => p.id === 'cp-phar-244')!);
  policy.indications[0]!.initial.quantityLimit = { section: 'I.A.8.b', text: 'x', unit: 'syringe' };
  const parsed = policySchema.safeParse(policy);
  expect(parsed.success).toBe(false);
  expect(parsed.error?.issues[0]?.message).toBe('quantityLimit needs perDay or perAuthorization');
});
