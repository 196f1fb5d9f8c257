/**
 * Calendar dates, the one home for them: the payer's "today" and approval periods.
 *
 * A day is an ISO calendar date string (`YYYY-MM-DD`), so days compare as strings. An instant
 * (a `Date`) becomes a day only through `payerToday`, in the payer's time zone
 * (`PAYER_TIME_ZONE`): a request at 23:30 in New York on Dec 31 is Dec 31 for the payer, though
 * it is already Jan 1 in UTC. Each request reads its clock once and derives its day from that one
 * instant, so every part of one answer agrees on the date.
 */
import { TZDate, tzOffset } from '@date-fns/tz';
// One module per function: date-fns' index loads all of them (~50 ms of start-up per thread).
import { addDays } from 'date-fns/addDays';
import { addMonths } from 'date-fns/addMonths';
import { format } from 'date-fns/format';
import { isValid } from 'date-fns/isValid';
import { parse } from 'date-fns/parse';
import { subDays } from 'date-fns/subDays';

export const DEFAULT_PAYER_TIME_ZONE = 'America/New_York';

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const DAY_FORMAT = 'yyyy-MM-dd';

/** Whether the runtime knows this IANA time zone name (e.g. `America/Chicago`). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

// Each evaluation asks for its day and its approval period: ~0.3 ms of time-zone arithmetic through
// Intl, the same answer for every request in a second (every zone's offsets are whole seconds) and
// for every start date of a day. So the last answer per zone, and each period, is kept.
const lastDay = new Map<string, { second: number; day: string }>();
const periods = new Map<string, { start: string; end: string }>();
const MAX_PERIODS = 1_000;

/** The payer's calendar date at `instant`, in `timeZone`. */
export function payerToday(instant: Date, timeZone: string): string {
  const second = Math.floor(instant.getTime() / 1000);
  const last = lastDay.get(timeZone);
  if (last?.second === second) return last.day;
  const day = format(new TZDate(instant.getTime(), timeZone), DAY_FORMAT);
  lastDay.set(timeZone, { second, day });
  return day;
}

/**
 * `instant` plus `days` calendar days in `timeZone`: the same local clock time `days` dates later,
 * so a span that crosses a daylight-saving change is 23 or 25 hours longer or shorter, not 24 × days.
 */
export function addCalendarDays(instant: Date, days: number, timeZone: string): Date {
  return new Date(addDays(new TZDate(instant.getTime(), timeZone), days).getTime());
}

/** The offset of `timeZone` from UTC at `instant`, in hours (New York in winter: -5). */
export function utcOffsetHours(instant: Date, timeZone: string): number {
  return tzOffset(timeZone, instant) / 60;
}

/** Whether `value` is a real calendar date written `YYYY-MM-DD` (not `2026-02-30`). */
export function isCalendarDay(value: unknown): value is string {
  return typeof value === 'string' && DAY.test(value) && isValid(toDate(value));
}

/** A day as a UTC-pinned date, so arithmetic never depends on the process's time zone. */
function toDate(day: string): TZDate {
  return parse(day, DAY_FORMAT, new TZDate(0, 'UTC'));
}

/**
 * The inclusive period of a policy's "Approval duration: N months" (e.g. CP.PHAR.244 I.A "Approval
 * duration: 6 months") that starts on `start`: it ends the day before the same day N months later,
 * and when that month is too short for the day (Aug 31 + 6 months) at the end of that month
 * (Feb 28, or Feb 29 in a leap year), never spilling into the month after.
 */
export function approvalPeriod(start: string, months: number): { start: string; end: string } {
  const key = `${start}|${months}`;
  let period = periods.get(key);
  if (!period) {
    period = computeApprovalPeriod(start, months);
    if (periods.size >= MAX_PERIODS) periods.clear();
    periods.set(key, period);
  }
  return { ...period };
}

function computeApprovalPeriod(start: string, months: number): { start: string; end: string } {
  const from = toDate(start);
  if (!isValid(from)) throw new RangeError(`not a calendar date: ${start}`);
  // date-fns clamps to the last day of a shorter month; a clamped date is already the last day.
  const sameDay = addMonths(from, months);
  const end = sameDay.getDate() === from.getDate() ? subDays(sameDay, 1) : sameDay;
  return { start, end: format(end, DAY_FORMAT) };
}
