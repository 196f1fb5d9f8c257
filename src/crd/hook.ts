/**
 * CRD hook services (Da Vinci CRD 2.0.1, accepting 2.1/2.2 requests; CDS Hooks 2.0):
 * `order-sign`, `order-select` and `order-dispatch` for drug orders.
 * https://hl7.org/fhir/us/davinci-crd/STU2/hooks.html
 *
 * Supports: prefetch first, every missing key read from `fhirServer` with the bearer token (the
 * answer is the same either way); the one active Coverage of a payer we serve (else a neutral info card, coverage-selection.ts); per draft MedicationRequest
 * that the catalog has a policy for: the same CQL decision as PAS, the coverage-information
 * system action, Instructions / External Reference / alternatives cards; an authorization granted
 * on the spot (`satisfied`) when every criterion is met, the policy allows automatic approval and
 * the client has not switched unsolicited determinations off — persisted as the same record
 * `$submit` returns later; an authorization already valid for the member and drug (src/authorization)
 * answers `satisfied` instead of a new review; the coverage assertion persisted with its criteria
 * trace for DTR/PAS.
 * Does not support: ServiceRequest/DeviceRequest orders (drug policies only), appointment and
 * encounter hooks.
 */
import crypto from 'node:crypto';
import type { MedicationRequest } from 'fhir/r4';
import { noPolicyDecision, type PolicyEngine } from '../engine';
import type { Store } from '../store';
import { audited, decideOrder, readMemberFile } from '../authorization';
import { payerToday } from '../core/dates';
import { badRequest, notFound } from '../fhir/outcomes';
import type { Logger } from '../logger';
import { buildDiscovery, hookForServiceId, parseConfiguration, parseRequestedVersion, prefetchTemplates, type DiscoveryOptions } from './discovery';
import { parseCdsHooksRequest, parseCdsHooksRequestWith } from './request';
import type { StructureChecker } from '../fhir/structure-checker';
import { gatherPatientData, resolveOrderMedications } from './data';
import { neutralResponse, selectCoverage } from './coverage-selection';
import { drugCodes, toEvaluationRequest } from './evaluation';
import { mayGrantUnsolicitedDetermination } from './coverage-information';
import { answerOrders, type OrderAnswerInput } from './cards';
import type { FhirFetcherFactory } from '../fhir/fetcher';
import type { RequestLimits } from '../fhir/structure';
import type { CdsServiceResponse, DiscoveryResponse } from './types';
import { chartRequirements } from '../engine/data-requirements';

export interface HookDeps {
  engine: PolicyEngine;
  store: Store;
  logger: Logger;
  clock: () => Date;
  publicBaseUrl: string;
  /** Reads from the client's FHIR server; default fhir-kit-client. Tests inject a local one. */
  fetcherFactory?: FhirFetcherFactory;
  /** CDS Hooks: fhirServer MUST be https when production data is exchanged (set when JWTs are verified). */
  requireHttpsFhirServer?: boolean;
  /** Request-size bounds (src/config.ts). */
  limits?: RequestLimits;
  /** The R4 structure check on worker threads (absent: in-process). */
  structure?: StructureChecker;
}

const optionsByEngine = new WeakMap<PolicyEngine, DiscoveryOptions>();

/**
 * What the catalog's CQL reads, for the prefetch templates. The catalog is fixed for an engine's
 * life, so this is computed once per engine, not on every hook call.
 */
export function discoveryOptions(engine: PolicyEngine): DiscoveryOptions {
  let options = optionsByEngine.get(engine);
  if (!options) {
    options = { requirements: chartRequirements(engine.libraries, engine.valueSets) };
    optionsByEngine.set(engine, options);
  }
  return options;
}

export function discovery(engine: PolicyEngine): DiscoveryResponse {
  return buildDiscovery(discoveryOptions(engine));
}

export interface HookOutcome {
  response: CdsServiceResponse;
  payerId: string | null;
  policyIds: string[];
  outcomes: string[];
}

/** Who calls, known once the edge has authenticated the call (inside its audit). */
export interface HookCaller {
  /** JWT `iss|sub`; null in open mode. */
  actor: string | null;
  /** Reads from the client's FHIR server, restricted to what this caller may read. */
  fetcherFactory?: FhirFetcherFactory;
}

export interface HookCall {
  requestId: string;
  /** Authenticates the call (e.g. the CDS Hooks JWT); throws 401 when refused. */
  authenticate: () => Promise<HookCaller>;
}

/**
 * A CDS Hooks call with its audit row (`crd.{hook}`: actor, hookInstance, payer, policies,
 * outcomes, latency, status), written whatever happens, a refused token included.
 */
export async function handleHook(serviceId: string, body: unknown, deps: HookDeps, call: HookCall): Promise<HookOutcome> {
  const hookInstance = (body as { hookInstance?: unknown } | null)?.hookInstance;
  return audited(
    deps.store,
    { requestId: call.requestId, action: `crd.${serviceId.replace(/^pa-/, '')}`, hookInstance: typeof hookInstance === 'string' ? hookInstance : null },
    async (scope) => {
      const caller = await call.authenticate();
      scope.actor = caller.actor;
      return answerHook(serviceId, body, caller.fetcherFactory ? { ...deps, fetcherFactory: caller.fetcherFactory } : deps);
    },
    (result) => ({ payerId: result.payerId, policyId: result.policyIds.join(',') || null, outcome: result.outcomes.join(',') || 'no-policy' }),
  );
}

