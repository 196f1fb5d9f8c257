/**
 * Who may decide what. The catalog names a review route per policy, indication or phase
 * (src/catalog/types.ts `ReviewRoute`); a reviewer decides only requests routed to their level or
 * below: a physician reviewer may not approve or deny what the policy sends to the Medical
 * Director, and only the committee decides a committee drug (e.g. Carvykti, CP.PHAR.533).
 * Asking for more information and assigning are open to every reviewer.
 */
import type { ReviewRoute } from '../catalog/types';

export type ReviewerRole = Exclude<ReviewRoute, 'auto'>;

export const REVIEWER_ROLES: readonly ReviewerRole[] = ['physician-reviewer', 'medical-director', 'committee'];

const RANK: Record<ReviewerRole, number> = { 'physician-reviewer': 1, 'medical-director': 2, committee: 3 };

export const ROLE_NAMES: Record<ReviewerRole, string> = {
  'physician-reviewer': 'a physician reviewer',
  'medical-director': 'the Medical Director',
  committee: 'the pharmacy and therapeutics committee',
};

export function isReviewerRole(value: unknown): value is ReviewerRole {
  return typeof value === 'string' && (REVIEWER_ROLES as readonly string[]).includes(value);
}

/** The reviewer a pended request waits for: `auto` (rules failed) means a physician reviewer. */
export function reviewerFor(route: string | null | undefined): ReviewerRole {
  return isReviewerRole(route) ? route : 'physician-reviewer';
}

/** True when `role` may make the final decision on a request routed to `route`. */
export function mayDecide(role: ReviewerRole, route: string | null | undefined): boolean {
  return RANK[role] >= RANK[reviewerFor(route)];
}

/** The most senior of several roles (a user the provider lists in two groups acts at the higher). */
export function highestRole(roles: readonly ReviewerRole[]): ReviewerRole | undefined {
  return [...roles].sort((a, b) => RANK[b] - RANK[a])[0];
}
