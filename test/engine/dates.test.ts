/**
 * Calendar dates (src/core/dates.ts): approval periods by calendar months with end-of-month
 * clamping, the payer's "today" in PAYER_TIME_ZONE, and one date for a decision, its CQL and the
 * validity of an authorization on file.
 */
import { DateTime } from 'cql-execution';
import { isValidOn } from '../../src/authorization';
import { loadConfig } from '../../src/config';
import { approvalPeriod, isCalendarDay, payerToday, utcOffsetHours } from '../../src/core/dates';
import { openSession } from '../../src/engine/evaluate';
import type { Authorization } from '../../src/store';
import { getEngine, load, requestFor } from '../cp-phar-244/helpers';

const NEW_YORK = 'America/New_York';
/** 23:30 in New York on Dec 31, 2026 (EST, UTC-5): already 04:30 on Jan 1 in UTC. */
const NEW_YEARS_EVE_LATE = new Date('2027-01-01T04:30:00Z');

describe('approvalPeriod: "Approval duration: N months", inclusive', () => {
  test.each([
    // The day before the same day N months later (the rule the server always used).
    ['2026-12-06', 6, '2027-06-05'],
    ['2026-01-15', 6, '2026-07-14'],
    ['2026-03-01', 1, '2026-03-31'],
    ['2026-01-01', 12, '2026-12-31'],
    ['2026-11-20', 3, '2027-02-19'],
    // No such day N months later: the period ends with that shorter month, not in the next one.
    ['2026-08-31', 6, '2027-02-28'],
    ['2027-08-31', 6, '2028-02-29'],
    ['2027-01-31', 1, '2027-02-28'],
    ['2028-01-31', 1, '2028-02-29'],
    ['2026-08-30', 6, '2027-02-28'],
    ['2027-08-30', 6, '2028-02-29'],
    ['2026-03-31', 1, '2026-04-30'],
    ['2026-10-31', 6, '2027-04-30'],
    // The day exists: the day before it, as for any other start.
    ['2027-08-29', 6, '2028-02-28'],
    ['2026-08-28', 6, '2027-02-27'],
    ['2028-02-29', 12, '2029-02-28'],
  ])('%s + %i months ends %s', (start, months, end) => {
    expect(approvalPeriod(start, months)).toEqual({ start, end });
  });

  test('a start that is not a calendar date is refused', () => {
    expect(() => approvalPeriod('2026-02-30', 6)).toThrow(RangeError);
    expect(() => approvalPeriod('2026-02-30', 6)).toThrow(RangeError);
  });

  test('asked again, the same period; a caller that changes its copy does not change the next', () => {
    const first = approvalPeriod('2026-08-31', 6);
    first.end = 'changed';
    expect(approvalPeriod('2026-08-31', 6)).toEqual({ start: '2026-08-31', end: '2027-02-28' });
    expect(approvalPeriod('2026-08-31', 3)).toEqual({ start: '2026-08-31', end: '2026-11-30' });
  });
});

