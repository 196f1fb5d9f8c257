/**
 * The CRD `coverage-information` extension: built from a policy Decision, and checked against the
 * extension's StructureDefinition (cardinalities, value types, required bindings, invariants).
 *
 * CRD 2.0.1: http://hl7.org/fhir/us/davinci-crd/STU2/StructureDefinition-ext-coverage-information.html
 * CRD 2.2:   http://hl7.org/fhir/us/davinci-crd/StructureDefinition-ext-coverage-information.html
 *
 * Decision → assertion (our reading of the CRD semantics):
 * - no policy for the payer / drug: `covered` + `auth-needed` and a reason: the request goes to
 *   clinical review, never an automatic approval; no questionnaire (there is none to give).
 * - outcome `deny` (the policy itself does not authorize): `not-covered`, no `pa-needed` (crd-ci-q2).
 * - outcome `approve`, an authorization persisted by the caller: `satisfied` + `satisfied-pa-id`
 *   + its end (`expiry-date` in 2.1/2.2; a `detail` allowed-period in 2.0.1, which has no expiry-date).
 *   Refused (an Error) when any criterion is unmet or unknown, the policy goes to committee, or the
 *   hook is order-select.
 * - outcome `approve` without an authorization (the client switched `unsolicited-determ` off):
 *   `auth-needed`, the chart meets the criteria.
 * - outcome `pend`: `auth-needed`; with unmet or unknown criteria `doc-needed = clinical`,
 *   `doc-purpose = withpa` and the policy's DTR Questionnaire, except on order-select, which never
 *   asks for documentation (CRD: secondary hooks).
 * Every assertion carries a reason in plain text (2.2 crd-ci-q7/q8) and a `detail` linking to the
 * policy page (`policy-link`: a text-only code and a string URL in 2.0.1, temp#policy-link +
 * valueUrl in 2.1, crd-coverage-detail#policy-link + category cat-other in 2.2).
 */
import { isAnsweredByAuthorization } from '../authorization';
import type { Coding, Extension, MedicationRequest } from 'fhir/r4';
import type { Decision } from '../engine/decision';
import {
  COVERAGE_INFORMATION_URL,
  CRD_COVERAGE_DETAIL_SYSTEM,
  CRD_TEMP_SYSTEM,
  HCPCS_SYSTEM,
  type CrdVersion,
  type HookName,
} from './types';

export type Covered = 'covered' | 'not-covered' | 'conditional' | 'indeterminate';
export type PaNeeded = 'no-auth' | 'auth-needed' | 'satisfied' | 'performpa' | 'conditional' | 'indeterminate';
export type DocNeeded = 'clinical' | 'admin' | 'both' | 'patient' | 'conditional' | 'indeterminate';

export interface SatisfiedAuthorization {
  /** The authorization number (the same record `$submit` finds later). */
  number: string;
  /** ISO dates, inclusive. */
  start?: string;
  end: string;
}

export interface CoverageInformationContext {
  version: CrdVersion;
  hook: HookName;
  /** Reference to the client's Coverage, e.g. `Coverage/cov-1`. */
  coverage: string;
  /** Trace id persisted with the criteria trace (DTR and PAS pick the context up with it). */
  assertionId: string;
  /** Assertion date (YYYY-MM-DD); default: the decision's evaluation date. */
  date?: string;
  /** Canonical of the policy's DTR Questionnaire. */
  questionnaire?: string;
  /** Human-readable policy page (`${publicBaseUrl}/policies/{id}`). */
  policyUrl?: string;
  /** HCPCS codes a claim bills the drug under (policy.drug.hcpcs). */
  billingCodes?: string[];
  /** The approved authorization the caller persisted for this order, when granting on the spot. */
  satisfiedAuthorization?: SatisfiedAuthorization;
}

export interface CoverageAssessment {
  covered: Covered;
  paNeeded?: PaNeeded;
  docNeeded?: DocNeeded;
  docPurpose: string[];
  questionnaire?: string;
  reasons: string[];
  satisfied?: SatisfiedAuthorization;
}

const OPEN_STATUSES = new Set(['unmet', 'unknown']);

function cite(text: string, citation?: string): string {
  return citation ? `${text} (${citation})` : text;
}

function openCriteria(decision: Decision) {
  return decision.criteria.filter((c) => OPEN_STATUSES.has(c.status));
}

