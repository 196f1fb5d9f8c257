/**
 * Test support for the CP.PHAR.244 (Kineret) suites: loads the fixture bundles, builds the
 * EvaluationRequest a protocol layer would build from them, and edits deep copies so that each
 * variant differs from its base in exactly the fact under test.
 */
import fs from 'node:fs';
import path from 'node:path';
import type {
  Bundle,
  Coding,
  Coverage,
  FhirResource,
  MedicationRequest,
  Organization,
  Patient,
  Questionnaire,
  QuestionnaireItem,
  QuestionnaireResponse,
  QuestionnaireResponseItem,
  QuestionnaireResponseItemAnswer,
} from 'fhir/r4';
import { loadConfig } from '../../src/config';
import { createPolicyEngine, type PolicyEngine } from '../../src/engine';
import type { CriterionResult, Decision } from '../../src/engine/decision';
import type { EvaluationRequest } from '../../src/engine/request';

export const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'cp-phar-244');
/** "Now" for every evaluation: the fixtures' dates are written relative to it. */
export const EVALUATION_DATE = new Date('2026-11-20T15:00:00Z');
export const QUESTIONNAIRE = 'http://pa.example.org/fhir/Questionnaire/cp-phar-244-kineret';
export const POS_SYSTEM = 'https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set';
export const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
export const UCUM = 'http://unitsofmeasure.org';

export type Base =
  | 'ra-approvable'
  | 'ra-chart-only-partial'
  | 'nomid-child'
  | 'dira'
  | 'covid-outpatient'
  | 'ra-continuation'
  | 'ra-combination-adalimumab';

const cache = new Map<string, Bundle>();

/** A deep copy of a fixture bundle (edit freely). */
export function load(base: Base): Bundle {
  let bundle = cache.get(base);
  if (!bundle) {
    bundle = JSON.parse(fs.readFileSync(path.join(FIXTURES, `${base}.json`), 'utf8')) as Bundle;
    cache.set(base, bundle);
  }
  return structuredClone(bundle);
}

let engine: PolicyEngine | undefined;
export function getEngine(): PolicyEngine {
  engine ??= createPolicyEngine(loadConfig().paths);
  return engine;
}

// ---------------------------------------------------------------- bundle access and edits

export function resources(bundle: Bundle): FhirResource[] {
  return (bundle.entry ?? []).map((e) => e.resource).filter((r): r is FhirResource => r !== undefined);
}

export function find<T extends FhirResource = FhirResource>(bundle: Bundle, reference: string): T {
  const found = resources(bundle).find((r) => `${r.resourceType}/${r.id}` === reference);
  if (!found) throw new Error(`${reference} is not in bundle ${bundle.id}`);
  return found as T;
}

export function ofType<K extends FhirResource['resourceType']>(bundle: Bundle, type: K): Extract<FhirResource, { resourceType: K }>[] {
  return resources(bundle).filter((r) => r.resourceType === type) as Extract<FhirResource, { resourceType: K }>[];
}

/** Removes resources by `Type/id` or by predicate; throws when nothing matched (a typo must not pass silently). */
export function remove(bundle: Bundle, ...which: (string | ((r: FhirResource) => boolean))[]): Bundle {
  for (const w of which) {
    const match = typeof w === 'string' ? (r: FhirResource) => `${r.resourceType}/${r.id}` === w : w;
    const before = bundle.entry?.length ?? 0;
    bundle.entry = (bundle.entry ?? []).filter((e) => !(e.resource && match(e.resource)));
    if ((bundle.entry?.length ?? 0) === before) throw new Error(`remove: nothing matched ${String(w)} in ${bundle.id}`);
  }
  return bundle;
}

/** Adds resources (with an EHR-style fullUrl). */
export function add(bundle: Bundle, ...added: FhirResource[]): Bundle {
  for (const resource of added) {
    bundle.entry = [...(bundle.entry ?? []), { fullUrl: `http://ehr.riverside-health.example.org/fhir/${resource.resourceType}/${resource.id}`, resource }];
  }
  return bundle;
}

/** Edits one resource in place. */
export function patch<T extends FhirResource>(bundle: Bundle, reference: string, edit: (resource: T) => void): Bundle {
  edit(find<T>(bundle, reference));
  return bundle;
}

export function patientOf(bundle: Bundle): Patient {
  const patient = ofType(bundle, 'Patient')[0];
  if (!patient) throw new Error(`${bundle.id} has no Patient`);
  return patient;
}

export type AnswerValue = boolean | number | string | { code: string; system: string; display?: string };

function answerFor(value: AnswerValue): QuestionnaireResponseItemAnswer {
  if (typeof value === 'boolean') return { valueBoolean: value };
  // Every numeric item of the Kineret questionnaire is a decimal (scores).
  if (typeof value === 'number') return { valueDecimal: value };
  if (typeof value === 'string') return { valueString: value };
  return { valueCoding: value };
}

export const QR_ID = 'qr-cp-phar-244';

