import type { Extension } from 'fhir/r4';
import {
  assessCoverage,
  buildCoverageInformation,
  checkCoverageInformation,
  isSatisfiable,
  mayGrantUnsolicitedDetermination,
  withCoverageInformation,
  type CoverageInformationContext,
} from '../../src/crd/coverage-information';
import { COVERAGE_INFORMATION_URL, CRD_COVERAGE_DETAIL_SYSTEM, CRD_TEMP_SYSTEM, type CrdVersion } from '../../src/crd/types';
import { decisions, policy } from './decisions';
import { draftOrder } from './fixtures';

const GRANT = { number: 'PA-2026-000123', start: '2026-03-01', end: '2026-08-31' };

function ctx(overrides: Partial<CoverageInformationContext> = {}): CoverageInformationContext {
  return {
    version: '2.0',
    hook: 'order-sign',
    coverage: 'Coverage/cov-1',
    assertionId: 'ca-7f3e',
    questionnaire: policy.questionnaire,
    policyUrl: 'https://pa.example.org/policies/test-kineret-medicaid',
    billingCodes: ['J3590'],
    ...overrides,
  };
}

function sub(ext: Extension, url: string): Extension[] {
  return (ext.extension ?? []).filter((e) => e.url === url);
}
function codeOf(ext: Extension, url: string): string | undefined {
  return sub(ext, url)[0]?.valueCode;
}

const VERSIONS: CrdVersion[] = ['2.0', '2.1', '2.2'];

