/**
 * Narrows one CRD order and its gathered data into the engine's EvaluationRequest
 * (src/engine/request.ts), so a hook route only has to call the engine per order.
 *
 * Supports: drug codes from `medicationCodeableConcept`, or from the Medication a
 * `medicationReference` points to (contained, or in the gathered data); diagnoses from
 * `reasonCode` and from Conditions named in `reasonReference`.
 * A Medication the order references is read from fhirServer beforehand (data.ts resolveOrderMedications).
 */
import type { Bundle, Coding, MedicationRequest } from 'fhir/r4';
import type { EvaluationRequest, PayerContext, PriorAuthorization } from '../engine/request';
import type { PatientData } from './data';
import { medicationCodes, orderDiagnoses } from '../fhir/order-context';

/** Codes naming the ordered product; empty when the order names it only by text. */
export function drugCodes(order: MedicationRequest, bundle: Bundle): Coding[] {
  return medicationCodes(bundle, order);
}

export interface EvaluationInput {
  order: MedicationRequest;
  data: PatientData;
  patientId: string;
  payer: PayerContext;
  /** Authorizations on file for this member and drug (the store). */
  priorAuthorizations?: PriorAuthorization[];
  /** The request's instant, read once from the injected clock by the hook. */
  evaluationDate: Date;
}

export function toEvaluationRequest(input: EvaluationInput): EvaluationRequest {
  const { order, data } = input;
  return {
    bundle: data.bundle,
    patientId: input.patientId,
    payer: input.payer,
    drug: { codes: drugCodes(order, data.bundle), ...(order.id ? { orderId: order.id } : {}) },
    diagnoses: orderDiagnoses(data.bundle, order),
    priorAuthorizations: input.priorAuthorizations ?? [],
    evaluationDate: input.evaluationDate,
  };
}
