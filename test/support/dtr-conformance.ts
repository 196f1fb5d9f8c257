/**
 * Structural conformance checks of a `$questionnaire-package` Bundle, from the payer's side:
 * - the DTR payer checks (as the DTR test kit runs them): every Library carries `text/cql` and
 *   `application/elm+json`; Library names are unique; each `cqf-library` equals a Library `url` in the
 *   Bundle; at least one item has a `text/cql` initialExpression; CQL expressions are written
 *   `"LibraryName".Definition` against a Library in the Bundle;
 * - DTR 2.0.1 profiles: DTR-QPackageBundle (dtrb-1, allowed entries), dtr-std-questionnaire (text,
 *   subjectType Patient, no assemble-expectation / endpoint, extension cardinalities, and the
 *   invariants que-1..13, sdc-1, dtrq-2..5 evaluated structurally), dtr-questionnaireresponse
 *   (qr-context to a Coverage and a request, intendedUse, subject, information-origin on answers);
 * - house rules from the DTR issue: url `[base]/Questionnaire/[id]`, launchContext for patient,
 *   coverage and the order, no hidden or read-only item pre-filled from the chart, every
 *   answerValueSet and every ELM value set present and expanded, each ELM built from its CQL.
 *
 * Does not: run a FHIR validator (terminology bindings, FHIRPath of every SDC invariant).
 */
import type {
  Bundle,
  Extension,
  Library,
  Questionnaire,
  QuestionnaireItem,
  QuestionnaireResponse,
  QuestionnaireResponseItem,
  Reference,
  ValueSet,
} from 'fhir/r4';
import { questionnaireExpressions } from '../../src/dtr/questionnaire-package';
import { CRD_TEMP_SYSTEM, DTR_PROFILE, EXT, LAUNCH_CONTEXT_SYSTEM, LIBRARY_TYPE_SYSTEM, ORDER_TYPES, splitCanonical } from '../../src/dtr/urls';

export interface ConformanceReport {
  errors: string[];
  warnings: string[];
}

/** The errors only: an empty list means the package passes. */
export function checkPackageBundle(bundle: unknown): string[] {
  return reviewPackageBundle(bundle).errors;
}

const ALLOWED_ENTRY_TYPES = new Set(['Questionnaire', 'QuestionnaireResponse', 'Library', 'ValueSet']);
const ORDER_TYPE_SET = new Set<string>(ORDER_TYPES);
const DOC_REASON_CODES = new Set(['withpa', 'withclaim', 'withorder', 'retain-doc']);

