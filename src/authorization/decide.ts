/**
 * `decideOrder()`: the one path from an order to its answer, for CRD order-sign/dispatch, PAS
 * `$submit` and (through grant.ts) clinical review. It works out the order's keys, gives the engine
 * the member's authorizations on file as prior therapy, and lets an authorization already valid for
 * the member and drug answer instead of a new review; a fresh approval comes back with the
 * authorization that granting it files. Whether to grant is the protocol's rule (CRD: only when the
 * client hears unsolicited determinations; PAS: one number per claim), saved by the caller's store
 * call in one transaction with the decision (grant.ts).
 */
import type { Coding, Coverage, MedicationRequest } from 'fhir/r4';
import type { PolicyCatalog } from '../catalog/catalog';
import { approvalBasis, type Decision } from '../engine/decision';
import type { PriorAuthorization } from '../engine/request';
import { asPriorAuthorizations, memberKeyOf, orderKeyOf, type Authorization, type Store } from '../store';
import { answeredByAuthorization, authorizationOnFile, type OrderKeys } from './on-file';
import { drugKeyOf, grantAuthorization, type AuthorizationGrant } from './grant';

/** The member as the request names them: the payer's id, their Coverage and the patient's id. */
export interface Member {
  payerId: string;
  coverage: Coverage;
  patientId: string;
}

/** One member's authorizations (every status), read once per request and shared by its orders. */
export interface MemberFile {
  memberKey: string;
  authorizations: Authorization[];
  /** The payer's date (YYYY-MM-DD) an authorization must be valid on. */
  today: string;
}

export async function readMemberFile(store: Store, member: Member, today: string): Promise<MemberFile> {
  const memberKey = memberKeyOf(member.payerId, member.coverage, member.patientId);
  return { memberKey, authorizations: await store.listAuthorizations({ memberKey }), today };
}

export interface OrderInput {
  /** The drug order, when the request has one (its business identifier keys the authorization). */
  order?: MedicationRequest;
  /** CRD: the EHR's FHIR base, which keys an order that has only an id. */
  fhirServer?: string;
  /** The ordered product's codes (the drug key when no policy applies). */
  drugCodes: Coding[];
  /** The engine call, given the member's authorizations on file as prior therapy. */
  evaluate: (priorAuthorizations: PriorAuthorization[]) => Promise<Decision>;
  /**
   * Whether an authorization on file may answer the order. Not for a renewal (PAS certificationType
   * R/4 asks for a new period), nor for a CRD client that switched unsolicited determinations off.
   */
  answerFromFile: boolean;
  /** The number an unchanged line of an updated PAS request already holds: it answers first. */
  keptNumber?: string;
  /**
   * CRD: this very order's authorization is not prior therapy (a repeated call, or order-dispatch
   * after order-sign, would otherwise be judged as a continuation request).
   */
  ownOrderIsNotPrior?: boolean;
}

export interface OrderDecision {
  decision: Decision;
  keys: OrderKeys;
  /** The authorization on file that answered (the decision then approves for its period). */
  onFile?: Authorization;
  /** A fresh approval with a period: the authorization that granting it files. */
  grant?: AuthorizationGrant;
}

export async function decideOrder(file: MemberFile, input: OrderInput, catalog: Pick<PolicyCatalog, 'get'>): Promise<OrderDecision> {
  const orderKey = input.order ? orderKeyOf(input.order, input.fhirServer) : null;
  const prior = input.ownOrderIsNotPrior && orderKey !== null ? file.authorizations.filter((a) => a.orderKey !== orderKey) : file.authorizations;
  const evaluated = await input.evaluate(asPriorAuthorizations(prior));
  const policy = evaluated.policy ? catalog.get(evaluated.policy.id) : undefined;
  const keys: OrderKeys = { memberKey: file.memberKey, drugKey: drugKeyOf(policy, input.drugCodes), orderKey };

  // A fresh `deny` (e.g. a combination the policy excludes) wins over anything on file.
  const kept = input.keptNumber ? file.authorizations.find((a) => a.number === input.keptNumber) : undefined;
  const onFile =
    evaluated.outcome === 'deny'
      ? undefined
      : kept?.status === 'approved'
        ? kept
        : input.answerFromFile
          ? authorizationOnFile(file.authorizations, keys, file.today)
          : undefined;
  if (onFile) return { decision: answeredByAuthorization(evaluated, onFile), keys, onFile };

  const period = evaluated.outcome === 'approve' ? evaluated.approvalPeriod : undefined;
  return {
    decision: evaluated,
    keys,
    ...(period ? { grant: grantAuthorization(keys, { policyId: evaluated.policy?.id ?? null, basis: approvalBasis(evaluated), period }) } : {}),
  };
}
