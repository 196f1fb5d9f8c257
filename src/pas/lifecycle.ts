/**
 * What a PAS request says about its place in a request's life (PAS 2.2.1 profile-claim-update,
 * https://hl7.org/fhir/us/davinci-pas/STU2/StructureDefinition-profile-claim-update.html):
 * whether it updates or cancels an earlier request, which lines it cancels or changes, how urgent it
 * is (CMS-0057-F decision clocks), and the keys that make a resend replay the stored answer.
 */
import crypto from 'node:crypto';
import type { Bundle, Claim, ClaimItem, ClaimResponse, Extension, Identifier } from 'fhir/r4';
import { ACTION, CERTIFICATION_TYPE, PAS_EXT, SYSTEM } from './codes';
import type { PasItem } from './context';
import { addCalendarDays, DEFAULT_PAYER_TIME_ZONE } from '../core/dates';

/** CMS-0057-F: expedited requests are decided within 72 hours, standard ones within 7 calendar days. */
export const DECISION_HOURS = { expedited: 72 } as const;
export const DECISION_DAYS = { standard: 7 } as const;

/** X12 1338 level of service codes that ask for an expedited decision: U (urgent), 03 (emergency). */
const URGENT_LEVELS = new Set(['U', '03']);
/** processpriority codes that ask for an expedited decision. */
const URGENT_PRIORITIES = new Set(['stat']);

function extensions(value: { extension?: Extension[] } | undefined): Extension[] {
  return Array.isArray(value?.extension) ? value.extension.filter((e) => typeof e === 'object' && e !== null) : [];
}

function codesOf(extension: Extension | undefined): string[] {
  const coding = extension?.valueCodeableConcept?.coding;
  return Array.isArray(coding) ? coding.map((c) => c?.code).filter((c): c is string => typeof c === 'string') : [];
}

/** The Claim or one of its items asks for an urgent decision (Claim.priority, levelOfServiceCode). */
export function isExpedited(claim: Claim): boolean {
  const priority = Array.isArray(claim.priority?.coding) ? claim.priority.coding : [];
  if (priority.some((c) => typeof c?.code === 'string' && URGENT_PRIORITIES.has(c.code))) return true;
  const holders: { extension?: Extension[] }[] = [claim, ...(Array.isArray(claim.item) ? claim.item : [])];
  return holders.some((h) =>
    extensions(h).some((e) => e.url === PAS_EXT.levelOfServiceCode && codesOf(e).some((c) => URGENT_LEVELS.has(c))),
  );
}

/**
 * When the decision is due, counted from receipt: 72 elapsed hours when expedited, else 7 calendar
 * days in the payer's time zone (the same local clock time a week later, across a DST change too).
 */
export function decisionDueAt(receivedAt: Date, expedited: boolean, timeZone: string = DEFAULT_PAYER_TIME_ZONE): string {
  if (expedited) return new Date(receivedAt.getTime() + DECISION_HOURS.expedited * 3_600_000).toISOString();
  return addCalendarDays(receivedAt, DECISION_DAYS.standard, timeZone).toISOString();
}

function certificationCodes(holder: { extension?: Extension[] }): string[] {
  return extensions(holder)
    .filter((e) => e.url === PAS_EXT.certificationType)
    .flatMap((e) => (e.valueCodeableConcept?.coding ?? []).filter((c) => !c.system || c.system === SYSTEM.x12CertificationType))
    .map((c) => c.code)
    .filter((c): c is string => typeof c === 'string');
}

const isCancelCode = (code: string) => (CERTIFICATION_TYPE.cancel as readonly string[]).includes(code);

/** A Claim-level certificationType 3: the whole request is cancelled. */
export function cancelsWholeRequest(claim: Claim): boolean {
  return certificationCodes(claim).some(isCancelCode);
}

/** An item the provider cancels: the infoCancelled modifier, or its own certificationType 3. */
export function cancelsItem(item: ClaimItem): boolean {
  const modifiers = Array.isArray(item.modifierExtension) ? item.modifierExtension : [];
  if (modifiers.some((e) => e?.url === PAS_EXT.infoCancelled && e.valueBoolean === true)) return true;
  return certificationCodes(item).some(isCancelCode);
}

