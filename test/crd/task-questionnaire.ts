/**
 * Test-only checker of a Task against CRD 2.0.1 StructureDefinition profile-taskquestionnaire
 * (http://hl7.org/fhir/us/davinci-crd/StructureDefinition/profile-taskquestionnaire, version 2.0.1,
 * base SDC sdc-task): its fixed and pattern values, cardinalities and the sdc-t1 invariant, with the
 * CRD value sets it binds (taskReason, afterCompletionCode; both extensible, we use only their codes).
 */
import type { CodeableConcept, Task, TaskInput } from 'fhir/r4';

export const PROFILE = 'http://hl7.org/fhir/us/davinci-crd/StructureDefinition/profile-taskquestionnaire';
const SDC_TEMP = 'http://hl7.org/fhir/uv/sdc/CodeSystem/temp';
const CRD_TEMP = 'http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp';
/** ValueSet-afterCompletionCode (CRD 2.0.1). */
const AFTER_COMPLETION_CODES = ['prior-auth-include', 'initial-claim-include', 'all-claims-include'];
/** ValueSet-taskReason (CRD 2.0.1). */
const TASK_REASON_CODES = ['reason-prior-auth'];

/** patternCodeableConcept: some coding carries the pattern's system and code. */
function matches(cc: CodeableConcept | undefined, system: string, code: string): boolean {
  return (cc?.coding ?? []).some((c) => c.system === system && c.code === code);
}

function valueKeys(input: TaskInput): string[] {
  return Object.keys(input).filter((k) => k.startsWith('value') && (input as unknown as Record<string, unknown>)[k] !== undefined);
}

/** Returns the violations (empty = conforms to what is checked here). */
export function checkQuestionnaireTask(task: Task): string[] {
  const problems: string[] = [];
  if (task.resourceType !== 'Task') return ['resourceType must be Task'];
  if (!task.meta?.profile?.includes(PROFILE)) problems.push('meta.profile must claim profile-taskquestionnaire');
  // Task.status fixedCode ready; Task.intent fixedCode order (1..1 each).
  if (task.status !== 'ready') problems.push('status is fixed to "ready"');
  if (task.intent !== 'order') problems.push('intent is fixed to "order"');
  // Task.code 1..1 (sdc-task); sdc-t1: complete-questionnaire, no focus, a questionnaire input.
  const questionnaires = (task.input ?? []).filter((i) => matches(i.type, SDC_TEMP, 'questionnaire'));
  if (!matches(task.code, SDC_TEMP, 'complete-questionnaire')) problems.push('sdc-t1: code must be SDC temp complete-questionnaire');
  if (task.focus) problems.push('sdc-t1: focus must be absent for complete-questionnaire');
  // Task.for 1..1 Reference(US Core Patient).
  if (!/^Patient\/[^/]+$/.test(task.for?.reference ?? '')) problems.push('for (1..1) must reference the Patient');
  // Task.authoredOn 1..1 (sdc-task), a FHIR dateTime.
  if (!/^\d{4}(-\d{2}(-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2}))?)?)?$/.test(task.authoredOn ?? '')) problems.push('authoredOn (1..1) must be a dateTime');
  // Task.requester 1..1 (sdc-task): the payer.
  if (!task.requester?.reference && !task.requester?.display && !task.requester?.identifier) problems.push('requester (1..1) is required');
  // basedOn is mustSupport: the order the form documents.
  if (!task.basedOn?.length) problems.push('basedOn should name the order');
  // Task.input 1..*; every input: type 1..1 and value[x] 1..1.
  if (!task.input?.length) problems.push('input (1..*) is required');
  (task.input ?? []).forEach((input, i) => {
    if (!input.type) problems.push(`input[${i}].type (1..1) is required`);
    if (valueKeys(input).length !== 1) problems.push(`input[${i}].value[x] (1..1) is required`);
  });
  // input:questionnaire 0..1 here 1..1 by sdc-t1, value[x] canonical.
  if (questionnaires.length !== 1) problems.push('sdc-t1: exactly one questionnaire input');
  questionnaires.forEach((q) => {
    if (typeof q.valueCanonical !== 'string' || q.valueCanonical === '') problems.push('questionnaire input needs valueCanonical');
  });
  // input:afterCompletion 1..*, valueCodeableConcept bound to afterCompletionCode.
  const after = (task.input ?? []).filter((i) => matches(i.type, CRD_TEMP, 'after-completion-action'));
  if (after.length === 0) problems.push('afterCompletion input (1..*) is required');
  after.forEach((a) => {
    const codes = (a.valueCodeableConcept?.coding ?? []).filter((c) => c.system === CRD_TEMP && AFTER_COMPLETION_CODES.includes(c.code ?? ''));
    if (codes.length === 0) problems.push('afterCompletion valueCodeableConcept must use an afterCompletionCode code');
  });
  // reasonCode bound to taskReason.
  if (task.reasonCode && !(task.reasonCode.coding ?? []).some((c) => c.system === CRD_TEMP && TASK_REASON_CODES.includes(c.code ?? ''))) {
    problems.push('reasonCode must use a taskReason code');
  }
  return problems;
}
