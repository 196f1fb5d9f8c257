/**
 * Narrows one CRD order and its gathered data into the engine's EvaluationRequest
 * (src/engine/request.ts), so a hook route only has to call the engine per order.
 *
 * Supports: drug codes from `medicationCodeableConcept`, or from the Medication a
 * `medicationReference` points to (contained, or in the gathered data); diagnoses from
 * `reasonCode` and from Conditions named in `reasonReference`.
 * Does not support: reading a referenced Medication from fhirServer (add a prefetch key for it).
 */
import type { Bundle, Coding, Condition, FhirResource, Medication, MedicationRequest } from 'fhir/r4';
import type { EvaluationRequest, PayerContext, PriorAuthorization } from '../engine/request';
import type { PatientData } from './data';
import { parseReference } from './prefetch';

function find<T extends FhirResource>(bundle: Bundle, type: T['resourceType'], id: string): T | undefined {
  return bundle.entry?.map((e) => e.resource).find((r): r is T => r?.resourceType === type && r.id === id);
}

/** Codes naming the ordered product; empty when the order names it only by text. */
export function drugCodes(order: MedicationRequest, bundle: Bundle): Coding[] {
  if (order.medicationCodeableConcept) return order.medicationCodeableConcept.coding ?? [];
  const reference = order.medicationReference?.reference;
  if (!reference) return [];
  const medication = reference.startsWith('#')
    ? order.contained?.find((c): c is Medication => c.resourceType === 'Medication' && c.id === reference.slice(1))
    : (() => {
        const ref = parseReference(reference);
        return ref?.resourceType === 'Medication' ? find<Medication>(bundle, 'Medication', ref.id) : undefined;
      })();
  return medication?.code?.coding ?? [];
}

/** Diagnoses the order gives as its reason. */
export function orderDiagnoses(order: MedicationRequest, bundle: Bundle): Coding[] {
  const coded = (order.reasonCode ?? []).flatMap((c) => c.coding ?? []);
  const referenced = (order.reasonReference ?? []).flatMap((r) => {
    const ref = parseReference(r.reference);
    return ref?.resourceType === 'Condition' ? (find<Condition>(bundle, 'Condition', ref.id)?.code?.coding ?? []) : [];
  });
  return [...coded, ...referenced];
}

export interface EvaluationInput {
  order: MedicationRequest;
  data: PatientData;
  patientId: string;
  payer: PayerContext;
  /** Authorizations on file for this member and drug (the store). */
  priorAuthorizations?: PriorAuthorization[];
  evaluationDate?: Date;
}

export function toEvaluationRequest(input: EvaluationInput): EvaluationRequest {
  const { order, data } = input;
  return {
    bundle: data.bundle,
    patientId: input.patientId,
    payer: input.payer,
    drug: { codes: drugCodes(order, data.bundle), ...(order.id ? { orderId: order.id } : {}) },
    diagnoses: orderDiagnoses(order, data.bundle),
    priorAuthorizations: input.priorAuthorizations ?? [],
    evaluationDate: input.evaluationDate ?? new Date(),
  };
}
