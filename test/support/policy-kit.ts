/**
 * Test support for policy criterion suites (NH.PHAR.244, Molina Kineret): loads a policy's fixture
 * bundles, builds the EvaluationRequest a protocol layer would build from them, edits deep copies so
 * that each variant differs from its base in exactly the fact under test, and runs criterion tables
 * (each row: one criterion in one status, with its citation, evidence, knock-on effects and outcome).
 */
import fs from 'node:fs';
import path from 'node:path';
import type {
  AllergyIntolerance,
  Bundle,
  Coding,
  Coverage,
  FhirResource,
  MedicationDispense,
  MedicationRequest,
  MedicationStatement,
  Organization,
  Patient,
  QuestionnaireResponse,
  QuestionnaireResponseItem,
  QuestionnaireResponseItemAnswer,
} from 'fhir/r4';
import { loadConfig, REPO_ROOT } from '../../src/config';
import { createPolicyEngine, type PolicyEngine } from '../../src/engine';
import type { CriterionResult, CriterionStatus, Decision } from '../../src/engine/decision';
import type { EvaluationRequest, PriorAuthorization } from '../../src/engine/request';

/** "Now" for every evaluation: the fixtures' dates are written relative to it. */
export const EVALUATION_DATE = new Date('2026-11-20T15:00:00Z');
export const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
export const UCUM = 'http://unitsofmeasure.org';
export const POS_SYSTEM = 'https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set';
export const NUCC = 'http://nucc.org/provider-taxonomy';

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

export function add(bundle: Bundle, ...added: FhirResource[]): Bundle {
  for (const resource of added) {
    bundle.entry = [...(bundle.entry ?? []), { fullUrl: `http://ehr.example.org/fhir/${resource.resourceType}/${resource.id}`, resource }];
  }
  return bundle;
}

export function patch<T extends FhirResource>(bundle: Bundle, reference: string, edit: (resource: T) => void): Bundle {
  edit(find<T>(bundle, reference));
  return bundle;
}

export function patientOf(bundle: Bundle): Patient {
  const patient = ofType(bundle, 'Patient')[0];
  if (!patient) throw new Error(`${bundle.id} has no Patient`);
  return patient;
}

/** The requested (draft) Kineret order of a bundle. */
export function kineretOrder(bundle: Bundle): MedicationRequest {
  const order = ofType(bundle, 'MedicationRequest').find((m) => m.id === 'medreq-kineret');
  if (!order) throw new Error(`${bundle.id} has no MedicationRequest/medreq-kineret`);
  return order;
}

/** Sets the patient's birth date so that they are `years` old (plus `days`) on the evaluation date. */
export function setAge(bundle: Bundle, years: number, days = 0): Bundle {
  const birth = new Date(Date.UTC(EVALUATION_DATE.getUTCFullYear() - years, EVALUATION_DATE.getUTCMonth(), EVALUATION_DATE.getUTCDate() - days));
  patientOf(bundle).birthDate = birth.toISOString().slice(0, 10);
  return bundle;
}

// ---------------------------------------------------------------- questionnaire answers

export type AnswerValue = boolean | number | string | { code: string; system: string; display?: string };

function answerFor(value: AnswerValue): QuestionnaireResponseItemAnswer {
  if (typeof value === 'boolean') return { valueBoolean: value };
  if (typeof value === 'number') return Number.isInteger(value) ? { valueInteger: value } : { valueDecimal: value };
  // A full date (YYYY-MM-DD) answers a date item.
  if (typeof value === 'string') return /^\d{4}-\d{2}-\d{2}$/.test(value) ? { valueDate: value } : { valueString: value };
  return { valueCoding: value };
}

// ---------------------------------------------------------------- resource builders

const rxConcept = (code: string, display: string) => ({ coding: [{ system: RXNORM, code, display }], text: display });

export type Drug = [code: string, display: string];

/** A MedicationStatement of a past (end given) or ongoing (no end, status active) course. */
export function statement(bundle: Bundle, id: string, [code, display]: Drug, start: string, end?: string): MedicationStatement {
  return {
    resourceType: 'MedicationStatement',
    id,
    status: end ? 'completed' : 'active',
    medicationCodeableConcept: rxConcept(code, display),
    subject: { reference: `Patient/${patientOf(bundle).id}` },
    effectivePeriod: { start, ...(end ? { end } : {}) },
    dateAsserted: '2026-11-10',
  };
}

