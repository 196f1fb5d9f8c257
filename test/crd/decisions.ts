/**
 * A test policy (our own simplified wording, not a payer's text) and the Decisions the engine
 * would return for it in each scenario the CRD answer distinguishes.
 */
import type { PolicyDefinition } from '../../src/catalog/types';
import { CANONICAL_BASE } from '../../src/config';
import type { CriterionResult, Decision } from '../../src/engine/decision';

export const METHOTREXATE_VS = `${CANONICAL_BASE}/ValueSet/methotrexate`;
export const LEFLUNOMIDE_VS = `${CANONICAL_BASE}/ValueSet/leflunomide`;

export const policy: PolicyDefinition = {
  id: 'test-kineret-medicaid',
  title: 'Kineret (anakinra) – test policy',
  citationPrefix: 'TP.PHAR.1',
  version: '2026-01',
  effectiveDate: '2026-01-01',
  payers: [{ name: 'Test Health Plan', identifiers: [{ system: 'urn:oid:2.16.840.1.113883.6.300', value: '60001' }] }],
  linesOfBusiness: [{ code: '2', display: 'MEDICAID' }],
  drug: { name: 'Kineret (anakinra)', valueSet: `${CANONICAL_BASE}/ValueSet/anakinra`, hcpcs: ['J3590'] },
  library: { name: 'TestKineret', version: '1.0.0' },
  questionnaire: `${CANONICAL_BASE}/Questionnaire/test-kineret`,
  reviewRoute: 'auto',
  globalCriteria: [{ id: 'G.1', text: 'Not used together with another biologic DMARD', expression: 'NoCombination', onUnmet: 'deny' }],
  indications: [
    {
      id: 'ra',
      title: 'Rheumatoid arthritis',
      initial: {
        section: 'I.A',
        approvalMonths: 6,
        criteria: [
          { id: 'I.A.1', text: 'Diagnosis of rheumatoid arthritis', expression: 'HasRA' },
          { id: 'I.A.2', text: 'Prescribed by or with a rheumatologist', expression: 'ByRheumatologist' },
          {
            id: 'I.A.3',
            text: 'At least 3 months of methotrexate or leflunomide, unless not tolerated',
            expression: 'TrialOfConventionalDMARD',
            alternatives: [
              { valueSet: METHOTREXATE_VS, display: 'methotrexate' },
              { valueSet: LEFLUNOMIDE_VS, display: 'leflunomide' },
            ],
          },
        ],
      },
    },
  ],
};

function criterion(id: string, text: string, status: CriterionResult['status'], onUnmet: 'pend' | 'deny' = 'pend'): CriterionResult {
  return { id, citation: `TP.PHAR.1 ${id}`, text, status, evidence: status === 'met' ? [`Condition/${id}`] : [], onUnmet };
}

function decision(overrides: Partial<Decision>): Decision {
  return {
    policy: { id: policy.id, title: policy.title, citationPrefix: policy.citationPrefix, version: policy.version },
    indication: { id: 'ra', title: 'Rheumatoid arthritis' },
    phase: 'initial',
    outcome: 'pend',
    reviewRoute: 'auto',
    criteria: [],
    reasons: [],
    warnings: [],
    evaluatedAt: '2026-03-01T15:04:05Z',
    ...overrides,
  };
}

const met = [
  criterion('G.1', 'Not used together with another biologic DMARD', 'met', 'deny'),
  criterion('I.A.1', 'Diagnosis of rheumatoid arthritis', 'met'),
  criterion('I.A.2', 'Prescribed by or with a rheumatologist', 'met'),
];

export const decisions = {
  /** Every criterion met from the chart, automatic route: may be granted on the spot. */
  approved: decision({
    outcome: 'approve',
    criteria: [...met, criterion('I.A.3', 'At least 3 months of methotrexate or leflunomide', 'met')],
    reasons: [{ code: 'criteria-met', text: 'All initial-therapy criteria are met', citation: 'TP.PHAR.1 I.A' }],
    approvalPeriod: { start: '2026-03-01', end: '2026-08-31' },
    quantityNote: '100 mg per day',
  }),
  /** The trial of a conventional DMARD is not in the chart. */
  unknownTrial: decision({
    criteria: [...met, { ...criterion('I.A.3', 'At least 3 months of methotrexate or leflunomide', 'unknown'), note: 'no medication history for methotrexate or leflunomide' }],
    reasons: [{ code: 'criteria-unknown', text: 'Some criteria cannot be decided from the chart', citation: 'TP.PHAR.1 I.A.3' }],
  }),
  /** The chart shows no rheumatologist and no trial. */
  unmetAndUnknown: decision({
    criteria: [
      met[0]!,
      met[1]!,
      criterion('I.A.2', 'Prescribed by or with a rheumatologist', 'unmet'),
      criterion('I.A.3', 'At least 3 months of methotrexate or leflunomide', 'unknown'),
    ],
    reasons: [
      { code: 'criteria-unmet', text: 'A criterion is not met', citation: 'TP.PHAR.1 I.A.2' },
      { code: 'criteria-unknown', text: 'A criterion cannot be decided from the chart', citation: 'TP.PHAR.1 I.A.3' },
    ],
  }),
  /** Combination with another biologic: the policy does not authorize it. */
  denied: decision({
    outcome: 'deny',
    criteria: [criterion('G.1', 'Not used together with another biologic DMARD', 'unmet', 'deny'), met[1]!, met[2]!],
    reasons: [{ code: 'not-authorized', text: 'Combination use with a biologic DMARD is not authorized', citation: 'TP.PHAR.1 G.1' }],
  }),
  /** No policy for this payer / drug. */
  noPolicy: decision({
    policy: null,
    indication: null,
    reviewRoute: 'physician-reviewer',
    reasons: [{ code: 'no-policy', text: 'No policy of this payer covers ibuprofen for this plan; the request goes to clinical review' }],
  }),
  /** All met but the policy routes every request to a committee. */
  committee: decision({
    outcome: 'approve',
    reviewRoute: 'committee',
    criteria: [...met, criterion('I.A.3', 'At least 3 months of methotrexate or leflunomide', 'met')],
    reasons: [{ code: 'criteria-met', text: 'All criteria are met' }],
    approvalPeriod: { start: '2026-03-01', end: '2026-08-31' },
  }),
  /** All criteria met but the policy sends the request to review (e.g. off-label route). */
  reviewRequired: decision({
    outcome: 'pend',
    reviewRoute: 'medical-director',
    criteria: [...met],
    reasons: [{ code: 'review-required', text: 'Requests for this indication are reviewed by the medical director', citation: 'TP.PHAR.1 III' }],
  }),
} satisfies Record<string, Decision>;
