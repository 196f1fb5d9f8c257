/**
 * `POST [base]/Questionnaire/$populate` and `POST [base]/Questionnaire/[id]/$populate`
 * SDC 3.0.0: https://hl7.org/fhir/uv/sdc/STU3/OperationDefinition-Questionnaire-populate.html
 * DTR 2.0.1 (pre-population by the payer for renderers that cannot run CQL):
 * https://hl7.org/fhir/us/davinci-dtr/STU2/specification.html#prepopulation
 *
 * Supports:
 * - input (a Parameters): the Questionnaire by `questionnaire` (the resource; a canonical in
 *   valueCanonical/valueUri is accepted too, as in SDC 4), `canonical` (uri, optionally `|version`),
 *   `identifier` (Identifier) or `questionnaireRef` (Reference `Questionnaire/id` or the canonical
 *   URL), exactly one of them at type level; at instance level the id from the URL (the others are
 *   then ignored). `subject` (Reference to the Patient, required). `context` (0..*), each with a
 *   `name` part and one or more `content` parts (resource or Reference): `patient` (Patient),
 *   `coverage` (Coverage), `order` (the request: MedicationRequest, ServiceRequest...) — the
 *   Questionnaire's launchContext names — and `data` / `patientData` (a Bundle: the patient's
 *   record). The record may also come as top-level `data` / `patientData` Bundles, or be read from
 *   `fhirServer` with the bearer token `accessToken` (see population-data.ts). `local` is read but
 *   this server keeps no patient records (a warning when true).
 * - population: every item's `initialExpression` in text/cql (`"Library".Definition`) is run with
 *   the engine's compiled library against the data (prepopulate.ts); each value becomes answers of
 *   the item's type, null leaves the item unanswered.
 * - output: Parameters with `response` (QuestionnaireResponse: questionnaire canonical with
 *   version, status in-progress, the subject, the Questionnaire's item tree without display items,
 *   groups kept; every answer marked with DTR `information-origin` source `auto`; `qr-context` to
 *   the Coverage and order when given; `intendedUse` withpa; profile dtr-questionnaireresponse when
 *   both Coverage and order are known) and `issues` (OperationOutcome) for non-fatal problems: a
 *   definition that failed, a value that does not fit its item, data that could not be read.
 * - errors, thrown as OperationOutcomeError: malformed input → 400 naming the element; unknown
 *   Questionnaire → 404; data about another patient than `subject` → 400.
 *
 * Does not support: FHIRPath / x-fhir-query expressions, `itemPopulationContext` (repeating groups),
 * StructureMap or observation-based population, `launchContext` as an Extension parameter, Binary or
 * CDA `content`, GET invocation.
 */
import { randomUUID } from 'node:crypto';
import type {
  Coverage,
  Extension,
  Identifier,
  OperationOutcomeIssue,
  Parameters,
  ParametersParameter,
  Questionnaire,
  QuestionnaireItem,
  QuestionnaireResponse,
  QuestionnaireResponseItem,
  QuestionnaireResponseItemAnswer,
  Reference,
  Resource,
} from 'fhir/r4';
import type { PolicyEngine } from '../engine';
import { badRequest, notFound, outcome, warning } from '../fhir/outcomes';
import type { FhirFetcherFactory } from '../fhir/fetcher';
import { parseReference } from '../fhir/reference';
import type { ArtifactRepository } from './artifacts';
import { CRD_TEMP_SYSTEM, DTR_PROFILE, EXT, ORDER_TYPES } from './urls';
import {
  addRequesterRole,
  addResources,
  checkDataParameters,
  checkSubject,
  dataBundle,
  DATA_PARAMETER_NAMES,
  DATA_PARAMETERS,
  emptyDataParameters,
  gatherData,
  readDataParameter,
  resolveReference,
  type DataParameters,
} from './population-data';
import { information, populateAnswers, withOrigin } from './prepopulate';
import { isRecord } from '../fhir/json';
import { OPERATION_DEFINITIONS } from '../fhir/operation-definitions';
import { operationRules, readParameters, type ReadParameter } from '../fhir/parameters';

export interface PopulateDeps {
  engine: PolicyEngine;
  artifacts: ArtifactRepository;
  now: () => Date;
  /** Reads from `fhirServer`; default fhir-kit-client. Tests inject their own. */
  fetcherFactory?: FhirFetcherFactory;
}

export interface OperationResult<T> {
  status: number;
  body: T;
}

type QuestionnaireChoice =
  | { kind: 'resource'; resource: Questionnaire; expression: string }
  | { kind: 'canonical'; value: string; expression: string }
  | { kind: 'identifier'; value: Identifier; expression: string }
  | { kind: 'reference'; value: string; expression: string };

