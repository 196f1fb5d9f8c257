/**
 * One module for every FHIR error answer. Handlers throw `OperationOutcomeError`; the HTTP
 * error middleware turns it into the status and body. Unknown errors become a generic 500
 * whose details go to the log, never to the client.
 */
import type { OperationOutcome, OperationOutcomeIssue } from 'fhir/r4';

export type IssueCode = OperationOutcomeIssue['code'];

/** An issue's expression from a path into JSON: `["entry", 0, "resource"]` after `Bundle` → `Bundle.entry[0].resource`. */
export function expressionOf(path: readonly PropertyKey[], prefix = ''): string {
  let out = prefix;
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out === '' ? String(part) : `.${String(part)}`;
  return out;
}

export class OperationOutcomeError extends Error {
  constructor(
    readonly status: number,
    readonly outcome: OperationOutcome,
  ) {
    super(outcome.issue[0]?.diagnostics ?? outcome.issue[0]?.details?.text ?? 'OperationOutcome');
    this.name = 'OperationOutcomeError';
  }
}

export function outcome(issues: OperationOutcomeIssue[]): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: issues };
}

export function issue(
  severity: OperationOutcomeIssue['severity'],
  code: IssueCode,
  text: string,
  expression?: string | string[],
): OperationOutcomeIssue {
  const result: OperationOutcomeIssue = { severity, code, diagnostics: text };
  if (expression !== undefined) result.expression = Array.isArray(expression) ? expression : [expression];
  return result;
}

export function warning(code: IssueCode, text: string, expression?: string | string[]): OperationOutcomeIssue {
  return issue('warning', code, text, expression);
}

/** 400: the request is malformed or breaks a profile rule. `expression` names the element. */
export function badRequest(text: string, expression?: string | string[], code: IssueCode = 'invalid'): OperationOutcomeError {
  return new OperationOutcomeError(400, outcome([issue('error', code, text, expression)]));
}

/** 400 listing several problems at once (e.g. every structural error in a request Bundle). */
export function badRequestMany(issues: OperationOutcomeIssue[]): OperationOutcomeError {
  return new OperationOutcomeError(400, outcome(issues));
}

export function notFound(text: string): OperationOutcomeError {
  return new OperationOutcomeError(404, outcome([issue('error', 'not-found', text)]));
}

export function unprocessable(text: string, expression?: string | string[]): OperationOutcomeError {
  return new OperationOutcomeError(422, outcome([issue('error', 'business-rule', text, expression)]));
}

export function unauthorized(text: string): OperationOutcomeError {
  return new OperationOutcomeError(401, outcome([issue('error', 'login', text)]));
}

export function preconditionFailed(text: string): OperationOutcomeError {
  return new OperationOutcomeError(412, outcome([issue('error', 'incomplete', text)]));
}

export function unsupportedMediaType(text: string): OperationOutcomeError {
  return new OperationOutcomeError(415, outcome([issue('error', 'not-supported', text)]));
}

export function tooLarge(text: string, expression?: string | string[]): OperationOutcomeError {
  return new OperationOutcomeError(413, outcome([issue('error', 'too-costly', text, expression)]));
}

/** 500 with a generic text and a request id the operator can find in the log. */
export function serverError(requestId: string): OperationOutcomeError {
  return new OperationOutcomeError(
    500,
    outcome([issue('error', 'exception', `Internal error; reference ${requestId} when reporting it.`)]),
  );
}

export function isOperationOutcomeError(error: unknown): error is OperationOutcomeError {
  return error instanceof OperationOutcomeError;
}

/** 403: authenticated, but the token's scope does not cover the request. */
export function forbidden(text: string, expression?: string | string[]): OperationOutcomeError {
  return new OperationOutcomeError(403, outcome([issue('error', 'forbidden', text, expression)]));
}

/** 409: the resource is not in a state that allows the change (e.g. a decision on a request already final). */
export function conflict(text: string, expression?: string | string[]): OperationOutcomeError {
  return new OperationOutcomeError(409, outcome([issue('error', 'conflict', text, expression)]));
}

/** 429: a rate limit is spent; the caller retries after the Retry-After header's seconds. */
export function throttled(text: string): OperationOutcomeError {
  return new OperationOutcomeError(429, outcome([issue('error', 'throttled', text)]));
}
