/**
 * `years/months/days between` two full Dates, by calendar arithmetic instead of luxon (issue 11).
 *
 * cql-execution's Date.durationBetween builds four luxon DateTimes, takes two luxon diffs and
 * floors them: ~60 µs a call, and an approvable evaluation makes a dozen of them ("Span Months",
 * "Covered Days", Collapse of date intervals, AgeInYearsAt). Between two Dates with year, month and
 * day, the answer is an exact count that needs no time zone: the whole units from the earlier date
 * to the later one, where adding months or years to a day clamps it to the month's last day, as
 * luxon does (Jan 31 + 1 month = Feb 28). Negative when `other` is earlier, -0 included, as
 * cql-execution's truncation of luxon's negated fraction gives. Anything else (partial dates,
 * DateTimes, other units) goes to cql-execution. test/engine/date-durations.test.ts compares both
 * on generated dates.
 */
import { Date as CqlDate } from 'cql-execution';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Uncertainty } = require('cql-execution/lib/datatypes/uncertainty') as { Uncertainty: new (low: number, high: number) => unknown };

// A registered symbol: a second copy of this module (a test runner's registry) does not wrap the wrapper.
const INSTALLED = Symbol.for('pa.dateDurationsInstalled');

interface FullDate {
  year: number;
  month: number;
  day: number;
}

type DurationBetween = (this: CqlDate, other: unknown, unit?: string) => unknown;

const isFull = (d: { year?: number | null; month?: number | null; day?: number | null }): d is FullDate =>
  d.year != null && d.month != null && d.day != null;

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeap = (year: number): boolean => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
const daysInMonth = (year: number, month: number): number => (month === 2 && isLeap(year) ? 29 : MONTH_DAYS[month - 1]!);

const compare = (a: FullDate, b: FullDate): number => a.year - b.year || a.month - b.month || a.day - b.day;

/** `from` plus `months`, the day clamped to the target month's length. */
function plusMonths(from: FullDate, months: number): FullDate {
  const index = from.year * 12 + (from.month - 1) + months;
  const year = Math.floor(index / 12);
  const month = index - year * 12 + 1;
  return { year, month, day: Math.min(from.day, daysInMonth(year, month)) };
}

/** Whole months (or years, `per` 12) from `earlier` to `later`, `earlier` ≤ `later`. */
function wholeMonths(earlier: FullDate, later: FullDate, per: number): number {
  const months = (later.year - earlier.year) * 12 + (later.month - earlier.month);
  let whole = Math.floor(months / per);
  while (whole > 0 && compare(plusMonths(earlier, whole * per), later) > 0) whole -= 1;
  return whole;
}

const epochDay = (d: FullDate): number => {
  const date = new globalThis.Date(0);
  date.setUTCFullYear(d.year, d.month - 1, d.day);
  return Math.round(date.getTime() / 86_400_000);
};

/** The whole `unit`s from `a` to `b`, or undefined where cql-execution must answer. */
function wholeBetween(a: FullDate, b: FullDate, unit: string | undefined): number | undefined {
  const order = compare(a, b);
  const [earlier, later] = order <= 0 ? [a, b] : [b, a];
  let whole: number;
  if (unit === 'day' || unit === 'days') whole = epochDay(later) - epochDay(earlier);
  else if (unit === 'month' || unit === 'months') whole = wholeMonths(earlier, later, 1);
  else if (unit === 'year' || unit === 'years') whole = wholeMonths(earlier, later, 12);
  else return undefined;
  return order <= 0 ? whole : -whole;
}

/** Installs the calendar path on cql-execution's Date.durationBetween. Idempotent. */
export function installDateDurations(): void {
  const prototype = CqlDate.prototype as unknown as { durationBetween: DurationBetween } & Record<symbol, unknown>;
  if (prototype[INSTALLED]) return;
  const original = prototype.durationBetween;
  prototype.durationBetween = function (this: CqlDate, other: unknown, unit?: string): unknown {
    if (other instanceof CqlDate && isFull(this) && isFull(other)) {
      const whole = wholeBetween(this, other, unit);
      if (whole !== undefined) return new Uncertainty(whole, whole);
    }
    return original.call(this, other, unit);
  };
  Object.defineProperty(prototype, INSTALLED, { value: true, enumerable: false });
}