/**
 * Whether the decision itself allows `satisfied`: approved, every criterion met or not applicable
 * (at least one met), not a committee policy, and not on order-select.
 */
export function isSatisfiable(decision: Decision, hook: HookName): boolean {
  // An authorization already on file: its criteria were decided when it was issued.
  if (isAnsweredByAuthorization(decision)) {
    return hook !== 'order-select' && decision.policy !== null && decision.outcome === 'approve' && decision.approvalPeriod !== undefined;
  }
  return (
    hook !== 'order-select' &&
    decision.policy !== null &&
    decision.outcome === 'approve' &&
    decision.reviewRoute !== 'committee' &&
    decision.approvalPeriod !== undefined &&
    decision.criteria.some((c) => c.status === 'met') &&
    decision.criteria.every((c) => c.status === 'met' || c.status === 'not-applicable') &&
    !decision.reasons.some((r) => ['criteria-unmet', 'criteria-unknown', 'not-authorized', 'review-required', 'no-policy'].includes(r.code))
  );
}

/**
 * Whether the caller may persist an approved authorization for this order now (and pass it as
 * `satisfiedAuthorization`): the decision is satisfiable and the client has not switched
 * `coverage-info` or `unsolicited-determ` off.
 */
export function mayGrantUnsolicitedDetermination(
  decision: Decision,
  hook: HookName,
  config: { coverageInfo: boolean; unsolicitedDeterm: boolean },
): boolean {
  return config.coverageInfo && config.unsolicitedDeterm && isSatisfiable(decision, hook);
}

/** Maps a Decision to the coverage assertion (see the module comment). */
export function assessCoverage(decision: Decision, ctx: CoverageInformationContext): CoverageAssessment {
  const reasons = [...new Set(decision.reasons.map((r) => cite(r.text, r.citation)))];
  if (ctx.satisfiedAuthorization && !isSatisfiable(decision, ctx.hook)) {
    throw new Error('coverage-information: an authorization was given for a decision that cannot be satisfied on the spot');
  }
  if (!decision.policy || decision.reasons.some((r) => r.code === 'no-policy')) {
    return {
      covered: 'covered',
      paNeeded: 'auth-needed',
      docPurpose: [],
      reasons: reasons.length > 0 ? reasons : ['No coverage policy of this payer applies to this drug and plan; a prior authorization request goes to clinical review'],
    };
  }
  if (decision.outcome === 'deny') {
    // The denying criteria the decision's reasons do not already cite (the engine usually does).
    const cited = new Set(decision.reasons.map((r) => r.citation).filter(Boolean));
    const denying = decision.criteria
      .filter((c) => c.status === 'unmet' && c.onUnmet === 'deny' && !cited.has(c.citation))
      .map((c) => cite(c.text, c.citation));
    return { covered: 'not-covered', docPurpose: [], reasons: [...new Set([...reasons, ...denying])] };
  }
  if (ctx.satisfiedAuthorization) {
    const a = ctx.satisfiedAuthorization;
    return {
      covered: 'covered',
      paNeeded: 'satisfied',
      docPurpose: [],
      satisfied: a,
      reasons: [`Every criterion of ${decision.policy.citationPrefix} is met by the chart; prior authorization ${a.number} is approved through ${a.end}`],
    };
  }
  if (decision.outcome === 'approve') {
    return {
      covered: 'covered',
      paNeeded: 'auth-needed',
      docPurpose: [],
      reasons: [`The chart meets every criterion of ${decision.policy.citationPrefix}; submit the prior authorization request`],
    };
  }
  const open = openCriteria(decision);
  const assessment: CoverageAssessment = {
    covered: 'covered',
    paNeeded: 'auth-needed',
    docPurpose: [],
    reasons: reasons.length > 0 ? reasons : [`Prior authorization under ${decision.policy.citationPrefix} requires clinical review`],
  };
  if (open.length > 0 && ctx.hook !== 'order-select') {
    assessment.docNeeded = 'clinical';
    assessment.docPurpose = ['withpa'];
    if (ctx.questionnaire) assessment.questionnaire = ctx.questionnaire;
  }
  return assessment;
}

const code = (url: string, valueCode: string): Extension => ({ url, valueCode });

