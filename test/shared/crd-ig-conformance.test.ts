/**
 * Ties the CRD building blocks to the CRD 2.0.1 package in ../shared/ig (read at test time only):
 * the coverage-information we build fits the extension's StructureDefinition slice by slice, the
 * checker implements every invariant the StructureDefinition declares and accepts exactly the
 * codes of its required value sets, the card topics exist in the IG's CodeSystem, and the IG's own
 * annotated MedicationRequest example passes the checker.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CodeSystem, CodeSystemConcept, ElementDefinition, Extension, MedicationRequest, StructureDefinition, ValueSet } from 'fhir/r4';
import { REPO_ROOT } from '../../src/config';
import { buildCoverageInformation, checkCoverageInformation } from '../../src/crd/coverage-information';
import { COVERAGE_INFORMATION_URL, CRD_TEMP_SYSTEM } from '../../src/crd/types';
import { buildDiscovery, CARD_TYPE_CODES } from '../../src/crd/discovery';
import { decisions, policy } from '../crd/decisions';

const TGZ = path.join(path.resolve(REPO_ROOT, '..', 'shared', 'ig'), 'hl7.fhir.us.davinci-crd-2.0.1.tgz');
const unpacked = fs.mkdtempSync(path.join(os.tmpdir(), 'crd-ig-'));
execFileSync('tar', ['-xzf', TGZ, '-C', unpacked, 'package']);
const PKG = path.join(unpacked, 'package');
afterAll(() => fs.rmSync(unpacked, { recursive: true, force: true }));

function read<T>(file: string): T {
  return JSON.parse(fs.readFileSync(path.join(PKG, file), 'utf8')) as T;
}

const sd = read<StructureDefinition>('StructureDefinition-ext-coverage-information.json');
const elements = sd.snapshot?.element ?? [];

/** Slice name → its url value, cardinality, value[x] types and required binding. */
function slices(prefix: string): Map<string, { min: number; max: string; types: string[]; valueSet?: string }> {
  const out = new Map<string, { min: number; max: string; types: string[]; valueSet?: string }>();
  for (const e of elements) {
    const m = new RegExp(`^${prefix.replace(/[.:]/g, '\\$&')}\\.extension:([^.]+)$`).exec(e.id ?? '');
    if (!m?.[1]) continue;
    const value = elements.find((v) => v.id === `${e.id}.value[x]`) as ElementDefinition | undefined;
    out.set(m[1], {
      min: e.min ?? 0,
      max: e.max ?? '*',
      types: (value?.max === '0' ? [] : (value?.type ?? [])).map((t) => t.code),
      ...(value?.binding?.strength === 'required' && value.binding.valueSet ? { valueSet: value.binding.valueSet } : {}),
    });
  }
  return out;
}

const top = slices('Extension');
const detailSlices = slices('Extension.extension:detail');

function valueSetCodes(url: string): string[] {
  const file = fs.readdirSync(PKG).find((f) => f.startsWith('ValueSet-') && read<ValueSet>(f).url === url);
  if (!file) throw new Error(`ValueSet ${url} is not in the package`);
  return (read<ValueSet>(file).compose?.include ?? []).flatMap((i) => (i.concept ?? []).map((c) => c.code));
}

function typeOf(sub: Extension): string {
  const key = Object.keys(sub).find((k) => k.startsWith('value')) ?? '';
  const t = key.slice('value'.length);
  return /^[A-Z][a-z]+$/.test(t) && ['Code', 'Date', 'String', 'Canonical', 'Boolean', 'Url', 'Uri'].includes(t) ? t.toLowerCase() : t;
}

const built: [string, Extension][] = [
  ['satisfied', buildCoverageInformation(decisions.approved, ctx({ satisfiedAuthorization: { number: 'PA-1', start: '2026-03-01', end: '2026-08-31' } }))],
  ['auth-needed', buildCoverageInformation(decisions.unmetAndUnknown, ctx())],
  ['not-covered', buildCoverageInformation(decisions.denied, ctx())],
  ['no-policy', buildCoverageInformation(decisions.noPolicy, ctx({ questionnaire: undefined, policyUrl: undefined, billingCodes: undefined }))],
];

function ctx(overrides: Record<string, unknown> = {}) {
  return {
    version: '2.0' as const,
    hook: 'order-sign' as const,
    coverage: 'Coverage/cov-1',
    assertionId: 'ca-1',
    questionnaire: policy.questionnaire,
    policyUrl: 'https://pa.example.org/policies/test-kineret-medicaid',
    billingCodes: ['J3590'],
    ...overrides,
  };
}

