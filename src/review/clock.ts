/**
 * The review clock under CMS-0057-F. A decision is due 72 hours after receipt for an expedited
 * request and 7 calendar days after receipt for a standard one (src/pas/lifecycle.ts sets the due
 * time at submit). When the plan needs more information it may extend the timeframe once, by up to
 * 14 calendar days (42 CFR 422.568(b)(1)(i) and 422.572(b)(1) for Medicare Advantage, 438.210(d)
 * for Medicaid managed care): counted from the current due time, never restarting the clock, and
 * not granted twice.
 */
export { decisionDueAt, isExpedited } from '../pas/lifecycle';
import { addCalendarDays, DEFAULT_PAYER_TIME_ZONE } from '../core/dates';

export const EXTENSION_DAYS = 14;

/**
 * The due time after a request for more information: the current due time + 14 calendar days in
 * the payer's time zone, once. Returns null when the timeframe was already extended (the clock stays as it is).
 */
export function extendedDueAt(currentDueAt: string, alreadyExtended: boolean, timeZone: string = DEFAULT_PAYER_TIME_ZONE): string | null {
  if (alreadyExtended) return null;
  return addCalendarDays(new Date(currentDueAt), EXTENSION_DAYS, timeZone).toISOString();
}

export function isOverdue(due: string | null, now: Date): boolean {
  return due !== null && new Date(due).getTime() < now.getTime();
}
