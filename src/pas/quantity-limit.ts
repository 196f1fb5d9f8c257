/**
 * What a certified PAS item is cut to when it asks for more than the policy's count limit
 * (catalog `quantityLimit`): the allowed quantity, answered as X12 306 `A6` (modified) with the
 * authorized line in `ClaimResponse.addItem` (PAS 2.2.1 profile-claimresponse: addItem and its
 * reviewAction are must-support; issue 12 "Quantity-limited approvals").
 *
 * The requested count is `Claim.item.quantity` in the limit's unit (singular or plural, any case);
 * a quantity in another unit cannot be compared and is left as asked, with a warning. The days a
 * per-day limit multiplies are those of the requested `servicedPeriod` within the approval period
 * (the approval period alone when the item names no period or they do not overlap).
 */
import type { OperationOutcomeIssue, Quantity } from 'fhir/r4';
import type { QuantityLimit } from '../catalog/types';
import { warning } from '../fhir/outcomes';
import type { PasItem } from './context';

export interface QuantityAdjustment {
  requested: Quantity;
  allowed: Quantity;
  /** E.g. `CP.PHAR.244 I.A.8.b`. */
  citation: string;
  text: string;
}

const DAY_MS = 86_400_000;

/** Inclusive day count of two ISO dates (YYYY-MM-DD...), or undefined when either is missing or invalid. */
function inclusiveDays(start: string | undefined, end: string | undefined): number | undefined {
  if (!start || !end) return undefined;
  const from = Date.parse(start.slice(0, 10));
  const to = Date.parse(end.slice(0, 10));
  if (Number.isNaN(from) || Number.isNaN(to) || to < from) return undefined;
  return Math.round((to - from) / DAY_MS) + 1;
}

function sameUnit(quantity: Quantity, unit: string): boolean {
  const given = (quantity.unit ?? quantity.code)?.trim().toLowerCase();
  if (!given) return true; // a bare count is a count of the billed unit
  const wanted = unit.toLowerCase();
  return given === wanted || given === `${wanted}s` || given === `${wanted}es`;
}

/**
 * The adjustment a certified item needs under `limit`, a warning when the request cannot be
 * compared, or neither (within the limit, no quantity asked, no limit).
 */
export function quantityAdjustment(
  item: PasItem,
  limit: QuantityLimit | undefined,
  citationPrefix: string,
  approvalPeriod: { start: string; end: string },
): { adjustment?: QuantityAdjustment; warning?: OperationOutcomeIssue } {
  const requested = item.item.quantity;
  if (!limit || typeof requested?.value !== 'number') return {};
  const citation = `${citationPrefix} ${limit.section}`;
  const at = `Bundle.entry[0].resource.item[${item.index}].quantity`;
  if (!sameUnit(requested, limit.unit)) {
    return {
      warning: warning(
        'not-supported',
        `Claim.item.quantity is in "${requested.unit ?? requested.code ?? ''}", not ${limit.unit}s: it was not compared with the limit of ${citation} (${limit.text}).`,
        at,
      ),
    };
  }
  // The requested days the authorization covers: the overlap of servicedPeriod and the approval period.
  const asked = item.item.servicedPeriod;
  const from = [asked?.start?.slice(0, 10), approvalPeriod.start.slice(0, 10)].filter((d): d is string => !!d).sort().at(-1);
  const to = [asked?.end?.slice(0, 10), approvalPeriod.end.slice(0, 10)].filter((d): d is string => !!d).sort()[0];
  const days = inclusiveDays(from, to) ?? inclusiveDays(approvalPeriod.start, approvalPeriod.end) ?? 0;
  const caps = [
    ...(limit.perDay !== undefined ? [Math.floor(limit.perDay * days)] : []),
    ...(limit.perAuthorization !== undefined ? [limit.perAuthorization] : []),
  ];
  const allowed = Math.min(...caps);
  if (requested.value <= allowed || allowed < 1) return {};
  const { value: _asked, ...rest } = requested;
  return { adjustment: { requested, allowed: { ...rest, value: allowed }, citation, text: limit.text } };
}
