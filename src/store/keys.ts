/**
 * The opaque keys the store files records under. CRD, DTR and PAS must build them the same way
 * for the same order and member, so they are built here and nowhere else.
 */
import crypto from 'node:crypto';
import type { Coverage, MedicationRequest } from 'fhir/r4';

/** Crockford-like alphabet without 0/O/1/I/L, so a number read over the phone is unambiguous. */
const ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';

/**
 * A human-readable, random (not guessable, not sequential) authorization number:
 * `PA-<UTC yyyymmdd>-<8 characters>`, e.g. `PA-20261123-7K3QX9ZB` (31^8 ≈ 8.5e11 per day).
 */
export function newAuthorizationNumber(now: Date = new Date()): string {
  const day = now.toISOString().slice(0, 10).replace(/-/g, '');
  let suffix = '';
  for (let i = 0; i < 8; i++) suffix += ALPHABET[crypto.randomInt(ALPHABET.length)];
  return `PA-${day}-${suffix}`;
}

/** A member at a payer: the payer id (e.g. NAIC code) and the member id on the Coverage. */
export function memberKey(payerId: string, memberId: string): string {
  return `${payerId}|${memberId}`;
}

/**
 * The key of a drug order: its first business identifier (`system|value`) when it has one, which
 * survives the order moving from the EHR (CRD) to the claim (PAS); otherwise
 * `fhirServer|MedicationRequest/id`. Null when neither is known.
 */
export function orderKeyOf(order: MedicationRequest, fhirServer?: string): string | null {
  const identifier = order.identifier?.find((i) => i.system && i.value);
  if (identifier?.system && identifier.value) return `${identifier.system}|${identifier.value}`;
  if (order.id && fhirServer) return `${fhirServer.replace(/\/$/, '')}|MedicationRequest/${order.id}`;
  return null;
}

/**
 * The member key for a Coverage: its payer and the member id on the card (`subscriberId`, else the
 * Coverage's first identifier, else the patient). CRD and PAS file authorizations under this key.
 */
export function memberKeyOf(payerId: string, coverage: Coverage, patientId: string): string {
  const memberId = coverage.subscriberId ?? coverage.identifier?.find((i) => i.value)?.value ?? `patient:${patientId}`;
  return memberKey(payerId, memberId);
}
