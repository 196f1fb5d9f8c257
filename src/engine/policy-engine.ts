/**
 * The policy engine: catalog + value sets + compiled CQL, built once; `evaluate` decides one
 * drug request and returns the shared Decision contract. No HTTP, no storage: callers pass
 * the data (including prior authorizations on file) and persist the result.
 *
 * It is built from what ./sources.ts read and validated. The worker threads build theirs from
 * the policies the main thread validated and the files they read themselves
 * (./knowledge-sources.ts), so this module and what it imports stay free of the catalog's schema
 * library (zod: ~65 ms of every worker's start).
 */
import type { Bundle, Coding, Condition } from 'fhir/r4';
import type { ValueSetIndex } from '../catalog/terminology';
import { createCatalog, type PolicyCatalog } from '../catalog/catalog';
import type { PolicyDefinition, TherapyPhase } from '../catalog/types';
import type { Decision } from './decision';
import type { EngineSources } from './knowledge-sources';
import type { EvaluationRequest } from './request';
import { librariesOf, type LibrarySet } from './libraries';
import { codeServiceFor, openSession, type CqlInputs, type ExpressionResults } from './evaluate';
import { decide, expressionsFor, selectIndication } from './decide';
import { preparePatientData } from './patient-data';
import { warning } from '../fhir/outcomes';
import { codingsOf } from '../fhir/json';
import { resourcesOfType } from '../fhir/bundle-index';
import type { CodeService } from 'cql-execution';
import { DEFAULT_PAYER_TIME_ZONE, payerToday } from '../core/dates';
import { installCqlDates } from './cql-dates';
import { installLeanExecute, installLeanQueries } from './cql-execute';

export interface PolicyEngine {
  readonly catalog: PolicyCatalog;
  readonly valueSets: ValueSetIndex;
  readonly libraries: LibrarySet;
  /** The value-set expansions as the CQL engine's terminology provider, built once. */
  readonly codeService: CodeService;
  /** The payer's time zone (`PAYER_TIME_ZONE`): a request's instant becomes the payer's date in it. */
  readonly timeZone: string;
  /** Decides one request: selects the policy by payer, line of business and drug, then evaluates it. */
  evaluate(request: EvaluationRequest): Promise<Decision>;
  /** Evaluates a given policy (e.g. chosen by a DTR questionnaire canonical). */
  evaluatePolicy(policy: PolicyDefinition, request: EvaluationRequest): Promise<Decision>;
  /**
   * Runs named definitions of one library against a patient's prepared data (DTR pre-population),
   * within the evaluation time budget. Values are CQL values; FHIR-typed ones may come back as
   * their JSON only (`_json`), as they do from a worker.
   */
  evaluateDefinitions(library: string, definitions: readonly string[], data: Bundle, inputs: CqlInputs): Promise<ExpressionResults>;
  /** Stops the evaluation workers, when there are any. */
  close?(): Promise<void>;
}

export interface EngineOptions {
  /** Time budget of one evaluation: definitions still unevaluated past it are unknown, with a warning. */
  timeoutMs?: number;
  /** The payer's time zone (IANA name); default America/New_York. */
  timeZone?: string;
  /**
   * Each request is the engine's own copy (a worker's, received by message), so its bundle is
   * prepared in place: copying it again was ~3% of an evaluation.
   */
  ownsRequests?: boolean;
}

export function policyEngine(sources: EngineSources, options: EngineOptions = {}): PolicyEngine {
  const { knowledge, valueSets } = sources;
  // cql-execution's date operations by calendar arithmetic, its nodes without a per-node wrapper
  // and its one-source queries run directly, for every evaluation in this thread (./cql-dates, ./cql-execute).
  installCqlDates();
  installLeanExecute();
  installLeanQueries();
  const catalog = createCatalog(sources.policies, valueSets);
  const libraries = librariesOf(knowledge.elm, knowledge.elmFolder, knowledge.fhirModel);
  for (const policy of catalog.policies) {
    const lib = libraries.libraries.get(policy.library.name);
    if (!lib) throw new Error(`Policy ${policy.id}: CQL library ${policy.library.name} is not compiled`);
    if (lib.version !== policy.library.version) {
      throw new Error(`Policy ${policy.id}: catalog wants ${policy.library.name} ${policy.library.version}, compiled is ${lib.version}`);
    }
    const missing = policyExpressions(policy).filter((e) => !libraries.has(policy.library.name, e));
    if (missing.length > 0) {
      throw new Error(`Policy ${policy.id}: ${policy.library.name} has no definition(s) ${missing.map((m) => `"${m}"`).join(', ')}`);
    }
  }
  const codeService = codeServiceFor(valueSets);
  const budget = options.timeoutMs ?? Infinity;
  const timeZone = options.timeZone ?? DEFAULT_PAYER_TIME_ZONE;
  const inPlace = options.ownsRequests ?? false;
  const engine: PolicyEngine = {
    catalog,
    valueSets,
    libraries,
    codeService,
    timeZone,
    async evaluate(request) {
      const deadline = performance.now() + budget;
      const selection = catalog.select(request.payer, request.drug);
      if (!selection.policy) return noPolicyDecision(selection.text, request.evaluationDate);
      return evaluatePolicy(selection.policy, request, libraries, valueSets, codeService, timeZone, deadline, inPlace);
    },
    evaluatePolicy: (policy, request) => evaluatePolicy(policy, request, libraries, valueSets, codeService, timeZone, performance.now() + budget, inPlace),
    evaluateDefinitions: (library, definitions, data, inputs) => openSession(libraries, library, data, inputs, codeService, performance.now() + budget).run(definitions),
  };
  return engine;
}

