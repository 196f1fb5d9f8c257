/**
 * Builds the engine's input from a patient's chart (a Bundle holding the Coverage, the order
 * and the clinical data), as CRD, DTR and the evaluate CLI have it. PAS builds its own from the
 * Claim (src/pas/context.ts) because the Claim names payer, drug and diagnoses itself.
 */
import { memberState } from '../fhir/address';
import type { Bundle, Coding, Condition, Coverage, FhirResource, Medication, MedicationRequest, Organization, Patient, RelatedPerson } from 'fhir/r4';
import type { EvaluationRequest, PayerContext, PriorAuthorization } from './request';
import { codingsOf, objects } from '../fhir/json';
import { BundleIndex } from '../fhir/bundle-index';

function resources(bundle: Bundle): FhirResource[] {
  return objects(bundle.entry).map((e) => e.resource).filter((r): r is FhirResource => typeof r === 'object' && r !== null);
}

/** Finds `Type/id`, `urn:uuid:x` or an absolute URL ending in `Type/id` among the bundle's resources. */
export function resolve<T extends FhirResource>(bundle: Bundle | BundleIndex, reference: string | undefined, type: T['resourceType']): T | undefined {
  return (bundle instanceof BundleIndex ? bundle : new BundleIndex(bundle)).find(reference, type) as T | undefined;
}

export function payerContextOf(chart: Bundle | BundleIndex, coverage: Coverage | undefined, patient: Patient | undefined): PayerContext {
  const bundle = chart instanceof BundleIndex ? chart : new BundleIndex(chart);
  const identifiers: PayerContext['identifiers'] = [];
  for (const payor of objects(coverage?.payor)) {
    if (typeof payor.identifier === 'object' && payor.identifier !== null) identifiers.push(payor.identifier);
    const org = resolve<Organization>(bundle, payor.reference, 'Organization');
    for (const id of objects(org?.identifier)) identifiers.push(id);
  }
  const planValues = objects(coverage?.class)
    .filter((c) => codingsOf(c.type).some((t) => t.code === 'plan'))
    .map((c) => c.value)
    .filter((v): v is string => typeof v === 'string');
  const subscriberRef = coverage?.subscriber?.reference;
  const subscriber = resolve<Patient>(bundle, subscriberRef, 'Patient') ?? resolve<RelatedPerson>(bundle, subscriberRef, 'RelatedPerson');
  const state = memberState(subscriber, patient);
  return {
    identifiers,
    lineOfBusiness: codingsOf(coverage?.type),
    planValues,
    ...(state ? { state } : {}),
  };
}

/** Codes naming the ordered product: `medicationCodeableConcept`, or the Medication it references (contained or in the bundle). */
export function medicationCodes(bundle: Bundle | BundleIndex, order: MedicationRequest): Coding[] {
  if (order.medicationCodeableConcept) return codingsOf(order.medicationCodeableConcept);
  const reference = order.medicationReference?.reference;
  if (typeof reference !== 'string' || !reference) return [];
  const medication = reference.startsWith('#')
    ? objects(order.contained).find((c): c is Medication => c.resourceType === 'Medication' && c.id === reference.slice(1))
    : resolve<Medication>(bundle, reference, 'Medication');
  return codingsOf(medication?.code);
}

/** Diagnoses the order gives as its reason: `reasonCode`, and the Conditions `reasonReference` names. */
export function orderDiagnoses(chart: Bundle | BundleIndex, order: MedicationRequest): Coding[] {
  const bundle = chart instanceof BundleIndex ? chart : new BundleIndex(chart);
  const coded = objects(order.reasonCode).flatMap((c) => codingsOf(c));
  const referenced = objects(order.reasonReference).flatMap((r) => codingsOf(resolve<Condition>(bundle, r.reference, 'Condition')?.code));
  return [...coded, ...referenced];
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
    payer: payerContextOf(index, coverage, patient),
    drug: { codes: medicationCodes(index, order), ...(order.id ? { orderId: order.id } : {}) },
    diagnoses: [...(input.diagnoses ?? []), ...orderDiagnoses(index, order)],
    priorAuthorizations: input.priorAuthorizations ?? [],
    evaluationDate: input.evaluationDate,
  };
}