describe('buildCoverageInformation: the four assertions', () => {
  describe.each(VERSIONS)('CRD %s', (version) => {
    test('satisfied: approved on the spot, with the authorization number and its end', () => {
      const ext = buildCoverageInformation(decisions.approved, ctx({ version, satisfiedAuthorization: GRANT }));
      expect(checkCoverageInformation(ext, { version, hook: 'order-sign' })).toEqual([]);
      expect(ext.url).toBe(COVERAGE_INFORMATION_URL);
      expect(codeOf(ext, 'covered')).toBe('covered');
      expect(codeOf(ext, 'pa-needed')).toBe('satisfied');
      expect(sub(ext, 'satisfied-pa-id')[0]?.valueString).toBe('PA-2026-000123');
      expect(sub(ext, 'doc-needed')).toEqual([]);
      expect(sub(ext, 'questionnaire')).toEqual([]);
      if (version === '2.0') {
        expect(sub(ext, 'expiry-date')).toEqual([]);
        const period = sub(ext, 'detail').find((d) => d.extension?.some((p) => p.valueCodeableConcept?.coding?.[0]?.code === 'allowed-period'));
        expect(period?.extension?.find((p) => p.url === 'value')?.valuePeriod).toEqual({ start: '2026-03-01', end: '2026-08-31' });
      } else {
        expect(sub(ext, 'expiry-date')[0]?.valueDate).toBe('2026-08-31');
      }
    });

    test('auth-needed: unknown criteria ask for clinical documentation with the questionnaire', () => {
      const ext = buildCoverageInformation(decisions.unknownTrial, ctx({ version }));
      expect(checkCoverageInformation(ext, { version, hook: 'order-sign' })).toEqual([]);
      expect(codeOf(ext, 'pa-needed')).toBe('auth-needed');
      expect(codeOf(ext, 'doc-needed')).toBe('clinical');
      expect(codeOf(ext, 'doc-purpose')).toBe('withpa');
      expect(sub(ext, 'questionnaire')[0]?.valueCanonical).toBe(policy.questionnaire);
      expect(sub(ext, 'satisfied-pa-id')).toEqual([]);
      expect(sub(ext, 'reason')[0]?.valueCodeableConcept?.text).toMatch(/TP\.PHAR\.1 I\.A\.3/);
    });

    test('not-covered: the policy does not authorize; no pa-needed', () => {
      const ext = buildCoverageInformation(decisions.denied, ctx({ version }));
      expect(checkCoverageInformation(ext, { version })).toEqual([]);
      expect(codeOf(ext, 'covered')).toBe('not-covered');
      expect(sub(ext, 'pa-needed')).toEqual([]);
      expect(sub(ext, 'doc-needed')).toEqual([]);
      expect(sub(ext, 'reason').map((r) => r.valueCodeableConcept?.text)).toEqual(['Combination use with a biologic DMARD is not authorized (TP.PHAR.1 G.1)']);
    });

    test('not-covered: a denying criterion the reasons do not cite is added as a reason', () => {
      const ext = buildCoverageInformation({ ...decisions.denied, reasons: [{ code: 'not-authorized', text: 'Not authorized' }] }, ctx({ version }));
      expect(sub(ext, 'reason').map((r) => r.valueCodeableConcept?.text)).toEqual(['Not authorized', 'Not used together with another biologic DMARD (TP.PHAR.1 G.1)']);
    });

    test('no policy: covered, auth-needed (clinical review), the reason says why, no questionnaire', () => {
      const ext = buildCoverageInformation(decisions.noPolicy, ctx({ version, questionnaire: undefined, policyUrl: undefined, billingCodes: undefined }));
      expect(checkCoverageInformation(ext, { version })).toEqual([]);
      expect(codeOf(ext, 'covered')).toBe('covered');
      expect(codeOf(ext, 'pa-needed')).toBe('auth-needed');
      expect(sub(ext, 'questionnaire')).toEqual([]);
      expect(sub(ext, 'reason')[0]?.valueCodeableConcept?.text).toMatch(/clinical review/);
    });
  });

  test('common elements: coverage, date, assertion id, HCPCS billing code, policy link per version', () => {
    for (const version of VERSIONS) {
      const ext = buildCoverageInformation(decisions.unknownTrial, ctx({ version }));
      expect(sub(ext, 'coverage')[0]?.valueReference).toEqual({ reference: 'Coverage/cov-1' });
      expect(sub(ext, 'date')[0]?.valueDate).toBe('2026-03-01');
      expect(sub(ext, 'coverage-assertion-id')[0]?.valueString).toBe('ca-7f3e');
      expect(sub(ext, 'billingCode')[0]?.valueCoding).toEqual({ system: 'https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets', code: 'J3590' });
      const link = sub(ext, 'detail')[0]?.extension ?? [];
      const code = link.find((p) => p.url === 'code')?.valueCodeableConcept;
      const value = link.find((p) => p.url === 'value');
      if (version === '2.0') {
        expect(code).toEqual({ text: 'Policy link' });
        expect(value?.valueString).toBe('https://pa.example.org/policies/test-kineret-medicaid');
      } else {
        expect(code?.coding?.[0]).toMatchObject({ system: version === '2.2' ? CRD_COVERAGE_DETAIL_SYSTEM : CRD_TEMP_SYSTEM, code: 'policy-link' });
        expect(value?.valueUrl).toBe('https://pa.example.org/policies/test-kineret-medicaid');
      }
      expect(link.some((p) => p.url === 'category')).toBe(version === '2.2');
    }
  });

  test('approve without a granted authorization (unsolicited-determ off): auth-needed, no documentation asked', () => {
    const ext = buildCoverageInformation(decisions.approved, ctx());
    expect(checkCoverageInformation(ext, { version: '2.0' })).toEqual([]);
    expect(codeOf(ext, 'pa-needed')).toBe('auth-needed');
    expect(sub(ext, 'doc-needed')).toEqual([]);
  });

  test('review required with every criterion met: auth-needed without documentation', () => {
    const a = assessCoverage(decisions.reviewRequired, ctx());
    expect(a).toMatchObject({ covered: 'covered', paNeeded: 'auth-needed' });
    expect(a.docNeeded).toBeUndefined();
  });

  test('order-select never asks for documentation', () => {
    for (const d of [decisions.unknownTrial, decisions.unmetAndUnknown]) {
      const ext = buildCoverageInformation(d, ctx({ hook: 'order-select' }));
      expect(checkCoverageInformation(ext, { hook: 'order-select', version: '2.0' })).toEqual([]);
      expect(sub(ext, 'doc-needed')).toEqual([]);
      expect(sub(ext, 'doc-purpose')).toEqual([]);
      expect(sub(ext, 'questionnaire')).toEqual([]);
    }
  });
});

