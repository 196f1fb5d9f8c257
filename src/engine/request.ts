/**
 * What the policy engine needs to decide one drug request, whichever protocol it came from.
 * The protocol layers (PAS, CRD, DTR) narrow their input into this shape; the engine never
 * sees HTTP, Claims or CDS Hooks.
 */
import type { Bundle, Coding } from 'fhir/r4';
import type { TherapyPhase } from '../catalog/types';

/** An authorization already on file for this member and drug (from the store). */
export interface PriorAuthorization {
  number: string;
  policyId: string;
  /** ISO dates, inclusive. */
  start: string;
  end: string;
  status: 'approved' | 'pended' | 'denied' | 'cancelled';
  /** `rule`: approved by a policy rule without a review (e.g. one authorization a year); default `review`. */
  basis?: 'review' | 'rule';
}

export interface PayerContext {
  /** `Coverage.payor` / `Claim.insurer` identifiers. */
  identifiers: { system?: string; value?: string }[];
  /** `Coverage.type` codings (Source of Payment Typology). */
  lineOfBusiness: Coding[];
  /** `Coverage.class` values of type `plan`. */
  planValues: string[];
  /** Subscriber's (or patient's) state of residence, two letters. */
  state?: string;
}

export interface DrugRequest {
  /** Codes naming the requested product: RxNorm (order), NDC or HCPCS (claim item). */
  codes: Coding[];
  /** Id of the requested MedicationRequest inside `bundle`, when there is one. */
  orderId?: string;
}

export interface EvaluationRequest {
  /** Everything the CQL may read about this patient: chart data, the order, QuestionnaireResponses. */
  bundle: Bundle;
  patientId: string;
  payer: PayerContext;
  drug: DrugRequest;
  /** Diagnoses the request names (Claim.diagnosis, order reasonCode); chart Conditions are used too. */
  diagnoses: Coding[];
  /** Initial or continued therapy when the request says so (PAS certificationType). */
  phaseHint?: TherapyPhase;
  /** Where the drug is given (Claim.item.locationCodeableConcept, CMS place-of-service code). */
  placeOfService?: Coding;
  /** Authorizations on file for this member and drug (the store), visible to the CQL. */
  priorAuthorizations: PriorAuthorization[];
  /** "Now" for the evaluation: ages, look-back windows, approval start. */
  evaluationDate: Date;
}
