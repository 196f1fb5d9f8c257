/**
 * The authorization a decision grants, built one way for CRD (granted on the spot at order-sign),
 * PAS (`$submit` approved) and clinical review (a reviewer approved). The caller's store call
 * (`saveCoverageAssertion`, `saveClaimSubmission`, `saveClaimResponseVersion`) inserts it in the same
 * transaction as the decision and the answer that quotes its number: `authorizations.number` is the
 * primary key (a collision draws a new number), and a concurrent duplicate `$submit` hits
 * `claims_submission_key_idx` or a stale review hits the `(claim_id, version)` key, which rolls the
 * grant back with the rest.
 */
import type { Coding } from 'fhir/r4';
import type { AuthorizationBasis, NewAuthorization } from '../store';
import type { OrderKeys } from './on-file';

/** What the store files for a grant (its `decisionId` is the decision saved with it). */
export type AuthorizationGrant = Omit<NewAuthorization, 'decisionId'>;

/** The drug an authorization is for: the policy's drug value set, else the ordered product's first code. */
export function drugKeyOf(policy: { drug: { valueSet: string } } | undefined, codes: readonly Coding[]): string {
  if (policy) return policy.drug.valueSet;
  const code = codes[0];
  return code ? `${code.system ?? ''}|${code.code ?? ''}` : 'unknown-drug';
}

export interface GrantInput {
  policyId: string | null;
  /** `rule` when a policy rule approved without review (engine `approvalBasis`), `review` after a reviewer. */
  basis: AuthorizationBasis;
  /** Inclusive payer dates (YYYY-MM-DD). */
  period: { start: string; end: string };
}

/** An approved authorization for these keys and period. */
export function grantAuthorization(keys: OrderKeys, grant: GrantInput): AuthorizationGrant {
  return {
    memberKey: keys.memberKey,
    policyId: grant.policyId,
    drugKey: keys.drugKey,
    orderKey: keys.orderKey,
    status: 'approved',
    basis: grant.basis,
    start: grant.period.start,
    end: grant.period.end,
  };
}