describe('never satisfied unless the decision allows it', () => {
  test.each([
    ['an unknown criterion', decisions.unknownTrial, 'order-sign'],
    ['an unmet criterion', decisions.unmetAndUnknown, 'order-sign'],
    ['a committee policy', decisions.committee, 'order-sign'],
    ['a denial', decisions.denied, 'order-sign'],
    ['no policy', decisions.noPolicy, 'order-sign'],
    ['order-select', decisions.approved, 'order-select'],
  ] as const)('%s: the builder refuses an authorization', (_name, decision, hook) => {
    expect(isSatisfiable(decision, hook)).toBe(false);
    expect(() => buildCoverageInformation(decision, ctx({ hook, satisfiedAuthorization: GRANT }))).toThrow(/cannot be satisfied/);
  });

  test('mayGrantUnsolicitedDetermination obeys coverage-info and unsolicited-determ', () => {
    expect(mayGrantUnsolicitedDetermination(decisions.approved, 'order-sign', { coverageInfo: true, unsolicitedDeterm: true })).toBe(true);
    expect(mayGrantUnsolicitedDetermination(decisions.approved, 'order-dispatch', { coverageInfo: true, unsolicitedDeterm: true })).toBe(true);
    expect(mayGrantUnsolicitedDetermination(decisions.approved, 'order-sign', { coverageInfo: true, unsolicitedDeterm: false })).toBe(false);
    expect(mayGrantUnsolicitedDetermination(decisions.approved, 'order-sign', { coverageInfo: false, unsolicitedDeterm: true })).toBe(false);
    expect(mayGrantUnsolicitedDetermination(decisions.unknownTrial, 'order-sign', { coverageInfo: true, unsolicitedDeterm: true })).toBe(false);
  });
});

