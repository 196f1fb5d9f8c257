/** Shared builders for the PAS tests: the Kineret request fixture and engine decisions. */
import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, BundleEntry, Claim, FhirResource, OperationOutcome } from 'fhir/r4';
import { REPO_ROOT } from '../../src/config';
import type { CriterionResult, Decision } from '../../src/engine/decision';
import { isOperationOutcomeError } from '../../src/fhir/outcomes';

const BASE = path.join(REPO_ROOT, 'fixtures', 'pas', 'kineret-request-base.json');

/** A fresh copy of the Kineret PAS request each call, so tests can mutate it. */
export function kineretRequest(): Bundle {
  return JSON.parse(fs.readFileSync(BASE, 'utf8')) as Bundle;
}

export function claimOf(bundle: Bundle): Claim {
  return bundle.entry?.[0]?.resource as Claim;
}

export function entryOf<T extends FhirResource['resourceType']>(
  bundle: Bundle,
  type: T,
): BundleEntry & { resource: Extract<FhirResource, { resourceType: T }> } {
  const entry = bundle.entry?.find((e) => e.resource?.resourceType === type);
  if (!entry) throw new Error(`no ${type} in bundle`);
  return entry as BundleEntry & { resource: Extract<FhirResource, { resourceType: T }> };
}

/** Runs `fn`, expects an OperationOutcomeError, returns its status and OperationOutcome. */
export function outcomeOf(fn: () => unknown): { status: number; outcome: OperationOutcome } {
  try {
    fn();
  } catch (error) {
    if (isOperationOutcomeError(error)) return { status: error.status, outcome: error.outcome };
    throw error;
  }
  throw new Error('expected an OperationOutcomeError, nothing was thrown');
}

const POLICY = { id: 'cp-phar-244', title: 'Anakinra (Kineret) — Centene Medicaid clinical policy', citationPrefix: 'CP.PHAR.244', version: '2024-02' };
const RA = { id: 'RA', title: 'Rheumatoid arthritis' };

export function criterion(id: string, status: CriterionResult['status'], onUnmet: 'pend' | 'deny' = 'pend'): CriterionResult {
  return {
    id,
    citation: `CP.PHAR.244 ${id}`,
    text: `Criterion ${id} text.`,
    status,
    evidence: status === 'met' ? [`Condition/cond-ra-1`] : [],
    onUnmet,
  };
}

function base(overrides: Partial<Decision>): Decision {
  return {
    policy: POLICY,
    indication: RA,
    phase: 'initial',
    outcome: 'pend',
    reviewRoute: 'auto',
    criteria: [],
    reasons: [],
    warnings: [],
    evaluatedAt: '2026-11-23T10:00:00.000Z',
    ...overrides,
  };
}

export const decisions = {
  approve: (): Decision =>
    base({
      outcome: 'approve',
      criteria: [criterion('I.A.1', 'met'), criterion('I.A.2', 'met'), criterion('I.A.7', 'met', 'deny')],
      reasons: [{ code: 'criteria-met', text: 'All criteria of CP.PHAR.244 I.A are met.' }],
      approvalPeriod: { start: '2026-11-23', end: '2027-05-22' },
    }),
  pendUnknown: (): Decision =>
    base({
      outcome: 'pend',
      reviewRoute: 'physician-reviewer',
      criteria: [criterion('I.A.1', 'met'), criterion('I.A.4', 'unknown'), criterion('I.A.6', 'unknown'), criterion('I.A.8', 'unmet')],
      reasons: [{ code: 'criteria-unknown', text: 'Two criteria could not be shown from the request.' }],
    }),
  pendUnmet: (): Decision =>
    base({
      outcome: 'pend',
      reviewRoute: 'physician-reviewer',
      criteria: [criterion('I.A.1', 'met'), criterion('I.A.3', 'unmet')],
      reasons: [{ code: 'criteria-unmet', text: 'One criterion is not met.' }],
    }),
  deny: (): Decision =>
    base({
      outcome: 'deny',
      criteria: [criterion('I.A.1', 'met'), criterion('I.A.7', 'unmet', 'deny')],
      reasons: [
        {
          code: 'not-authorized',
          text: 'Combination use with a biologic DMARD or JAK inhibitor is not authorized.',
          citation: 'CP.PHAR.244 III.B',
        },
      ],
    }),
  noPolicy: (): Decision =>
    base({
      policy: null,
      indication: null,
      outcome: 'pend',
      reviewRoute: 'physician-reviewer',
      reasons: [{ code: 'no-policy', text: 'No policy in the catalog matches payer 60001, line of business 2 and product J3590.' }],
    }),
};
