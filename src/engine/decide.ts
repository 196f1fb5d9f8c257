/**
 * Turns a policy's catalog entry plus its CQL results into a Decision.
 *
 * The rules, the same for every policy:
 * - a criterion is `met` only when its CQL definition returns true; false is `unmet`; null,
 *   a non-Boolean or an evaluation error is `unknown` (with a warning) — never `met`;
 * - `deny` only where the policy says coverage is not authorized (a criterion with
 *   `onUnmet: deny` that is unmet, or a phase whose disposition is `deny`);
 * - `approve` only when every criterion is met or not applicable, the review route is `auto`
 *   and the phase has an approval duration; everything else is `pend` for the named reviewer.
 */
import type { Coding, OperationOutcomeIssue } from 'fhir/r4';
import type { CriterionDefinition, IndicationDefinition, PhaseDefinition, PolicyDefinition, ReviewRoute, TherapyPhase } from '../catalog/types';
import type { CriterionResult, CriterionStatus, Decision, DecisionReason } from './decision';
import type { ExpressionResults } from './evaluate';
import { warning } from '../fhir/outcomes';
import { approvalPeriod } from '../core/dates';

/** Definitions of a policy library that the decision needs for one indication and phase. */
export function expressionsFor(policy: PolicyDefinition, phase: PhaseDefinition): string[] {
  const criteria = [...(policy.globalCriteria ?? []), ...phase.criteria];
  const rule = policy.approveWithoutReview;
  return [
    ...criteria.flatMap((c) => [c.expression, ...(c.evidence ? [c.evidence] : []), ...(c.applicableWhen ? [c.applicableWhen] : [])]),
    ...(rule ? [rule.expression, ...(rule.evidence ? [rule.evidence] : [])] : []),
  ];
}

/** Resource references out of whatever an evidence definition returned (resources, strings, lists, tuples). */
export function evidenceReferences(value: unknown, into: Set<string> = new Set()): Set<string> {
  if (value === null || value === undefined) return into;
  if (typeof value === 'string') {
    if (/^[A-Z][A-Za-z]+\/[^/\s]+/.test(value)) into.add(value);
    return into;
  }
  if (Array.isArray(value)) {
    for (const item of value) evidenceReferences(item, into);
    return into;
  }
  if (typeof value === 'object') {
    const json = (value as { _json?: { resourceType?: unknown; id?: unknown } })._json;
    if (json && typeof json.resourceType === 'string' && typeof json.id === 'string') {
      into.add(`${json.resourceType}/${json.id}`);
      return into;
    }
    for (const inner of Object.values(value as Record<string, unknown>)) evidenceReferences(inner, into);
  }
  return into;
}

function criterionResult(
  policy: PolicyDefinition,
  definition: CriterionDefinition,
  results: ExpressionResults,
  warnings: OperationOutcomeIssue[],
): CriterionResult {
  const citation = `${policy.citationPrefix} ${definition.id}`;
  const base = { id: definition.id, citation, text: definition.text, onUnmet: definition.onUnmet ?? 'pend' } as const;
  if (definition.applicableWhen) {
    const applicable = results.get(definition.applicableWhen);
    if (applicable && 'value' in applicable && applicable.value === false) {
      return { ...base, status: 'not-applicable', evidence: [] };
    }
  }
  const outcome = results.get(definition.expression);
  let status: CriterionStatus = 'unknown';
  let note: string | undefined;
  if (!outcome) {
    note = `definition "${definition.expression}" was not evaluated`;
  } else if ('error' in outcome) {
    note = 'the rule could not be evaluated from the data';
    warnings.push(warning('exception', `${citation}: ${outcome.error.message}`));
  } else if (outcome.value === true) {
    status = 'met';
  } else if (outcome.value === false) {
    status = 'unmet';
  } else if (outcome.value !== null && outcome.value !== undefined) {
    note = 'the rule returned a value that is not true or false';
    warnings.push(warning('processing', `${citation}: "${definition.expression}" returned a non-Boolean value`));
  }
  const evidence = new Set<string>();
  if (definition.evidence) {
    const ev = results.get(definition.evidence);
    if (ev && 'value' in ev) evidenceReferences(ev.value, evidence);
    else if (ev && 'error' in ev) warnings.push(warning('exception', `${citation} evidence: ${ev.error.message}`));
  }
  return { ...base, status, evidence: [...evidence].sort(), ...(note ? { note } : {}) };
}

/** Picks the indication: diagnoses named by the request first, then the chart's confirmed conditions. */
export function selectIndication(
  policy: PolicyDefinition,
  requested: Coding[],
  chart: Coding[],
  contains: (valueSet: string, coding: Coding) => boolean,
): IndicationDefinition | undefined {
  const match = (codes: Coding[]) =>
    policy.indications.find((i) => i.diagnosisValueSet && codes.some((c) => contains(i.diagnosisValueSet as string, c)));
  return match(requested) ?? match(chart) ?? policy.indications.find((i) => i.id === policy.otherIndication);
}

function pendRoute(route: ReviewRoute): ReviewRoute {
  return route === 'auto' ? 'physician-reviewer' : route;
}

const ROUTE_NAMES: Record<ReviewRoute, string> = {
  auto: 'automatic review',
  'physician-reviewer': 'a physician reviewer',
  'medical-director': 'the Medical Director',
  committee: 'committee review',
};

