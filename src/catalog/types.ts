/**
 * The policy catalog: one JSON file per payer policy in `catalog/policies/`.
 *
 * A policy is data. Its criteria live in a CQL library (`cql/`), its questions in a
 * DTR Questionnaire (`questionnaires/`), its code lists in FHIR ValueSets
 * (`catalog/valuesets/`). This file only says how those pieces fit together, so
 * adding a payer's policy never needs TypeScript.
 *
 * The zod schema is the one source: `loadPolicies` validates each file with it, and the types
 * below are inferred from it (no hand-written twin to drift from the validation).
 */
import { z } from 'zod';

/** Who decides a request that the rules alone cannot approve. */
export const reviewRouteSchema = z.enum(['auto', 'physician-reviewer', 'medical-director', 'committee']);
export type ReviewRoute = z.infer<typeof reviewRouteSchema>;

/** Initial request, or continued therapy (re-authorization). */
export type TherapyPhase = 'initial' | 'continuation';

const identifierSchema = z.object({ system: z.string(), value: z.string() });
export type Identifier = z.infer<typeof identifierSchema>;

const payerSchema = z.object({
  /** Human name, used as the CDS Hooks card source label. */
  name: z.string(),
  /** `Coverage.payor` / `Claim.insurer` identifiers (NAIC company code). */
  identifiers: z.array(identifierSchema).min(1),
});
export type PayerDefinition = z.infer<typeof payerSchema>;

/** A coded line of business (Source of Payment Typology, urn:oid:2.16.840.1.113883.3.221.5). */
const lineOfBusinessSchema = z.object({
  code: z.string(),
  display: z.string(),
  /**
   * Optional narrowing to a plan product: a `Coverage.class` of type `plan` whose value is one of
   * these, or a subscriber living in one of `states`. Used for the Texas Marketplace appendix.
   */
  planValues: z.array(z.string()).optional(),
  states: z.array(z.string()).optional(),
  /** How the catalog tells this line (e.g. which plan values or states name a marketplace product), for readers. */
  description: z.string().optional(),
});
export type LineOfBusiness = z.infer<typeof lineOfBusinessSchema>;

const drugSchema = z.object({
  name: z.string(),
  /** ValueSet (canonical) of every RxNorm ingredient, SCD, SBD and NDC code of the drug. */
  valueSet: z.string(),
  /** HCPCS codes a claim may bill the drug under (J3590, J3490, Q2056...). */
  hcpcs: z.array(z.string()),
});
export type DrugDefinition = z.infer<typeof drugSchema>;

const criterionSchema = z.object({
  /** Section id within the policy, e.g. `I.A.4`. The citation is `${citationPrefix} ${id}`. */
  id: z.string().min(1),
  /** Plain-language statement of the criterion (our wording, not the policy's). */
  text: z.string().min(1),
  /** CQL definition in the policy library returning Boolean: true = met, false = unmet, null = unknown. */
  expression: z.string().min(1),
  /** Optional CQL definition returning the resources that support the status (evidence). */
  evidence: z.string().optional(),
  /**
   * What an unmet criterion means for the outcome. `pend` (default): clinical review.
   * `deny`: the policy itself says coverage is not authorized (e.g. combination use).
   */
  onUnmet: z.enum(['pend', 'deny']).optional(),
  /**
   * CQL Boolean definition: the criterion applies only when this is not false; false makes it
   * `not-applicable` (e.g. a dose-increase limit when the request is not a dose increase).
   */
  applicableWhen: z.string().optional(),
  /** Questionnaire item linkIds that collect or attest this criterion. */
  questionnaireItems: z.array(z.string()).optional(),
  /** Preferred alternatives to propose (CRD propose-alternate-request) when this trial criterion is unmet. */
  alternatives: z.array(z.object({ valueSet: z.string(), display: z.string() })).optional(),
});
export type CriterionDefinition = z.infer<typeof criterionSchema>;

/**
 * A count limit on what one authorization covers, in the units a PAS Claim item asks for
 * (`Claim.item.quantity`, e.g. prefilled syringes). A request for more, whose criteria are met, is
 * certified for what the limit allows (PAS A6 "modified", the allowed quantity in `addItem`).
 * Weight-based limits (mg/kg) are not counts: their CQL criterion checks them.
 */
