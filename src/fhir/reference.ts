/**
 * Reading FHIR references and "which patient is this resource about", one rule for CRD, DTR, PAS
 * and the engine. Resolving a reference inside a Bundle is src/fhir/bundle-index.ts.
 */
import type { Reference } from 'fhir/r4';
import { isRecord } from './json';

export interface ParsedReference {
  resourceType: string;
  id: string;
}

/** `Type/id`, `Type/id/_history/n` or an absolute URL ending so; anything else is undefined. */
export function parseReference(reference: string | undefined): ParsedReference | undefined {
  if (!reference || reference.startsWith('#') || reference.startsWith('urn:')) return undefined;
  const match = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]+)?$/.exec(reference);
  if (!match?.[1] || !match[2]) return undefined;
  return { resourceType: match[1], id: match[2] };
}

/** The elements by which a clinical or financial resource names its patient. */
export const PATIENT_LINKS = ['subject', 'patient', 'beneficiary'] as const;
export type PatientLink = (typeof PATIENT_LINKS)[number];

/** Every patient link the resource carries with a literal reference, in PATIENT_LINKS order. */
export function patientReferences(resource: unknown): { element: PatientLink; reference: Reference & { reference: string } }[] {
  if (!isRecord(resource)) return [];
  const found: { element: PatientLink; reference: Reference & { reference: string } }[] = [];
  for (const element of PATIENT_LINKS) {
    const value = resource[element];
    if (isRecord(value) && typeof value.reference === 'string') found.push({ element, reference: value as unknown as Reference & { reference: string } });
  }
  return found;
}

/** The reference naming the patient the resource is about (`subject`, `patient` or `beneficiary`). */
export function patientReference(resource: unknown): { element: PatientLink; reference: string } | undefined {
  const first = patientReferences(resource)[0];
  return first ? { element: first.element, reference: first.reference.reference } : undefined;
}