/** linkId -> the linkIds of its enclosing groups, from the DTR Questionnaire in questionnaires/. */
let groupPaths: Map<string, string[]> | undefined;
function groupPathOf(linkId: string): string[] {
  if (!groupPaths) {
    const file = path.join(__dirname, '..', '..', 'questionnaires', 'cp-phar-244-kineret.json');
    const questionnaire = JSON.parse(fs.readFileSync(file, 'utf8')) as Questionnaire;
    const paths = new Map<string, string[]>();
    const walk = (items: QuestionnaireItem[] | undefined, parents: string[]) => {
      for (const item of items ?? []) {
        paths.set(item.linkId, parents);
        walk(item.item, item.type === 'group' ? [...parents, item.linkId] : parents);
      }
    };
    walk(questionnaire.item, []);
    groupPaths = paths;
  }
  const found = groupPaths.get(linkId);
  if (!found) throw new Error(`linkId ${linkId} is not an item of the CP.PHAR.244 questionnaire`);
  return found;
}

/**
 * Adds answers to the bundle's completed QuestionnaireResponse for the Kineret questionnaire
 * (creating it when there is none), nested in the questionnaire's groups as a DTR client sends them.
 */
export function answer(bundle: Bundle, answers: Record<string, AnswerValue>): Bundle {
  const patient = patientOf(bundle);
  let qr = ofType(bundle, 'QuestionnaireResponse').find((r) => r.id === QR_ID);
  if (!qr) {
    const order = kineretOrder(bundle);
    qr = {
      resourceType: 'QuestionnaireResponse',
      id: QR_ID,
      questionnaire: `${QUESTIONNAIRE}|1.0.0`,
      status: 'completed',
      subject: { reference: `Patient/${patient.id}` },
      authored: '2026-11-19T16:05:00-05:00',
      ...(order.requester ? { author: order.requester } : {}),
      item: [],
    } satisfies QuestionnaireResponse;
    add(bundle, qr);
  }
  for (const [linkId, value] of Object.entries(answers)) {
    let items: QuestionnaireResponseItem[] = qr.item ?? (qr.item = []);
    for (const group of groupPathOf(linkId)) {
      let node = items.find((i) => i.linkId === group);
      if (!node) items.push((node = { linkId: group, item: [] }));
      items = node.item ?? (node.item = []);
    }
    const existing = items.find((i) => i.linkId === linkId);
    if (existing) existing.answer = [answerFor(value)];
    else items.push({ linkId, answer: [answerFor(value)] });
  }
  return bundle;
}

/** The requested (draft) Kineret order of a bundle. */
export function kineretOrder(bundle: Bundle): MedicationRequest {
  const order = ofType(bundle, 'MedicationRequest').find((m) => m.id === 'medreq-kineret');
  if (!order) throw new Error(`${bundle.id} has no MedicationRequest/medreq-kineret`);
  return order;
}

// ---------------------------------------------------------------- the request

export interface RequestOptions {
  phaseHint?: EvaluationRequest['phaseHint'];
  placeOfService?: string;
  priorAuthorizations?: EvaluationRequest['priorAuthorizations'];
  payerValue?: string;
  diagnoses?: Coding[];
}

/**
 * The EvaluationRequest a protocol layer builds from a bundle: payer and line of business from
 * the Coverage and its payor Organization, the drug and diagnoses from the requested order.
 */
export function requestFor(bundle: Bundle, options: RequestOptions = {}): EvaluationRequest {
  const coverage = ofType(bundle, 'Coverage')[0] as Coverage | undefined;
  const payorRef = coverage?.payor?.[0]?.reference;
  const payor = payorRef ? (find<Organization>(bundle, payorRef) as Organization) : undefined;
  const identifiers = (payor?.identifier ?? []).map((i) => ({
    ...(i.system ? { system: i.system } : {}),
    ...(options.payerValue ?? i.value ? { value: options.payerValue ?? i.value } : {}),
  }));
  const order = kineretOrder(bundle);
  const patient = patientOf(bundle);
  return {
    bundle,
    patientId: patient.id ?? '',
    payer: {
      identifiers,
      lineOfBusiness: coverage?.type?.coding ?? [],
      planValues: (coverage?.class ?? []).filter((c) => c.type.coding?.some((x) => x.code === 'plan')).map((c) => c.value),
      ...(patient.address?.[0]?.state ? { state: patient.address[0].state } : {}),
    },
    drug: { codes: order.medicationCodeableConcept?.coding ?? [], ...(order.id ? { orderId: order.id } : {}) },
    diagnoses: options.diagnoses ?? (order.reasonCode ?? []).flatMap((c) => c.coding ?? []),
    ...(options.phaseHint ? { phaseHint: options.phaseHint } : {}),
    ...(options.placeOfService ? { placeOfService: { system: POS_SYSTEM, code: options.placeOfService } } : {}),
    priorAuthorizations: options.priorAuthorizations ?? [],
    evaluationDate: EVALUATION_DATE,
  };
}

export async function evaluate(bundle: Bundle, options: RequestOptions = {}): Promise<Decision> {
  return getEngine().evaluate(requestFor(bundle, options));
}

