/**
 * Which authorization on file answers an order (CRD order-sign, PAS $submit), and revocation when a
 * request is cancelled. Pure rules over the store's rows; decide.ts reads them and applies these.
 */
import type { Decision } from '../engine/decision';
import type { Authorization, Store } from '../store';

/** What identifies "the same authorization" across CRD, PAS and review. */
export interface OrderKeys {
  /** `memberKeyOf(payer, coverage, patient)`. */
  memberKey: string;
  /** The policy's drug value set (or the product code when no policy applies). */
  drugKey: string;
  /** `orderKeyOf(order)`, when the order has a business identifier. */
  orderKey: string | null;
}

/** Approved, and `today` (YYYY-MM-DD, the payer's date) inside its period. Cancelled ones never are. */
export function isValidOn(authorization: Authorization, today: string): boolean {
  return (
    authorization.status === 'approved' &&
    authorization.start !== null &&
    authorization.end !== null &&
    authorization.start <= today &&
    today <= authorization.end
  );
}

/**
 * The authorization already valid for this member and drug: the one issued for this very order
 * first, else any for the same drug. Undefined when none is valid today.
 */
export function authorizationOnFile(authorizations: Authorization[], keys: OrderKeys, today: string): Authorization | undefined {
  const valid = authorizations.filter((a) => a.memberKey === keys.memberKey && isValidOn(a, today));
  return (
    (keys.orderKey !== null ? valid.find((a) => a.orderKey === keys.orderKey) : undefined) ??
    valid.find((a) => a.drugKey === keys.drugKey)
  );
}

/** Reads the member's authorizations and picks the one on file for the order. */
export async function findAuthorizationOnFile(store: Store, keys: OrderKeys, today: string): Promise<Authorization | undefined> {
  const authorizations = await store.listAuthorizations({ memberKey: keys.memberKey, status: ['approved'] });
  return authorizationOnFile(authorizations, keys, today);
}

/**
 * The answer when an authorization on file covers the order: approved for its period, the fresh
 * evaluation kept as the trace. A fresh `deny` (e.g. a combination the policy excludes) still wins:
 * the caller does not use this then.
 */
export function answeredByAuthorization(decision: Decision, authorization: Authorization): Decision {
  return {
    ...decision,
    outcome: 'approve',
    approvalPeriod: { start: authorization.start as string, end: authorization.end as string },
    reasons: [
      {
        code: 'authorization-on-file',
        text: `Authorization ${authorization.number}, granted ${authorization.createdAt.slice(0, 10)}, is valid for this drug until ${authorization.end}.`,
      },
      ...decision.reasons.filter((r) => r.code !== 'criteria-unknown' && r.code !== 'criteria-unmet' && r.code !== 'review-required'),
    ],
  };
}

/** Whether a decision is the answer of an authorization on file (not a fresh approval). */
export function isAnsweredByAuthorization(decision: Decision): boolean {
  return decision.reasons.some((r) => r.code === 'authorization-on-file');
}

/** Cancels an authorization (the provider cancelled the request); CRD and PAS stop honouring it. */
export async function revokeAuthorization(store: Store, number: string): Promise<Authorization | null> {
  return store.updateAuthorizationStatus(number, 'cancelled');
}
