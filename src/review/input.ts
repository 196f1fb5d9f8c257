/**
 * The review API's request bodies, narrowed at the edge with zod: past here the service sees only
 * typed input. A bad body is a 400 OperationOutcome naming the element.
 */
import type { OperationOutcomeIssue } from 'fhir/r4';
import { z } from 'zod';
import { badRequestMany, issue } from '../fhir/outcomes';
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
  reviewer: reviewerSchema,
  note: text(4000).optional(),
  period: z.object({ start: z.string(), end: z.string() }).optional(),
  reason: text(2000).optional(),
  criteria: z.array(z.string().max(200)).max(100).optional(),
});

const assignSchema = z.object({
  assignee: z.union([text(200).min(1, 'is required'), z.null()]),
  reviewer: reviewerSchema,
});

function expressionFor(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') || 'body';
}

function fail(error: z.ZodError): never {
  const issues: OperationOutcomeIssue[] = error.issues.slice(0, 20).map((i) => {
    const expression = expressionFor(i.path);
    const message = i.code === 'invalid_type' && /received undefined/.test(i.message) ? 'is required' : i.message.replace(/^Invalid input: /, '');
    return issue('error', 'invalid', `${expression} ${message}`, expression);
  });
  throw badRequestMany(issues);
}

export function parseDecisionInput(body: unknown): DecisionInput {
  const parsed = decisionSchema.safeParse(body);
  if (!parsed.success) fail(parsed.error);
  const { reviewer, ...rest } = parsed.data;
  return { ...rest, reviewer: reviewer as Reviewer } as DecisionInput;
}

export function parseAssignInput(body: unknown): { assignee: string | null; reviewer: Reviewer } {
  const parsed = assignSchema.safeParse(body);
  if (!parsed.success) fail(parsed.error);
  return { assignee: parsed.data.assignee, reviewer: parsed.data.reviewer as Reviewer };
}
