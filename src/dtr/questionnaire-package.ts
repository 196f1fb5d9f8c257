/**
 * `POST [base]/Questionnaire/$questionnaire-package`
 * Da Vinci DTR 2.0.1: https://hl7.org/fhir/us/davinci-dtr/STU2/OperationDefinition-questionnaire-package.html
 *
 * Supports:
 * - input (DTR 2.0.1 names, unchanged in 2.1 and 2.2): `coverage` (Coverage, 1..*), `order` (request
 *   resource, 0..*), `questionnaire` (canonical, 0..*; also accepted as valueUri/valueUrl/valueString),
 *   `context` (string: the CRD coverage-assertion-id), `changedsince` (valueInstant as in the 2.0.1–2.2
 *   input profiles, or valueDateTime as in the 2.0.1 OperationDefinition), `referenced` (2.0.1, read for
 *   the patient only). Unknown parameter names are ignored.
 * - selection: the union of the Questionnaires named by canonical, by the context (injected
 *   `lookupAssertion`), and by each order × coverage (injected `selectPolicy`), each once.
 * - one collection Bundle (profile DTR-QPackageBundle) per Questionnaire: the Questionnaire first, then
 *   every Library named by `cqf-library` (or by a CQL expression `"Library".Definition`) and the
 *   closure of their `relatedArtifact` depends-on, every ValueSet the Questionnaire (answerValueSet,
 *   unitValueSet) or the Libraries' ELM use, expanded, and one draft QuestionnaireResponse (profile
 *   dtr-questionnaireresponse) linked to the client's Coverage and order(s) by `qr-context`.
 * - output, per the 2.0.1 outputProfile dtr-qpackage-output-parameters: always a Parameters with one
 *   `PackageBundle` per Bundle (DTR 2.2 renamed it `packagebundle`) and `operationOutcome` (the
 *   profile's slice name) with the warnings; the profile is claimed only when there is a package.
 * - errors: no coverage, or none of order/questionnaire/context → 400; unknown context → 404;
 *   unknown Questionnaire canonical → 200 with a warning in `outcome`.
 * - `changedsince`: only packages where the Questionnaire, a Library or a ValueSet changed after it;
 *   when none did, a Parameters with an informational `operationOutcome` (200), no profile claimed.
 *
 * - adaptive forms: a `questionnaire` canonical `<policy form url>-adaptive` gets the DTR
 *   `dtr-questionnaire-adapt-search` Questionnaire (no items, src/dtr/adaptive-form.ts) and a draft
 *   response naming it, for `$next-question`.
 * Does not support: payer pre-population of the draft response (answers
 * come from `$populate`), GET invocation, multiple versions of one Library in a package.
 */
import { randomUUID } from 'node:crypto';
import type {
  Bundle,
  BundleEntry,
  Coverage,
  Extension,
  Identifier,
  Library,
  OperationOutcomeIssue,
  Parameters,
  ParametersParameter,
  Questionnaire,
  QuestionnaireItem,
  QuestionnaireResponse,
  QuestionnaireResponseItem,
  Reference,
  Resource,
  ValueSet,
} from 'fhir/r4';
import { badRequest, issue, notFound, outcome, warning } from '../fhir/outcomes';
import type { ArtifactRepository } from './artifacts';
import { adaptiveForm } from './adaptive-form';
import { CRD_TEMP_SYSTEM, DTR_PROFILE, EXT, ORDER_TYPES, splitCanonical } from './urls';
import { OPERATION_DEFINITIONS } from '../fhir/operation-definitions';
import { operationRules, readParameters } from '../fhir/parameters';

/** What the engine (by coverage + order) or the store (by coverage-assertion-id) answers. */
export interface PolicySelection {
  /** Canonical of the Questionnaire, `url` or `url|version`. */
  questionnaire: string;
  /** The order the CRD assertion was made for, when the client sent none (for the draft's qr-context). */
  order?: Reference;
}

/** Why no policy could be chosen, when the reason is something the client can fix (said in the warning). */
export interface SelectionProblem {
  problem: string;
}

export type SelectPolicy = (
  coverage: Coverage,
  order: Resource,
  referenced: Resource[],
) => PolicySelection | SelectionProblem | null | Promise<PolicySelection | SelectionProblem | null>;
export type LookupAssertion = (id: string) => PolicySelection | null | Promise<PolicySelection | null>;

export interface QuestionnairePackageDeps {
  artifacts: ArtifactRepository;
  selectPolicy?: SelectPolicy;
  lookupAssertion?: LookupAssertion;
  now?: () => Date;
}

