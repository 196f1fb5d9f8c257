/**
 * The policy catalog: one JSON file per payer policy in `catalog/policies/`.
 *
 * A policy is data. Its criteria live in a CQL library (`cql/`), its questions in a
 * DTR Questionnaire (`questionnaires/`), its code lists in FHIR ValueSets
 * (`catalog/valuesets/`). This file only says how those pieces fit together, so
 * adding a payer's policy never needs TypeScript.
 */

/** Who decides a request that the rules alone cannot approve. */
export type ReviewRoute = 'auto' | 'physician-reviewer' | 'medical-director' | 'committee';

/** Initial request, or continued therapy (re-authorization). */
export type TherapyPhase = 'initial' | 'continuation';

export interface Identifier {
  system: string;
  value: string;
}

export interface PayerDefinition {
  /** Human name, used as the CDS Hooks card source label. */
  name: string;
  /** `Coverage.payor` / `Claim.insurer` identifiers (NAIC company code). */
  identifiers: Identifier[];
}

/** A coded line of business (Source of Payment Typology, urn:oid:2.16.840.1.113883.3.221.5). */
export interface LineOfBusiness {
  code: string;
  display: string;
  /**
   * Optional narrowing to a plan product: a `Coverage.class` of type `plan` whose value is one of
   * these, or a subscriber living in one of `states`. Used for the Texas Marketplace appendix.
   */
  planValues?: string[];
  states?: string[];
  /** How the catalog tells this line (e.g. which plan values or states name a marketplace product), for readers. */
  description?: string;
}

export interface DrugDefinition {
  name: string;
  /** ValueSet (canonical) of every RxNorm ingredient, SCD, SBD and NDC code of the drug. */
  valueSet: string;
  /** HCPCS codes a claim may bill the drug under (J3590, J3490, Q2056...). */
  hcpcs: string[];
}

export interface CriterionDefinition {
  /** Section id within the policy, e.g. `I.A.4`. The citation is `${citationPrefix} ${id}`. */
  id: string;
  /** Plain-language statement of the criterion (our wording, not the policy's). */
  text: string;
  /** CQL definition in the policy library returning Boolean: true = met, false = unmet, null = unknown. */
  expression: string;
  /** Optional CQL definition returning the resources that support the status (evidence). */
  evidence?: string;
  /**
   * What an unmet criterion means for the outcome. `pend` (default): clinical review.
   * `deny`: the policy itself says coverage is not authorized (e.g. combination use).
   */
  onUnmet?: 'pend' | 'deny';
  /**
   * CQL Boolean definition: the criterion applies only when this is not false; false makes it
   * `not-applicable` (e.g. a dose-increase limit when the request is not a dose increase).
   */
  applicableWhen?: string;
  /** Questionnaire item linkIds that collect or attest this criterion. */
  questionnaireItems?: string[];
  /** Preferred alternatives to propose (CRD propose-alternate-request) when this trial criterion is unmet. */
  alternatives?: { valueSet: string; display: string }[];
}

export interface PhaseDefinition {
  /** Policy section, e.g. `I.A` or `II.A`. */
  section: string;
  /** Approval duration in months; absent when the phase is never approved (e.g. COVID-19 outpatient). */
  approvalMonths?: number;
  /** Limits on what is authorized, carried into the authorization (e.g. "one dose"). */
  quantityNote?: string;
  criteria: CriterionDefinition[];
  /** Overrides the indication's review route for this phase. */
  reviewRoute?: ReviewRoute;
  /**
   * `deny`: the policy never authorizes this phase (e.g. Carvykti continued therapy, COVID-19
   * outpatient). `review`: the policy refers the request elsewhere (off-label policy).
   */
  disposition?: 'evaluate' | 'deny' | 'review';
  /** Why the disposition applies, when it is not `evaluate`. */
  dispositionReason?: string;
}

export interface IndicationDefinition {
  id: string;
  title: string;
  /** ValueSet (canonical) of ICD-10-CM and SNOMED CT codes that select this indication. */
  diagnosisValueSet?: string;
  initial: PhaseDefinition;
  continuation?: PhaseDefinition;
  /** Who reviews requests for this indication that do not meet the criteria. Default: policy's. */
  reviewRoute?: ReviewRoute;
}

export interface PolicyDefinition {
  /** Stable id used in URLs: `/policies/{id}`. */
  id: string;
  title: string;
  /** E.g. `CP.PHAR.244`; prefixes every citation. */
  citationPrefix: string;
  version: string;
  effectiveDate: string;
  lastReviewDate?: string;
  /** Where a person reads the policy (served by this server at /policies/{id}). */
  payers: PayerDefinition[];
  linesOfBusiness: LineOfBusiness[];
  drug: DrugDefinition;
  /** The CQL library that holds every criterion of this policy. */
  library: { name: string; version: string };
  /** Canonical of the DTR Questionnaire for this policy. */
  questionnaire: string;
  /**
   * Who reviews requests that fail, by default. `auto` means: all met → approve automatically,
   * otherwise pend for a clinical reviewer. `committee` means no request is ever approved automatically.
   */
  reviewRoute: ReviewRoute;
  /** Expression in the policy library that is true when the request is for continued therapy. */
  continuationExpression?: string;
  /**
   * A rule under which the request is approved without a new review, evaluated before the criteria
   * (e.g. Molina's Texas Marketplace appendix: one prior authorization a year for an autoimmune drug,
   * so a second request within 12 months of an approval is approved). The criteria are still
   * evaluated and recorded; a criterion whose `onUnmet` is `deny` still denies.
   */
  approveWithoutReview?: { id: string; text: string; expression: string; evidence?: string };
  /** Criteria that apply to every indication and phase (e.g. no combination use). */
  globalCriteria?: CriterionDefinition[];
  indications: IndicationDefinition[];
  /** Indication id used when no diagnosis selects another (the policy's "other diagnoses" section). */
  otherIndication?: string;
}
