/**
 * The DTR standard Questionnaire for CP.PHAR.244 (questionnaires/cp-phar-244-kineret.json), checked
 * against the sources it must agree with: the policy library's CQL and its compiled ELM
 * (dist/elm, from `npm run build:cql`), the policy catalog entry, and the value sets and code
 * systems in catalog/. Structural checks first, then relevance (enableWhen) worked out from what
 * each criterion's CQL reads, then the pre-population definitions run against the fixtures.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, CodeSystem, Coding, Extension, Questionnaire, QuestionnaireItem, QuestionnaireItemEnableWhen, ValueSet } from 'fhir/r4';
import { CANONICAL_BASE, REPO_ROOT } from '../../src/config';
import { buildValueSetIndex, loadValueSets } from '../../src/catalog/terminology';
import { loadLibraries } from '../../src/engine/libraries';
import { codeServiceFor, evaluateExpressions } from '../../src/engine/evaluate';
import { preparePatientData } from '../../src/engine/patient-data';

const LIBRARY = 'CPPHAR244Kineret';
const QUESTIONNAIRE_ID = 'cp-phar-244-kineret';
const DTR_STD_PROFILE = 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-std-questionnaire';
const EXT = {
  cqfLibrary: 'http://hl7.org/fhir/StructureDefinition/cqf-library',
  launchContext: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-launchContext',
  initialExpression: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-initialExpression',
  calculatedExpression: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression',
  enableWhenExpression: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression',
  hidden: 'http://hl7.org/fhir/StructureDefinition/questionnaire-hidden',
  itemControl: 'http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl',
} as const;
const SDC_LAUNCH_CONTEXT = 'http://hl7.org/fhir/uv/sdc/CodeSystem/launchContext';
const CITATION_SYSTEM = `${CANONICAL_BASE}/CodeSystem/policy-citation`;
const CITATION_PREFIX = 'CP.PHAR.244 ';

const readJson = <T>(...parts: string[]): T => JSON.parse(fs.readFileSync(path.join(REPO_ROOT, ...parts), 'utf8')) as T;

const questionnaire = readJson<Questionnaire>('questionnaires', `${QUESTIONNAIRE_ID}.json`);
const cql = fs.readFileSync(path.join(REPO_ROOT, 'cql', `${LIBRARY}.cql`), 'utf8');

interface CatalogCriterion {
  id: string;
  expression: string;
  evidence?: string;
  applicableWhen?: string;
  questionnaireItems?: string[];
}
interface CatalogPhase {
  section: string;
  criteria: CatalogCriterion[];
}
interface CatalogPolicy {
  library: { name: string; version: string };
  questionnaire: string;
  citationPrefix: string;
  indications: { id: string; initial: CatalogPhase; continuation: CatalogPhase }[];
}
const policy = readJson<CatalogPolicy>('catalog', 'policies', 'cp-phar-244.json');

const readDir = <T>(dir: string): T[] =>
  fs.existsSync(path.join(REPO_ROOT, dir))
    ? fs.readdirSync(path.join(REPO_ROOT, dir)).filter((f) => f.endsWith('.json')).map((f) => readJson<T>(dir, f))
    : [];
const valueSets = readDir<ValueSet>('catalog/valuesets');
const codeSystems = readDir<CodeSystem>('catalog/codesystems');

// ---------------------------------------------------------------------------------------------
// ELM: definitions and what each one reads

interface ElmNode {
  type?: string;
  name?: string;
  libraryName?: string;
  value?: unknown;
  operand?: ElmNode | ElmNode[];
  [key: string]: unknown;
}
interface ElmStatement {
  name: string;
  type?: string;
  expression: ElmNode;
}
const elm = readJson<{ library: { identifier: { id: string; version: string }; statements: { def: ElmStatement[] } } }>('dist', 'elm', `${LIBRARY}.json`);
const statements = new Map(elm.library.statements.def.map((s) => [s.name, s]));

function visit(node: unknown, onNode: (n: ElmNode) => void): void {
  if (Array.isArray(node)) return node.forEach((n) => visit(n, onNode));
  if (typeof node !== 'object' || node === null) return;
  onNode(node as ElmNode);
  for (const [key, value] of Object.entries(node)) if (key !== 'annotation') visit(value, onNode);
}

/** Every local definition (and function) a definition depends on, itself included. */
function closure(name: string, seen = new Set<string>()): Set<string> {
  if (seen.has(name) || !statements.has(name)) return seen;
  seen.add(name);
  visit(statements.get(name)!.expression, (n) => {
    if ((n.type === 'ExpressionRef' || n.type === 'FunctionRef') && !n.libraryName && n.name) closure(n.name, seen);
  });
  return seen;
}