/** A `context` content: a resource or a reference to one. */
interface ContextContent {
  resource?: Resource;
  reference?: string;
  expression: string;
}

export interface PopulateRequest {
  questionnaires: QuestionnaireChoice[];
  subject?: { patientId: string; reference: Reference; expression: string };
  contexts: Map<string, ContextContent[]>;
  local: boolean;
  data: DataParameters;
}

const CONTEXT_TYPES: Record<string, readonly string[]> = {
  patient: ['Patient'],
  coverage: ['Coverage'],
  order: ORDER_TYPES,
};
/**
 * The input as this server reads it: the SDC OperationDefinition; `questionnaire` also as a canonical
 * (SDC 4) or a Reference, `canonical` also as valueCanonical/valueUrl/valueString, a context
 * `content` as the resource itself or a Reference; and the data parameters of population-data.ts.
 * `launchContext` is not read (ignored as before, whatever its shape).
 */
export const POPULATE_RULES = operationRules(OPERATION_DEFINITIONS.populate, {
  change: {
    questionnaire: { alsoTypes: ['canonical', 'uri', 'url', 'string', 'Reference'] },
    canonical: { alsoTypes: ['canonical', 'url', 'string'] },
    'context.content': { types: ['Resource', 'Reference'] },
  },
  extra: DATA_PARAMETERS,
  // Sent in several shapes by SDC versions; it does not change the answer here.
  notRead: ['launchContext'],
});

/** The literal reference of a Reference value, when it has one. */
function referenceOf(p: ReadParameter): string | undefined {
  const ref = p.value;
  return p.type === 'Reference' && isRecord(ref) && typeof ref.reference === 'string' && ref.reference.trim() !== '' ? ref.reference.trim() : undefined;
}

function parseContext(p: ReadParameter, request: PopulateRequest): void {
  const at = p.expression;
  const name = p.parts.all('name').at(-1)?.value as string | undefined;
  const contents: ContextContent[] = p.parts.all('content').map((part) => {
    if (part.resource) return { resource: part.resource, expression: part.valueExpression };
    const reference = referenceOf(part);
    if (!reference) throw badRequest('a context content must carry a resource or a valueReference', `${part.expression}.resource`);
    return { reference, expression: part.valueExpression };
  });
  if (!name) throw badRequest("context needs a 'name' part (a launchContext name of the Questionnaire)", `${at}.part`);
  if (contents.length === 0) throw badRequest(`context ${name.trim()} has no 'content' part`, `${at}.part`);
  const key = name.trim();
  if ((DATA_PARAMETER_NAMES as readonly string[]).includes(key)) {
    contents.forEach((c) => {
      if (!c.resource) throw badRequest(`context ${key} must carry the Bundle itself, not a reference`, c.expression);
      request.data.bundles.push(dataBundle(c.resource, c.expression));
    });
    return;
  }
  const allowed = CONTEXT_TYPES[key];
  for (const content of contents) {
    const type = content.resource?.resourceType ?? parseReference(content.reference)?.resourceType;
    if (allowed && type && !allowed.includes(type)) {
      throw badRequest(`context ${key} must be ${allowed.length > 1 ? 'one of ' : 'a '}${allowed.join(', ')}, not ${type}`, content.expression);
    }
    if (allowed && content.resource && !content.resource.id) {
      throw badRequest(`the ${key} resource needs an id so that the QuestionnaireResponse can refer to it`, `${content.expression}.id`);
    }
  }
  request.contexts.set(key, [...(request.contexts.get(key) ?? []), ...contents]);
}