function policyLinkDetail(version: CrdVersion, policyUrl: string, qualification?: string): Extension {
  const parts: Extension[] = [];
  if (version === '2.2') parts.push({ url: 'category', valueCode: 'cat-other' });
  if (version === '2.0') {
    // 2.0.1's detail code value set has no policy-link and its value types have no url.
    parts.push({ url: 'code', valueCodeableConcept: { text: 'Policy link' } }, { url: 'value', valueString: policyUrl });
  } else {
    const system = version === '2.2' ? CRD_COVERAGE_DETAIL_SYSTEM : CRD_TEMP_SYSTEM;
    parts.push({ url: 'code', valueCodeableConcept: { coding: [{ system, code: 'policy-link', display: 'Policy Link' }] } }, { url: 'value', valueUrl: policyUrl });
  }
  if (qualification) parts.push({ url: 'qualification', valueString: qualification });
  return { url: 'detail', extension: parts };
}

function textDetail(version: CrdVersion, label: string, value: string, category: 'cat-limitation' | 'cat-other'): Extension {
  const parts: Extension[] = [];
  if (version === '2.2') parts.push({ url: 'category', valueCode: category });
  parts.push({ url: 'code', valueCodeableConcept: { text: label } }, { url: 'value', valueString: value });
  return { url: 'detail', extension: parts };
}

/** The 2.0.1 way to say until when an authorization holds: detail `allowed-period` (a Period). */
function allowedPeriodDetail(a: SatisfiedAuthorization): Extension {
  return {
    url: 'detail',
    extension: [
      { url: 'code', valueCodeableConcept: { coding: [{ system: CRD_TEMP_SYSTEM, code: 'allowed-period', display: 'Maximum allowed period' }] } },
      { url: 'value', valuePeriod: { ...(a.start ? { start: a.start } : {}), end: a.end } },
      { url: 'qualification', valueString: `Period of prior authorization ${a.number}` },
    ],
  };
}

/** Builds the extension for one order from its Decision. */
export function buildCoverageInformation(decision: Decision, ctx: CoverageInformationContext): Extension {
  const a = assessCoverage(decision, ctx);
  const parts: Extension[] = [
    { url: 'coverage', valueReference: { reference: ctx.coverage } },
    code('covered', a.covered),
  ];
  if (a.paNeeded) parts.push(code('pa-needed', a.paNeeded));
  if (a.docNeeded) parts.push(code('doc-needed', a.docNeeded));
  for (const purpose of a.docPurpose) parts.push(code('doc-purpose', purpose));
  for (const billing of ctx.billingCodes ?? []) parts.push({ url: 'billingCode', valueCoding: { system: HCPCS_SYSTEM, code: billing } satisfies Coding });
  for (const reason of a.reasons) parts.push({ url: 'reason', valueCodeableConcept: { text: reason } });
  if (ctx.policyUrl && decision.policy) {
    parts.push(policyLinkDetail(ctx.version, ctx.policyUrl, `${decision.policy.citationPrefix} ${decision.policy.title}, version ${decision.policy.version}`));
  }
  if (a.satisfied && decision.quantityNote) parts.push(textDetail(ctx.version, 'Authorized quantity', decision.quantityNote, 'cat-limitation'));
  if (a.satisfied && ctx.version === '2.0') parts.push(allowedPeriodDetail(a.satisfied));
  if (a.questionnaire) parts.push({ url: 'questionnaire', valueCanonical: a.questionnaire });
  parts.push({ url: 'date', valueDate: ctx.date ?? decision.evaluatedAt.slice(0, 10) });
  parts.push({ url: 'coverage-assertion-id', valueString: ctx.assertionId });
  if (a.satisfied) {
    parts.push({ url: 'satisfied-pa-id', valueString: a.satisfied.number });
    if (ctx.version !== '2.0') parts.push({ url: 'expiry-date', valueDate: a.satisfied.end });
  }
  return { url: COVERAGE_INFORMATION_URL, extension: parts };
}

/**
 * The order, unchanged except for its coverage-information: earlier assertions about the same
 * Coverage are replaced, everything else is kept (CRD resp-37).
 */
export function withCoverageInformation(order: MedicationRequest, info: Extension): MedicationRequest {
  const copy = structuredClone(order);
  const coverageOf = (e: Extension): string | undefined => e.extension?.find((p) => p.url === 'coverage')?.valueReference?.reference;
  const target = coverageOf(info);
  const kept = (copy.extension ?? []).filter((e) => !(e.url === COVERAGE_INFORMATION_URL && coverageOf(e) === target));
  copy.extension = [...kept, info];
  return copy;
}

// ---- checker ----

