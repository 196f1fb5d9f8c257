/**
 * The review clock under CMS-0057-F (CMS Interoperability and Prior Authorization final rule):
 * a decision is due 72 hours after receipt for an expedited request and 7 calendar days after
 * receipt for a standard one. When the plan needs more information it may extend the timeframe
 * once, by up to 14 calendar days (42 CFR 422.568(b)(1)(i) and 422.572(b)(1) for Medicare
 * Advantage, 438.210(d) for Medicaid managed care); the extension is counted from the current due
 * time, never restarts the clock, and is not granted twice.
 *
 * A request is expedited when it says it is urgent:
 * - `Claim.priority` (processpriority) `stat`;
 * - PAS `extension-levelOfServiceCode` (X12 1338, UM06) `U` Urgent or `03` Emergency, on the Claim
 *   (its context in PAS 2.2.1) or, as some senders put it, on an item.
 */
import type { Claim, CodeableConcept, Extension } from 'fhir/r4';

export const EXPEDITED_HOURS = 72;
export const STANDARD_DAYS = 7;
export const EXTENSION_DAYS = 14;

export const LEVEL_OF_SERVICE_URL = 'http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-levelOfServiceCode';
export const X12_LEVEL_OF_SERVICE = 'https://codesystem.x12.org/005010/1338';
export const PROCESS_PRIORITY = 'http://terminology.hl7.org/CodeSystem/processpriority';
/** X12 1338 codes that ask for an expedited review: U Urgent, 03 Emergency. */
const URGENT_LEVELS = new Set(['U', '03']);

const HOUR = 3600_000;
const DAY = 24 * HOUR;

function codes(concept: CodeableConcept | undefined, system: string): string[] {
  return (concept?.coding ?? []).filter((c) => c.system === system && typeof c.code === 'string').map((c) => c.code as string);
}

function urgentLevel(extensions: Extension[] | undefined): boolean {
  return (extensions ?? []).some(
    (e) => e.url === LEVEL_OF_SERVICE_URL && codes(e.valueCodeableConcept, X12_LEVEL_OF_SERVICE).some((c) => URGENT_LEVELS.has(c)),
  );
}

/** Why the request is expedited (for the reviewer), or null when it is standard. */
export function expeditedBecause(claim: Claim): string | null {
  if (codes(claim.priority, PROCESS_PRIORITY).includes('stat')) return 'Claim.priority is stat';
  if (urgentLevel(claim.extension)) return 'level of service (X12 1338) is urgent';
  const item = (claim.item ?? []).find((i) => urgentLevel(i.extension));
  if (item) return `item ${item.sequence} level of service (X12 1338) is urgent`;
  return null;
}

export function isExpedited(claim: Claim): boolean {
  return expeditedBecause(claim) !== null;
}

/** When the decision is due: receipt + 72 h (expedited) or + 7 calendar days (standard). */
export function dueAt(receivedAt: string | Date, expedited: boolean): string {
  const received = new Date(receivedAt).getTime();
  return new Date(received + (expedited ? EXPEDITED_HOURS * HOUR : STANDARD_DAYS * DAY)).toISOString();
}

/**
 * The due time after a request for more information: the current due time + 14 calendar days,
 * once. Returns null when the timeframe was already extended (the clock stays as it is).
 */
export function extendedDueAt(currentDueAt: string, alreadyExtended: boolean): string | null {
  if (alreadyExtended) return null;
  return new Date(new Date(currentDueAt).getTime() + EXTENSION_DAYS * DAY).toISOString();
}

export function isOverdue(due: string | null, now: Date): boolean {
  return due !== null && new Date(due).getTime() < now.getTime();
}