/** Narrows the operation input; every failure is a 400 naming the element. */
export function parsePopulateRequest(body: unknown): PopulateRequest {
  const request: PopulateRequest = { questionnaires: [], contexts: new Map(), local: false, data: emptyDataParameters() };
  for (const p of readParameters(body, POPULATE_RULES).list) {
    const at = p.expression;
    if (readDataParameter(p, request.data)) continue;
    switch (p.name) {
      case 'questionnaire': {
        if (p.resource) {
          request.questionnaires.push({ kind: 'resource', resource: p.resource as Questionnaire, expression: `${at}.resource` });
        } else if (p.type === 'Reference') {
          const reference = referenceOf(p);
          if (!reference) throw badRequest('questionnaire must carry a Questionnaire resource (or its canonical)', `${at}.resource`);
          request.questionnaires.push({ kind: 'reference', value: reference, expression: `${at}.valueReference` });
        } else {
          request.questionnaires.push({ kind: 'canonical', value: (p.value as string).trim(), expression: `${at}.valueCanonical` });
        }
        break;
      }
      case 'canonical':
        request.questionnaires.push({ kind: 'canonical', value: (p.value as string).trim(), expression: `${at}.valueUri` });
        break;
      case 'identifier': {
        const id = p.value as Record<string, unknown>;
        if (typeof id.value !== 'string' || id.value.trim() === '') throw badRequest('identifier must carry a valueIdentifier with a value', `${at}.valueIdentifier`);
        request.questionnaires.push({ kind: 'identifier', value: id as Identifier, expression: `${at}.valueIdentifier` });
        break;
      }
      case 'questionnaireRef': {
        const reference = referenceOf(p);
        if (!reference) throw badRequest('questionnaireRef must carry a valueReference with a reference', `${at}.valueReference`);
        request.questionnaires.push({ kind: 'reference', value: reference, expression: `${at}.valueReference` });
        break;
      }
      case 'subject': {
        const reference = referenceOf(p);
        const parsed = parseReference(reference);
        if (!reference || parsed?.resourceType !== 'Patient') throw badRequest('subject must be a Reference to the Patient (e.g. Patient/123)', `${at}.valueReference`);
        request.subject = { patientId: parsed.id, reference: { reference }, expression: `${at}.valueReference` };
        break;
      }
      case 'context':
        parseContext(p, request);
        break;
      case 'local':
        request.local = p.value as boolean;
        break;
    }
  }
  checkDataParameters(request.data);
  return request;
}

function findQuestionnaire(request: PopulateRequest, artifacts: ArtifactRepository, instanceId: string | undefined): Questionnaire {
  if (instanceId !== undefined) {
    const found = artifacts.byId('Questionnaire', instanceId);
    if (!found) throw notFound(`No Questionnaire with id ${instanceId} is published by this server`);
    return found;
  }
  const [choice, extra] = request.questionnaires;
  if (!choice) {
    throw badRequest(
      "one of 'questionnaire', 'canonical', 'identifier' and 'questionnaireRef' is required (or call Questionnaire/[id]/$populate)",
      "Parameters.parameter.where(name='questionnaire')",
      'required',
    );
  }
  if (extra) throw badRequest("only one of 'questionnaire', 'canonical', 'identifier' and 'questionnaireRef' may be given", extra.expression);
  switch (choice.kind) {
    case 'resource': {
      const q = choice.resource;
      if (typeof q.url !== 'string' || q.url === '') throw badRequest('the Questionnaire needs a url: the QuestionnaireResponse names it', `${choice.expression}.url`);
      if (q.item !== undefined && !Array.isArray(q.item)) throw badRequest('Questionnaire.item must be an array', `${choice.expression}.item`);
      return q;
    }
    case 'canonical': {
      const found = artifacts.byCanonical('Questionnaire', choice.value);
      if (!found) throw notFound(`Questionnaire ${choice.value} is not published by this server`);
      return found;
    }
    case 'identifier': {
      const { system, value } = choice.value;
      const found = artifacts.list('Questionnaire').find((q) => q.identifier?.some((i) => i.value === value && (system === undefined || i.system === system)));
      if (!found) throw notFound(`No Questionnaire with identifier ${system ? `${system}|` : ''}${value} is published by this server`);
      return found;
    }
    case 'reference': {
      const parsed = parseReference(choice.value);
      const found =
        artifacts.byCanonical('Questionnaire', choice.value) ?? (parsed?.resourceType === 'Questionnaire' ? artifacts.byId('Questionnaire', parsed.id) : undefined);
      if (!found) throw notFound(`Questionnaire ${choice.value} is not published by this server`);
      return found;
    }
  }
}

/** The reference a QuestionnaireResponse uses for a context content. */
function referenceTo(content: ContextContent): Reference {
  if (content.reference) return { reference: content.reference };
  return { reference: `${content.resource!.resourceType}/${content.resource!.id}` };
}

/** The QuestionnaireResponse item tree for the Questionnaire's items (display items left out). */
export function responseItems(items: QuestionnaireItem[] | undefined, answers: ReadonlyMap<string, QuestionnaireResponseItemAnswer[]>): QuestionnaireResponseItem[] {
  return (items ?? [])
    .filter((item) => item.type !== 'display')
    .map((item) => {
      const out: QuestionnaireResponseItem = { linkId: item.linkId };
      if (item.text) out.text = item.text;
      const children = responseItems(item.item, answers);
      if (item.type === 'group') {
        if (children.length > 0) out.item = children;
        return out;
      }
      const given = answers.get(item.linkId);
      // A question's own sub-items go under its answer (R4 QuestionnaireResponse).
      if (given && given.length > 0) out.answer = children.length > 0 ? given.map((a) => ({ ...a, item: structuredClone(children) })) : given;
      return out;
    });
}

