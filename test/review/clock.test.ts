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
