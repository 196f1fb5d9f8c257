/**
 * Structural checks on every FHIR ValueSet in catalog/valuesets/ (drug and non-drug): identity, canonical URL,
 * expansion = compose, no duplicates, and per-code-system syntax / check digits, so that a mistyped code
 * fails here instead of silently never matching a patient's data.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ValueSet } from 'fhir/r4';
import { CANONICAL_BASE } from '../../src/config';

const ROOT = join(__dirname, '..', '..');
const DIR = join(ROOT, 'catalog', 'valuesets');

const ICD10CM = 'http://hl7.org/fhir/sid/icd-10-cm';
const SNOMED = 'http://snomed.info/sct';
const LOINC = 'http://loinc.org';
const NUCC = 'http://nucc.org/provider-taxonomy';
const POS = 'https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set';
const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
const NDC = 'http://hl7.org/fhir/sid/ndc';
const HCPCS = 'https://bluebutton.cms.gov/resources/codesystem/hcpcs';

/** LOINC check digit: Luhn-style mod 10 over the digits before the hyphen. */
function loincCheckDigitOk(code: string): boolean {
  const m = /^(\d{1,7})-(\d)$/.exec(code);
  if (!m) return false;
  const body = m[1] as string;
  let sum = 0;
  [...body].reverse().forEach((ch, i) => {
    let d = Number(ch);
    if (i % 2 === 0) {
      d *= 2;
      d = Math.floor(d / 10) + (d % 10);
    }
    sum += d;
  });
  return (10 - (sum % 10)) % 10 === Number(m[2]);
}

