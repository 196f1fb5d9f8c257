/**
 * What an order and its coverage say, read the same way by CRD, DTR and PAS: the payer context the
 * catalog selects a policy by, the ordered product's codes and the order's reason diagnoses.
 * `from` is the fullUrl of the entry that holds the reference (a PAS Bundle resolves relative
 * references against it); charts without fullUrls resolve by `Type/id`.
 */
import type { Coding, Coverage, FhirResource, Identifier, MedicationRequest, Patient, Reference } from 'fhir/r4';
import type { PayerContext } from '../engine/request';
import { memberState } from './address';
import { BundleIndex } from './bundle-index';
import { codingsOf, objects } from './json';

const COVERAGE_CLASS = 'http://terminology.hl7.org/CodeSystem/coverage-class';

type Bundleish = ConstructorParameters<typeof BundleIndex>[0] | BundleIndex;

function indexOf(bundle: Bundleish): BundleIndex {
  return bundle instanceof BundleIndex ? bundle : new BundleIndex(bundle);
}

function lookup<T extends FhirResource['resourceType']>(
  index: BundleIndex,
  reference: Reference | undefined,
  from: string | undefined,
  ...types: T[]
): Extract<FhirResource, { resourceType: T }> | undefined {
  const names: string[] = types;
  const strict = index.resolveReference(reference, from)?.resource;
  const found = strict && names.includes(strict.resourceType) ? strict : index.find(reference?.reference, ...(types as FhirResource['resourceType'][]));
  return found as Extract<FhirResource, { resourceType: T }> | undefined;
}

/**
 * The payer context of a coverage: the payer's identifiers (`claimed` first: a Claim's insurer),
 * each once; the line of business (Coverage.type); the plan values; the member's state by the one
 * state rule (src/fhir/address.ts).
 */
export function payerContext(
  coverage: Coverage | undefined,
  patient: Patient | undefined,
  bundle: Bundleish,
  options: { from?: string; claimed?: (Identifier | undefined)[] } = {},
): PayerContext {
  const index = indexOf(bundle);
  const identifiers: PayerContext['identifiers'] = [];
  const add = (id: Identifier | undefined) => {
    if (typeof id !== 'object' || id === null || typeof id.value !== 'string' || id.value === '') return;
    if (id.system !== undefined && typeof id.system !== 'string') return;
    if (identifiers.some((x) => x.system === id.system && x.value === id.value)) return;
    identifiers.push({ ...(id.system ? { system: id.system } : {}), value: id.value });
  };
  (options.claimed ?? []).forEach(add);
  for (const payor of objects(coverage?.payor)) {
    add(payor.identifier);
    objects(lookup(index, payor, options.from, 'Organization')?.identifier).forEach(add);
  }
  const planValues = objects(coverage?.class)
    .filter((c) => codingsOf(c.type).some((t) => t.code === 'plan' && (!t.system || t.system === COVERAGE_CLASS)))
    .map((c) => c.value)
    .filter((v): v is string => typeof v === 'string' && v !== '');
  const subscriber = lookup(index, coverage?.subscriber, options.from, 'Patient', 'RelatedPerson');
  const state = memberState(subscriber, patient);
  return {
    identifiers,
    lineOfBusiness: codingsOf(coverage?.type),
    planValues,
    ...(state ? { state } : {}),
  };
}

/** Codes naming the ordered product: `medicationCodeableConcept`, or the Medication it references (contained or in the bundle). */
export function medicationCodes(bundle: Bundleish, order: MedicationRequest, from?: string): Coding[] {
  if (order.medicationCodeableConcept) return codingsOf(order.medicationCodeableConcept);
  const reference = order.medicationReference?.reference;
  if (typeof reference !== 'string' || reference === '') return [];
  if (reference.startsWith('#')) {
    const contained = objects(order.contained).find((c) => c.id === reference.slice(1));
    return contained?.resourceType === 'Medication' ? codingsOf(contained.code) : [];
  }
  return codingsOf(lookup(indexOf(bundle), order.medicationReference, from, 'Medication')?.code);
}

/** Diagnoses the order gives as its reason: `reasonCode`, and the Conditions `reasonReference` names. */
export function orderDiagnoses(bundle: Bundleish, order: MedicationRequest, from?: string): Coding[] {
  const index = indexOf(bundle);
  const coded = objects(order.reasonCode).flatMap((c) => codingsOf(c));
  const referenced = objects(order.reasonReference).flatMap((r) => codingsOf(lookup(index, r, from, 'Condition')?.code));
  return [...coded, ...referenced];
}