export function questionnaireCanonical(questionnaire: Questionnaire): string {
  return questionnaire.version ? `${questionnaire.url}|${questionnaire.version}` : questionnaire.url!;
}

export async function populate(body: unknown, deps: PopulateDeps, questionnaireId?: string): Promise<OperationResult<Parameters>> {
  const request = parsePopulateRequest(body);
  const questionnaire = findQuestionnaire(request, deps.artifacts, questionnaireId);
  if (!request.subject) {
    throw badRequest('subject is required: the Patient the QuestionnaireResponse is about', "Parameters.parameter.where(name='subject')", 'required');
  }
  const { patientId } = request.subject;
  const now = deps.now();
  const issues: OperationOutcomeIssue[] = [];

  const declared = new Set(
    (questionnaire.extension ?? [])
      .filter((e) => e.url === EXT.launchContext)
      .map((e) => e.extension?.find((p) => p.url === 'name')?.valueCoding?.code)
      .filter((n): n is string => typeof n === 'string'),
  );
  for (const [name, contents] of request.contexts) {
    if (!CONTEXT_TYPES[name] && !declared.has(name)) {
      issues.push(warning('not-supported', `context ${name} is not a launchContext of ${questionnaireCanonical(questionnaire)}; it was not used`, contents[0]?.expression));
    }
  }
  const single = (name: string): ContextContent | undefined => {
    const contents = request.contexts.get(name) ?? [];
    if (contents.length > 1) throw badRequest(`context ${name} may carry only one resource`, contents[1]!.expression);
    return contents[0];
  };
  const patientContext = single('patient');
  const coverageContext = single('coverage');
  const orderContext = single('order');
  if (patientContext) {
    const id = patientContext.resource?.id ?? parseReference(patientContext.reference)?.id;
    if (id !== patientId) throw badRequest(`context patient (Patient/${id ?? '?'}) is not the subject (Patient/${patientId})`, patientContext.expression);
  }

  const data = await gatherData(request.data, patientId, orderContext?.resource, deps);
  addResources(data.bundle, [patientContext?.resource, coverageContext?.resource, orderContext?.resource]);
  const resolve = async (content: ContextContent | undefined): Promise<Resource | undefined> =>
    content?.resource ?? (content?.reference ? await resolveReference(data, content.reference, content.expression) : undefined);
  const coverage = (await resolve(coverageContext)) as Coverage | undefined;
  const order = await resolve(orderContext);
  await resolve(patientContext);
  await addRequesterRole(data, order, orderContext?.expression ?? "Parameters.parameter.where(name='context')");
  issues.push(...data.issues);
  checkSubject(data.bundle, patientId, request.subject.expression);
  if (request.data.bundles.length === 0 && !request.data.fhirServer) {
    issues.push(
      warning('incomplete', "No patient data was given (a 'data' Bundle or fhirServer): answers come only from the context resources", "Parameters.parameter.where(name='data')"),
    );
  }
  if (request.local) issues.push(warning('not-supported', 'This server keeps no patient records: local=true adds nothing', "Parameters.parameter.where(name='local')"));

  const population = await populateAnswers(
    questionnaire,
    { data: data.bundle, patientId, ...(order ? { order } : {}), ...(coverage ? { coverage } : {}), evaluationDate: now },
    deps,
  );
  issues.push(...population.issues);
  const answers = new Map([...population.answers].map(([linkId, list]) => [linkId, list.map((a) => withOrigin(a, 'auto'))]));
  if (answers.size === 0) issues.push(information('The patient data answers none of the questions; the response has no answers'));

  const contextRefs: Extension[] = [coverageContext, orderContext]
    .filter((c): c is ContextContent => c !== undefined)
    .map((c) => ({ url: EXT.qrContext, valueReference: referenceTo(c) }));
  const response: QuestionnaireResponse = {
    resourceType: 'QuestionnaireResponse',
    id: randomUUID(),
    ...(coverageContext && orderContext ? { meta: { profile: [DTR_PROFILE.questionnaireResponse] } } : {}),
    extension: [
      ...contextRefs,
      { url: EXT.intendedUse, valueCodeableConcept: { coding: [{ system: CRD_TEMP_SYSTEM, code: 'withpa', display: 'Include in prior authorization' }] } },
    ],
    questionnaire: questionnaireCanonical(questionnaire),
    status: 'in-progress',
    subject: request.subject.reference,
    authored: now.toISOString(),
    item: responseItems(questionnaire.item, answers),
  };
  const parameter: ParametersParameter[] = [{ name: 'response', resource: response }];
  if (issues.length > 0) parameter.push({ name: 'issues', resource: outcome(issues) });
  return { status: 200, body: { resourceType: 'Parameters', parameter } };
}