describe('coverage-information against the CRD 2.0.1 StructureDefinition', () => {
  test('the URL we use is the extension URL', () => {
    expect(sd.url).toBe(COVERAGE_INFORMATION_URL);
  });

  test.each(built)('%s: every sub-extension is a slice, with an allowed type, cardinality and bound code', (_name, ext) => {
    const parts = ext.extension ?? [];
    for (const part of parts) {
      const slice = top.get(part.url);
      expect(slice).toBeDefined();
      if (part.url === 'detail') {
        for (const d of part.extension ?? []) {
          const ds = detailSlices.get(d.url);
          expect(ds).toBeDefined();
          expect(ds?.types).toContain(typeOf(d));
        }
        continue;
      }
      expect(slice?.types).toContain(typeOf(part));
      if (slice?.valueSet) expect(valueSetCodes(slice.valueSet)).toContain(part.valueCode);
    }
    for (const [url, slice] of top) {
      const n = parts.filter((p) => p.url === url).length;
      expect(n).toBeGreaterThanOrEqual(slice.min);
      if (slice.max !== '*') expect(n).toBeLessThanOrEqual(Number(slice.max));
    }
  });

  test('the checker implements every invariant the StructureDefinition declares', () => {
    const keys = (elements[0]?.constraint ?? []).map((c) => c.key).filter((k) => !/^(ele|ext)-/.test(k));
    expect(keys.sort()).toEqual(['crd-ci-q1', 'crd-ci-q2', 'crd-ci-q3', 'crd-ci-q4', 'crd-ci-q5']);
  });

  test.each(['covered', 'pa-needed', 'doc-needed', 'info-needed', 'doc-purpose'])('the checker accepts exactly the codes of the %s value set', (url) => {
    const vs = top.get(url)?.valueSet;
    expect(vs).toBeDefined();
    const base = built[1]![1];
    for (const code of [...valueSetCodes(vs!), 'not-a-code']) {
      const ext = { ...base, extension: [...(base.extension ?? []).filter((p) => p.url !== url), { url, valueCode: code }] };
      const problems = checkCoverageInformation(ext, { version: '2.0' }).filter((p) => p.includes('required value set'));
      expect(problems.length === 0).toBe(code !== 'not-a-code');
    }
  });

  test("the IG's annotated MedicationRequest example passes the checker", () => {
    const example = read<MedicationRequest>('example/MedicationRequest-annotated-example.json');
    const infos = (example.extension ?? []).filter((e) => e.url === COVERAGE_INFORMATION_URL);
    expect(infos.length).toBeGreaterThan(0);
    for (const info of infos) expect(checkCoverageInformation(info, { version: '2.0' })).toEqual([]);
  });
});

describe('CRD 2.0.1 code system temp', () => {
  const cs = read<CodeSystem>('CodeSystem-temp.json');
  const flat = (concepts: CodeSystemConcept[] = []): CodeSystemConcept[] => concepts.flatMap((c) => [c, ...flat(c.concept)]);
  const cardTypes = flat(cs.concept?.find((c) => c.code === '_cardType')?.concept).map((c) => c.code);

  test('our card topics and configuration codes are CRD card types', () => {
    expect(cs.url).toBe(CRD_TEMP_SYSTEM);
    expect(cardTypes).toEqual(expect.arrayContaining(['coverage-info', 'guideline', 'therapy-alternatives-req']));
    // The Instructions response type has no card-type code in 2.0.1; 2.0.1 has no unsolicited-determ
    // (CRD 2.1/2.2 added it): neither is offered in discovery.
    expect(cardTypes).not.toContain('instructions');
    expect(cardTypes).not.toContain('unsolicited-determ');
  });

  test('CARD_TYPE_CODES is the cardType value set, and every discovery configuration option is in it (required binding of CDSHookServicesExtensionConfiguration.code)', () => {
    expect([...CARD_TYPE_CODES].sort()).toEqual([...cardTypes].sort());
    const sd = read<StructureDefinition>('StructureDefinition-CDSHookServicesExtensionConfiguration.json');
    const binding = sd.snapshot?.element.find((e) => e.id === 'CDSHookServicesExtensionConfiguration.code')?.binding;
    expect(binding).toMatchObject({ strength: 'required', valueSet: 'http://hl7.org/fhir/us/davinci-crd/ValueSet/cardType' });
    for (const service of buildDiscovery().services) {
      for (const option of service.extension['davinci-crd.configuration-options']) expect(cardTypes).toContain(option.code);
    }
  });

  test('allowed-period (used for the authorization period in 2.0) is a 2.0.1 detail code', () => {
    expect(valueSetCodes('http://hl7.org/fhir/us/davinci-crd/ValueSet/coverageDetail')).toContain('allowed-period');
  });
});
