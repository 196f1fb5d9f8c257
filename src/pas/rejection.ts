/**
 * Business rejections of a valid PAS request: conditions under which no item can be adjudicated,
 * answered as a ClaimResponse with `outcome: error` and `ClaimResponse.error` (PAS 2.2.1
 * profile-claimresponse-base: `error.code` bound (required) to X12278RejectReasonCodes, the X12 901
 * code list; "If the request contains errors then an error element should be provided and no
 * adjudication related sections (item, addItem, or payment) should be present"). A request that
 * does not conform is a 400 OperationOutcome instead (validate.ts; OperationDefinition Claim-submit).
 *
 * Rejected here:
 * - no payer identifier on Claim.insurer or Coverage.payor: X12 901 `T4` (as the IG's
 *   ErrorResponseExample, on 2010A);
 * - a Coverage without a member id (PAS profile-coverage `identifier:memberid` 1..*, nor
 *   `subscriberId`): `72`;
 * - a Coverage not in effect for the requested dates (status not active, or a period that does not
 *   overlap them): `78`, the member is not in the plan identified on those dates.
 * Not rejected: a payer with identifiers that the catalog does not serve. The product rule
 * (payers.md) sends it to clinical review with the reason, and a reviewer may decide it.
 * "Subscriber not found" (`75`) needs an enrollment source this server does not have.
 */
import type { Claim, Coverage } from 'fhir/r4';
import type { PasContext } from './context';
import type { PasRejection } from './response';

const CORRECT_AND_RESUBMIT = { code: 'C', display: 'Please Correct and Resubmit' } as const;

export const REJECT_REASON = {
  payerMissing: { code: 'T4', display: 'Payer Name or Identifier Missing' },
  subscriberIdMissing: { code: '72', display: 'Invalid/Missing Subscriber/Insured ID' },
  notInPlan: { code: '78', display: 'Subscriber/Insured Not in Group/Plan Identified' },
} as const;

/** The requested dates: the items' serviced dates/periods, else `today`. */
function requestedSpan(claim: Claim, today: string): { start: string; end: string } {
  const starts: string[] = [];
  const ends: string[] = [];
  for (const item of claim.item ?? []) {
    const start = item.servicedDate ?? item.servicedPeriod?.start;
    const end = item.servicedDate ?? item.servicedPeriod?.end ?? start;
    if (start) starts.push(start.slice(0, 10));
    if (end) ends.push(end.slice(0, 10));
  }
  starts.sort();
  ends.sort();
  return { start: starts[0] ?? today, end: ends[ends.length - 1] ?? starts[starts.length - 1] ?? today };
}

function hasMemberId(coverage: Coverage): boolean {
  if (typeof coverage.subscriberId === 'string' && coverage.subscriberId.trim() !== '') return true;
  return (coverage.identifier ?? []).some((id) => typeof id?.value === 'string' && id.value.trim() !== '');
}

/** Why the request cannot be adjudicated at all, or undefined. */
export function businessRejection(ctx: PasContext, today: string): PasRejection | undefined {
  const coverage = ctx.coverage.resource;
  const at = `Bundle.entry[${ctx.coverage.index}].resource`;
  if (ctx.payer.identifiers.length === 0) {
    return {
      code: REJECT_REASON.payerMissing,
      text: 'Neither Claim.insurer nor Coverage.payor identifies the payer, so no payer can be asked to decide this request.',
      element: '2010A-NM109',
      path: `Bundle.entry[${ctx.insurer.index}].resource.identifier`,
      followUp: CORRECT_AND_RESUBMIT,
    };
  }
  if (!hasMemberId(coverage)) {
    return {
      code: REJECT_REASON.subscriberIdMissing,
      text: 'The Coverage carries no member id (Coverage.identifier of type MB, or subscriberId), so the member cannot be identified.',
      element: '2010C-NM109',
      path: `${at}.identifier`,
      followUp: CORRECT_AND_RESUBMIT,
    };
  }
  const span = requestedSpan(ctx.claim, today);
  const start = coverage.period?.start?.slice(0, 10);
  const end = coverage.period?.end?.slice(0, 10);
  if (coverage.status !== 'active') {
    return {
      code: REJECT_REASON.notInPlan,
      text: `The Coverage is ${coverage.status ?? 'without status'}, not active: the member has no coverage in effect with this plan.`,
      element: '2010C-NM109',
      path: `${at}.status`,
      followUp: CORRECT_AND_RESUBMIT,
    };
  }
  if ((end && end < span.start) || (start && start > span.end)) {
    return {
      code: REJECT_REASON.notInPlan,
      text: `The Coverage is in effect ${start ?? '…'} to ${end ?? '…'}, not on the requested dates ${span.start} to ${span.end}.`,
      element: '2010C-NM109',
      path: `${at}.period`,
      followUp: CORRECT_AND_RESUBMIT,
    };
  }
  return undefined;
}
