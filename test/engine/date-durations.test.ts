/**
 * `years/months/days between` two full Dates by calendar arithmetic (src/engine/date-durations.ts):
 * the very values cql-execution's luxon path gives (-0 included), on generated dates and on the
 * month ends, leap days and order that luxon clamps; anything else still goes to cql-execution.
 */
import fc from 'fast-check';
import { Date as CqlDate, DateTime } from 'cql-execution';
import { installDateDurations } from '../../src/engine/date-durations';

type Between = (this: CqlDate, other: unknown, unit?: string) => { low: unknown; high: unknown } | null;
const prototype = CqlDate.prototype as unknown as { durationBetween: Between };
// Taken before the calendar path is installed: cql-execution's own answer.
const luxonPath = prototype.durationBetween;
beforeAll(() => installDateDurations());

const both = (a: CqlDate, b: unknown, unit?: string) => {
  const ours = a.durationBetween(b, unit) as { low: unknown; high: unknown } | null;
  const theirs = luxonPath.call(a, b, unit);
  return { ours: ours && [ours.low, ours.high], theirs: theirs && [theirs.low, theirs.high] };
};
const UNITS = ['day', 'month', 'year'];

const leap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const lastDay = (y: number, m: number) => (m === 2 ? (leap(y) ? 29 : 28) : [4, 6, 9, 11].includes(m) ? 30 : 31);
const dateOf = (years: fc.Arbitrary<number>, days: fc.Arbitrary<number>) =>
  fc.tuple(years, fc.integer({ min: 1, max: 12 }), days).map(([y, m, d]) => new CqlDate(y, m, Math.min(d, lastDay(y, m))));
// Any dates; and dates near one another and near month ends, where clamping decides the answer.
const anyDate = dateOf(fc.integer({ min: 1, max: 9999 }), fc.integer({ min: 1, max: 31 }));
const nearDate = dateOf(fc.integer({ min: 1995, max: 2030 }), fc.constantFrom(1, 15, 27, 28, 29, 30, 31));

describe('Date durationBetween by calendar arithmetic', () => {
  it('gives cql-execution’s values on generated dates, either order, in days, months and years', () => {
    fc.assert(
      fc.property(fc.oneof(anyDate, nearDate), fc.oneof(anyDate, nearDate), fc.constantFrom(...UNITS), (a, b, unit) => {
        const { ours, theirs } = both(a, b, unit);
        expect(ours).toHaveLength(2);
        expect(Object.is(ours![0], theirs![0]) && Object.is(ours![1], theirs![1])).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it.each([
    ['2023-01-31', '2023-02-28', 'month', 1],
    ['2023-01-31', '2023-02-27', 'month', 0],
    ['2024-01-31', '2024-02-29', 'month', 1],
    ['2023-03-31', '2023-04-30', 'month', 1],
    ['2024-02-29', '2025-02-28', 'year', 1],
    ['2024-02-29', '2025-02-27', 'year', 0],
    ['2023-03-15', '2023-03-10', 'month', -0],
    ['2023-03-10', '2023-03-10', 'month', 0],
    ['2025-02-28', '2024-02-29', 'year', -1],
    ['2024-12-31', '2025-03-01', 'day', 60],
  ])('%s to %s in %ss is %d, as luxon clamps it', (from, to, unit, expected) => {
    const [a, b] = [CqlDate.parse(from) as CqlDate, CqlDate.parse(to) as CqlDate];
    const { ours, theirs } = both(a, b, unit);
    expect(Object.is(ours![0], expected)).toBe(true);
    expect(ours).toEqual(theirs);
  });

  it('leaves partial dates, DateTimes and other units to cql-execution', () => {
    const partial = new CqlDate(2024, 3, null);
    const full = new CqlDate(2024, 1, 31);
    const dateTime = new DateTime(2024, 5, 1, 10, 0, 0, 0, 0);
    for (const [a, b, unit] of [
      [partial, full, 'month'],
      [full, partial, 'day'],
      [full, dateTime, 'day'],
      [full, new CqlDate(2024, 3, 1), 'week'],
    ] as const) {
      const { ours, theirs } = both(a, b, unit);
      expect(ours).toEqual(theirs);
    }
    // An uncertain answer keeps its range.
    expect(both(partial, full, 'day').ours).toEqual([-60, -30]);
  });
});
