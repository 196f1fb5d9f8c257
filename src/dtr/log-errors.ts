/**
 * `POST /fhir/Questionnaire/$log-questionnaire-errors` (DTR 2.0.1, SHOULD:
 * http://hl7.org/fhir/us/davinci-dtr/STU2/OperationDefinition-log-questionnaire-errors.html).
 *
 * Supports: a Parameters per dtr-log-errors-input-parameters — `questionnaire` (canonical, the
 * OperationDefinition spells it `Questionnaire`) and `operationOutcome` (`OperationOutcome`),
 * one each; stored as received with the client's identity, and audited. The answer is an
 * informational OperationOutcome (the operation has no out parameters).
 * A canonical that is none of our Questionnaires is stored too, with a warning in the answer: the
 * DTR app may be reporting on a stale version. The OperationDefinition says the input SHALL NOT
 * carry PHI; we cannot check that, so the store keeps it where feedback is kept, never in logs.
 */
import type { OperationOutcome, OperationOutcomeIssue } from 'fhir/r4';
import { badRequest, issue, outcome, warning } from '../fhir/outcomes';
import { OPERATION_DEFINITIONS } from '../fhir/operation-definitions';
import { operationRules, readParameters } from '../fhir/parameters';

export interface LoggedQuestionnaireErrors {
  questionnaire: string;
  operationOutcome: OperationOutcome;
}

export interface LogErrorsDeps {
  /** Whether the canonical (url or url|version) names a Questionnaire we publish. */
  knowsQuestionnaire: (canonical: string) => boolean;
  /** Persists the report (the feedback store) and audits the call. */
  save: (report: LoggedQuestionnaireErrors) => Promise<string>;
}


/** The DTR 2.0.1 OperationDefinition; names in any case (its profile spells them `questionnaire`, `operationOutcome`), the canonical also as valueUri/valueUrl. */
export const LOG_ERRORS_RULES = operationRules(OPERATION_DEFINITIONS.logQuestionnaireErrors, {
  change: { Questionnaire: { alsoTypes: ['uri', 'url'] } },
  anyCase: true,
});

export function parseLogErrorsRequest(body: unknown): LoggedQuestionnaireErrors {
  const params = readParameters(body, LOG_ERRORS_RULES);
  // Both are 1..1: the reader has answered 400 when one is missing.
  const q = params.first('Questionnaire')!;
  const o = params.first('OperationOutcome')!;
  const canonical = q.value as string;
  if (!/^\S+$/.test(canonical)) throw badRequest('The questionnaire parameter needs a valueCanonical', `${q.expression}.valueCanonical`);
  const resource = o.resource as OperationOutcome;
  if (!Array.isArray(resource.issue) || resource.issue.length === 0) {
    throw badRequest('The operationOutcome parameter needs an OperationOutcome with at least one issue', o.valueExpression);
  }
  return { questionnaire: canonical, operationOutcome: resource };
}

export async function logQuestionnaireErrors(body: unknown, deps: LogErrorsDeps): Promise<{ status: number; body: OperationOutcome }> {
  const report = parseLogErrorsRequest(body);
  const id = await deps.save(report);
  const issues: OperationOutcomeIssue[] = [
    issue('information', 'informational', `Logged ${report.operationOutcome.issue.length} issue(s) about ${report.questionnaire} (log ${id}).`),
  ];
  if (!deps.knowsQuestionnaire(report.questionnaire)) {
    issues.push(warning('not-found', `${report.questionnaire} is not a Questionnaire this server publishes`, 'Parameters.parameter.valueCanonical'));
  }
  return { status: 200, body: outcome(issues) };
}
