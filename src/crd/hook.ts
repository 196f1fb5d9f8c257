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
import { approvalBasis } from '../engine/decision';
import type { Store } from '../store';
import { asPriorAuthorizations, memberKeyOf, orderKeyOf } from '../store';
import { answeredByAuthorization, authorizationOnFile } from '../authorization';
import { payerToday } from '../core/dates';
import { badRequest, notFound } from '../fhir/outcomes';
import type { Logger } from '../logger';
import { buildDiscovery, hookForServiceId, parseConfiguration, parseRequestedVersion, prefetchTemplates, type DiscoveryOptions } from './discovery';
import { parseCdsHooksRequest, parseCdsHooksRequestWith } from './request';
import type { StructureChecker } from '../fhir/structure-pool';
import { gatherPatientData, resolveOrderMedications } from './data';
import { neutralResponse, selectCoverage } from './coverage-selection';
import { drugCodes, toEvaluationRequest } from './evaluation';
import { mayGrantUnsolicitedDetermination } from './coverage-information';
import { answerOrders, type OrderAnswerInput } from './cards';
import type { FhirFetcherFactory } from '../fhir/fetcher';
import type { RequestLimits } from '../fhir/structure';
import type { CdsServiceResponse, DiscoveryResponse } from './types';

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
 * The LOINC observation codes the catalog's value sets name, for the prefetch template. The catalog
 * is fixed for an engine's life, so this is computed once per engine, not on every hook call.
 */
export function discoveryOptions(engine: PolicyEngine): DiscoveryOptions {
  let options = optionsByEngine.get(engine);
  if (!options) {
    const codes = [...engine.valueSets.valueSets.keys()].flatMap((url) => engine.valueSets.codes(url).filter((c) => c.system === 'http://loinc.org'));
    options = { observationCodes: codes };
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

export async function handleHook(serviceId: string, body: unknown, deps: HookDeps): Promise<HookOutcome> {
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
  const member = memberKeyOf(payerId ?? 'unknown-payer', coverage, request.context.patientId);
  const authorizations = await deps.store.listAuthorizations({ memberKey: member });
  const today = payerToday(now, deps.engine.timeZone);

  const answers: OrderAnswerInput[] = [];
  const outcomes: string[] = [];
  for (const order of data.orders) {
    const selection = deps.engine.catalog.select(payer, { codes: drugCodes(order, data.bundle) });
    const orderKey = orderKeyOf(order, request.fhirServer);
    if (!selection.policy) {
      // CRD 2.0.1 hooks.md (Hook categories): order-sign and order-dispatch SHALL return a
      // coverage-information system action. Without a policy PAS pends the request for clinical
      // review (A4), so CRD says the same: covered, auth-needed, with the reason.
      const decision = noPolicyDecision(selection.text, now);
      decision.warnings.push(...warnings, ...data.warnings);
      const assertion = await deps.store.saveCoverageAssertion({ hookInstance: request.hookInstance, policyId: null, orderKey, patientKey: member, decision });
      answers.push({ order: order as MedicationRequest, decision, policy: null, assertionId: assertion.id });
      outcomes.push('no-policy');
      continue;
    }
    const policy = selection.policy;
    // An authorization granted earlier for this very order is not prior therapy: with it on file a
    // repeated call (or order-dispatch after order-sign) would be judged as a continuation request.
    const onFile = asPriorAuthorizations(authorizations.filter((a) => orderKey === null || a.orderKey !== orderKey));
    const evaluated = await deps.engine.evaluatePolicy(
      policy,
      toEvaluationRequest({ order, data, patientId: request.context.patientId, payer, priorAuthorizations: onFile, evaluationDate: now }),
    );
    evaluated.warnings.push(...warnings, ...data.warnings);
    // An authorization already valid for this member and drug (this order's, or an equivalent
    // order's) is the answer: the order is not judged again as continued therapy.
    const earlier =
      // A client that switched unsolicited determinations off hears none, even of an earlier grant.
      hook !== 'order-select' && config.coverageInfo && config.unsolicitedDeterm && evaluated.outcome !== 'deny'
        ? authorizationOnFile(authorizations, { memberKey: member, drugKey: policy.drug.valueSet, orderKey }, today)
        : undefined;
    const decision = earlier ? answeredByAuthorization(evaluated, earlier) : evaluated;
    const grant = !earlier && mayGrantUnsolicitedDetermination(decision, hook, config) && decision.approvalPeriod;
    const assertion = await deps.store.saveCoverageAssertion({
      hookInstance: request.hookInstance,
      policyId: policy.id,
      orderKey,
      patientKey: member,
      decision,
      questionnaire: policy.questionnaire,
      ...(grant
        ? {
            authorization: {
              memberKey: member,
              policyId: policy.id,
              drugKey: policy.drug.valueSet,
              orderKey,
              status: 'approved' as const,
              basis: approvalBasis(decision),
              start: grant.start,
              end: grant.end,
            },
          }
        : {}),
    });
    const granted = earlier ?? assertion.authorization;
    answers.push({
      order: order as MedicationRequest,
      decision,
      policy,
      assertionId: assertion.id,
      ...(granted && granted.end ? { satisfiedAuthorization: { number: granted.number, end: granted.end, ...(granted.start ? { start: granted.start } : {}) } } : {}),
    });
    outcomes.push(granted ? 'satisfied' : decision.outcome);
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
