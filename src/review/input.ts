/**
 * The review API's request bodies, narrowed at the edge with zod: past here the service sees only
 * typed input. A bad body is a 400 OperationOutcome naming the element.
 */
import type { OperationOutcomeIssue } from 'fhir/r4';
import { z } from 'zod';
import { badRequestMany, expressionOf, issue } from '../fhir/outcomes';
import { REVIEWER_ROLES } from './roles';
import type { DecisionInput, Reviewer } from './service';

const text = (max: number) => z.string().trim().max(max);

const reviewerSchema = z.object({
  name: text(200).min(1, 'is required'),
  role: z.enum(REVIEWER_ROLES as [string, ...string[]], { message: `must be one of ${REVIEWER_ROLES.join(', ')}` }),
  npi: z.string().regex(/^\d{10}$/, 'must be a 10-digit NPI').optional(),
});

const decisionSchema = z.object({
  action: z.enum(['approve', 'deny', 'request-info'], { message: 'must be approve, deny or request-info' }),
  reviewer: reviewerSchema.optional(),
  note: text(4000).optional(),
  period: z.object({ start: z.string(), end: z.string() }).optional(),
  reason: text(2000).optional(),
  criteria: z.array(z.string().max(200)).max(100).optional(),
});

const assignSchema = z.object({
  assignee: z.union([text(200).min(1, 'is required'), z.null()]),
  reviewer: reviewerSchema.optional(),
});

function expressionFor(path: readonly PropertyKey[]): string {
  return expressionOf(path) || 'body';
}

function fail(error: z.ZodError): never {
  const issues: OperationOutcomeIssue[] = error.issues.slice(0, 20).map((i) => {
    const expression = expressionFor(i.path);
    const message = i.code === 'invalid_type' && /received undefined/.test(i.message) ? 'is required' : i.message.replace(/^Invalid input: /, '');
    return issue('error', 'invalid', `${expression} ${message}`, expression);
  });
  throw badRequestMany(issues);
}

/**
 * The acting reviewer: the signed-in one (session or API token) when there is one, and then a
 * `reviewer` in the body is dropped unread; otherwise (open mode) the body must name one.
 */
function actingReviewer(body: unknown, signedIn: Reviewer | undefined): { body: unknown; reviewer?: Reviewer } {
  if (!signedIn) return { body };
  if (body && typeof body === 'object' && !Array.isArray(body) && 'reviewer' in body) {
    const { reviewer: _ignored, ...rest } = body as Record<string, unknown>;
    return { body: rest, reviewer: signedIn };
  }
  return { body, reviewer: signedIn };
}

function requireReviewer(reviewer: Reviewer | undefined): Reviewer {
  if (!reviewer) throw badRequestMany([issue('error', 'required', 'reviewer is required (this server runs open: name the reviewer in the body)', 'reviewer')]);
  return reviewer;
}

export function parseDecisionInput(body: unknown, signedIn?: Reviewer): DecisionInput {
  const acting = actingReviewer(body, signedIn);
  const parsed = decisionSchema.safeParse(acting.body);
  if (!parsed.success) fail(parsed.error);
  const { reviewer, ...rest } = parsed.data;
  return { ...rest, reviewer: requireReviewer(acting.reviewer ?? (reviewer as Reviewer | undefined)) } as DecisionInput;
}

export function parseAssignInput(body: unknown, signedIn?: Reviewer): { assignee: string | null; reviewer: Reviewer } {
  const acting = actingReviewer(body, signedIn);
  const parsed = assignSchema.safeParse(acting.body);
  if (!parsed.success) fail(parsed.error);
  return { assignee: parsed.data.assignee, reviewer: requireReviewer(acting.reviewer ?? (parsed.data.reviewer as Reviewer | undefined)) };
}
