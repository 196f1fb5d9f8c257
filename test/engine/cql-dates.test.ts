/**
 * cql-execution's date operations by calendar arithmetic (src/engine/cql-dates.ts): the very values
 * its luxon paths give (-0 included), on generated values and on the month ends, leap days, offsets
 * and precisions where the two could part; anything else still goes to cql-execution.
 */
import fc from 'fast-check';
import { Date as CqlDate, DateTime } from 'cql-execution';
import { installCqlDates } from '../../src/engine/cql-dates';
import { libraryOf } from '../../src/engine/replace-once';

type Between = (this: CqlDate, other: unknown, unit?: string) => { low: unknown; high: unknown } | null;
type Add = (this: unknown, amount: unknown, unit: string) => unknown;
const prototype = CqlDate.prototype as unknown as { durationBetween: Between };
// cql-execution's own answers (jest shares the library across suites: another may have installed ours).
const luxonPath = libraryOf(prototype.durationBetween);
const luxonParse = libraryOf(DateTime.parse).bind(DateTime) as (text: unknown) => DateTime | null;
const luxonAdd = libraryOf((Object.getPrototypeOf(DateTime.prototype) as { add: Add }).add);
beforeAll(() => installCqlDates());

/** Every own field, in order, with its exact value (-0 and null kept apart from 0 and undefined). */
const fieldsOf = (value: unknown) =>
  value == null ? value : Object.entries(value as object).map(([k, v]) => [k, typeof v === 'number' && Object.is(v, -0) ? '-0' : v === undefined ? 'undefined' : v]);

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

// Strings near what FHIR sends: in and out of range, with and without offsets and milliseconds.
const two = (min: number, max: number) => fc.integer({ min, max }).map((n) => String(n).padStart(2, '0'));
const dateText = fc.tuple(fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')), two(0, 13), two(0, 32)).map((p) => p.join('-'));
const timeText = fc.tuple(two(0, 25), two(0, 61), two(0, 61)).map((p) => p.join(':'));
const millis = fc.oneof(fc.constant(''), fc.integer({ min: 0, max: 999 }).map((n) => `.${String(n).padStart(3, '0')}`), fc.constantFrom('.5', '.12', '.1234'));
const offsetText = fc.oneof(fc.constantFrom('', 'Z', '+00:00', '-00:00', '+05:30', '-04:00', '+14:00', '+15:00', '+23:59', '-12:60', '+05'), fc.tuple(fc.constantFrom('+', '-'), two(0, 16), two(0, 61)).map((p) => p.join('').replace(/(\d\d)(\d\d)$/, '$1:$2')));
const dateTimeText = fc.oneof(
  dateText,
  fc.tuple(dateText, timeText, millis, offsetText).map(([d, t, ms, o]) => `${d}T${t}${ms}${o}`),
  fc.tuple(dateText, two(0, 24), two(0, 60)).map(([d, h, m]) => `${d}T${h}:${m}`),
  fc.constantFrom('2024', '2024-02', '2024-02-29T10', 'not a date', '', '2024-01-01T10:00:00+0500'),
);

describe('DateTime.parse by a plain pattern', () => {
  it('gives cql-execution’s DateTime, or its null, for generated strings', () => {
    fc.assert(
      fc.property(dateTimeText, (text) => {
        expect(fieldsOf(DateTime.parse(text))).toEqual(fieldsOf(luxonParse(text)));
      }),
      { numRuns: 5000 },
    );
  });

  it.each(['2025-02-10T14:30:00-05:00', '2025-02-10T14:30:00.120+05:30', '2025-02-10T14:30:00Z', '2024-02-29', '2025-12-31T23:59:59-00:00'])('parses %s as cql-execution does', (text) => {
    const ours = DateTime.parse(text);
    expect(ours).not.toBeNull();
    expect(fieldsOf(ours)).toEqual(fieldsOf(luxonParse(text)));
  });
});

// DateTimes at every precision, with offsets real and odd, and Dates; amounts in each unit.
const precisions = ['year', 'month', 'day', 'hour', 'minute', 'second', 'millisecond'];
const dateTimeValue = fc
  .tuple(
    fc.integer({ min: 1, max: 9999 }),
    fc.integer({ min: 1, max: 12 }),
    fc.integer({ min: 1, max: 31 }),
    fc.integer({ min: 0, max: 23 }),
    fc.integer({ min: 0, max: 59 }),
    fc.integer({ min: 0, max: 59 }),
    fc.integer({ min: 0, max: 999 }),
    fc.constantFrom(0, -5, 5.5, -3.75, 14, -0, 1 / 3, null),
    fc.integer({ min: 0, max: 6 }),
  )
  .map(([y, mo, d, h, mi, s, ms, tz, p]) => {
    const fields = [y, mo, Math.min(d, lastDay(y, mo)), h, mi, s, ms].map((v, i) => (i <= p ? v : null));
    return new DateTime(...(fields as [number]), tz);
  });
const dateValue = fc
  .tuple(fc.integer({ min: 1, max: 9999 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 31 }), fc.integer({ min: 0, max: 2 }))
  .map(([y, mo, d, p]) => new CqlDate(y, p >= 1 ? mo : null, p >= 2 ? Math.min(d, lastDay(y, mo)) : null));
const amount = fc.oneof(fc.integer({ min: -400, max: 400 }), fc.integer({ min: -5_000_000, max: 5_000_000 }), fc.constantFrom(0, 1.5, -0.25));

describe('Date and DateTime add by calendar arithmetic', () => {
  it('gives cql-execution’s sum for generated values, units and amounts', () => {
    fc.assert(
      fc.property(fc.oneof(dateTimeValue, dateValue), amount, fc.constantFrom(...precisions, 'week'), (value, n, unit) => {
        const ours = (value as unknown as { add: Add }).add(n, unit);
        expect(fieldsOf(ours)).toEqual(fieldsOf(luxonAdd.call(value, n, unit)));
      }),
      { numRuns: 5000 },
    );
  });

  it.each([
    ['2024-01-31', 1, 'month', '2024-02-29'],
    ['2023-01-31', 1, 'month', '2023-02-28'],
    ['2024-02-29', 1, 'year', '2025-02-28'],
    ['2024-12-31', 1, 'day', '2025-01-01'],
    ['2025-03-01', -1, 'day', '2025-02-28'],
  ])('%s plus %d %s is %s', (from, n, unit, expected) => {
    const date = CqlDate.parse(from) as CqlDate;
    const sum = (date as unknown as { add: Add }).add(n, unit);
    expect(String(sum)).toBe(expected);
    expect(fieldsOf(sum)).toEqual(fieldsOf(luxonAdd.call(date, n, unit)));
  });

  it('moves a DateTime across a day in its own offset', () => {
    const value = DateTime.parse('2025-02-10T23:30:00-05:00') as DateTime;
    const sum = (value as unknown as { add: Add }).add(90, 'minute');
    expect(String(sum)).toBe('2025-02-11T01:00:00-05:00');
    expect(fieldsOf(sum)).toEqual(fieldsOf(luxonAdd.call(value, 90, 'minute')));
  });
});