/** `changed` or `added` (infoChanged) on an update's item; undefined when the line is unchanged. */
export function itemChange(item: ClaimItem): string | undefined {
  return extensions(item).find((e) => e.url === PAS_EXT.infoChanged)?.valueCode;
}

/** The sequences of the items this request cancels (all of them for a Claim-level cancel). */
export function cancelledSequences(claim: Claim, items: PasItem[]): Set<number> {
  const whole = cancelsWholeRequest(claim);
  return new Set(items.filter((i) => whole || cancelsItem(i.item)).map((i) => i.sequence));
}

/** What an update names as the request it replaces: `related.claim` with relationship `prior` (or none given). */
export interface PriorReference {
  /** `Claim/{id}` as ClaimResponse.request gave it (absolute URLs reduced to the id). */
  id?: string;
  identifier?: Identifier;
  /** FHIRPath of the reference, for errors. */
  expression: string;
}

export function priorReferenceOf(claim: Claim): PriorReference | undefined {
  const related = Array.isArray(claim.related) ? claim.related : [];
  for (const [i, r] of related.entries()) {
    const relationship = r?.relationship?.coding ?? [];
    const isPrior = relationship.length === 0 || relationship.some((c) => c?.code === 'prior');
    if (!isPrior || typeof r.claim !== 'object' || r.claim === null) continue;
    const expression = `Bundle.entry[0].resource.related[${i}].claim`;
    const ref = typeof r.claim.reference === 'string' ? /(?:^|\/)Claim\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(r.claim.reference) : null;
    const identifier = r.claim.identifier && typeof r.claim.identifier.value === 'string' ? r.claim.identifier : undefined;
    if (ref?.[1] || identifier) return { ...(ref?.[1] ? { id: ref[1] } : {}), ...(identifier ? { identifier } : {}), expression };
    return { expression };
  }
  return undefined;
}

/** Canonical JSON (sorted keys) so that the same content hashes the same however it was serialized. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    return `{${Object.keys(record)
      .sort()
      .filter((k) => record[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical(record[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The request's content: its resources, without the transmission envelope (Bundle id, timestamp,
 * identifier, meta), which a resend of the same request may change.
 */
export function contentHashOf(bundle: Bundle): string {
  const resources = (bundle.entry ?? []).map((e) => e?.resource ?? null);
  return crypto.createHash('sha256').update(canonical(resources)).digest('hex');
}

/** Unique per submitter and Claim identifier; null when the Claim has no identifier to key on. */
export function submissionKeyOf(submitterScope: string, claim: Claim): string | null {
  const identifier = (Array.isArray(claim.identifier) ? claim.identifier : []).find((i) => typeof i?.value === 'string' && i.value !== '');
  if (!identifier?.value) return null;
  return crypto.createHash('sha256').update(`${submitterScope}\n${identifier.system ?? ''}\n${identifier.value}`).digest('hex');
}

/**
 * The earlier request's ClaimResponse once a later request cancelled some (or all) of its lines:
 * each cancelled line answered `C`, a process note saying which request did it.
 */
export function withCancelledItems(response: ClaimResponse, sequences: ReadonlySet<number>, note: string): ClaimResponse {
  const notes = [...(response.processNote ?? [])];
  notes.push({ number: notes.length + 1, type: 'display', text: note });
  const noteNumber = notes.length;
  const items = response.item ?? [];
  const allCancelled = items.every((item) => sequences.has(item.itemSequence));
  // A fully cancelled request no longer carries an authorization.
  const { preAuthRef: _ref, preAuthPeriod: _period, ...rest } = response;
  return {
    ...(allCancelled ? rest : response),
    disposition: allCancelled ? note : `${response.disposition ?? ''} ${note}`.trim(),
    item: items.map((item) => {
      if (!sequences.has(item.itemSequence)) return item;
      return {
        ...item,
        noteNumber: [...(item.noteNumber ?? []), noteNumber],
        adjudication: item.adjudication.map((a, i) =>
          i === 0
            ? {
                ...a,
                extension: [
                  {
                    url: PAS_EXT.reviewAction,
                    extension: [
                      {
                        url: PAS_EXT.reviewActionCode,
                        valueCodeableConcept: { coding: [{ system: SYSTEM.x12ActionCode, code: ACTION.cancelled.code, display: ACTION.cancelled.display }] },
                      },
                    ],
                  },
                ],
              }
            : a,
        ),
      };
    }),
    processNote: notes,
  };
}