function policyExpressions(policy: PolicyDefinition): string[] {
  const phases = policy.indications.flatMap((i) => [i.initial, ...(i.continuation ? [i.continuation] : [])]);
  return [...new Set([...(policy.continuationExpression ? [policy.continuationExpression] : []), ...phases.flatMap((p) => expressionsFor(policy, p))])];
}

export function noPolicyDecision(text: string, evaluationDate: Date): Decision {
  return {
    policy: null,
    indication: null,
    phase: 'initial',
    outcome: 'pend',
    reviewRoute: 'physician-reviewer',
    criteria: [],
    reasons: [{ code: 'no-policy', text: `${text} The request goes to clinical review.` }],
    warnings: [],
    evaluatedAt: evaluationDate.toISOString(),
  };
}

function chartDiagnoses(conditions: Condition[]): Coding[] {
  return conditions
    .filter(
      (c) =>
        codingsOf(c.clinicalStatus).some((x) => ['active', 'recurrence', 'relapse'].includes(x.code ?? '')) &&
        !codingsOf(c.verificationStatus).some((x) => ['refuted', 'entered-in-error'].includes(x.code ?? '')),
    )
    .flatMap((c) => codingsOf(c.code));
}

function indicationOf(policy: PolicyDefinition, request: EvaluationRequest, bundle: Bundle, valueSets: ValueSetIndex) {
  const conditions = resourcesOfType<Condition>(bundle, 'Condition');
  return selectIndication(policy, request.diagnoses, chartDiagnoses(conditions), (vs, c) => valueSets.contains(vs, c));
}

/**
 * The decision when an evaluation ran past its budget and had to be stopped: every criterion
 * unknown, with a warning, and the request pended for review (never approved, never denied).
 */
export function timedOutDecision(
  policy: PolicyDefinition,
  request: EvaluationRequest,
  valueSets: ValueSetIndex,
  timeZone: string,
  budgetMs: number,
): Decision {
  const data = preparePatientData(request.bundle, request.patientId);
  const indication = indicationOf(policy, request, data.bundle, valueSets);
  const text = `The evaluation did not finish within its time budget (${budgetMs} ms); the criteria were not evaluated.`;
  const decision = decide({
    policy,
    indication,
    phase: request.phaseHint ?? 'initial',
    results: new Map(),
    warnings: [warning('timeout', text)],
    evaluationDate: request.evaluationDate,
    today: payerToday(request.evaluationDate, timeZone),
  });
  const criteria = decision.criteria.map((c) => (c.status === 'not-applicable' ? c : { ...c, status: 'unknown' as const, note: 'not evaluated: time budget exceeded' }));
  const route = decision.reviewRoute === 'auto' ? 'physician-reviewer' : decision.reviewRoute;
  return {
    ...decision,
    criteria,
    outcome: 'pend',
    reviewRoute: route,
    reasons: [
      ...criteria.filter((c) => c.status === 'unknown').map((c) => ({ code: 'criteria-unknown' as const, text: `Not evaluated: ${c.text}`, citation: c.citation })),
      { code: 'review-required', text },
    ],
  };
}

async function evaluatePolicy(
  policy: PolicyDefinition,
  request: EvaluationRequest,
  libraries: LibrarySet,
  valueSets: ValueSetIndex,
  codeService: CodeService,
  timeZone: string,
  deadline: number,
  inPlace: boolean,
): Promise<Decision> {
  const data = preparePatientData(request.bundle, request.patientId, { inPlace });
  const warnings = [];
  const inputs: CqlInputs = {
    ...(request.drug.orderId ? { orderId: request.drug.orderId } : {}),
    ...(request.phaseHint ? { phaseHint: request.phaseHint } : {}),
    ...(request.placeOfService ? { placeOfService: request.placeOfService } : {}),
    lineOfBusiness: request.payer.lineOfBusiness,
    diagnoses: request.diagnoses,
    priorAuthorizations: request.priorAuthorizations,
    evaluationDate: request.evaluationDate,
    timeZone,
  };
  const indication = indicationOf(policy, request, data.bundle, valueSets);

  const session = openSession(libraries, policy.library.name, data.bundle, inputs, codeService, deadline);
  let phase: TherapyPhase = request.phaseHint ?? 'initial';
  if (!request.phaseHint && policy.continuationExpression) {
    const result = (await session.run([policy.continuationExpression])).get(policy.continuationExpression);
    if (result && 'value' in result && result.value === true) phase = 'continuation';
    if (result && 'error' in result) warnings.push(warning('exception', `Continued-therapy check: ${result.error.message}`));
  }
  const phaseDefinition = indication ? (phase === 'continuation' ? (indication.continuation ?? indication.initial) : indication.initial) : undefined;
  const results = phaseDefinition
    ? await session.run(expressionsFor(policy, phaseDefinition))
    : new Map();
  return decide({
    policy,
    indication,
    phase,
    results,
    warnings,
    evaluationDate: request.evaluationDate,
    today: payerToday(request.evaluationDate, timeZone),
  });
}