interface VersionRules {
  covered: string[];
  paNeeded: string[];
  docNeeded: string[];
  docNeededMax: number;
  infoNeeded: string[];
  subExtensions: string[];
  detailValueTypes: string[];
  detailCategory: boolean;
}

const DOC_PURPOSE = ['withpa', 'withclaim', 'withorder', 'retain-doc', 'OTH'];
const DETAIL_CATEGORIES = ['cat-limitation', 'cat-decisional', 'cat-other'];
const BASE_SUBS = ['coverage', 'covered', 'pa-needed', 'doc-needed', 'doc-purpose', 'info-needed', 'billingCode', 'reason', 'detail', 'dependency', 'questionnaire', 'date', 'coverage-assertion-id', 'satisfied-pa-id', 'contact'];
/** CRD coverageAssertionReasons codes (2.0.1 temp: gold-card, detail-code; 2.2 adds the rest). */
const REASON_CODES = ['gold-card', 'detail-code', 'no-member-found', 'no-active-coverage', 'coverage-not-found', 'auth-out-network', 'technical'];

const RULES: Record<CrdVersion, VersionRules> = {
  '2.0': {
    covered: ['covered', 'not-covered', 'conditional'],
    paNeeded: ['no-auth', 'auth-needed', 'satisfied', 'performpa', 'conditional'],
    docNeeded: ['clinical', 'admin', 'both', 'conditional'],
    docNeededMax: 1,
    infoNeeded: ['performer', 'location', 'timeframe', 'contract-window', 'OTH'],
    subExtensions: [...BASE_SUBS, 'response'],
    detailValueTypes: ['valueBoolean', 'valueString', 'valuePeriod', 'valueQuantity'],
    detailCategory: false,
  },
  '2.1': {
    covered: ['covered', 'not-covered', 'conditional'],
    paNeeded: ['no-auth', 'auth-needed', 'satisfied', 'performpa', 'conditional'],
    docNeeded: ['clinical', 'admin', 'patient', 'conditional'],
    docNeededMax: Infinity,
    infoNeeded: ['performer', 'location', 'timeframe', 'contract-window', 'OTH'],
    subExtensions: [...BASE_SUBS, 'expiry-date'],
    detailValueTypes: ['valueBoolean', 'valueString', 'valueUrl', 'valuePeriod', 'valueQuantity'],
    detailCategory: false,
  },
  '2.2': {
    covered: ['covered', 'not-covered', 'conditional', 'indeterminate'],
    paNeeded: ['no-auth', 'auth-needed', 'satisfied', 'performpa', 'conditional', 'indeterminate'],
    docNeeded: ['clinical', 'admin', 'patient', 'conditional', 'indeterminate'],
    docNeededMax: Infinity,
    infoNeeded: ['performer', 'location', 'timeframe', 'contract-window', 'detail-code', 'OTH'],
    subExtensions: [...BASE_SUBS, 'expiry-date'],
    detailValueTypes: ['valueBoolean', 'valueString', 'valueUrl', 'valuePeriod', 'valueQuantity'],
    detailCategory: true,
  },
};

const union = (pick: (r: VersionRules) => string[]): string[] => [...new Set(Object.values(RULES).flatMap(pick))];

/** Without a version, anything valid in some supported version passes the version-specific checks. */
const LENIENT: VersionRules = {
  covered: union((r) => r.covered),
  paNeeded: union((r) => r.paNeeded),
  docNeeded: union((r) => r.docNeeded),
  docNeededMax: Infinity,
  infoNeeded: union((r) => r.infoNeeded),
  subExtensions: union((r) => r.subExtensions),
  detailValueTypes: union((r) => r.detailValueTypes),
  detailCategory: false,
};

function valueKeys(e: Extension): string[] {
  return Object.keys(e).filter((k) => k.startsWith('value'));
}

const FHIR_DATE = /^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$/;

export interface CheckOptions {
  version?: CrdVersion;
  /** order-select (a secondary hook) must not ask for documentation. */
  hook?: HookName;
}

/**
 * Every rule of the extension the IG states, as a list of violations (empty = valid):
 * cardinalities and value types of each sub-extension, the required code bindings, and the
 * invariants crd-ci-q1..q5 (2.0.1; q1/q2/q3/q4 in both their 2.0.1 and 2.2 readings) and
 * crd-ci-q6..q9 (2.2), plus the hook rule that secondary hooks do not ask for documentation.
 */