/**
 * Rows for a methotrexate trial still going (the order `MedicationRequest/medreq-mtx` made active
 * into 2027), on a base whose other RA agents all started between September 2024 and July 2025
 * (CP.PHAR.244's and NH.PHAR.244's): the trial has failed only when another agent followed it, and
 * a renewal of methotrexate is not another agent.
 */
export function ongoingMtxTrialRows(id: string, mtx: Drug): Row[] {
  const ongoingFrom = (start: string) => (b: Bundle) =>
    patch<MedicationRequest>(b, 'MedicationRequest/medreq-mtx', (m) => {
      m.status = 'active';
      m.dispenseRequest = { ...m.dispenseRequest, validityPeriod: { start, end: '2027-03-31' } };
    });
  return [
    { id, status: 'met', fact: 'methotrexate since March 2024 and still active, adalimumab started after it', evidence: ['MedicationRequest/medreq-mtx'], edit: ongoingFrom('2024-03-04') },
    { id, status: 'unknown', fact: 'methotrexate since August 2025 and still active, every other RA agent before it', evidence: ['MedicationRequest/medreq-mtx'], edit: ongoingFrom('2025-08-01') },
    {
      id,
      status: 'unknown',
      fact: 'methotrexate since August 2025 and still active, renewed in 2026, every other RA agent before it',
      evidence: ['MedicationRequest/medreq-mtx', 'MedicationStatement/medstmt-mtx-renewal'],
      edit: (b) => add(ongoingFrom('2025-08-01')(b), statement(b, 'medstmt-mtx-renewal', mtx, '2026-02-02')),
    },
  ];
}

/** A completed pharmacy fill handed over on `date` for `days` days. */
export function dispense(bundle: Bundle, id: string, [code, display]: Drug, date: string, days = 28): MedicationDispense {
  return {
    resourceType: 'MedicationDispense',
    id,
    status: 'completed',
    medicationCodeableConcept: rxConcept(code, display),
    subject: { reference: `Patient/${patientOf(bundle).id}` },
    quantity: { value: days, unit: 'syringe', system: UCUM, code: '{syringe}' },
    daysSupply: { value: days, unit: 'days', system: UCUM, code: 'd' },
    whenHandedOver: `${date}T12:00:00-05:00`,
  };
}