async function answerHook(serviceId: string, body: unknown, deps: HookDeps): Promise<HookOutcome> {
  const hook = hookForServiceId(serviceId);
  if (!hook) throw notFound(`No CDS service ${serviceId}; see GET /cds-services`);
  const parseOptions = { requireHttpsFhirServer: deps.requireHttpsFhirServer ?? false, ...(deps.limits ? { limits: deps.limits } : {}) };
  const request = deps.structure ? await parseCdsHooksRequestWith(deps.structure, body, hook, parseOptions) : parseCdsHooksRequest(body, hook, parseOptions);
  const version = parseRequestedVersion(request.extension);
  const { config, warnings } = parseConfiguration(request.extension);
  const now = deps.clock();

  const data = await gatherPatientData({
    request,
    prefetchTemplates: prefetchTemplates(hook, discoveryOptions(deps.engine)),
    ...(deps.fetcherFactory ? { fetcher: deps.fetcherFactory } : {}),
  });
  await resolveOrderMedications(data);
  const selected = await selectCoverage(data, now, deps.engine.catalog);
  if ('neutral' in selected) {
    const response = config.maxCards === 0 ? { cards: [] } : neutralResponse(selected, version);
    return { response, payerId: null, policyIds: [], outcomes: [selected.neutral] };
  }
  const { coverage, payer, payerName } = selected.served;
  const payerId = payer.identifiers.find((i) => i.value)?.value ?? null;
  const today = payerToday(now, deps.engine.timeZone);
  const file = await readMemberFile(deps.store, { payerId: payerId ?? 'unknown-payer', coverage, patientId: request.context.patientId }, today);
  // A client that switched unsolicited determinations off hears none, even of an earlier grant.
  const mayAnswerFromFile = hook !== 'order-select' && config.coverageInfo && config.unsolicitedDeterm;

  const answers: OrderAnswerInput[] = [];
  const outcomes: string[] = [];
  for (const order of data.orders) {
    const codes = drugCodes(order, data.bundle);
    const selection = deps.engine.catalog.select(payer, { codes });
    const policy = selection.policy;
    const { decision, keys, onFile, grant } = await decideOrder(
      file,
      {
        order,
        fhirServer: request.fhirServer,
        drugCodes: codes,
        // CRD 2.0.1 hooks.md (Hook categories): order-sign and order-dispatch SHALL return a
        // coverage-information system action. Without a policy PAS pends the request for clinical
        // review (A4), so CRD says the same: covered, auth-needed, with the reason.
        evaluate: async (priorAuthorizations) => {
          const evaluated = policy
            ? await deps.engine.evaluatePolicy(
                policy,
                toEvaluationRequest({ order, data, patientId: request.context.patientId, payer, priorAuthorizations, evaluationDate: now }),
              )
            : noPolicyDecision(selection.text, now);
          evaluated.warnings.push(...warnings, ...data.warnings);
          return evaluated;
        },
        // An authorization already valid for this member and drug (this order's, or an equivalent
        // order's) is the answer: the order is not judged again as continued therapy.
        answerFromFile: policy !== undefined && mayAnswerFromFile,
        ownOrderIsNotPrior: true,
      },
      deps.engine.catalog,
    );
    const granting = policy && grant && mayGrantUnsolicitedDetermination(decision, hook, config) ? grant : undefined;
    const assertion = await deps.store.saveCoverageAssertion({
      hookInstance: request.hookInstance,
      policyId: policy?.id ?? null,
      orderKey: keys.orderKey,
      patientKey: file.memberKey,
      decision,
      ...(policy ? { questionnaire: policy.questionnaire } : {}),
      // Granted on the spot (`satisfied`): saved in the assertion's transaction.
      ...(granting ? { authorization: granting } : {}),
    });
    const granted = onFile ?? assertion.authorization;
    answers.push({
      order: order as MedicationRequest,
      decision,
      policy: policy ?? null,
      assertionId: assertion.id,
      ...(granted && granted.end ? { satisfiedAuthorization: { number: granted.number, end: granted.end, ...(granted.start ? { start: granted.start } : {}) } } : {}),
    });
    outcomes.push(!policy ? 'no-policy' : granted ? 'satisfied' : decision.outcome);
  }

  const response = answerOrders(answers, {
    hook,
    version,
    config,
    payerName,
    publicBaseUrl: deps.publicBaseUrl,
    coverage: coverage.id ? `Coverage/${coverage.id}` : 'Coverage',
    date: today,
    resolveAlternative: (alternative) => deps.engine.valueSets.codes(alternative.valueSet)[0],
    newId: () => crypto.randomUUID(),
  });
  return { response, payerId, policyIds: answers.flatMap((a) => (a.policy ? [a.policy.id] : [])), outcomes };
}

/**
 * `POST /cds-services/{id}/feedback` (CDS Hooks 2.0): `{ feedback: [{ card, outcome, ... }] }`.
 * Stored as received; the answer carries no body.
 */
export async function handleFeedback(serviceId: string, body: unknown, store: Store): Promise<void> {
  if (!hookForServiceId(serviceId)) throw notFound(`No CDS service ${serviceId}; see GET /cds-services`);
  const feedback = (body as { feedback?: unknown } | null)?.feedback;
  if (!Array.isArray(feedback) || feedback.length === 0) throw badRequest('Feedback needs a non-empty "feedback" array', 'feedback');
  feedback.forEach((item, i) => {
    const f = item as { card?: unknown; outcome?: unknown };
    if (typeof f?.card !== 'string') throw badRequest('Each feedback item names the card it is about', `feedback[${i}].card`);
    if (f.outcome !== 'accepted' && f.outcome !== 'overridden') {
      throw badRequest('Feedback outcome is "accepted" or "overridden"', `feedback[${i}].outcome`);
    }
  });
  await store.saveFeedback(serviceId, body);
}