// Verhoeff tables (dihedral group D5); the permutation rows are generated from the first one.
const VERHOEFF_D = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
  [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
  [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
  [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
  [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
  [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
  [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
  [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
  [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P: number[][] = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4]];
for (let i = 2; i < 8; i++) {
  const prev = VERHOEFF_P[i - 1] as number[];
  const first = VERHOEFF_P[1] as number[];
  VERHOEFF_P.push(first.map((_, j) => prev[first[j] as number] as number));
}

/** SNOMED CT concept id: 6-18 digits, concept partition (00 core / 10 extension), valid Verhoeff check digit. */
function snomedConceptIdOk(code: string): boolean {
  if (!/^[1-9]\d{5,17}$/.test(code)) return false;
  const partition = code.slice(-3, -1);
  if (partition !== '00' && partition !== '10') return false;
  let c = 0;
  [...code].reverse().forEach((ch, i) => {
    c = (VERHOEFF_D[c] as number[])[(VERHOEFF_P[i % 8] as number[])[Number(ch)] as number] as number;
  });
  return c === 0;
}

// NDC: 11-digit plain or 5-4-2, plus the 10-digit hyphenated FDA package forms (4-4-2, 5-3-2, 5-4-1) that EHRs send.
const NDC_RE = /^(\d{11}|\d{5}-\d{4}-\d{2}|\d{4}-\d{4}-\d{2}|\d{5}-\d{3}-\d{2}|\d{5}-\d{4}-\d)$/;

const SYNTAX: Record<string, (code: string) => boolean> = {
  [ICD10CM]: (c) => /^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$/.test(c),
  [SNOMED]: snomedConceptIdOk,
  [LOINC]: loincCheckDigitOk,
  [NUCC]: (c) => /^[0-9]{3}[A-Z0-9]{6}X$/.test(c),
  [POS]: (c) => /^\d{2}$/.test(c),
  [RXNORM]: (c) => /^\d+$/.test(c),
  [NDC]: (c) => NDC_RE.test(c),
  [HCPCS]: (c) => /^[A-Z]\d{4}$/.test(c),
};

/** Project-local code systems (e.g. questionnaire answer lists) published under our canonical base. */
const LOCAL_CODE_SYSTEM = `${CANONICAL_BASE}/CodeSystem/`;
const syntaxFor = (system: string | undefined): ((code: string) => boolean) | undefined =>
  system?.startsWith(LOCAL_CODE_SYSTEM) ? (c) => /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(c) : system ? SYNTAX[system] : undefined;

const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
const sets: Array<[string, ValueSet]> = files.map((f) => [f, JSON.parse(readFileSync(join(DIR, f), 'utf8')) as ValueSet]);

const key = (system: string | undefined, code: string | undefined) => `${system ?? ''}|${code ?? ''}`;

describe('check-digit helpers', () => {
  it('accept known-good and reject mutated codes', () => {
    expect(loincCheckDigitOk('29463-7')).toBe(true);
    expect(loincCheckDigitOk('29463-6')).toBe(false);
    expect(loincCheckDigitOk('294637')).toBe(false);
    expect(snomedConceptIdOk('69896004')).toBe(true);
    expect(snomedConceptIdOk('16044751000119106')).toBe(true);
    expect(snomedConceptIdOk('69896005')).toBe(false);
    expect(snomedConceptIdOk('239791008')).toBe(false); // a real-world typo of 239791005
    expect(snomedConceptIdOk('69896014')).toBe(false); // description partition, not a concept
  });
});

describe('catalog/valuesets', () => {
  it('has value sets, incl. the ones the CP.PHAR.244 CQL names', () => {
    const ids = new Set(sets.map(([, vs]) => vs.id));
    for (const id of ['rheumatoid-arthritis', 'caps-nomid', 'dira', 'covid-19', 'cdai-score', 'body-weight', 'specialty-rheumatology', 'pos-inpatient-hospital']) {
      expect(ids).toContain(id);
    }
  });

  describe.each(sets)('%s', (file, vs) => {
    it('is an active ValueSet whose id is the file name and url the canonical one', () => {
      expect(vs.resourceType).toBe('ValueSet');
      expect(vs.id).toBe(file.replace(/\.json$/, ''));
      expect(vs.url).toBe(`${CANONICAL_BASE}/ValueSet/${vs.id}`);
      expect(vs.version).toBe('1.0.0');
      expect(vs.name).toMatch(/^[A-Z][A-Za-z0-9]*$/);
      expect(vs.title).toBeTruthy();
      expect(vs.status).toBe('active');
      expect((vs.description ?? '').length).toBeGreaterThan(40);
    });

    it('has an explicit compose whose codes are well formed and not duplicated', () => {
      const includes = vs.compose?.include ?? [];
      expect(includes.length).toBeGreaterThan(0);
      const seen = new Set<string>();
      for (const inc of includes) {
        const valid = syntaxFor(inc.system);
        expect(valid ? inc.system : `unknown code system ${inc.system}`).toBe(inc.system);
        expect(inc.filter).toBeUndefined();
        expect(inc.valueSet).toBeUndefined();
        const concepts = inc.concept ?? [];
        expect(concepts.length).toBeGreaterThan(0);
        const bad = concepts.map((c) => c.code).filter((code) => !valid?.(code));
        expect(bad).toEqual([]);
        for (const c of concepts) {
          const k = key(inc.system, c.code);
          expect(seen.has(k) ? k : '').toBe('');
          seen.add(k);
        }
      }
    });

    it('has an expansion with exactly the compose codes', () => {
      const composed = (vs.compose?.include ?? []).flatMap((inc) => (inc.concept ?? []).map((c) => key(inc.system, c.code)));
      const contains = vs.expansion?.contains ?? [];
      const expanded = contains.map((c) => key(c.system, c.code));
      expect(new Set(expanded).size).toBe(expanded.length);
      expect([...expanded].sort()).toEqual([...composed].sort());
      expect(vs.expansion?.total).toBe(contains.length);
      expect(vs.expansion?.identifier).toBeTruthy();
      expect(Number.isNaN(Date.parse(vs.expansion?.timestamp ?? ''))).toBe(false);
    });
  });
});

describe('non-drug value sets (scripts/valuesets/nondrug-ids.json)', () => {
  const owned = new Set<string>((JSON.parse(readFileSync(join(ROOT, 'scripts', 'valuesets', 'nondrug-ids.json'), 'utf8')) as { ids: string[] }).ids);
  const nonDrug = sets.filter(([, vs]) => owned.has(vs.id as string));

  it('are all present', () => {
    expect(nonDrug.length).toBe(owned.size);
  });

  it('use a urn:uuid expansion identifier', () => {
    for (const [, vs] of nonDrug) expect(vs.expansion?.identifier).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
  });

  it('are each listed in catalog/valuesets/README.md', () => {
    const readme = readFileSync(join(DIR, 'README.md'), 'utf8');
    const missing = nonDrug.map(([, vs]) => vs.id as string).filter((id) => !readme.includes(`\`${id}\``));
    expect(missing).toEqual([]);
  });

  it('are in sync with their generator (node scripts/valuesets/nondrug.mjs --check)', () => {
    expect(() => execFileSync(process.execPath, [join(ROOT, 'scripts', 'valuesets', 'nondrug.mjs'), '--check'], { stdio: 'pipe' })).not.toThrow();
  });
});