export interface PackageRequest {
  coverages: { resource: Coverage; index: number }[];
  orders: { resource: Resource; index: number }[];
  referenced: Resource[];
  questionnaires: { canonical: string; index: number }[];
  context?: { id: string; index: number };
  changedSince?: Date;
}

export interface OperationResult<T> {
  status: number;
  body: T;
}

const ORDER_TYPE_SET = new Set<string>(ORDER_TYPES);
/** `"LibraryName".Definition` (or `"LibraryName"."Definition"`) at the start of a CQL expression. */
const LIBRARY_PREFIX = /^\s*"([^"]+)"\s*\./;


/**
 * The input as this server reads it: the DTR 2.0.1 OperationDefinition, a questionnaire canonical also
 * as valueUri/valueUrl/valueString, changedsince also as valueInstant (the input profiles' type).
 */
export const PACKAGE_RULES = operationRules(OPERATION_DEFINITIONS.questionnairePackage, {
  change: { questionnaire: { alsoTypes: ['uri', 'url', 'string'] }, changedsince: { alsoTypes: ['instant'] } },
});

/** Narrows the operation input; every failure is a 400 naming the element. */
export function parsePackageRequest(body: unknown): PackageRequest {
  const request: PackageRequest = { coverages: [], orders: [], referenced: [], questionnaires: [] };
  for (const p of readParameters(body, PACKAGE_RULES).list) {
    const { index, expression: at } = p;
    switch (p.name) {
      case 'coverage':
        request.coverages.push({ resource: p.resource as Coverage, index });
        break;
      case 'order':
        if (!ORDER_TYPE_SET.has(p.resource!.resourceType)) throw badRequest(`order must carry one of ${ORDER_TYPES.join(', ')}`, `${at}.resource`);
        request.orders.push({ resource: p.resource!, index });
        break;
      case 'referenced':
        request.referenced.push(p.resource!);
        break;
      case 'questionnaire':
        request.questionnaires.push({ canonical: (p.value as string).trim(), index });
        break;
      case 'context':
        request.context = { id: (p.value as string).trim(), index };
        break;
      case 'changedsince': {
        const value = p.value as string;
        const when = /^\d{4}(-\d{2}(-\d{2}(T.+)?)?)?$/.test(value) ? new Date(value) : undefined;
        if (!when || Number.isNaN(when.getTime())) {
          throw badRequest('changedsince must carry a valueInstant (e.g. 2024-06-01T12:00:00Z)', `${at}.valueInstant`);
        }
        request.changedSince = when;
        break;
      }
    }
  }
  if (request.coverages.length === 0) {
    throw badRequest('coverage is required: the Coverage the documentation is collected for', "Parameters.parameter.where(name='coverage')", 'required');
  }
  if (request.orders.length === 0 && request.questionnaires.length === 0 && !request.context) {
    throw badRequest(
      "at least one of 'order', 'questionnaire' and 'context' is required (DTR dtr-1)",
      "Parameters.parameter.where(name='order' or name='questionnaire' or name='context')",
      'required',
    );
  }
  request.coverages.forEach(({ resource, index }) => clientReference(resource, `Parameters.parameter[${index}].resource`));
  request.orders.forEach(({ resource, index }) => clientReference(resource, `Parameters.parameter[${index}].resource`));
  return request;
}

/** The reference the draft QuestionnaireResponse uses for a resource the client sent. */
function clientReference(resource: Resource, expression: string): Reference {
  if (resource.id) return { reference: `${resource.resourceType}/${resource.id}` };
  const identifier = (resource as { identifier?: Identifier[] }).identifier?.[0];
  if (identifier) return { type: resource.resourceType, identifier };
  throw badRequest(`${resource.resourceType} needs an id (or identifier) so the QuestionnaireResponse can reference it`, `${expression}.id`);
}

interface Selected {
  questionnaire: Questionnaire;
  coverages: Set<Coverage>;
  orders: Set<Resource>;
  /** Orders known only by reference (a CRD assertion's order when the client sent none). */
  orderRefs: Reference[];
}