describe("the payer's today", () => {
  test.each([
    [NEW_YEARS_EVE_LATE, NEW_YORK, '2026-12-31'],
    [NEW_YEARS_EVE_LATE, 'UTC', '2027-01-01'],
    [new Date('2027-01-01T05:00:00Z'), NEW_YORK, '2027-01-01'],
    [new Date('2027-01-01T04:59:59Z'), NEW_YORK, '2026-12-31'],
    // Summer time (EDT, UTC-4).
    [new Date('2026-07-01T03:59:59Z'), NEW_YORK, '2026-06-30'],
    [new Date('2026-07-01T04:00:00Z'), NEW_YORK, '2026-07-01'],
    [new Date('2026-07-01T06:30:00Z'), 'America/Los_Angeles', '2026-06-30'],
    [new Date('2026-07-01T06:30:00Z'), 'Asia/Kolkata', '2026-07-01'],
  ])('%s in %s is %s', (instant, zone, day) => {
    expect(payerToday(instant, zone)).toBe(day);
  });

  test('one millisecond across midnight is the next day, in each zone, however the questions alternate', () => {
    const before = new Date('2027-01-01T04:59:59.999Z');
    const after = new Date('2027-01-01T05:00:00.000Z');
    for (let round = 0; round < 2; round += 1) {
      expect(payerToday(before, NEW_YORK)).toBe('2026-12-31');
      expect(payerToday(before, 'UTC')).toBe('2027-01-01');
      expect(payerToday(after, NEW_YORK)).toBe('2027-01-01');
      expect(payerToday(before, NEW_YORK)).toBe('2026-12-31');
    }
  });

  test('UTC offsets follow the zone and its summer time', () => {
    expect(utcOffsetHours(NEW_YEARS_EVE_LATE, NEW_YORK)).toBe(-5);
    expect(utcOffsetHours(new Date('2026-07-01T12:00:00Z'), NEW_YORK)).toBe(-4);
    expect(utcOffsetHours(NEW_YEARS_EVE_LATE, 'Asia/Kolkata')).toBe(5.5);
  });

  test.each([
    ['2028-02-29', true],
    ['2027-02-29', false],
    ['2026-02-30', false],
    ['2026-13-01', false],
    ['2026-1-01', false],
    [20260101, false],
  ])('%s is a calendar day: %s', (value, expected) => {
    expect(isCalendarDay(value)).toBe(expected);
  });

  test('PAYER_TIME_ZONE defaults to New York; an unknown zone stops the start', () => {
    expect(loadConfig({}).payerTimeZone).toBe(NEW_YORK);
    expect(loadConfig({ PAYER_TIME_ZONE: 'America/Chicago' }).payerTimeZone).toBe('America/Chicago');
    expect(() => loadConfig({ PAYER_TIME_ZONE: 'Mars/Olympus_Mons' })).toThrow(/PAYER_TIME_ZONE/);
  });
});

describe('one date per request: the decision, its CQL and the authorization on file agree', () => {
  test('a request at 23:30 New York time on Dec 31 (04:30 UTC on Jan 1) is approved from Dec 31', async () => {
    const engine = getEngine();
    expect(engine.timeZone).toBe(NEW_YORK);
    const decision = await engine.evaluate({ ...requestFor(load('ra-approvable')), evaluationDate: NEW_YEARS_EVE_LATE });
    expect(decision.outcome).toBe('approve');
    expect(decision.approvalPeriod).toEqual({ start: '2026-12-31', end: '2027-06-30' });
    expect(decision.evaluatedAt).toBe('2027-01-01T04:30:00.000Z');
  });

  test("CQL's Now() is the request's instant at the payer's offset, so its Today() is the payer's date", async () => {
    const engine = getEngine();
    const request = requestFor(load('ra-approvable'));
    const session = openSession(
      engine.libraries,
      'CPPHAR244Kineret',
      request.bundle,
      { lineOfBusiness: [], diagnoses: [], priorAuthorizations: [], evaluationDate: NEW_YEARS_EVE_LATE, timeZone: engine.timeZone },
      engine.codeService,
    );
    const now = (await session.run(['Now'])).get('Now');
    expect(now && 'value' in now).toBe(true);
    const value = (now as { value: DateTime }).value;
    expect(value).toBeInstanceOf(DateTime);
    expect(value.timezoneOffset).toBe(-5);
    expect(value.getDate().toString()).toBe('2026-12-31');
    expect(value.toJSDate().toISOString()).toBe('2027-01-01T04:30:00.000Z');
  });

  const onFile: Authorization = {
    number: 'PA-TEST',
    status: 'approved',
    start: '2026-08-31',
    end: '2027-02-28',
  } as Authorization;

  test.each([
    // 23:30 New York on Feb 28 (04:30 UTC on Mar 1): still the last day of the period.
    [new Date('2027-03-01T04:30:00Z'), true],
    [new Date('2027-03-01T05:00:00Z'), false],
    // 00:30 New York on Aug 31 is the first day; 23:30 on Aug 30 (03:30 UTC on Aug 31) is not yet.
    [new Date('2026-08-31T04:30:00Z'), true],
    [new Date('2026-08-31T03:30:00Z'), false],
  ])('an authorization Aug 31 – Feb 28 at %s is valid: %s', (instant, valid) => {
    expect(isValidOn(onFile, payerToday(instant, NEW_YORK))).toBe(valid);
  });

  test('a cancelled authorization is never valid, even inside its period', () => {
    expect(isValidOn({ ...onFile, status: 'cancelled' } as Authorization, '2026-12-01')).toBe(false);
  });
});