export function checkCoverageInformation(ext: Extension, options: CheckOptions = {}): string[] {
  const problems: string[] = [];
  const rules = options.version ? RULES[options.version] : LENIENT;
  if (ext.url !== COVERAGE_INFORMATION_URL) problems.push(`url must be ${COVERAGE_INFORMATION_URL}`);
  if (valueKeys(ext).length > 0) problems.push('the extension must not have a value[x] (ext-1: it is complex)');
  const subs = ext.extension ?? [];
  const all = (url: string): Extension[] => subs.filter((s) => s.url === url);
  const codes = (url: string): string[] => all(url).map((s) => s.valueCode ?? '');

  for (const sub of subs) {
    if (!rules.subExtensions.includes(sub.url)) problems.push(`sub-extension "${sub.url}" is not defined${options.version ? ` in CRD ${options.version}` : ''}`);
    if (sub.url !== 'detail') {
      if (sub.extension?.length) problems.push(`${sub.url} must not have nested extensions`);
      if (valueKeys(sub).length !== 1) problems.push(`${sub.url} must have exactly one value[x]`);
    }
  }

  const cardinality: [string, number, number][] = [
    ['coverage', 1, 1],
    ['covered', 1, 1],
    ['pa-needed', 0, 1],
    ['doc-needed', 0, rules.docNeededMax],
    ['date', 1, 1],
    ['coverage-assertion-id', 1, 1],
    ['satisfied-pa-id', 0, 1],
    ['expiry-date', 0, 1],
  ];
  for (const [url, min, max] of cardinality) {
    const n = all(url).length;
    if (n < min) problems.push(`${url} is required`);
    if (n > max) problems.push(`${url} may appear at most ${max} time(s), found ${n}`);
  }

  const typed: [string, string][] = [
    ['coverage', 'valueReference'],
    ['covered', 'valueCode'],
    ['pa-needed', 'valueCode'],
    ['doc-needed', 'valueCode'],
    ['doc-purpose', 'valueCode'],
    ['info-needed', 'valueCode'],
    ['billingCode', 'valueCoding'],
    ['reason', 'valueCodeableConcept'],
    ['dependency', 'valueReference'],
    ['questionnaire', 'valueCanonical'],
    ['response', 'valueReference'],
    ['date', 'valueDate'],
    ['coverage-assertion-id', 'valueString'],
    ['satisfied-pa-id', 'valueString'],
    ['expiry-date', 'valueDate'],
  ];
  for (const [url, type] of typed) {
    for (const sub of all(url)) if (!(type in sub)) problems.push(`${url} must be a ${type}`);
  }
  for (const sub of all('coverage')) {
    if (!sub.valueReference?.reference && !sub.valueReference?.identifier) problems.push('coverage must reference the Coverage');
  }
  for (const url of ['date', 'expiry-date']) {
    for (const sub of all(url)) if (sub.valueDate !== undefined && !FHIR_DATE.test(sub.valueDate)) problems.push(`${url} is not a FHIR date`);
  }
  for (const url of ['coverage-assertion-id', 'satisfied-pa-id']) {
    for (const sub of all(url)) if (sub.valueString !== undefined && sub.valueString.trim() === '') problems.push(`${url} must not be empty`);
  }
  for (const sub of all('billingCode')) if (!sub.valueCoding?.code) problems.push('billingCode needs a code');

  const bound: [string, string[]][] = [
    ['covered', rules.covered],
    ['pa-needed', rules.paNeeded],
    ['doc-needed', rules.docNeeded],
    ['doc-purpose', DOC_PURPOSE],
    ['info-needed', rules.infoNeeded],
  ];
  for (const [url, allowed] of bound) {
    for (const value of codes(url)) if (!allowed.includes(value)) problems.push(`${url} "${value}" is not in its required value set`);
  }

  for (const detail of all('detail')) {
    const parts = detail.extension ?? [];
    if (valueKeys(detail).length > 0) problems.push('detail must not have a value[x]');
    const count = (url: string): number => parts.filter((p) => p.url === url).length;
    if (count('code') !== 1) problems.push('detail needs exactly one code');
    if (count('value') !== 1) problems.push('detail needs exactly one value');
    if (count('qualification') > 1) problems.push('detail has more than one qualification');
    if (rules.detailCategory && count('category') !== 1) problems.push('detail needs exactly one category (CRD 2.2)');
    for (const part of parts) {
      if (part.url === 'code' && !part.valueCodeableConcept) problems.push('detail.code must be a valueCodeableConcept');
      if (part.url === 'value' && !rules.detailValueTypes.some((t) => t in part)) {
        problems.push(`detail.value must be one of ${rules.detailValueTypes.join(', ')}`);
      }
      if (part.url === 'qualification' && typeof part.valueString !== 'string') problems.push('detail.qualification must be a valueString');
      if (part.url === 'category' && !DETAIL_CATEGORIES.includes(part.valueCode ?? '')) problems.push('detail.category is not in its required value set');
    }
  }

  const covered = codes('covered')[0];
  const paNeeded = codes('pa-needed');
  const docNeeded = codes('doc-needed');
  const docPurpose = codes('doc-purpose');
  const hasReason = all('reason').length > 0;

  // crd-ci-q1 (2.0.1 also covers `response` and forbids doc-needed = no-doc; 2.2: questionnaire ⇒ doc-needed).
  if ((all('questionnaire').length > 0 || all('response').length > 0) && (docNeeded.length === 0 || docNeeded.includes('no-doc'))) {
    problems.push('crd-ci-q1: questionnaire (or response) requires doc-needed');
  }
  // crd-ci-q2: 2.0.1 text and 2.2: not-covered ⇒ no pa-needed; 2.0.1 expression: otherwise pa-needed exists.
  if (covered === 'not-covered' && paNeeded.length > 0) problems.push('crd-ci-q2: covered = not-covered must not have pa-needed');
  if ((options.version ?? '2.0') === '2.0' && covered !== undefined && covered !== 'not-covered' && paNeeded.length === 0) {
    problems.push('crd-ci-q2: covered other than not-covered requires pa-needed (2.0.1 expression)');
  }
  // crd-ci-q3: 2.0.1: info-needed ⇒ some conditional; 2.1/2.2: some conditional ⇒ info-needed.
  const anyConditional = [covered, ...paNeeded, ...docNeeded].includes('conditional');
  if (all('info-needed').length > 0 && !anyConditional) problems.push('crd-ci-q3: info-needed requires covered, pa-needed or doc-needed = conditional');
  if (anyConditional && all('info-needed').length === 0) problems.push('crd-ci-q3: a conditional assertion requires info-needed');
  // crd-ci-q4: satisfied (2.2 also no-auth) ⇒ doc-purpose is not "with prior authorization" (2.0.1 literally 'PA').
  if (paNeeded.some((p) => p === 'satisfied' || p === 'no-auth') && docPurpose.some((p) => p === 'withpa' || p === 'PA')) {
    problems.push('crd-ci-q4: pa-needed satisfied/no-auth must not have doc-purpose withpa');
  }
  // crd-ci-q5
  if (paNeeded.includes('satisfied') !== (all('satisfied-pa-id').length > 0)) {
    problems.push('crd-ci-q5: satisfied-pa-id must be present if and only if pa-needed = satisfied');
  }
  // crd-ci-q6 (2.2)
  if (codes('info-needed').includes('OTH') && !hasReason) problems.push('crd-ci-q6: info-needed OTH requires a reason');
  // crd-ci-q7 (2.2): a reason has text, or a coding from coverageAssertionReasons.
  for (const reason of all('reason')) {
    const cc = reason.valueCodeableConcept;
    const coded = cc?.coding?.some((c) => c.system === CRD_TEMP_SYSTEM && REASON_CODES.includes(c.code ?? ''));
    if (cc && !cc.text && !coded) problems.push('crd-ci-q7: a reason outside the CRD reason codes needs text');
  }
  // crd-ci-q8 (2.2): doc-purpose other than conditional requires a reason.
  if (docPurpose.some((p) => p !== 'conditional') && !hasReason) problems.push('crd-ci-q8: doc-purpose requires a reason');
  // crd-ci-q9 (2.2)
  if ([covered, ...paNeeded, ...docNeeded].includes('indeterminate') && !hasReason) problems.push('crd-ci-q9: indeterminate requires a reason');

  // CRD hooks: order-select is a secondary hook and never asks for clinical or administrative documentation.
  if (options.hook === 'order-select') {
    if (docNeeded.some((d) => d !== 'conditional')) problems.push('order-select must not ask for documentation (doc-needed)');
    if (all('questionnaire').length > 0) problems.push('order-select must not carry a questionnaire');
  }
  return problems;
}