describe('checkCoverageInformation finds each broken rule', () => {
  const good = (): Extension => buildCoverageInformation(decisions.unknownTrial, ctx());
  const edit = (f: (parts: Extension[]) => Extension[]): Extension => {
    const ext = good();
    return { ...ext, extension: f(structuredClone(ext.extension ?? [])) };
  };
  const drop = (url: string) => (parts: Extension[]) => parts.filter((p) => p.url !== url);
  const set = (url: string, value: Extension) => (parts: Extension[]) => [...parts.filter((p) => p.url !== url), value];

  const cases: [string, Extension, RegExp, CrdVersion?][] = [
    ['questionnaire without doc-needed (q1)', edit(drop('doc-needed')), /crd-ci-q1/],
    ['not-covered with pa-needed (q2)', edit(set('covered', { url: 'covered', valueCode: 'not-covered' })), /crd-ci-q2.*must not/],
    ['covered without pa-needed (q2, 2.0.1 expression)', edit(drop('pa-needed')), /crd-ci-q2.*requires pa-needed/, '2.0'],
    ['conditional without info-needed (q3)', edit(set('covered', { url: 'covered', valueCode: 'conditional' })), /crd-ci-q3: a conditional/],
    ['info-needed without conditional (q3)', edit((p) => [...p, { url: 'info-needed', valueCode: 'performer' }]), /crd-ci-q3: info-needed/],
    [
      'satisfied with doc-purpose withpa (q4)',
      edit((p) => [...p.filter((x) => x.url !== 'pa-needed'), { url: 'pa-needed', valueCode: 'satisfied' }, { url: 'satisfied-pa-id', valueString: 'PA-1' }]),
      /crd-ci-q4/,
    ],
    ['satisfied without satisfied-pa-id (q5)', edit(set('pa-needed', { url: 'pa-needed', valueCode: 'satisfied' })), /crd-ci-q5/],
    ['satisfied-pa-id without satisfied (q5)', edit((p) => [...p, { url: 'satisfied-pa-id', valueString: 'PA-1' }]), /crd-ci-q5/],
    [
      'info-needed OTH without reason (q6)',
      edit((p) => [...p.filter((x) => x.url !== 'reason' && x.url !== 'covered' && x.url !== 'doc-purpose'), { url: 'covered', valueCode: 'conditional' }, { url: 'info-needed', valueCode: 'OTH' }]),
      /crd-ci-q6/,
      '2.2',
    ],
    ['a coded reason outside the CRD codes without text (q7)', edit((p) => [...p, { url: 'reason', valueCodeableConcept: { coding: [{ system: 'http://x', code: 'y' }] } }]), /crd-ci-q7/],
    ['doc-purpose without reason (q8)', edit(drop('reason')), /crd-ci-q8/],
    ['indeterminate without reason (q9)', edit((p) => [...p.filter((x) => x.url !== 'reason' && x.url !== 'pa-needed' && x.url !== 'doc-purpose'), { url: 'pa-needed', valueCode: 'indeterminate' }]), /crd-ci-q9/, '2.2'],
    ['indeterminate is not a 2.0.1 code', edit(set('pa-needed', { url: 'pa-needed', valueCode: 'indeterminate' })), /not in its required value set/, '2.0'],
    ['both is not a 2.2 doc-needed code', edit(set('doc-needed', { url: 'doc-needed', valueCode: 'both' })), /not in its required value set/, '2.2'],
    ['expiry-date is not in 2.0.1', edit((p) => [...p, { url: 'expiry-date', valueDate: '2026-12-31' }]), /not defined in CRD 2.0/, '2.0'],
    ['2.2 detail needs a category', buildCoverageInformation(decisions.unknownTrial, ctx({ version: '2.1' })), /category/, '2.2'],
    ['missing coverage', edit(drop('coverage')), /coverage is required/],
    ['missing date', edit(drop('date')), /date is required/],
    ['bad date', edit(set('date', { url: 'date', valueDate: '03/01/2026' })), /not a FHIR date/],
    ['missing coverage-assertion-id', edit(drop('coverage-assertion-id')), /coverage-assertion-id is required/],
    ['two covered', edit((p) => [...p, { url: 'covered', valueCode: 'covered' }]), /covered may appear at most 1/],
    ['covered as a string', edit(set('covered', { url: 'covered', valueString: 'covered' })), /covered must be a valueCode/],
    ['unknown covered code', edit(set('covered', { url: 'covered', valueCode: 'maybe' })), /not in its required value set/],
    ['unknown sub-extension', edit((p) => [...p, { url: 'priority', valueCode: 'high' }]), /"priority" is not defined/],
    ['a detail without value', edit((p) => [...p, { url: 'detail', extension: [{ url: 'code', valueCodeableConcept: { text: 'x' } }] }]), /exactly one value/],
    ['order-select asking for documentation', good(), /order-select must not ask/],
  ];

  // Rows padded to one length: jest passes a `done` callback to parameters a row does not fill.
  test.each(cases.map(([n, e, t, v]) => [n, e, t, v ?? null] as const))('%s', (name, ext, text, version) => {
    const problems = checkCoverageInformation(ext, { ...(version ? { version } : {}), ...(name.startsWith('order-select') ? { hook: 'order-select' } : {}) });
    expect(problems.some((p) => text.test(p))).toBe(true);
  });

  test('a wrong url and a value[x] on the extension', () => {
    const problems = checkCoverageInformation({ ...good(), url: 'http://example.org/x', valueString: 'x' });
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(/url must be/), expect.stringMatching(/value\[x\]/)]));
  });
});

describe('withCoverageInformation', () => {
  test('adds the extension and keeps everything else; replaces an earlier assertion for the same Coverage', () => {
    const order = draftOrder({ extension: [{ url: 'http://example.org/other', valueString: 'keep me' }] });
    const first = withCoverageInformation(order, buildCoverageInformation(decisions.unknownTrial, ctx()));
    const second = withCoverageInformation(first, buildCoverageInformation(decisions.approved, ctx({ assertionId: 'ca-2', satisfiedAuthorization: GRANT })));
    expect(second.extension?.map((e) => e.url)).toEqual(['http://example.org/other', COVERAGE_INFORMATION_URL]);
    const { extension: _a, ...restOrder } = order;
    const { extension: _b, ...restSecond } = second;
    expect(restSecond).toEqual(restOrder);
    expect(order.extension).toHaveLength(1);
  });
});