/** A confirmed, active drug intolerance coded with RxNorm. */
export function intolerance(bundle: Bundle, id: string, [code, display]: Drug, reaction: string): AllergyIntolerance {
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

/** Replaces the requested order's dosage (dose in mg or in syringes, `perDay` times a day). */
export function setDose(bundle: Bundle, dose: { mg?: number; syringes?: number; perDay?: number } | null, orderId = 'medreq-kineret'): Bundle {
  return patch<MedicationRequest>(bundle, `MedicationRequest/${orderId}`, (order) => {
    const instruction = order.dosageInstruction?.[0] ?? {};
    if (dose === null) {
      delete instruction.doseAndRate;
    } else {
      instruction.timing = { repeat: { frequency: dose.perDay ?? 1, period: 1, periodUnit: 'd' } };
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

/** Sets the requester's specialty (NUCC code), or removes it. */
export function setSpecialty(bundle: Bundle, roleId: string, code: string | null, display = ''): Bundle {
  return patch(bundle, `PractitionerRole/${roleId}`, (r: import('fhir/r4').PractitionerRole) => {
    if (code === null) delete r.specialty;
    else r.specialty = [{ coding: [{ system: NUCC, code, display }] }];
  });
}

// ---------------------------------------------------------------- the kit per policy

export interface PolicyKitOptions {
  /** Folder under fixtures/. */
  fixtures: string;
  questionnaire: string;
  /** Id of the QuestionnaireResponse `answer` creates. */
  qrId: string;
  citationPrefix: string;
  /** Id of the requested MedicationRequest in every fixture (default `medreq-kineret`). */
  orderId?: string;
}

export interface RequestOptions {
  phaseHint?: EvaluationRequest['phaseHint'];
  placeOfService?: string;
  priorAuthorizations?: PriorAuthorization[];
  /** Replaces the payer identifier value (NAIC) the Coverage names. */
  payerValue?: string;
  diagnoses?: Coding[];
  evaluationDate?: Date;
}

export interface Row {
  id: string;
  status: CriterionStatus;
  /** The one fact in which the variant differs from its base. */
  fact: string;
  edit?: (bundle: Bundle) => void;
  options?: RequestOptions;
  /** Exact evidence references of the criterion (none when absent). */
  evidence?: string[];
  /** Other criteria whose status the same fact changes, by policy logic. */
  also?: Record<string, CriterionStatus>;
}

export interface Table {
  base: string;
  prepare?: (bundle: Bundle) => void;
  options?: RequestOptions;
  /** Status of every criterion in the base. */
  baseline: Record<string, CriterionStatus>;
  /** The indication the base selects. */
  indication: string;
  phase?: 'initial' | 'continuation';
  /** False when all-met still pends (no approval duration or a non-auto route). */
  approvable?: boolean;
  rows: Row[];
}

export function policyKit(options: PolicyKitOptions) {
  const dir = path.join(REPO_ROOT, 'fixtures', options.fixtures);
  const cache = new Map<string, Bundle>();
  const orderId = options.orderId ?? 'medreq-kineret';
  const requestedOrder = (bundle: Bundle): MedicationRequest => {
    const order = ofType(bundle, 'MedicationRequest').find((m) => m.id === orderId);
    if (!order) throw new Error(`${bundle.id} has no MedicationRequest/${orderId}`);
    return order;
  };

  function load(base: string): Bundle {
    let bundle = cache.get(base);
    if (!bundle) {
      bundle = JSON.parse(fs.readFileSync(path.join(dir, `${base}.json`), 'utf8')) as Bundle;
      cache.set(base, bundle);
    }
    return structuredClone(bundle);
  }

  /** Adds answers to the bundle's completed QuestionnaireResponse (creating it when there is none). */
  function answer(bundle: Bundle, answers: Record<string, AnswerValue | null>): Bundle {
    const patient = patientOf(bundle);
    let qr = ofType(bundle, 'QuestionnaireResponse').find((r) => r.id === options.qrId);
    if (!qr) {
      const order = requestedOrder(bundle);
      qr = {
        resourceType: 'QuestionnaireResponse',
        id: options.qrId,
        questionnaire: `${options.questionnaire}|1.0.0`,
        status: 'completed',
        subject: { reference: `Patient/${patient.id}` },
        authored: '2026-11-19T16:05:00-05:00',
        ...(order.requester ? { author: order.requester } : {}),
        item: [],
      } satisfies QuestionnaireResponse;
      add(bundle, qr);
    }
    for (const [linkId, value] of Object.entries(answers)) {
      const items: QuestionnaireResponseItem[] = qr.item ?? (qr.item = []);
      if (value === null) {
        qr.item = items.filter((i) => i.linkId !== linkId);
        continue;
      }
      const existing = items.find((i) => i.linkId === linkId);
      if (existing) existing.answer = [answerFor(value)];
      else items.push({ linkId, answer: [answerFor(value)] });
    }
    return bundle;
  }

  const qrRef = (linkId: string) => `QuestionnaireResponse/${options.qrId}#${linkId}`;

  function requestFor(bundle: Bundle, request: RequestOptions = {}): EvaluationRequest {
    const coverage = ofType(bundle, 'Coverage')[0] as Coverage | undefined;
    const payorRef = coverage?.payor?.[0]?.reference;
    const payor = payorRef ? find<Organization>(bundle, payorRef) : undefined;
    const identifiers = (payor?.identifier ?? []).map((i) => ({
      ...(i.system ? { system: i.system } : {}),
      ...((request.payerValue ?? i.value) ? { value: request.payerValue ?? i.value } : {}),
    }));
    const order = requestedOrder(bundle);
    const patient = patientOf(bundle);
    const state = patient.address?.find((a) => a.use === 'home' || a.use === undefined)?.state;
    return {
      bundle,
      patientId: patient.id ?? '',
      payer: {
        identifiers,
        lineOfBusiness: coverage?.type?.coding ?? [],
        planValues: (coverage?.class ?? []).filter((c) => c.type.coding?.some((x) => x.code === 'plan')).map((c) => c.value),
        ...(state ? { state } : {}),
      },
      drug: { codes: order.medicationCodeableConcept?.coding ?? [], ...(order.id ? { orderId: order.id } : {}) },
      diagnoses: request.diagnoses ?? (order.reasonCode ?? []).flatMap((c) => c.coding ?? []),
      ...(request.phaseHint ? { phaseHint: request.phaseHint } : {}),
      ...(request.placeOfService ? { placeOfService: { system: POS_SYSTEM, code: request.placeOfService } } : {}),
      priorAuthorizations: request.priorAuthorizations ?? [],
      evaluationDate: request.evaluationDate ?? EVALUATION_DATE,
    };
  }

  const evaluate = (bundle: Bundle, request: RequestOptions = {}): Promise<Decision> => getEngine().evaluate(requestFor(bundle, request));

  function runTable(table: Table): void {
    const approvable = table.approvable ?? true;
    const outcomeFor = (decision: Decision, expected: Record<string, string>): 'approve' | 'pend' | 'deny' => {
      const onUnmet = Object.fromEntries(decision.criteria.map((c) => [c.id, c.onUnmet]));
      const values = Object.entries(expected);
      if (values.some(([id, s]) => s === 'unmet' && onUnmet[id] === 'deny')) return 'deny';
      if (approvable && values.every(([, s]) => s === 'met' || s === 'not-applicable')) return 'approve';
      return 'pend';
    };

    test(`the base (${table.base}) decides as its baseline says`, async () => {
      const bundle = load(table.base);
      table.prepare?.(bundle);
      const decision = await evaluate(bundle, table.options);
      expect(decision.policy?.citationPrefix).toBe(options.citationPrefix);
      expect(decision.indication?.id).toBe(table.indication);
      expect(decision.phase).toBe(table.phase ?? 'initial');
      expect(statuses(decision)).toEqual(table.baseline);
      expect(decision.warnings).toEqual([]);
    });

    test.each(table.rows.map((row) => [`${row.id} ${row.status}: ${row.fact}`, row] as const))('%s', async (_name, row) => {
      const bundle = load(table.base);
      table.prepare?.(bundle);
      row.edit?.(bundle);
      const decision = await evaluate(bundle, { ...table.options, ...row.options });
      expect(decision.indication?.id).toBe(table.indication);
      expect(decision.phase).toBe(table.phase ?? 'initial');

      const result = criterion(decision, row.id);
      expect(result.status).toBe(row.status);
      expect(result.citation).toBe(`${options.citationPrefix} ${row.id}`);
      expect(result.evidence).toEqual([...(row.evidence ?? [])].sort());

      const expected = { ...table.baseline, ...row.also, [row.id]: row.status };
      expect(statuses(decision)).toEqual(expected);
      expect(decision.warnings).toEqual([]);

      const outcome = outcomeFor(decision, expected);
      expect(decision.outcome).toBe(outcome);
      if (outcome === 'approve') {
        expect(decision.approvalPeriod).toBeDefined();
        expect(decision.reasons.map((r) => r.code)).toEqual(['criteria-met']);
      } else {
        expect(decision.approvalPeriod).toBeUndefined();
      }
      if (row.status === 'unmet' || row.status === 'unknown') {
        const code = outcome === 'deny' ? 'not-authorized' : row.status === 'unmet' ? 'criteria-unmet' : 'criteria-unknown';
        expect(decision.reasons).toContainEqual(expect.objectContaining({ code, citation: `${options.citationPrefix} ${row.id}` }));
      }
      if (outcome === 'deny') {
        for (const reason of decision.reasons) expect(reason.code).toBe('not-authorized');
      }
    });
  }

  return { load, answer, qrRef, requestFor, evaluate, runTable, requestedOrder };
}

export function criterion(decision: Decision, id: string): CriterionResult {
  const found = decision.criteria.find((c) => c.id === id);
  if (!found) throw new Error(`criterion ${id} not in decision (${decision.criteria.map((c) => c.id).join(', ')})`);
  return found;
}

/** Every criterion's status, by id. */
export function statuses(decision: Decision): Record<string, string> {
  return Object.fromEntries(decision.criteria.map((c) => [c.id, c.status]));
}