/** Item extensions the DTR 2.0.1 standard questionnaire profile allows at most once. */
const ITEM_EXTENSIONS_MAX_ONE = [
  EXT.initialExpression,
  EXT.calculatedExpression,
  EXT.enableWhenExpression,
  EXT.candidateExpression,
  EXT.hidden,
  EXT.unitValueSet,
  'http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl',
  'http://hl7.org/fhir/StructureDefinition/questionnaire-choiceOrientation',
  'http://hl7.org/fhir/StructureDefinition/questionnaire-displayCategory',
  'http://hl7.org/fhir/StructureDefinition/questionnaire-sliderStepValue',
  'http://hl7.org/fhir/StructureDefinition/entryFormat',
  'http://hl7.org/fhir/StructureDefinition/questionnaire-usageMode',
  'http://hl7.org/fhir/StructureDefinition/questionnaire-signatureRequired',
  'http://hl7.org/fhir/StructureDefinition/questionnaire-minOccurs',
  'http://hl7.org/fhir/StructureDefinition/questionnaire-maxOccurs',
  'http://hl7.org/fhir/StructureDefinition/minLength',
  'http://hl7.org/fhir/StructureDefinition/regex',
  'http://hl7.org/fhir/StructureDefinition/minValue',
  'http://hl7.org/fhir/StructureDefinition/maxValue',
  'http://hl7.org/fhir/StructureDefinition/maxDecimalPlaces',
  'http://hl7.org/fhir/StructureDefinition/mimeType',
  'http://hl7.org/fhir/StructureDefinition/maxSize',
  'http://hl7.org/fhir/StructureDefinition/questionnaire-unit',
  'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-itemMedia',
  'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-optionalDisplay',
  'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-shortText',
  'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-openLabel',
  'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-width',
  'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-collapsible',
  'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-minQuantity',
  'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-maxQuantity',
  'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-lookupQuestionnaire',
  'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-answerOptionsToggleExpression',
];
const ROOT_EXTENSIONS_MAX_ONE = [
  'http://hl7.org/fhir/StructureDefinition/rendering-styleSensitive',
  'http://hl7.org/fhir/StructureDefinition/questionnaire-signatureRequired',
];
const ANSWER_VALUE_SET_TYPES = new Set(['choice', 'open-choice', 'decimal', 'integer', 'date', 'dateTime', 'time', 'string', 'quantity']);
const MAX_LENGTH_TYPES = new Set(['boolean', 'decimal', 'integer', 'string', 'text', 'url', 'open-choice']);
/** `"Library".Definition` or `"Library"."Definition"`: the library and the definition named. */
const CQL_REFERENCE = /^\s*"([^"]+)"\s*\.\s*(?:"([^"]+)"|([A-Za-z_][A-Za-z0-9_]*))/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function decodeBase64(data: string | undefined): string | undefined {
  if (!data) return undefined;
  try {
    return Buffer.from(data, 'base64').toString('utf8');
  } catch {
    return undefined;
  }
}

interface ElmView {
  identifier?: { id?: string; version?: string };
  includes: { path: string; version?: string }[];
  valueSets: { id: string; version?: string }[];
  definitions: Set<string>;
}

function readElm(library: Library): ElmView | undefined {
  const text = decodeBase64(library.content?.find((c) => c.contentType === 'application/elm+json')?.data);
  if (!text) return undefined;
  try {
    const elm = JSON.parse(text) as { library?: Record<string, unknown> };
    const lib = elm.library as
      | {
          identifier?: { id?: string; version?: string };
          includes?: { def?: { path: string; version?: string }[] };
          valueSets?: { def?: { id: string; version?: string }[] };
          statements?: { def?: { name: string }[] };
        }
      | undefined;
    if (!lib) return undefined;
    return {
      ...(lib.identifier ? { identifier: lib.identifier } : {}),
      includes: lib.includes?.def ?? [],
      valueSets: lib.valueSets?.def ?? [],
      definitions: new Set((lib.statements?.def ?? []).map((d) => d.name)),
    };
  } catch {
    return undefined;
  }
}

function subExtension(extension: Extension, url: string): Extension[] {
  return (extension.extension ?? []).filter((e) => e.url === url);
}

function referencedType(reference: Reference | undefined): string | undefined {
  if (!reference) return undefined;
  if (reference.type) return reference.type;
  const match = /(?:^|\/)([A-Z][A-Za-z]+)\/[^/]+(?:\/_history\/[^/]+)?$/.exec(reference.reference ?? '');
  return match?.[1];
}

export function reviewPackageBundle(input: unknown): ConformanceReport {
  const errors: string[] = [];
  const warnings: string[] = [];
  if (!isRecord(input) || input.resourceType !== 'Bundle') return { errors: ['not a Bundle'], warnings };
  const bundle = input as unknown as Bundle;
  if (bundle.type !== 'collection') errors.push(`Bundle.type is ${bundle.type ?? 'missing'}; a questionnaire package is a collection`);
  if (!bundle.meta?.profile?.includes(DTR_PROFILE.packageBundle)) warnings.push(`Bundle.meta.profile does not claim ${DTR_PROFILE.packageBundle}`);
  const resources = (bundle.entry ?? []).map((e) => e.resource).filter((r): r is NonNullable<typeof r> => r !== undefined);
  if (resources[0]?.resourceType !== 'Questionnaire') errors.push('dtrb-1: the first entry of the Bundle must be the Questionnaire');
  resources.forEach((r, i) => {
    if (!ALLOWED_ENTRY_TYPES.has(r.resourceType)) errors.push(`Bundle.entry[${i}] is a ${r.resourceType}; a package holds only Questionnaire, QuestionnaireResponse, Library and ValueSet`);
  });
  const questionnaires = resources.filter((r): r is Questionnaire => r.resourceType === 'Questionnaire');
  const libraries = resources.filter((r): r is Library => r.resourceType === 'Library');
  const valueSets = resources.filter((r): r is ValueSet => r.resourceType === 'ValueSet');
  const responses = resources.filter((r): r is QuestionnaireResponse => r.resourceType === 'QuestionnaireResponse');
  if (questionnaires.length !== 1) errors.push(`a package holds exactly one Questionnaire; this one holds ${questionnaires.length}`);

  checkValueSets(valueSets, errors);
  const libraryInfo = checkLibraries(libraries, valueSets, errors, warnings);
  const questionnaire = questionnaires[0];
  if (questionnaire) {
    checkQuestionnaire(questionnaire, libraries, libraryInfo, valueSets, errors, warnings);
    if (responses.length === 0) errors.push('the package holds no draft QuestionnaireResponse for the Questionnaire');
    if (responses.length > 1) warnings.push(`the package holds ${responses.length} QuestionnaireResponses; DTR 2.2 expects one`);
    responses.forEach((r, i) => checkResponse(r, questionnaire, `QuestionnaireResponse[${i}]`, errors, warnings));
  }
  return { errors, warnings };
}

/**
 * The Library checks alone (content, names, depends-on closure, ELM identity and value sets), for
 * libraries that no Questionnaire uses yet.
 */
export function reviewLibraries(libraries: Library[], valueSets: ValueSet[]): ConformanceReport {
  const errors: string[] = [];
  const warnings: string[] = [];
  checkLibraries(libraries, valueSets, errors, warnings);
  return { errors, warnings };
}

// ---------------------------------------------------------------------------------------------

function valueSetIn(valueSets: ValueSet[], canonical: string): ValueSet | undefined {
  const { url, version } = splitCanonical(canonical);
  return valueSets.find((v) => v.url === url && (version === undefined || v.version === version));
}

function checkValueSets(valueSets: ValueSet[], errors: string[]): void {
  const seen = new Set<string>();
  for (const valueSet of valueSets) {
    const label = `ValueSet ${valueSet.url ?? valueSet.id ?? '?'}`;
    if (!valueSet.url) errors.push(`${label}: url is required`);
    const key = `${valueSet.url}|${valueSet.version ?? ''}`;
    if (seen.has(key)) errors.push(`${label}: appears more than once in the package at version ${valueSet.version ?? '(none)'}`);
    seen.add(key);
    const expansion = valueSet.expansion;
    if (!expansion) errors.push(`${label}: not expanded (DTR: value sets SHALL be expanded)`);
    else {
      if (!expansion.timestamp) errors.push(`${label}: expansion.timestamp is required`);
      if (!expansion.contains?.length && expansion.total !== 0) errors.push(`${label}: expansion has no contains`);
    }
  }
}

function checkLibraries(libraries: Library[], valueSets: ValueSet[], errors: string[], warnings: string[]): Map<Library, ElmView> {
  const names = new Map<string, Library>();
  const views = new Map<Library, ElmView>();
  for (const library of libraries) {
    const label = `Library ${library.name ?? library.url ?? library.id ?? '?'}`;
    if (!library.url) errors.push(`${label}: url is required`);
    if (!library.version) errors.push(`${label}: version is required (DTR references are version-specific)`);
    if (!library.name) errors.push(`${label}: name is required`);
    else if (names.has(library.name)) errors.push(`${label}: name ${library.name} is not unique in the package`);
    else names.set(library.name, library);
    if (!library.type?.coding?.some((c) => c.system === LIBRARY_TYPE_SYSTEM && c.code === 'logic-library')) {
      errors.push(`${label}: type must be ${LIBRARY_TYPE_SYSTEM}#logic-library`);
    }
    const content = library.content ?? [];
    const cql = content.find((c) => c.contentType === 'text/cql');
    const elmContent = content.find((c) => c.contentType === 'application/elm+json');
    if (!cql?.data) errors.push(`${label}: no text/cql content with data`);
    if (!elmContent?.data) errors.push(`${label}: no application/elm+json content with data`);
    for (const c of content) {
      if (c.contentType !== 'text/cql' && c.contentType !== 'application/elm+json') warnings.push(`${label}: content of type ${c.contentType} besides CQL and ELM`);
    }
    const cqlText = decodeBase64(cql?.data);
    if (cqlText !== undefined && library.name) {
      const declared = /^\s*library\s+("[^"]+"|[A-Za-z_][A-Za-z0-9_]*)(?:\s+version\s+'([^']+)')?/m.exec(cqlText);
      if (declared?.[1]?.replace(/"/g, '') !== library.name || declared[2] !== library.version) {
        errors.push(`${label}: the CQL declares library ${declared?.[1] ?? '?'} version ${declared?.[2] ?? '?'}, not ${library.name} ${library.version}`);
      }
    }
    const elm = elmContent?.data ? readElm(library) : undefined;
    if (elmContent?.data && !elm) errors.push(`${label}: the application/elm+json content is not ELM JSON`);
    if (elm) {
      views.set(library, elm);
      if (elm.identifier?.id !== library.name || elm.identifier?.version !== library.version) {
        errors.push(`${label}: the ELM is for ${elm.identifier?.id ?? '?'} ${elm.identifier?.version ?? '?'}, not ${library.name} ${library.version}`);
      }
      for (const vs of elm.valueSets) {
        const canonical = vs.version ? `${vs.id}|${vs.version}` : vs.id;
        if (!valueSetIn(valueSets, canonical)) errors.push(`${label}: the ELM uses ValueSet ${canonical}, which is not in the package`);
      }
    }
  }
  for (const library of libraries) {
    const label = `Library ${library.name ?? library.url ?? '?'}`;
    for (const related of library.relatedArtifact ?? []) {
      if (related.type !== 'depends-on' || !related.resource) continue;
      const { url, version } = splitCanonical(related.resource);
      if (!/\/Library\/[^/]+$/.test(url)) continue;
      if (!version) warnings.push(`${label}: depends-on ${related.resource} is not version-specific`);
      if (!libraries.some((l) => l.url === url && (version === undefined || l.version === version))) {
        errors.push(`${label}: depends-on ${related.resource}, which is not in the package`);
      }
    }
    for (const include of views.get(library)?.includes ?? []) {
      const target = names.get(include.path);
      if (!target) errors.push(`${label}: includes library ${include.path}, which is not in the package`);
      else if (include.version && target.version !== include.version) {
        errors.push(`${label}: includes ${include.path} version ${include.version}, the package has ${target.version}`);
      }
    }
  }
  return views;
}

// ---------------------------------------------------------------------------------------------

function walk(items: QuestionnaireItem[] | undefined, visit: (item: QuestionnaireItem, path: string) => void, path = 'item'): void {
  (items ?? []).forEach((item, i) => {
    const here = `${path}[${i}]`;
    visit(item, here);
    walk(item.item, visit, `${here}.item`);
  });
}

function hasExtension(item: { extension?: Extension[] }, url: string): boolean {
  return (item.extension ?? []).some((e) => e.url === url);
}

function checkQuestionnaire(
  questionnaire: Questionnaire,
  libraries: Library[],
  elmViews: Map<Library, ElmView>,
  valueSets: ValueSet[],
  errors: string[],
  warnings: string[],
): void {
  const label = `Questionnaire ${questionnaire.id ?? questionnaire.url ?? '?'}`;
  const error = (text: string): void => void errors.push(`${label}: ${text}`);
  const warn = (text: string): void => void warnings.push(`${label}: ${text}`);

  if (!questionnaire.meta?.profile?.includes(DTR_PROFILE.stdQuestionnaire)) warn(`meta.profile does not claim ${DTR_PROFILE.stdQuestionnaire}`);
  const id = questionnaire.id ?? '';
  const escapedId = id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  if (!id || !questionnaire.url || !new RegExp(`^https?://[^\\s|]+/Questionnaire/${escapedId}$`).test(questionnaire.url)) {
    error(`url ${questionnaire.url ?? '(missing)'} is not of the form [base]/Questionnaire/${id || '[id]'}`);
  }
  if (!questionnaire.version) error('version is required');
  if (!questionnaire.status) error('status is required');
  else if (questionnaire.status !== 'active') warn(`status is ${questionnaire.status}`);
  if (questionnaire.name && !/^[A-Z]([A-Za-z0-9_]){0,254}$/.test(questionnaire.name)) warn('que-0: name should be usable as an identifier');
  if (questionnaire.subjectType?.length !== 1 || questionnaire.subjectType[0] !== 'Patient') error('subjectType must be exactly Patient');
  if (!questionnaire.text?.div || !/>[^<\s]/.test(questionnaire.text.div)) error('text (narrative with content) is required by dtr-std-questionnaire');
  if (hasExtension(questionnaire, EXT.assembleExpectation)) error('assemble-expectation is not allowed (forms are served assembled)');
  if (hasExtension(questionnaire, EXT.endpoint)) error('sdc-questionnaire-endpoint is not allowed');
  for (const url of ROOT_EXTENSIONS_MAX_ONE) {
    if ((questionnaire.extension ?? []).filter((e) => e.url === url).length > 1) error(`extension ${url} may appear at most once`);
  }

  // cqf-library: each names a Library in the package (url, or url|version).
  const cqfLibraries = (questionnaire.extension ?? []).filter((e) => e.url === EXT.cqfLibrary);
  if (cqfLibraries.length === 0) error('no cqf-library extension names the CQL library');
  for (const extension of cqfLibraries) {
    if (!extension.valueCanonical) error('cqf-library has no valueCanonical');
    else {
      const { url, version } = splitCanonical(extension.valueCanonical);
      if (!libraries.some((l) => l.url === url && (version === undefined || l.version === version))) {
        error(`cqf-library ${extension.valueCanonical} is not the url (and version) of a Library in the package`);
      }
    }
  }

  // launchContext: patient, the coverage and the order.
  const launchContexts = (questionnaire.extension ?? []).filter((e) => e.url === EXT.launchContext);
  const contexts = launchContexts.map((e) => ({
    name: subExtension(e, 'name')[0]?.valueCoding ?? (subExtension(e, 'name')[0]?.valueId ? { code: subExtension(e, 'name')[0]?.valueId } : undefined),
    types: subExtension(e, 'type').map((t) => t.valueCode ?? ''),
  }));
  contexts.forEach((c, i) => {
    if (!c.name?.code) error(`launchContext[${i}] has no name`);
    if (c.types.length === 0) error(`launchContext[${i}] has no type`);
    if (c.name?.code === 'patient' && (c.name.system ?? LAUNCH_CONTEXT_SYSTEM) === LAUNCH_CONTEXT_SYSTEM && !c.types.every((t) => t === 'Patient')) {
      error(`launchContext[${i}] patient must have type Patient`);
    }
  });
  if (!contexts.some((c) => c.name?.code === 'patient' && c.types.includes('Patient'))) error('no launchContext for the patient (name patient, type Patient)');
  if (!contexts.some((c) => c.types.includes('Coverage'))) error('no launchContext of type Coverage');
  if (!contexts.some((c) => c.types.some((t) => ORDER_TYPE_SET.has(t)))) error('no launchContext for the order (a request type such as MedicationRequest)');

  // CQL expressions: "Library".Definition against a Library of the package.
  const libraryByName = new Map(libraries.filter((l) => l.name).map((l) => [l.name!, l]));
  for (const expression of questionnaireExpressions(questionnaire)) {
    if (expression.language !== 'text/cql') continue;
    const match = CQL_REFERENCE.exec(expression.expression ?? '');
    if (!match?.[1]) {
      error(`CQL expression ${JSON.stringify(expression.expression ?? '')} is not written "LibraryName".Definition`);
      continue;
    }
    const library = libraryByName.get(match[1]);
    if (!library) {
      error(`CQL expression ${expression.expression} names library ${match[1]}, which is not in the package`);
      continue;
    }
    const definition = match[2] ?? match[3] ?? '';
    const view = elmViews.get(library);
    if (view && !view.definitions.has(definition)) error(`CQL expression ${expression.expression}: library ${match[1]} has no definition "${definition}"`);
  }

  // Items.
  const linkIds = new Map<string, QuestionnaireItem>();
  let cqlInitialExpressions = 0;
  walk(questionnaire.item, (item, path) => {
    if (!item.linkId) error(`${path} has no linkId`);
    else if (linkIds.has(item.linkId)) error(`que-2: linkId ${item.linkId} is used twice`);
    else linkIds.set(item.linkId, item);
  });
  if (!questionnaire.item?.length) error('the Questionnaire has no items');
  walk(questionnaire.item, (item, path) => {
    const at = `${path} (${item.linkId})`;
    const type = item.type;
    if (!item.text) error(`${at}: text is required`);
    if (type === 'group' && !item.item?.length) error(`que-1: group ${at} has no items`);
    if (type === 'display' && item.item?.length) error(`que-1: display ${at} has nested items`);
    if (type === 'display' && item.code?.length) error(`que-3: display ${at} has a code`);
    if (item.answerOption?.length && item.answerValueSet) error(`que-4: ${at} has both answerOption and answerValueSet`);
    if ((item.answerOption?.length || item.answerValueSet) && !ANSWER_VALUE_SET_TYPES.has(type)) error(`que-5: ${at} of type ${type} cannot have answer options`);
    if (type === 'display' && (item.required !== undefined || item.repeats !== undefined)) error(`que-6: display ${at} has required/repeats`);
    if ((type === 'group' || type === 'display') && item.initial?.length) error(`que-8: ${at} of type ${type} has initial values`);
    if (type === 'display' && item.readOnly !== undefined) error(`que-9: display ${at} has readOnly`);
    if (item.maxLength !== undefined && !MAX_LENGTH_TYPES.has(type)) error(`que-10: ${at} of type ${type} has maxLength`);
    if (item.answerOption?.length && item.initial?.length) error(`que-11: ${at} has answerOption and initial`);
    if ((item.enableWhen?.length ?? 0) > 1 && !item.enableBehavior) error(`que-12: ${at} has several enableWhen and no enableBehavior`);
    if ((item.initial?.length ?? 0) > 1 && item.repeats !== true) error(`que-13: ${at} has several initial values but does not repeat`);
    if (hasExtension(item, EXT.answerExpression) && (item.answerOption?.length || item.answerValueSet)) error(`sdc-1: ${at} has answerExpression and answer options`);
    for (const enableWhen of item.enableWhen ?? []) {
      if (!linkIds.has(enableWhen.question)) error(`${at}: enableWhen.question ${enableWhen.question} is not a linkId of this Questionnaire`);
      if (enableWhen.operator === 'exists' && enableWhen.answerBoolean === undefined) error(`que-7: ${at} enableWhen 'exists' needs answerBoolean`);
    }
    for (const url of ITEM_EXTENSIONS_MAX_ONE) {
      if ((item.extension ?? []).filter((e) => e.url === url).length > 1) error(`${at}: extension ${url} may appear at most once`);
    }
    if ((type === 'choice' || type === 'open-choice') && !item.answerOption?.length && !item.answerValueSet && !hasExtension(item, EXT.answerExpression)) {
      warn(`dtrq-2: ${type} ${at} has no answerOption, answerValueSet or answerExpression`);
    }
    if (type === 'quantity' && !hasExtension(item, EXT.unitOption) && !hasExtension(item, EXT.unitValueSet)) warn(`dtrq-3: quantity ${at} has no unitOption or unitValueSet`);
    if (type === 'reference' && !hasExtension(item, EXT.referenceResource)) error(`dtrq-4: reference ${at} has no referenceResource`);
    if (type === 'reference' && !hasExtension(item, EXT.candidateExpression)) warn(`dtrq-5: reference ${at} has no candidateExpression`);

    const initial = (item.extension ?? []).find((e) => e.url === EXT.initialExpression)?.valueExpression;
    const calculated = (item.extension ?? []).find((e) => e.url === EXT.calculatedExpression)?.valueExpression;
    if (initial?.language === 'text/cql') cqlInitialExpressions += 1;
    const hidden = (item.extension ?? []).some((e) => e.url === EXT.hidden && e.valueBoolean === true);
    const chartFilled = initial !== undefined || calculated?.language === 'text/cql';
    if ((hidden || item.readOnly === true) && chartFilled) {
      error(`${at} is ${hidden ? 'hidden' : 'read-only'} but pre-filled from the chart; the clinician must be able to see and correct it`);
    }
    if (item.answerValueSet && !item.answerValueSet.startsWith('#')) {
      const valueSet = valueSetIn(valueSets, item.answerValueSet);
      if (!valueSet) error(`${at}: answerValueSet ${item.answerValueSet} is not in the package`);
      else if (!valueSet.expansion?.contains?.length) error(`${at}: answerValueSet ${item.answerValueSet} has no expanded codes`);
    }
  });
  if (cqlInitialExpressions === 0) error('no item has a text/cql initialExpression (nothing is pre-populated from the chart)');
}

// ---------------------------------------------------------------------------------------------

function checkResponse(
  response: QuestionnaireResponse,
  questionnaire: Questionnaire,
  label: string,
  errors: string[],
  warnings: string[],
): void {
  const error = (text: string): void => void errors.push(`${label}: ${text}`);
  if (!response.meta?.profile?.includes(DTR_PROFILE.questionnaireResponse)) warnings.push(`${label}: meta.profile does not claim ${DTR_PROFILE.questionnaireResponse}`);
  const versioned = `${questionnaire.url}|${questionnaire.version}`;
  if (response.questionnaire !== versioned && response.questionnaire !== questionnaire.url) {
    error(`questionnaire is ${response.questionnaire ?? '(missing)'}, not the package's Questionnaire ${versioned}`);
  } else if (response.questionnaire !== versioned) {
    warnings.push(`${label}: questionnaire ${response.questionnaire} is not version-specific`);
  }
  if (response.status !== 'in-progress') error(`status is ${response.status}; a draft is in-progress`);
  if (!response.subject?.reference && !response.subject?.identifier) error('subject (the patient) is required');
  else if (referencedType(response.subject) && referencedType(response.subject) !== 'Patient') error('subject must reference a Patient');
  if (response.basedOn?.length) error('basedOn is not allowed by dtr-questionnaireresponse');
  if (response.partOf?.length) error('partOf is not allowed by dtr-questionnaireresponse');
  const contexts = (response.extension ?? []).filter((e) => e.url === EXT.qrContext);
  const contextTypes = contexts.map((c) => referencedType(c.valueReference));
  if (!contextTypes.includes('Coverage')) error('no qr-context references the Coverage');
  if (!contextTypes.some((t) => t !== undefined && ORDER_TYPE_SET.has(t))) error('no qr-context references the order (a request or encounter)');
  const intendedUse = (response.extension ?? []).filter((e) => e.url === EXT.intendedUse);
  if (intendedUse.length === 0) error('intendedUse is required');
  for (const use of intendedUse) {
    const ok = use.valueCodeableConcept?.coding?.some(
      (c) => (c.system === CRD_TEMP_SYSTEM && DOC_REASON_CODES.has(c.code ?? '')) || (c.system === 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor' && c.code === 'OTH'),
    );
    if (!ok) error('intendedUse must be a code of the CRD DocReason value set (e.g. withpa)');
  }
  if (!response.item?.length) error('item is required (1..*)');
  const linkIds = new Set<string>();
  walk(questionnaire.item, (item) => void linkIds.add(item.linkId));
  const visit = (items: QuestionnaireResponseItem[] | undefined, path: string): void => {
    (items ?? []).forEach((item, i) => {
      const at = `${path}[${i}] (${item.linkId})`;
      if (!linkIds.has(item.linkId)) error(`${at}: linkId is not in the Questionnaire`);
      (item.answer ?? []).forEach((answer, j) => {
        const origin = (answer.extension ?? []).filter((e) => e.url === EXT.informationOrigin);
        if (origin.length !== 1) {
          error(`${at}.answer[${j}]: needs exactly one information-origin extension`);
          return;
        }
        const source = subExtension(origin[0]!, 'source')[0]?.valueCode;
        const author = subExtension(origin[0]!, 'author').length > 0;
        if (!source) error(`${at}.answer[${j}]: information-origin has no source`);
        else if ((source === 'auto') === author) error(`dtrx-1: ${at}.answer[${j}]: author is required for ${source} answers and prohibited for auto`);
        visit(answer.item, `${at}.answer[${j}].item`);
      });
      visit(item.item, `${at}.item`);
    });
  };
  visit(response.item, 'item');
}