export async function questionnairePackage(
  body: unknown,
  deps: QuestionnairePackageDeps,
): Promise<OperationResult<Bundle | Parameters>> {
  const request = parsePackageRequest(body);
  const now = (deps.now ?? (() => new Date()))();
  const issues: OperationOutcomeIssue[] = [];
  const selected = new Map<string, Selected>();
  const allCoverages = request.coverages.map((c) => c.resource);
  const allOrders = request.orders.map((o) => o.resource);

  const add = (questionnaire: Questionnaire, coverages: Coverage[], orders: Resource[], orderRefs: Reference[] = []): void => {
    const key = `${questionnaire.url}|${questionnaire.version ?? ''}`;
    const entry = selected.get(key) ?? { questionnaire, coverages: new Set(), orders: new Set(), orderRefs: [] };
    entry.orderRefs.push(...orderRefs);
    coverages.forEach((c) => entry.coverages.add(c));
    orders.forEach((o) => entry.orders.add(o));
    selected.set(key, entry);
  };
  const resolve = (canonical: string, expression: string, source: string): Questionnaire | undefined => {
    const questionnaire = deps.artifacts.byCanonical('Questionnaire', canonical) ?? adaptiveForm(canonical, deps.artifacts);
    if (!questionnaire) issues.push(warning('not-found', `${source}: Questionnaire ${canonical} is not published by this server`, expression));
    return questionnaire;
  };

  for (const { canonical, index } of request.questionnaires) {
    const questionnaire = resolve(canonical, `Parameters.parameter[${index}].value`, 'Requested questionnaire');
    if (questionnaire) add(questionnaire, allCoverages, allOrders);
  }

  if (request.context) {
    const assertion = deps.lookupAssertion ? await deps.lookupAssertion(request.context.id) : null;
    if (!assertion) throw notFound(`No coverage assertion with id ${request.context.id} is known to this payer`);
    const questionnaire = resolve(assertion.questionnaire, `Parameters.parameter[${request.context.index}].valueString`, `Coverage assertion ${request.context.id}`);
    if (questionnaire) add(questionnaire, allCoverages, allOrders, allOrders.length === 0 && assertion.order ? [assertion.order] : []);
  }

  const problems = new Map<Resource, string[]>();
  for (const { resource: order, index } of request.orders) {
    for (const coverage of allCoverages) {
      const selection = deps.selectPolicy ? await deps.selectPolicy(coverage, order, request.referenced) : null;
      if (selection && 'problem' in selection) {
        problems.set(order, [...(problems.get(order) ?? []), selection.problem]);
        continue;
      }
      if (!selection) continue;
      const questionnaire = resolve(selection.questionnaire, `Parameters.parameter[${index}].resource`, `Policy for ${describe(order)}`);
      if (questionnaire) add(questionnaire, [coverage], [order]);
    }
  }
  for (const { resource: order, index } of request.orders) {
    if ([...selected.values()].some((s) => s.orders.has(order))) continue;
    const why = problems.get(order);
    if (why) {
      issues.push(warning('incomplete', `No questionnaire could be chosen for ${describe(order)}: ${why.join('; ')}`, `Parameters.parameter[${index}].resource`));
    } else {
      issues.push(
        warning(
          'not-found',
          `No prior-authorization questionnaire of this payer applies to ${describe(order)} under the given coverage; no documentation is collected for it here`,
          `Parameters.parameter[${index}].resource`,
        ),
      );
    }
  }

  let bundles = [...selected.values()].map((s) => buildPackageBundle(s, request, deps.artifacts, now, issues));
  if (request.changedSince) {
    const since = request.changedSince;
    bundles = bundles.filter((b) => changedSince(b, since, deps.artifacts));
    if (bundles.length === 0 && selected.size > 0) {
      issues.push(issue('information', 'informational', `No Questionnaire package changed since ${since.toISOString()}`));
    }
  }

  // DTR 2.0.1 outputProfile dtr-qpackage-output-parameters: always a Parameters, one `PackageBundle`
  // per Bundle (1..*), warnings in the slice named `operationOutcome`. An answer without a package
  // ("nothing changed since", nothing applies) cannot meet PackageBundle 1..*: it does not claim it.
  const parameter: ParametersParameter[] = bundles.map((b) => ({ name: 'PackageBundle', resource: b }));
  if (issues.length > 0) parameter.push({ name: 'operationOutcome', resource: outcome(issues) });
  return {
    status: 200,
    body: { resourceType: 'Parameters', ...(bundles.length > 0 ? { meta: { profile: [DTR_PROFILE.packageOutput] } } : {}), parameter },
  };
}

function describe(resource: Resource): string {
  const concept = (resource as { medicationCodeableConcept?: { text?: string; coding?: { display?: string; code?: string }[] } })
    .medicationCodeableConcept;
  const what = concept?.text ?? concept?.coding?.[0]?.display ?? concept?.coding?.[0]?.code;
  return `${resource.resourceType}${resource.id ? `/${resource.id}` : ''}${what ? ` (${what})` : ''}`;
}

