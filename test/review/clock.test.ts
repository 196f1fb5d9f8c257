/** CMS-0057-F clock (src/pas/lifecycle.ts, src/review/clock.ts) and review route rules: pure functions, table-driven. */
import type { Claim } from 'fhir/r4';
import { decisionDueAt, extendedDueAt, isExpedited, isOverdue } from '../../src/review/clock';
import { PAS_EXT } from '../../src/pas/codes';
import { mayDecide, reviewerFor } from '../../src/review/roles';
import { claimOf, kineretRequest } from '../pas/helpers';

const level = (code: string) => ({ url: PAS_EXT.levelOfServiceCode, valueCodeableConcept: { coding: [{ system: 'https://codesystem.x12.org/005010/1338', code }] } });
const priority = (code: string) => ({ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/processpriority', code }] });

function claim(change: (c: Claim) => void): Claim {
  const c = claimOf(kineretRequest());
  change(c);
  return c;
}

describe('expedited or standard', () => {
  test.each<[string, (c: Claim) => void, boolean]>([
    ['the fixture as sent (priority normal)', () => undefined, false],
    ['Claim.priority stat', (c) => void (c.priority = priority('stat')), true],
    ['Claim.priority deferred', (c) => void (c.priority = priority('deferred')), false],
    ['levelOfServiceCode U (Urgent) on the Claim', (c) => void (c.extension = [level('U')]), true],
    ['levelOfServiceCode 03 (Emergency) on the Claim', (c) => void (c.extension = [level('03')]), true],
    ['levelOfServiceCode E (Elective)', (c) => void (c.extension = [level('E')]), false],
    ['levelOfServiceCode U on an item', (c) => void c.item?.[0]?.extension?.push(level('U')), true],
  ])('%s: expedited %p', (_name, change, expedited) => {
    expect(isExpedited(claim(change))).toBe(expedited);
  });
});

describe('due time', () => {
  test.each([
    [false, '2026-11-20T14:00:00.000Z', '2026-11-27T14:00:00.000Z'],
    [true, '2026-11-20T14:00:00.000Z', '2026-11-23T14:00:00.000Z'],
    // Calendar days, not business days: a Friday receipt is due the next Friday.
    [false, '2026-11-27T23:30:00.000Z', '2026-12-04T23:30:00.000Z'],
  ])('expedited=%s received %s is due %s', (expedited, received, due) => {
    expect(decisionDueAt(new Date(received), expedited)).toBe(due);
  });

  test('a request for information extends the clock once, by 14 calendar days from the current due time', () => {
    expect(extendedDueAt('2026-11-27T14:00:00.000Z', false)).toBe('2026-12-11T14:00:00.000Z');
    expect(extendedDueAt('2026-12-11T14:00:00.000Z', true)).toBeNull();
  });

  // CMS-0057-F counts calendar days: across a daylight-saving change the due time keeps the payer's
  // local clock time (15:00 New York), so the UTC instant moves by an hour; 72 hours stay 72 hours.
  test.each([
    ['standard, received the day before spring forward', false, '2026-03-05T20:00:00.000Z', 'America/New_York', '2026-03-12T19:00:00.000Z'],
    ['standard, received the day before fall back', false, '2026-10-31T19:00:00.000Z', 'America/New_York', '2026-11-07T20:00:00.000Z'],
    ['standard, Chicago spring forward', false, '2026-03-07T21:00:00.000Z', 'America/Chicago', '2026-03-14T20:00:00.000Z'],
    ['standard, Phoenix keeps no DST', false, '2026-03-05T22:00:00.000Z', 'America/Phoenix', '2026-03-12T22:00:00.000Z'],
    ['expedited across spring forward: 72 elapsed hours', true, '2026-03-06T20:00:00.000Z', 'America/New_York', '2026-03-09T20:00:00.000Z'],
    ['expedited across fall back: 72 elapsed hours', true, '2026-10-30T19:00:00.000Z', 'America/New_York', '2026-11-02T19:00:00.000Z'],
  ])('%s', (_name, expedited, received, timeZone, due) => {
    expect(decisionDueAt(new Date(received), expedited, timeZone)).toBe(due);
  });

  test('the 14-day extension counts calendar days in the payer time zone across DST', () => {
    // Due 2026-03-02 10:00 New York (EST) → 2026-03-16 10:00 New York (EDT) = 14:00Z, not 15:00Z.
    expect(extendedDueAt('2026-03-02T15:00:00.000Z', false, 'America/New_York')).toBe('2026-03-16T14:00:00.000Z');
    // Due 2026-10-26 10:00 New York (EDT) → 2026-11-09 10:00 New York (EST) = 15:00Z.
    expect(extendedDueAt('2026-10-26T14:00:00.000Z', false, 'America/New_York')).toBe('2026-11-09T15:00:00.000Z');
    expect(extendedDueAt('2026-03-02T15:00:00.000Z', true, 'America/New_York')).toBeNull();
  });

  test('overdue only after the due time', () => {
    const due = '2026-11-27T14:00:00.000Z';
    expect(isOverdue(due, new Date('2026-11-27T13:59:59Z'))).toBe(false);
    expect(isOverdue(due, new Date('2026-11-27T14:00:01Z'))).toBe(true);
    expect(isOverdue(null, new Date('2030-01-01T00:00:00Z'))).toBe(false);
  });
});

describe('who may decide', () => {
  test.each([
    ['physician-reviewer', 'auto', true],
    ['physician-reviewer', 'physician-reviewer', true],
    ['physician-reviewer', 'medical-director', false],
    ['physician-reviewer', 'committee', false],
    ['medical-director', 'physician-reviewer', true],
    ['medical-director', 'medical-director', true],
    ['medical-director', 'committee', false],
    ['committee', 'committee', true],
    ['committee', 'physician-reviewer', true],
    ['physician-reviewer', null, true],
  ] as const)('%s on a request routed to %s: %s', (role, route, allowed) => {
    expect(mayDecide(role, route)).toBe(allowed);
  });

  test('a failed automatic review waits for a physician reviewer', () => {
    expect(reviewerFor('auto')).toBe('physician-reviewer');
    expect(reviewerFor('committee')).toBe('committee');
  });
});