const ANSWER_FUNCTIONS: Record<string, string[] | null> = {
  'Boolean Answer': ['boolean'],
  'Decimal Answer': ['decimal', 'integer', 'quantity'],
  'String Answer': ['string', 'text'],
  'Code Answer': ['choice', 'open-choice'],
  'Date Answer': ['date'],
  'Answer Ref': null,
  Answer: null,
};

/** The questionnaire answers (linkId and the item types the reading function accepts) a definition reads. */
function answersRead(name: string): Map<string, string[] | null> {
  const read = new Map<string, string[] | null>();
  for (const def of closure(name)) {
    visit(statements.get(def)!.expression, (n) => {
      if (n.type !== 'FunctionRef' || !n.name || !(n.name in ANSWER_FUNCTIONS)) return;
      const operands = Array.isArray(n.operand) ? n.operand : [];
      const linkId = operands.find((o) => o.type === 'Literal' && typeof o.value === 'string')?.value as string | undefined;
      if (linkId) read.set(linkId, ANSWER_FUNCTIONS[n.name] ?? read.get(linkId) ?? null);
    });
  }
  return read;
}

// ---------------------------------------------------------------------------------------------
// Questionnaire access

interface Entry {
  item: QuestionnaireItem;
  parents: QuestionnaireItem[];
  order: number;
}
const entries: Entry[] = [];
(function walk(items: QuestionnaireItem[] | undefined, parents: QuestionnaireItem[]): void {
  for (const item of items ?? []) {
    entries.push({ item, parents, order: entries.length });
    walk(item.item, [...parents, item]);
  }
})(questionnaire.item, []);
const byLinkId = new Map(entries.map((e) => [e.item.linkId, e]));
const isQuestion = (item: QuestionnaireItem): boolean => item.type !== 'group' && item.type !== 'display';
const questions = entries.filter((e) => isQuestion(e.item));
const extensionsOf = (holder: { extension?: Extension[] }, url: string): Extension[] => (holder.extension ?? []).filter((e) => e.url === url);
const subExtension = (extension: Extension, url: string): Extension | undefined => extension.extension?.find((e) => e.url === url);