export interface DecideInput {
  policy: PolicyDefinition;
  indication: IndicationDefinition | undefined;
  phase: TherapyPhase;
  results: ExpressionResults;
  warnings: OperationOutcomeIssue[];
  /** The request's instant (`evaluatedAt`). */
  evaluationDate: Date;
  /** The payer's date at that instant (core/dates payerToday): an approval starts on it. */
  today: string;
}

export function decide(input: DecideInput): Decision {
  const { policy, indication, results, warnings, evaluationDate, today } = input;
  const policyRef = { id: policy.id, title: policy.title, citationPrefix: policy.citationPrefix, version: policy.version };
  const evaluatedAt = evaluationDate.toISOString();
  if (!indication) {
    return {
      policy: policyRef,
      indication: null,
      phase: input.phase,
      outcome: 'pend',
      reviewRoute: pendRoute(policy.reviewRoute),
      criteria: [],
      reasons: [{ code: 'no-indication', text: 'No diagnosis in the request or the record matches an indication this policy covers.' }],
      warnings,
      evaluatedAt,
    };
  }
  const phase = input.phase === 'continuation' ? (indication.continuation ?? indication.initial) : indication.initial;
  if (input.phase === 'continuation' && !indication.continuation) {
    warnings.push(warning('informational', `${indication.title}: the policy has no continued-therapy section; initial criteria applied`));
  }
  const route: ReviewRoute = phase.reviewRoute ?? indication.reviewRoute ?? policy.reviewRoute;
  const criteria = [...(policy.globalCriteria ?? []), ...phase.criteria].map((c) => criterionResult(policy, c, results, warnings));
  const section = `${policy.citationPrefix} ${phase.section}`;
  const common = {
    policy: policyRef,
    indication: { id: indication.id, title: indication.title },
    phase: input.phase,
    criteria,
    warnings,
    evaluatedAt,
    ...(phase.quantityNote ? { quantityNote: phase.quantityNote } : {}),
  };

  if (phase.disposition === 'deny') {
    return {
      ...common,
      outcome: 'deny',
      reviewRoute: route,
      reasons: [{ code: 'not-authorized', text: phase.dispositionReason ?? 'The policy does not authorize this use.', citation: section }],
    };
  }
  if (phase.disposition === 'review') {
    return {
      ...common,
      outcome: 'pend',
      reviewRoute: pendRoute(route),
      reasons: [{ code: 'review-required', text: phase.dispositionReason ?? `Referred to ${ROUTE_NAMES[pendRoute(route)]}.`, citation: section }],
    };
  }

  const denied = criteria.filter((c) => c.status === 'unmet' && c.onUnmet === 'deny');
  if (denied.length > 0) {
    return {
      ...common,
      outcome: 'deny',
      reviewRoute: route,
      reasons: denied.map((c) => ({ code: 'not-authorized', text: `Not authorized: ${c.text}`, citation: c.citation })),
    };
  }

  const rule = policy.approveWithoutReview;
  const ruleResult = rule ? results.get(rule.expression) : undefined;
  if (rule && ruleResult && 'error' in ruleResult) warnings.push(warning('exception', `${policy.citationPrefix} ${rule.id}: ${ruleResult.error.message}`));
  if (rule && ruleResult && 'value' in ruleResult && ruleResult.value === true && phase.approvalMonths !== undefined) {
    const evidence = rule.evidence ? results.get(rule.evidence) : undefined;
    const refs = evidence && 'value' in evidence ? [...evidenceReferences(evidence.value)] : [];
    return {
      ...common,
      outcome: 'approve',
      reviewRoute: 'auto',
      reasons: [
        {
          code: 'prior-authorization-on-file',
          text: `${rule.text}${refs.length > 0 ? ` (${refs.join(', ')})` : ''}`,
          citation: `${policy.citationPrefix} ${rule.id}`,
        },
      ],
      approvalPeriod: approvalPeriod(today, phase.approvalMonths),
    };
  }

  const reasons: DecisionReason[] = [
    ...criteria.filter((c) => c.status === 'unmet').map((c) => ({ code: 'criteria-unmet' as const, text: `Not met: ${c.text}`, citation: c.citation })),
    ...criteria.filter((c) => c.status === 'unknown').map((c) => ({ code: 'criteria-unknown' as const, text: `Not documented: ${c.text}`, citation: c.citation })),
  ];
  const allMet = reasons.length === 0;
  if (allMet && route === 'auto' && phase.approvalMonths !== undefined) {
    return {
      ...common,
      outcome: 'approve',
      reviewRoute: 'auto',
      reasons: [{ code: 'criteria-met', text: `All criteria of ${section} are met.`, citation: section }],
      approvalPeriod: approvalPeriod(today, phase.approvalMonths),
    };
  }
  if (allMet) {
    reasons.push({
      code: 'review-required',
      text:
        phase.approvalMonths === undefined
          ? `The policy gives no approval for ${section}; referred to ${ROUTE_NAMES[pendRoute(route)]}.`
          : `All criteria are met; the policy requires ${ROUTE_NAMES[pendRoute(route)]} before approval.`,
      citation: section,
    });
  }
  return { ...common, outcome: 'pend', reviewRoute: pendRoute(route), reasons };
}