function changedSince(bundle: Bundle, since: Date, artifacts: ArtifactRepository): boolean {
  return (bundle.entry ?? []).some((e) => {
    const r = e.resource;
    if (!r || (r.resourceType !== 'Questionnaire' && r.resourceType !== 'Library' && r.resourceType !== 'ValueSet')) return false;
    return artifacts.lastUpdated(r) > since;
  });
}

// ---------------------------------------------------------------------------------------------
// One package

function walkItems(items: QuestionnaireItem[] | undefined, visit: (item: QuestionnaireItem) => void): void {
  for (const item of items ?? []) {
    visit(item);
    walkItems(item.item, visit);
  }
}

/** Every Expression value in the Questionnaire's root and item extensions. */
export function questionnaireExpressions(questionnaire: Questionnaire): { language?: string; expression?: string; reference?: string }[] {
  const out: { language?: string; expression?: string; reference?: string }[] = [];
  const collect = (extensions: Extension[] | undefined): void => {
    for (const extension of extensions ?? []) {
      if (extension.valueExpression) out.push(extension.valueExpression);
      collect(extension.extension);
    }
  };
  collect(questionnaire.extension);
  walkItems(questionnaire.item, (item) => collect(item.extension));
  return out;
}

/** Library names a CQL expression is written against: `"Name".Definition`. */
export function libraryNameOf(expression: string | undefined): string | undefined {
  return expression ? LIBRARY_PREFIX.exec(expression)?.[1] : undefined;
}

function buildPackageBundle(
  selection: Selected,
  request: PackageRequest,
  artifacts: ArtifactRepository,
  now: Date,
  issues: OperationOutcomeIssue[],
): Bundle {
  const { questionnaire } = selection;
  const label = `Questionnaire ${questionnaire.url}|${questionnaire.version ?? ''}`;

  // Libraries: cqf-library, libraries named in CQL expressions, then depends-on, recursively.
  const libraries = new Map<string, Library>();
  const pending: { canonical: string; from: string }[] = [];
  for (const extension of questionnaire.extension ?? []) {
    if (extension.url === EXT.cqfLibrary && extension.valueCanonical) pending.push({ canonical: extension.valueCanonical, from: label });
  }
  for (const expression of questionnaireExpressions(questionnaire)) {
    if (expression.language !== 'text/cql') continue;
    if (expression.reference) pending.push({ canonical: expression.reference, from: label });
    const name = libraryNameOf(expression.expression);
    const named = name ? artifacts.library(name) : undefined;
    if (named) pending.push({ canonical: `${named.resource.url}|${named.version}`, from: label });
  }
  while (pending.length > 0) {
    const { canonical, from } = pending.shift()!;
    const library = artifacts.byCanonical('Library', canonical);
    if (!library) {
      issues.push(warning('not-found', `${from} depends on Library ${canonical}, which this server does not publish`));
      continue;
    }
    const key = library.url!;
    const existing = libraries.get(key);
    if (existing) {
      if (existing.version !== library.version) {
        issues.push(warning('business-rule', `${label}: Library ${key} is needed in versions ${existing.version} and ${library.version}; the package carries ${existing.version}`));
      }
      continue;
    }
    libraries.set(key, library);
    for (const related of library.relatedArtifact ?? []) {
      if (related.type === 'depends-on' && related.resource && /\/Library\/[^/]+$/.test(splitCanonical(related.resource).url)) {
        pending.push({ canonical: related.resource, from: `Library ${library.name}` });
      }
    }
  }

  // ValueSets: answerValueSet / unitValueSet of items, and the value sets the libraries' ELM declares.
  const valueSetCanonicals: { canonical: string; from: string }[] = [];
  walkItems(questionnaire.item, (item) => {
    if (item.answerValueSet && !item.answerValueSet.startsWith('#')) {
      valueSetCanonicals.push({ canonical: item.answerValueSet, from: `${label} item ${item.linkId}` });
    }
    for (const extension of item.extension ?? []) {
      if (extension.url === EXT.unitValueSet && extension.valueCanonical) {
        valueSetCanonicals.push({ canonical: extension.valueCanonical, from: `${label} item ${item.linkId}` });
      }
    }
  });
  for (const library of libraries.values()) {
    for (const canonical of artifacts.library(library.name!)?.valueSets ?? []) {
      valueSetCanonicals.push({ canonical, from: `Library ${library.name}` });
    }
  }
  const valueSets = new Map<string, ValueSet>();
  for (const { canonical, from } of valueSetCanonicals) {
    const expanded = artifacts.expandValueSet(canonical);
    if (!expanded) {
      const known = artifacts.byCanonical('ValueSet', canonical);
      issues.push(
        warning(
          known ? 'not-supported' : 'not-found',
          known
            ? `${from} uses ValueSet ${canonical}, which cannot be expanded without a terminology server`
            : `${from} uses ValueSet ${canonical}, which this server does not publish`,
        ),
      );
      continue;
    }
    valueSets.set(`${expanded.url}|${expanded.version ?? ''}`, expanded);
  }

  const response = draftResponse(selection, request, now);
  const entry = (resource: Questionnaire | Library | ValueSet): BundleEntry => ({
    fullUrl: `${artifacts.canonicalBase}/${resource.resourceType}/${resource.id}`,
    resource,
  });
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    meta: { profile: [DTR_PROFILE.packageBundle], lastUpdated: now.toISOString() },
    type: 'collection',
    timestamp: now.toISOString(),
    entry: [
      entry(questionnaire),
      ...[...libraries.values()].map(entry),
      ...[...valueSets.values()].map(entry),
      { fullUrl: `urn:uuid:${response.id}`, resource: response },
    ],
  };
}