const quantityLimitSchema = z
  .object({
    /** Policy section the limit comes from, cited as `${citationPrefix} ${section}`. */
    section: z.string().min(1),
    /** The limit in plain language (our wording). */
    text: z.string().min(1),
    /** Unit of the count, singular (`syringe`); a Claim quantity in another unit is not compared. */
    unit: z.string().min(1),
    /** At most this many units per day of the requested (and authorized) period. */
    perDay: z.number().positive().optional(),
    /** At most this many units in one authorization. */
    perAuthorization: z.number().int().positive().optional(),
  })
  .refine((l) => l.perDay !== undefined || l.perAuthorization !== undefined, { message: 'quantityLimit needs perDay or perAuthorization' });
export type QuantityLimit = z.infer<typeof quantityLimitSchema>;

const phaseSchema = z.object({
  /** Policy section, e.g. `I.A` or `II.A`. */
  section: z.string().min(1),
  /** Approval duration in months; absent when the phase is never approved (e.g. COVID-19 outpatient). */
  approvalMonths: z.number().int().positive().optional(),
  /** Limits on what is authorized, carried into the authorization (e.g. "one dose"). */
  quantityNote: z.string().optional(),
  /** The count limit a certified request is cut to (A6), when the policy states one. */
  quantityLimit: quantityLimitSchema.optional(),
  criteria: z.array(criterionSchema),
  /** Overrides the indication's review route for this phase. */
  reviewRoute: reviewRouteSchema.optional(),
  /**
   * `deny`: the policy never authorizes this phase (e.g. Carvykti continued therapy, COVID-19
   * outpatient). `review`: the policy refers the request elsewhere (off-label policy).
   */
  disposition: z.enum(['evaluate', 'deny', 'review']).optional(),
  /** Why the disposition applies, when it is not `evaluate`. */
  dispositionReason: z.string().optional(),
});
export type PhaseDefinition = z.infer<typeof phaseSchema>;

const indicationSchema = z.object({
  id: z.string().min(1),
  title: z.string().min(1),
  /** ValueSet (canonical) of ICD-10-CM and SNOMED CT codes that select this indication. */
  diagnosisValueSet: z.string().optional(),
  initial: phaseSchema,
  continuation: phaseSchema.optional(),
  /** Who reviews requests for this indication that do not meet the criteria. Default: policy's. */
  reviewRoute: reviewRouteSchema.optional(),
});
export type IndicationDefinition = z.infer<typeof indicationSchema>;

export const policySchema = z.object({
  /** Stable id used in URLs: `/policies/{id}`. */
  id: z.string().regex(/^[a-z0-9-]+$/),
  title: z.string().min(1),
  /** E.g. `CP.PHAR.244`; prefixes every citation. */
  citationPrefix: z.string().min(1),
  version: z.string().min(1),
  effectiveDate: z.string().min(1),
  lastReviewDate: z.string().optional(),
  payers: z.array(payerSchema).min(1),
  linesOfBusiness: z.array(lineOfBusinessSchema).min(1),
  drug: drugSchema,
  /** The CQL library that holds every criterion of this policy. */
  library: z.object({ name: z.string(), version: z.string() }),
  /** Canonical of the DTR Questionnaire for this policy. */
  questionnaire: z.string().min(1),
  /**
   * Who reviews requests that fail, by default. `auto` means: all met → approve automatically,
   * otherwise pend for a clinical reviewer. `committee` means no request is ever approved automatically.
   */
  reviewRoute: reviewRouteSchema,
  /** Expression in the policy library that is true when the request is for continued therapy. */
  continuationExpression: z.string().optional(),
  /**
   * A rule under which the request is approved without a new review, evaluated before the criteria
   * (e.g. Molina's Texas Marketplace appendix: one prior authorization a year for an autoimmune drug,
   * so a second request within 12 months of an approval is approved). The criteria are still
   * evaluated and recorded; a criterion whose `onUnmet` is `deny` still denies.
   */
  approveWithoutReview: z.object({ id: z.string(), text: z.string(), expression: z.string(), evidence: z.string().optional() }).optional(),
  /** Criteria that apply to every indication and phase (e.g. no combination use). */
  globalCriteria: z.array(criterionSchema).optional(),
  indications: z.array(indicationSchema).min(1),
  /** Indication id used when no diagnosis selects another (the policy's "other diagnoses" section). */
  otherIndication: z.string().optional(),
});
export type PolicyDefinition = z.infer<typeof policySchema>;