export function criterion(decision: Decision, id: string): CriterionResult {
  const found = decision.criteria.find((c) => c.id === id);
  if (!found) throw new Error(`criterion ${id} not in decision (${decision.criteria.map((c) => c.id).join(', ')})`);
  return found;
}

/** Every criterion's status, by id (to compare a variant against its base). */
export function statuses(decision: Decision): Record<string, string> {
  return Object.fromEntries(decision.criteria.map((c) => [c.id, c.status]));
}

/** The approved authorization on file for continued-therapy requests. */
export const KINERET_APPROVAL_ON_FILE = {
  number: 'PA-2026-05-0042117',
  policyId: 'cp-phar-244',
  start: '2026-05-20',
  end: '2026-11-19',
  status: 'approved' as const,
};

// ---------------------------------------------------------------- resource builders for variants

const rxConcept = (code: string, display: string) => ({ coding: [{ system: RXNORM, code, display }], text: display });
const mg = (value: number) => ({ value, unit: 'mg', system: UCUM, code: 'mg' });

/** A MedicationStatement of a past (end given) or ongoing (no end, status active) course. */
export function statement(
  bundle: Bundle,
  id: string,
  [code, display]: [string, string],
  start: string,
  end?: string,
  extra: Partial<import('fhir/r4').MedicationStatement> = {},
): import('fhir/r4').MedicationStatement {
  return {
    resourceType: 'MedicationStatement',
    id,
    status: end ? 'completed' : 'active',
    medicationCodeableConcept: rxConcept(code, display),
    subject: { reference: `Patient/${patientOf(bundle).id}` },
    effectivePeriod: { start, ...(end ? { end } : {}) },
    dateAsserted: '2026-11-10',
    ...extra,
  };
}

/** A MedicationRequest with a supply (days x fills) from authoredOn. */
export function prescription(
  bundle: Bundle,
  id: string,
  [code, display]: [string, string],
  authoredOn: string,
  { status = 'stopped', supplyDays = 30, repeats = 0, doseMg }: { status?: MedicationRequest['status']; supplyDays?: number; repeats?: number; doseMg?: number } = {},
): MedicationRequest {
  return {
    resourceType: 'MedicationRequest',
    id,
    status,
    intent: 'order',
    medicationCodeableConcept: rxConcept(code, display),
    subject: { reference: `Patient/${patientOf(bundle).id}` },
    authoredOn,
    ...(doseMg ? { dosageInstruction: [{ doseAndRate: [{ doseQuantity: mg(doseMg) }] }] } : {}),
    dispenseRequest: { numberOfRepeatsAllowed: repeats, expectedSupplyDuration: { value: supplyDays, unit: 'days', system: UCUM, code: 'd' } },
  };
}

/** A confirmed, active drug intolerance coded with RxNorm. */
export function intolerance(bundle: Bundle, id: string, [code, display]: [string, string], reaction: string): import('fhir/r4').AllergyIntolerance {
  return {
    resourceType: 'AllergyIntolerance',
    id,
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification', code: 'confirmed' }] },
    type: 'intolerance',
    category: ['medication'],
    code: rxConcept(code, display),
    patient: { reference: `Patient/${patientOf(bundle).id}` },
    recordedDate: '2025-01-15',
    reaction: [{ manifestation: [{ text: reaction }], severity: 'moderate' }],
  };
}

/** Replaces the requested order's dosage (dose in mg or in syringes, times a day). */
export function setDose(bundle: Bundle, dose: { mg?: number; syringes?: number; perDay?: number; everyDays?: number } | null, orderId = 'medreq-kineret'): Bundle {
  return patch<MedicationRequest>(bundle, `MedicationRequest/${orderId}`, (order) => {
    const instruction = order.dosageInstruction?.[0] ?? {};
    if (dose === null) {
      delete instruction.doseAndRate;
    } else {
      instruction.timing = { repeat: { frequency: dose.perDay ?? 1, period: dose.everyDays ?? 1, periodUnit: 'd' } };
      instruction.doseAndRate = [
        {
          doseQuantity:
            dose.syringes !== undefined
              ? { value: dose.syringes, unit: 'syringe', system: UCUM, code: '{syringe}' }
              : { value: dose.mg ?? 0, unit: 'mg', system: UCUM, code: 'mg' },
        },
      ];
    }
    order.dosageInstruction = [instruction];
  });
}

/** Every criterion status an expected decision has; the outcome the decision rules give for them. */
export function expectedOutcome(decision: Decision, expected: Record<string, string>): 'approve' | 'pend' | 'deny' {
  const onUnmet = Object.fromEntries(decision.criteria.map((c) => [c.id, c.onUnmet]));
  const values = Object.entries(expected);
  if (values.some(([id, s]) => s === 'unmet' && onUnmet[id] === 'deny')) return 'deny';
  if (values.every(([, s]) => s === 'met' || s === 'not-applicable')) return 'approve';
  return 'pend';
}