/**
 * The draft QuestionnaireResponse (DTR 2.0.1 dtr-questionnaireresponse): questionnaire canonical with
 * version, status in-progress, subject = the coverage's beneficiary, one `qr-context` per Coverage and
 * per order, `intendedUse` = withpa, and the item tree without answers (the profile needs item 1..*;
 * answers, each marked with information-origin, come from the client or from `$populate`).
 */
function draftResponse(selection: Selected, request: PackageRequest, now: Date): QuestionnaireResponse {
  const { questionnaire } = selection;
  const coverages = [...selection.coverages];
  const orders = [...selection.orders];
  const reference = (resource: Resource): Reference => {
    const index = [...request.coverages, ...request.orders].find((p) => p.resource === resource)?.index ?? 0;
    return clientReference(resource, `Parameters.parameter[${index}].resource`);
  };
  // DTR 2.0.1 dtr-questionnaireresponse: qr-context holds the Coverage and the order; with no order
  // in the request, the order the CRD assertion (context) was made for, by reference.
  const context: Extension[] = [
    ...[...coverages, ...orders].map((r) => ({ url: EXT.qrContext, valueReference: reference(r) })),
    ...(orders.length === 0 ? selection.orderRefs.map((valueReference) => ({ url: EXT.qrContext, valueReference })) : []),
  ];
  const id = randomUUID();
  return {
    resourceType: 'QuestionnaireResponse',
    id,
    meta: { profile: [DTR_PROFILE.questionnaireResponse], lastUpdated: now.toISOString() },
    extension: [
      ...context,
      {
        url: EXT.intendedUse,
        valueCodeableConcept: { coding: [{ system: CRD_TEMP_SYSTEM, code: 'withpa', display: 'Include in prior authorization' }] },
      },
    ],
    questionnaire: questionnaire.version ? `${questionnaire.url}|${questionnaire.version}` : questionnaire.url!,
    status: 'in-progress',
    subject: subjectOf(coverages, orders, request.referenced),
    authored: now.toISOString(),
    item: skeleton(questionnaire.item),
  };
}

function subjectOf(coverages: Coverage[], orders: Resource[], referenced: Resource[]): Reference {
  const beneficiary = coverages.find((c) => c.beneficiary?.reference || c.beneficiary?.identifier)?.beneficiary;
  if (beneficiary) return pickReference(beneficiary);
  const subject = orders.map((o) => (o as { subject?: Reference }).subject).find((s) => s?.reference);
  if (subject) return pickReference(subject);
  const patient = referenced.find((r) => r.resourceType === 'Patient' && r.id);
  if (patient) return { reference: `Patient/${patient.id}` };
  throw badRequest('Coverage.beneficiary is required: it is the subject of the QuestionnaireResponse', "Parameters.parameter.where(name='coverage').resource.beneficiary", 'required');
}

function pickReference(reference: Reference): Reference {
  const out: Reference = {};
  if (reference.reference) out.reference = reference.reference;
  if (reference.identifier) out.identifier = reference.identifier;
  if (reference.display) out.display = reference.display;
  return out;
}

function skeleton(items: QuestionnaireItem[] | undefined): QuestionnaireResponseItem[] {
  return (items ?? [])
    .filter((item) => item.type !== 'display')
    .map((item) => {
      const out: QuestionnaireResponseItem = { linkId: item.linkId };
      if (item.text) out.text = item.text;
      const children = skeleton(item.item);
      if (item.type === 'group' && children.length > 0) out.item = children;
      return out;
    });
}