const INITIAL_EXPRESSION = /^"([^"]+)"\."([^"]+)"$/;
/** linkId -> the library definition its initialExpression names. */
const prePopulated = new Map<string, string>();
for (const { item } of entries) {
  const expression = extensionsOf(item, EXT.initialExpression)[0]?.valueExpression?.expression;
  const match = expression ? INITIAL_EXPRESSION.exec(expression) : null;
  if (match?.[2]) prePopulated.set(item.linkId, match[2]);
}

// The criteria of the catalog entry, each with the answers its CQL reads.
const phases = policy.indications.flatMap((indication) =>
  (['initial', 'continuation'] as const).map((phase) => ({ indication: indication.id, phase, criteria: indication[phase].criteria, section: indication[phase].section })),
);
const criteria = phases.flatMap((p) => p.criteria.map((c) => ({ ...c, indication: p.indication, phase: p.phase })));
const criterionReads = (c: CatalogCriterion): Map<string, string[] | null> => {
  const read = answersRead(c.expression);
  if (c.applicableWhen) answersRead(c.applicableWhen).forEach((types, linkId) => read.set(linkId, types));
  return read;
};
const readByCql = new Map<string, string[] | null>();
for (const c of criteria) criterionReads(c).forEach((types, linkId) => readByCql.set(linkId, types));

// ---------------------------------------------------------------------------------------------

describe('CP.PHAR.244 questionnaire: identity and DTR profile', () => {
  test('identity, status, subject and publication metadata', () => {
    expect(questionnaire.resourceType).toBe('Questionnaire');
    expect(questionnaire.id).toBe(QUESTIONNAIRE_ID);
    expect(questionnaire.url).toBe(`${CANONICAL_BASE}/Questionnaire/${QUESTIONNAIRE_ID}`);
    expect(questionnaire.url).toBe(policy.questionnaire);
    expect(cql).toContain(`define "Questionnaire URL": '${questionnaire.url}'`);
    expect(questionnaire.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(questionnaire.name).toMatch(/^[A-Z][A-Za-z0-9_]{0,254}$/);
    expect(questionnaire.title).toEqual(expect.stringContaining('CP.PHAR.244'));
    expect(questionnaire.status).toBe('active');
    expect(questionnaire.subjectType).toEqual(['Patient']);
    expect(questionnaire.date).toMatch(/^\d{4}-\d{2}-\d{2}/);
    expect(questionnaire.publisher).toBeTruthy();
    expect(questionnaire.meta?.profile).toEqual([DTR_STD_PROFILE]);
    // dtr-std-questionnaire makes the narrative mandatory.
    expect(questionnaire.text?.status).toBe('generated');
    expect(questionnaire.text?.div).toMatch(/^<div xmlns="http:\/\/www\.w3\.org\/1999\/xhtml">[\s\S]*\S[\s\S]*<\/div>$/);
  });

  test('cqf-library is the unversioned canonical of the policy library, which the ELM compiles', () => {
    const libraries = extensionsOf(questionnaire, EXT.cqfLibrary);
    expect(libraries).toHaveLength(1);
    expect(libraries[0]?.valueCanonical).toBe(`${CANONICAL_BASE}/Library/${LIBRARY}`);
    expect(policy.library.name).toBe(LIBRARY);
    expect(elm.library.identifier).toEqual({ id: LIBRARY, version: policy.library.version });
  });

  test('launchContext declares the patient, the coverage and the order', () => {
    const contexts = extensionsOf(questionnaire, EXT.launchContext).map((e) => ({
      name: subExtension(e, 'name')?.valueCoding,
      types: (e.extension ?? []).filter((s) => s.url === 'type').map((s) => s.valueCode),
      description: subExtension(e, 'description')?.valueString,
    }));
    const byName = new Map(contexts.map((c) => [c.name?.code, c]));
    expect(contexts).toHaveLength(3);
    expect(byName.get('patient')?.name?.system).toBe(SDC_LAUNCH_CONTEXT);
    expect(byName.get('patient')?.types).toEqual(['Patient']);
    expect(byName.get('coverage')?.types).toEqual(['Coverage']);
    expect(byName.get('order')?.types).toEqual(['MedicationRequest']);
    for (const context of contexts) {
      expect(context.description).toBeTruthy();
      // SDC's code system has no coverage or order: those names come from our own code system.
      if (context.name?.system !== SDC_LAUNCH_CONTEXT) {
        const system = codeSystems.find((cs) => cs.url === context.name?.system);
        expect(system?.concept?.map((c) => c.code)).toContain(context.name?.code);
      }
      // The name becomes a variable: it must be a valid FHIRPath identifier.
      expect(context.name?.code).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
    }
  });
});

describe('CP.PHAR.244 questionnaire: items', () => {
  test('linkIds are unique; every item has text; groups hold items; display items carry no code', () => {
    expect(new Set(entries.map((e) => e.item.linkId)).size).toBe(entries.length);
    for (const { item } of entries) {
      expect(item.text?.trim()).toBeTruthy();
      if (item.type === 'group') expect(item.item?.length).toBeGreaterThan(0);
      if (item.type === 'display') {
        expect(item.code).toBeUndefined();
        expect(item.required).toBeUndefined();
      }
    }
  });

  // The criteria read these answers back; the table pins each one's type.
  const EXPECTED_TYPES: Record<string, QuestionnaireItem['type']> = {
    'ra-acr-criteria': 'boolean',
    'rheumatologist-consulted': 'boolean',
    'mtx-trial-failed': 'boolean',
    'mtx-intolerance': 'boolean',
    'cdmard-trial-failed': 'boolean',
    'adalimumab-failed': 'boolean',
    'tocilizumab-failed': 'boolean',
    'tofacitinib-failed': 'boolean',
    'tofacitinib-cardiovascular-risk': 'boolean',
    'baseline-cdai': 'decimal',
    'baseline-rapid3': 'decimal',
    'no-combination': 'boolean',
    'nomid-diagnosis': 'boolean',
    'il1rn-mutation': 'boolean',
    'currently-receiving': 'boolean',
    'current-cdai': 'decimal',
    'current-rapid3': 'decimal',
    'cdai-not-possible': 'boolean',
    'positive-response': 'boolean',
    'consulting-rheumatologist': 'string',
  };

  test.each(Object.entries(EXPECTED_TYPES))('%s exists with type %s', (linkId, type) => {
    expect(byLinkId.get(linkId)?.item.type).toBe(type);
  });

  test('every answer the CQL reads has an item of a type the reading function accepts', () => {
    expect(readByCql.size).toBeGreaterThan(0);
    const problems = [...readByCql].flatMap(([linkId, types]) => {
      const item = byLinkId.get(linkId)?.item;
      if (!item) return [`${linkId}: no such item`];
      if (!isQuestion(item)) return [`${linkId}: is a ${item.type}, not a question`];
      return types && !types.includes(item.type) ? [`${linkId}: type ${item.type}, CQL reads ${types.join('/')}`] : [];
    });
    expect(problems).toEqual([]);
    // Every item the brief lists as a criterion answer is really read by the CQL.
    for (const linkId of Object.keys(EXPECTED_TYPES).filter((l) => l !== 'consulting-rheumatologist')) expect(readByCql.has(linkId)).toBe(true);
  });

  test("the catalog's questionnaireItems exist and are read by that criterion's CQL", () => {
    const problems = criteria.flatMap((c) =>
      (c.questionnaireItems ?? []).flatMap((linkId) => {
        if (!byLinkId.has(linkId)) return [`${c.id}: ${linkId} is not an item`];
        return criterionReads(c).has(linkId) ? [] : [`${c.id}: lists ${linkId}, which "${c.expression}" never reads`];
      }),
    );
    expect(problems).toEqual([]);
  });

  test('answers the policy needs are required; either-or scores are not', () => {
    const required = [
      'indication', 'continued-therapy', 'ra-acr-criteria', 'rheumatologist-consulted', 'mtx-trial-failed', 'mtx-intolerance',
      'cdmard-trial-failed', 'adalimumab-failed', 'tocilizumab-failed', 'tofacitinib-failed', 'tofacitinib-cardiovascular-risk',
      'no-combination', 'nomid-diagnosis', 'il1rn-mutation', 'currently-receiving', 'positive-response', 'cdai-not-possible-reason',
      'covid-inpatient', 'other-use-description',
    ];
    for (const linkId of required) expect([linkId, byLinkId.get(linkId)?.item.required]).toEqual([linkId, true]);
    // One of CDAI or RAPID3 is enough (I.A.6, II.A.2.a), and the consultant's name only matters for a non-rheumatologist.
    for (const linkId of ['baseline-cdai', 'baseline-rapid3', 'current-cdai', 'current-rapid3', 'cdai-not-possible', 'consulting-rheumatologist']) {
      expect([linkId, byLinkId.get(linkId)?.item.required ?? false]).toEqual([linkId, false]);
    }
  });

  test('no item is hidden or read-only, and nothing is calculated outside the clinician’s view', () => {
    for (const { item } of entries) {
      expect([item.linkId, item.readOnly ?? false]).toEqual([item.linkId, false]);
      expect(extensionsOf(item, EXT.hidden).filter((e) => e.valueBoolean === true)).toEqual([]);
      expect(extensionsOf(item, EXT.calculatedExpression)).toEqual([]);
    }
  });

  test('score items carry the ranges of their scales', () => {
    const range = (linkId: string): [number | undefined, number | undefined] => {
      const item = byLinkId.get(linkId)!.item;
      return [
        extensionsOf(item, 'http://hl7.org/fhir/StructureDefinition/minValue')[0]?.valueDecimal,
        extensionsOf(item, 'http://hl7.org/fhir/StructureDefinition/maxValue')[0]?.valueDecimal,
      ];
    };
    expect(range('baseline-cdai')).toEqual([0, 76]);
    expect(range('current-cdai')).toEqual([0, 76]);
    expect(range('baseline-rapid3')).toEqual([0, 30]);
    expect(range('current-rapid3')).toEqual([0, 30]);
  });
});

describe('CP.PHAR.244 questionnaire: pre-population', () => {
  test('initialExpressions are text/cql, written "Library"."Definition", and name definitions the ELM has', () => {
    const expressions = entries.flatMap(({ item }) => extensionsOf(item, EXT.initialExpression).map((e) => [item.linkId, e.valueExpression] as const));
    expect(expressions.length).toBeGreaterThanOrEqual(10);
    for (const [linkId, expression] of expressions) {
      expect([linkId, expression?.language]).toEqual([linkId, 'text/cql']);
      const match = INITIAL_EXPRESSION.exec(expression?.expression ?? '');
      expect([linkId, match?.[1]]).toEqual([linkId, LIBRARY]);
      const statement = statements.get(match?.[2] ?? '');
      expect([linkId, statement !== undefined && statement.type !== 'FunctionDef']).toEqual([linkId, true]);
    }
  });

  test('pre-population reads only the record, never the clinician’s answers', () => {
    for (const [linkId, definition] of prePopulated) {
      expect([linkId, closure(definition).has('Response')]).toEqual([linkId, false]);
    }
  });

  test('the items the record can answer are pre-populated', () => {
    expect(Object.fromEntries(prePopulated)).toEqual({
      indication: 'Indication Code',
      'continued-therapy': 'Continued Therapy (Chart)',
      'ra-acr-criteria': 'RA Diagnosis (Chart)',
      'mtx-trial-failed': 'MTX Trial Failed (Chart)',
      'mtx-intolerance': 'MTX Intolerance (Chart)',
      'cdmard-trial-failed': 'Conventional DMARD Step (Chart)',
      'adalimumab-failed': 'Adalimumab Step (Chart)',
      'tocilizumab-failed': 'Tocilizumab Trial Failed (Chart)',
      'tofacitinib-failed': 'Tofacitinib Trial Failed (Chart)',
      'baseline-cdai': 'Baseline CDAI Value (Chart)',
      'nomid-diagnosis': 'NOMID Diagnosis (Chart)',
      'il1rn-mutation': 'DIRA Confirmed (Chart)',
      'rheumatologist-consulted': 'Prescriber Is Rheumatologist (Chart)',
      'no-combination': 'No Combination Use (Chart)',
      'current-cdai': 'Current CDAI Value (Chart)',
    });
  });
});

describe('CP.PHAR.244 questionnaire: answer options', () => {
  const indication = byLinkId.get('indication')!.item;
  const answerValueSet = valueSets.find((vs) => vs.url === indication.answerValueSet);

  test('every answerValueSet is a ValueSet in catalog/valuesets with an expansion', () => {
    const withValueSet = entries.filter((e) => e.item.answerValueSet);
    expect(withValueSet.map((e) => e.item.linkId)).toEqual(['indication']);
    for (const { item } of withValueSet) {
      const vs = valueSets.find((v) => v.url === item.answerValueSet);
      expect(vs?.url).toBe(`${CANONICAL_BASE}/ValueSet/${vs?.id}`);
      expect(vs?.id).toMatch(/^questionnaire-/);
      expect(vs?.expansion?.contains?.length).toBeGreaterThan(0);
      expect(item.answerOption).toBeUndefined();
    }
  });

  test('the indication choices are exactly the catalog indications, defined in our own CodeSystem', () => {
    expect(indication.type).toBe('choice');
    const contains = answerValueSet?.expansion?.contains ?? [];
    expect(contains.map((c) => c.code).sort()).toEqual(policy.indications.map((i) => i.id).sort());
    const composed = (answerValueSet?.compose?.include ?? []).flatMap((i) => (i.concept ?? []).map((c) => `${i.system}|${c.code}`));
    expect(composed.sort()).toEqual(contains.map((c) => `${c.system}|${c.code}`).sort());
    for (const code of contains) {
      const system = codeSystems.find((cs) => cs.url === code.system);
      expect(system?.url).toBe(`${CANONICAL_BASE}/CodeSystem/${system?.id}`);
      expect(system?.concept?.find((c) => c.code === code.code)?.display).toBe(code.display);
    }
  });

  test('the CQL codes the indication is pre-populated with are among the choices', () => {
    const codeSystemUrl = /codesystem\s+"Kineret Indication":\s*'([^']+)'/.exec(cql)?.[1];
    const codes = [...cql.matchAll(/code\s+"Indication [^"]+":\s*'([^']+)'\s+from\s+"Kineret Indication"\s+display\s+'([^']+)'/g)];
    expect(codes.length).toBeGreaterThan(0);
    for (const [, code, display] of codes) {
      expect(answerValueSet?.expansion?.contains).toContainEqual(expect.objectContaining({ system: codeSystemUrl, code, display }));
    }
  });
});

describe('CP.PHAR.244 questionnaire: policy citations', () => {
  // Sections the catalog names (criteria and phases), plus III.B, which the combination criteria enforce.
  const knownSections = [...new Set([...criteria.map((c) => c.id), ...phases.map((p) => p.section), 'III.B'])];
  const compatible = (a: string, b: string): boolean => a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`);
  const sectionsOf = (item: QuestionnaireItem): string[] =>
    (item.code ?? []).filter((c) => c.system === CITATION_SYSTEM && c.code?.startsWith(CITATION_PREFIX)).map((c) => c.code!.slice(CITATION_PREFIX.length));

  test('every question cites a section of CP.PHAR.244 in item.code', () => {
    expect(policy.citationPrefix).toBe(CITATION_PREFIX.trim());
    for (const { item } of questions) {
      const sections = sectionsOf(item);
      expect([item.linkId, sections.length > 0]).toEqual([item.linkId, true]);
      for (const section of sections) {
        expect([item.linkId, section, knownSections.some((k) => compatible(section, k))]).toEqual([item.linkId, section, true]);
      }
      for (const code of item.code ?? []) expect(code.display).toBeTruthy();
    }
  });

  test('each answer the CQL reads cites a criterion that reads it', () => {
    const problems = [...readByCql.keys()].filter((linkId) => {
      const sections = sectionsOf(byLinkId.get(linkId)!.item);
      return !criteria.some((c) => criterionReads(c).has(linkId) && sections.some((s) => compatible(s, c.id)));
    });
    expect(problems).toEqual([]);
  });

  test('the citation code system is published in catalog/codesystems', () => {
    const system = codeSystems.find((cs) => cs.url === CITATION_SYSTEM);
    expect(system?.id).toBe('policy-citation');
    expect(system?.status).toBe('active');
  });

  test('help items are display children marked with the help item control', () => {
    const helps = entries.filter((e) => extensionsOf(e.item, EXT.itemControl).some((x) => x.valueCodeableConcept?.coding?.some((c) => c.code === 'help')));
    expect(helps.length).toBeGreaterThan(0);
    for (const { item, parents } of helps) {
      expect(item.type).toBe('display');
      expect(parents.at(-1) && isQuestion(parents.at(-1)!)).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Relevance: what shows for each indication and phase.

type Answer = boolean | number | string | Coding;
const indicationSystem = (byLinkId.get('indication') && valueSets.find((vs) => vs.url === byLinkId.get('indication')!.item.answerValueSet)?.expansion?.contains?.[0]?.system) ?? '';
const indicationAnswer = (code: string): Coding => ({ system: indicationSystem, code });

function conditionHolds(condition: QuestionnaireItemEnableWhen, answer: Answer | undefined): boolean {
  if (condition.operator === 'exists') return (answer !== undefined) === condition.answerBoolean;
  if (answer === undefined) return false;
  const expected: Answer | undefined = condition.answerBoolean ?? condition.answerDecimal ?? condition.answerInteger ?? condition.answerString ?? condition.answerCoding;
  const equal =
    typeof answer === 'object' && typeof expected === 'object' ? answer.system === expected.system && answer.code === expected.code : answer === expected;
  if (condition.operator === '=') return equal;
  if (condition.operator === '!=') return !equal;
  throw new Error(`operator ${condition.operator} not modelled by this test`);
}

function ownConditionsHold(item: QuestionnaireItem, holds: (c: QuestionnaireItemEnableWhen) => boolean): boolean {
  const conditions = item.enableWhen ?? [];
  if (conditions.length === 0) return true;
  return item.enableBehavior === 'any' ? conditions.some(holds) : conditions.every(holds);
}

/** The linkIds enabled for the given answers (an answer to a disabled item counts as no answer). */
function enabledFor(answers: Record<string, Answer>): Set<string> {
  const enabled = new Set<string>();
  for (const { item, parents } of entries) {
    if (!parents.every((p) => enabled.has(p.linkId))) continue;
    const answerOf = (linkId: string): Answer | undefined => (enabled.has(linkId) ? answers[linkId] : undefined);
    if (ownConditionsHold(item, (c) => conditionHolds(c, answerOf(c.question)))) enabled.add(item.linkId);
  }
  return enabled;
}

/**
 * The questions that can show once `fixed` is answered: a condition on another question holds when
 * that question can show (it can then be given the answer the condition wants).
 */
function reachableFor(fixed: Record<string, Answer>): Set<string> {
  const reachable = new Set<string>();
  for (const { item, parents } of entries) {
    if (!parents.every((p) => reachable.has(p.linkId))) continue;
    const holds = (c: QuestionnaireItemEnableWhen): boolean => {
      if (c.question in fixed) return conditionHolds(c, reachable.has(c.question) ? fixed[c.question] : undefined);
      return (c.operator === 'exists' && c.answerBoolean === false) || reachable.has(c.question);
    };
    if (ownConditionsHold(item, holds)) reachable.add(item.linkId);
  }
  return new Set([...reachable].filter((l) => isQuestion(byLinkId.get(l)!.item)));
}

describe('CP.PHAR.244 questionnaire: enableWhen', () => {
  test('every enableWhen names an earlier question, with an answer of its type', () => {
    expect(extensionsOf({ extension: entries.flatMap((e) => e.item.extension ?? []) }, EXT.enableWhenExpression)).toEqual([]);
    for (const { item, order } of entries) {
      for (const condition of item.enableWhen ?? []) {
        const target = byLinkId.get(condition.question);
        expect([item.linkId, condition.question, target !== undefined && isQuestion(target.item)]).toEqual([item.linkId, condition.question, true]);
        expect([item.linkId, (target?.order ?? Infinity) < order]).toEqual([item.linkId, true]);
        if (condition.operator === 'exists') {
          expect(typeof condition.answerBoolean).toBe('boolean');
          continue;
        }
        expect(['=', '!=']).toContain(condition.operator);
        if (target?.item.type === 'boolean') expect(typeof condition.answerBoolean).toBe('boolean');
        if (target?.item.type === 'choice') {
          const options = valueSets.find((vs) => vs.url === target.item.answerValueSet)?.expansion?.contains ?? [];
          expect(options.some((o) => o.system === condition.answerCoding?.system && o.code === condition.answerCoding?.code)).toBe(true);
        }
      }
      if ((item.enableWhen?.length ?? 0) > 1) expect(['all', 'any']).toContain(item.enableBehavior);
    }
  });

  test('before an indication is chosen only the indication question shows', () => {
    expect([...enabledFor({})].filter((l) => isQuestion(byLinkId.get(l)!.item))).toEqual(['indication']);
  });

  // Items that steer the form or inform the reviewer without being a criterion's answer.
  const NAVIGATION = ['indication', 'continued-therapy', 'consulting-rheumatologist', 'cdai-not-possible-reason', 'covid-inpatient', 'other-use-description'];

  describe.each(phases.map((p) => [p.indication, p.phase, p] as const))('%s, %s therapy', (indicationId, phase, scenario) => {
    const fixed: Record<string, Answer> = { indication: indicationAnswer(indicationId), 'continued-therapy': phase === 'continuation' };
    const reachable = reachableFor(fixed);
    const needed = new Set(scenario.criteria.flatMap((c) => [...criterionReads(c).keys()]));

    test('every answer its criteria read can be given', () => {
      expect([...needed].filter((l) => !reachable.has(l))).toEqual([]);
    });

    test('no question shows that its criteria do not read', () => {
      expect([...reachable].filter((l) => !needed.has(l) && !NAVIGATION.includes(l))).toEqual([]);
    });
  });

  test('indication-specific questions show only for their indication', () => {
    const show = (indicationId: string, continued: boolean): Set<string> =>
      enabledFor({ indication: indicationAnswer(indicationId), 'continued-therapy': continued });
    expect([...show('RA', false)]).toEqual(expect.arrayContaining(['ra-acr-criteria', 'mtx-trial-failed', 'adalimumab-failed', 'tocilizumab-failed', 'baseline-cdai', 'rheumatologist-consulted', 'no-combination']));
    expect(show('RA', false).has('nomid-diagnosis')).toBe(false);
    expect(show('RA', false).has('currently-receiving')).toBe(false);
    expect(show('RA', true).has('ra-acr-criteria')).toBe(false);
    expect(show('RA', true).has('rheumatologist-consulted')).toBe(false);
    expect([...show('RA', true)]).toEqual(expect.arrayContaining(['currently-receiving', 'current-cdai', 'current-rapid3', 'baseline-cdai', 'baseline-rapid3', 'no-combination']));
    expect(show('RA', true).has('positive-response')).toBe(false);
    expect(show('CAPS', false).has('nomid-diagnosis')).toBe(true);
    expect(show('CAPS', false).has('ra-acr-criteria')).toBe(false);
    expect(show('CAPS', true).has('positive-response')).toBe(true);
    expect(show('CAPS', true).has('current-cdai')).toBe(false);
    expect(show('DIRA', false).has('il1rn-mutation')).toBe(true);
    expect(show('DIRA', false).has('nomid-diagnosis')).toBe(false);
    for (const other of ['COVID19', 'OTHER']) {
      const shown = [...show(other, true)].filter((l) => isQuestion(byLinkId.get(l)!.item));
      expect(shown).toEqual(['indication', other === 'COVID19' ? 'covid-inpatient' : 'other-use-description']);
    }
  });

  test('follow-up questions show only after the answer that calls for them', () => {
    const ra = { indication: indicationAnswer('RA'), 'continued-therapy': false };
    expect(enabledFor({ ...ra, 'mtx-trial-failed': true }).has('mtx-intolerance')).toBe(false);
    expect(enabledFor({ ...ra, 'mtx-trial-failed': false }).has('mtx-intolerance')).toBe(true);
    expect(enabledFor({ ...ra, 'mtx-trial-failed': false, 'mtx-intolerance': false }).has('cdmard-trial-failed')).toBe(false);
    expect(enabledFor({ ...ra, 'mtx-trial-failed': false, 'mtx-intolerance': true }).has('cdmard-trial-failed')).toBe(true);
    expect(enabledFor({ ...ra, 'adalimumab-failed': false }).has('tofacitinib-failed')).toBe(false);
    expect(enabledFor({ ...ra, 'adalimumab-failed': true }).has('tofacitinib-failed')).toBe(true);
    expect(enabledFor({ ...ra, 'adalimumab-failed': true, 'tofacitinib-failed': true }).has('tofacitinib-cardiovascular-risk')).toBe(false);
    expect(enabledFor({ ...ra, 'adalimumab-failed': true, 'tofacitinib-failed': false }).has('tofacitinib-cardiovascular-risk')).toBe(true);
    expect(enabledFor({ ...ra, 'rheumatologist-consulted': true }).has('consulting-rheumatologist')).toBe(true);
    expect(enabledFor({ ...ra, 'rheumatologist-consulted': false }).has('consulting-rheumatologist')).toBe(false);
    const raContinued = { indication: indicationAnswer('RA'), 'continued-therapy': true };
    expect(enabledFor(raContinued).has('cdai-not-possible')).toBe(true);
    expect(enabledFor({ ...raContinued, 'current-cdai': 12 }).has('cdai-not-possible')).toBe(false);
    expect(enabledFor({ ...raContinued, 'cdai-not-possible': true }).has('cdai-not-possible-reason')).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Pre-population run against the CP.PHAR.244 fixtures.

describe('CP.PHAR.244 questionnaire: pre-population on the fixtures', () => {
  const valueSetIndex = buildValueSetIndex(loadValueSets(path.join(REPO_ROOT, 'catalog', 'valuesets')));
  const libraries = loadLibraries(path.join(REPO_ROOT, 'dist', 'elm'));
  const definitions = [...new Set(prePopulated.values())];

  async function prePopulate(fixture: string): Promise<Map<string, unknown>> {
    // As the engine does: the chart normalized (ids, references) before CQL sees it.
    const { bundle } = preparePatientData(readJson<Bundle>('fixtures', 'cp-phar-244', `${fixture}.json`));
    const results = await evaluateExpressions(
      libraries,
      LIBRARY,
      definitions,
      bundle,
      { orderId: 'medreq-kineret', lineOfBusiness: [], diagnoses: [], priorAuthorizations: [], evaluationDate: new Date('2026-11-20T15:00:00Z') },
      codeServiceFor(valueSetIndex),
    );
    const values = new Map<string, unknown>();
    for (const [linkId, definition] of prePopulated) {
      const result = results.get(definition);
      if (!result || 'error' in result) throw new Error(`${definition}: ${result && 'error' in result ? result.error.message : 'not evaluated'}`);
      values.set(linkId, result.value ?? null);
    }
    return values;
  }

  const indicationOptions = valueSets.find((vs) => vs.url === byLinkId.get('indication')?.item.answerValueSet)?.expansion?.contains ?? [];
  const fitsItem = (linkId: string, value: unknown): boolean => {
    if (value === null) return true;
    switch (byLinkId.get(linkId)?.item.type) {
      case 'boolean':
        return typeof value === 'boolean';
      case 'decimal':
        return typeof value === 'number';
      case 'choice': {
        const code = value as { system?: string; code?: string };
        return indicationOptions.some((o) => o.system === code.system && o.code === code.code);
      }
      default:
        return false;
    }
  };

  test.each([
    ['ra-approvable', { indication: 'RA', 'continued-therapy': false, 'ra-acr-criteria': true, 'rheumatologist-consulted': true, 'mtx-trial-failed': true, 'baseline-cdai': 31, 'current-cdai': null, 'no-combination': true }],
    ['ra-continuation', { indication: 'RA', 'continued-therapy': true, 'baseline-cdai': 34, 'current-cdai': 14 }],
    ['ra-combination-adalimumab', { indication: 'RA', 'no-combination': false }],
    ['nomid-child', { indication: 'CAPS', 'nomid-diagnosis': true, 'ra-acr-criteria': null }],
    ['dira', { indication: 'DIRA', 'il1rn-mutation': true }],
    ['covid-outpatient', { indication: 'COVID19' }],
  ] as const)('%s: every pre-populated answer fits its item, and the known ones are right', async (fixture, expected) => {
    const values = await prePopulate(fixture);
    expect([...values].filter(([linkId, value]) => !fitsItem(linkId, value))).toEqual([]);
    for (const [linkId, value] of Object.entries(expected)) {
      const actual = values.get(linkId);
      if (linkId === 'indication') expect([linkId, (actual as { code?: string } | null)?.code]).toEqual([linkId, value]);
      else expect([linkId, actual]).toEqual([linkId, value]);
    }
  });
});
