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
import { isRecord } from '../fhir/json';

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


export function parseLogErrorsRequest(body: unknown): LoggedQuestionnaireErrors {
  if (!isRecord(body) || body.resourceType !== 'Parameters') throw badRequest('The body must be a Parameters resource', 'Parameters');
  const parameters = Array.isArray(body.parameter) ? body.parameter : [];
  const named = (name: string) => parameters.map((p, i) => ({ p: p as unknown, i })).filter(({ p }) => isRecord(p) && typeof p.name === 'string' && p.name.toLowerCase() === name.toLowerCase());
  const questionnaires = named('questionnaire');
  const outcomes = named('operationOutcome');
  if (questionnaires.length !== 1) throw badRequest('Exactly one "questionnaire" parameter (canonical) is required', 'Parameters.parameter', 'required');
  if (outcomes.length !== 1) throw badRequest('Exactly one "operationOutcome" parameter (OperationOutcome) is required', 'Parameters.parameter', 'required');
  const q = questionnaires[0]!;
  const o = outcomes[0]!;
  const canonical = isRecord(q.p) ? (q.p.valueCanonical ?? q.p.valueUri ?? q.p.valueUrl) : undefined;
  if (typeof canonical !== 'string' || !/^\S+$/.test(canonical)) {
    throw badRequest('The questionnaire parameter needs a valueCanonical', `Parameters.parameter[${q.i}].valueCanonical`);
  }
  const resource = isRecord(o.p) ? o.p.resource : undefined;
  if (!isRecord(resource) || resource.resourceType !== 'OperationOutcome' || !Array.isArray(resource.issue) || resource.issue.length === 0) {
    throw badRequest('The operationOutcome parameter needs an OperationOutcome with at least one issue', `Parameters.parameter[${o.i}].resource`);
  }
  return { questionnaire: canonical, operationOutcome: resource as unknown as OperationOutcome };
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
