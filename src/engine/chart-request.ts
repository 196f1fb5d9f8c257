/**
 * Builds the engine's input from a patient's chart (a Bundle holding the Coverage, the order
 * and the clinical data), as CRD, DTR and the evaluate CLI have it. PAS builds its own from the
 * Claim (src/pas/context.ts) because the Claim names payer, drug and diagnoses itself; both read
 * payer, product and reasons with src/fhir/order-context.ts.
 */
import type { Bundle, Coding, Coverage, FhirResource, MedicationRequest, Patient } from 'fhir/r4';
import type { EvaluationRequest, PriorAuthorization } from './request';
import { objects } from '../fhir/json';
import { BundleIndex } from '../fhir/bundle-index';
import { medicationCodes, orderDiagnoses, payerContext } from '../fhir/order-context';

function resources(bundle: Bundle): FhirResource[] {
  return objects(bundle.entry).map((e) => e.resource).filter((r): r is FhirResource => typeof r === 'object' && r !== null);
}

/** Finds `Type/id`, `urn:uuid:x` or an absolute URL ending in `Type/id` among the bundle's resources. */
export function resolve<T extends FhirResource>(bundle: Bundle | BundleIndex, reference: string | undefined, type: T['resourceType']): T | undefined {
  return (bundle instanceof BundleIndex ? bundle : new BundleIndex(bundle)).find(reference, type) as T | undefined;
}

export interface ChartRequestInput {
  bundle: Bundle;
  order: MedicationRequest;
  coverage?: Coverage;
  patientId?: string;
  priorAuthorizations?: PriorAuthorization[];
  evaluationDate: Date;
  /** Extra diagnoses the caller knows of (e.g. Claim.diagnosis); the order's reasonCode is always used. */
  diagnoses?: Coding[];
}

export function chartRequest(input: ChartRequestInput): EvaluationRequest {
  const { bundle, order } = input;
  const all = resources(bundle);
  const index = new BundleIndex(bundle);
  const subject = order.subject?.reference;
  const patientRef = typeof subject === 'string' ? subject : undefined;
  const patient =
    resolve<Patient>(index, patientRef, 'Patient') ??
    (all.find((r) => r.resourceType === 'Patient' && (!input.patientId || r.id === input.patientId)) as Patient | undefined);
  const coverage = input.coverage ?? (all.find((r) => r.resourceType === 'Coverage' && r.status === 'active') as Coverage | undefined);
  const patientId = input.patientId ?? patient?.id ?? patientRef?.split('/').pop() ?? 'unknown-patient';
  return {
    bundle,
    patientId,
    payer: payerContext(coverage, patient, index),
    drug: { codes: medicationCodes(index, order), ...(order.id ? { orderId: order.id } : {}) },
    diagnoses: [...(input.diagnoses ?? []), ...orderDiagnoses(index, order)],
    priorAuthorizations: input.priorAuthorizations ?? [],
    evaluationDate: input.evaluationDate,
  };
}
