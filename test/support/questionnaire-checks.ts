/**
 * Checks a policy's DTR standard Questionnaire against the sources it must agree with: the policy
 * library's CQL and compiled ELM (dist/elm, from `npm run build:cql`), the catalog entry, and the
 * value sets and code systems in catalog/. Structure, answers the CQL reads, pre-population,
 * citations, answer options, relevance (enableWhen) per indication and phase, and pre-population
 * run on the policy's fixtures. Generic over the policy (the NH.PHAR.244 and Molina suites use it).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, CodeSystem, Coding, Extension, Questionnaire, QuestionnaireItem, QuestionnaireItemEnableWhen, ValueSet } from 'fhir/r4';
import { CANONICAL_BASE, REPO_ROOT } from '../../src/config';
import { buildValueSetIndex, loadValueSets } from '../../src/catalog/terminology';
import { loadLibraries } from '../../src/engine/libraries';
import { codeServiceFor, evaluateExpressions } from '../../src/engine/evaluate';
import { preparePatientData } from '../../src/engine/patient-data';

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
const INITIAL_EXPRESSION = /^"([^"]+)"\."([^"]+)"$/;

const readJson = <T>(...parts: string[]): T => JSON.parse(fs.readFileSync(path.join(REPO_ROOT, ...parts), 'utf8')) as T;
const readDir = <T>(dir: string): T[] =>
  fs.readdirSync(path.join(REPO_ROOT, dir)).filter((f) => f.endsWith('.json')).map((f) => readJson<T>(dir, f));

interface CatalogCriterion {
  id: string;
  expression: string;
  applicableWhen?: string;
  questionnaireItems?: string[];
}
interface CatalogPhase {
  section: string;
  criteria: CatalogCriterion[];
  disposition?: string;
}
interface CatalogPolicy {
  id: string;
  library: { name: string; version: string };
  questionnaire: string;
  citationPrefix: string;
  approveWithoutReview?: { id: string; expression: string };
  globalCriteria?: CatalogCriterion[];
  indications: { id: string; initial: CatalogPhase; continuation?: CatalogPhase }[];
}

type Answer = boolean | number | string | Coding;

export interface QuestionnaireCheckConfig {
  library: string;
  questionnaireId: string;
  /** Catalog files (catalog/policies/*.json) that name this questionnaire. */
  policyFiles: string[];
  /** Sections cited that are not criterion ids or phase sections (e.g. III.B). */
  extraSections?: string[];
  /** linkId -> library definition of every pre-populated item. */
  prePopulated: Record<string, string>;
  /** Items that steer the form or inform the reviewer without being read by a criterion. */
  navigation: string[];
  /** Answers (besides indication and continued-therapy) that select a scenario's questions, per indication. */
  scenarioAnswers?: Record<string, Record<string, Answer>[]>;
  /** Questions a criterion reads only for some answers (e.g. a JIA subtype's trial): needed only when `fixed` holds them. */
  neededOnlyWhen?: Record<string, Record<string, Answer>>;
  /** Fixture folder and the known pre-populated values per fixture (indication given by code). */
  fixtures: { folder: string; expected: Record<string, Record<string, unknown>>; orderId?: string };
}

export function describeQuestionnaire(config: QuestionnaireCheckConfig): void {
  const { library: LIBRARY } = config;
  const questionnaire = readJson<Questionnaire>('questionnaires', `${config.questionnaireId}.json`);
  const cql = fs.readFileSync(path.join(REPO_ROOT, 'cql', `${LIBRARY}.cql`), 'utf8');
  const policies = config.policyFiles.map((f) => readJson<CatalogPolicy>('catalog', 'policies', f));
  const policy = policies[0]!;
  const prefix = `${policy.citationPrefix} `;
  const valueSets = readDir<ValueSet>('catalog/valuesets');
  const codeSystems = readDir<CodeSystem>('catalog/codesystems');

  // ELM: definitions and what each one reads.
  interface ElmNode {
    type?: string;
    name?: string;
    libraryName?: string;
    value?: unknown;
    operand?: ElmNode | ElmNode[];
  }
  const elm = readJson<{ library: { identifier: { id: string; version: string }; statements: { def: { name: string; type?: string; expression: ElmNode }[] } } }>(
    'dist',
    'elm',
    `${LIBRARY}.json`,
  );
  const statements = new Map(elm.library.statements.def.map((s) => [s.name, s]));
  const visit = (node: unknown, onNode: (n: ElmNode) => void): void => {
    if (Array.isArray(node)) return node.forEach((n) => visit(n, onNode));
    if (typeof node !== 'object' || node === null) return;
    onNode(node as ElmNode);
    for (const [key, value] of Object.entries(node)) if (key !== 'annotation') visit(value, onNode);
  };
  const closure = (name: string, seen = new Set<string>()): Set<string> => {
    if (seen.has(name) || !statements.has(name)) return seen;
    seen.add(name);
    visit(statements.get(name)!.expression, (n) => {
      if ((n.type === 'ExpressionRef' || n.type === 'FunctionRef') && !n.libraryName && n.name) closure(n.name, seen);
    });
    return seen;
  };
  const ANSWER_FUNCTIONS: Record<string, string[] | null> = {
    'Boolean Answer': ['boolean'],
    'Decimal Answer': ['decimal', 'integer', 'quantity'],
    'Integer Answer': ['integer'],
    'String Answer': ['string', 'text'],
    'Code Answer': ['choice', 'open-choice'],
    'Date Answer': ['date'],
    'Answer Ref': null,
    Answer: null,
  };
  const answersRead = (name: string): Map<string, string[] | null> => {
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
  };

  // Questionnaire access.
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

  const prePopulated = new Map<string, string>();
  for (const { item } of entries) {
    const expression = extensionsOf(item, EXT.initialExpression)[0]?.valueExpression?.expression;
    const match = expression ? INITIAL_EXPRESSION.exec(expression) : null;
    if (match?.[2]) prePopulated.set(item.linkId, match[2]);
  }

  const phases = policies.flatMap((p) =>
    p.indications.flatMap((indication) =>
      (['initial', 'continuation'] as const)
        .filter((phase) => indication[phase])
        .map((phase) => ({ indication: indication.id, phase, ...(indication[phase] as CatalogPhase) })),
    ),
  );
  // Criteria every phase evaluates (globalCriteria) count as the phase's own.
  const globalCriteria = policy.globalCriteria ?? [];
  for (const p of phases) p.criteria = [...globalCriteria, ...p.criteria];
  const criteria = phases.flatMap((p) => p.criteria.map((c) => ({ ...c, indication: p.indication, phase: p.phase })));
  const criterionReads = (c: CatalogCriterion): Map<string, string[] | null> => {
    const read = answersRead(c.expression);
    if (c.applicableWhen) answersRead(c.applicableWhen).forEach((types, linkId) => read.set(linkId, types));
    return read;
  };
  const readByCql = new Map<string, string[] | null>();
  for (const c of criteria) criterionReads(c).forEach((types, linkId) => readByCql.set(linkId, types));
  for (const p of policies) {
    if (p.approveWithoutReview) answersRead(p.approveWithoutReview.expression).forEach((types, linkId) => readByCql.set(linkId, types));
  }
  const optionsOf = (item: QuestionnaireItem): Coding[] =>
    item.answerValueSet
      ? (valueSets.find((vs) => vs.url === item.answerValueSet)?.expansion?.contains ?? [])
      : (item.answerOption ?? []).map((o) => o.valueCoding).filter((c): c is Coding => c !== undefined);

  describe(`${questionnaire.id}: identity and DTR profile`, () => {
    test('identity, status, subject, profile and narrative', () => {
      expect(questionnaire.resourceType).toBe('Questionnaire');
      expect(questionnaire.url).toBe(`${CANONICAL_BASE}/Questionnaire/${config.questionnaireId}`);
      for (const p of policies) expect(p.questionnaire).toBe(questionnaire.url);
      expect(cql).toContain(`define "Questionnaire URL": '${questionnaire.url}'`);
      expect(questionnaire.version).toMatch(/^\d+\.\d+\.\d+$/);
      expect(questionnaire.name).toMatch(/^[A-Z][A-Za-z0-9_]{0,254}$/);
      expect(questionnaire.title).toEqual(expect.stringContaining(policy.citationPrefix));
      expect(questionnaire.status).toBe('active');
      expect(questionnaire.subjectType).toEqual(['Patient']);
      expect(questionnaire.meta?.profile).toEqual([DTR_STD_PROFILE]);
      expect(questionnaire.text?.status).toBe('generated');
      expect(questionnaire.text?.div).toMatch(/^<div xmlns="http:\/\/www\.w3\.org\/1999\/xhtml">[\s\S]*\S[\s\S]*<\/div>$/);
      // The narrative lists every item.
      for (const { item } of entries) expect([item.linkId, questionnaire.text?.div.includes(`${item.linkId}</td>`)]).toEqual([item.linkId, true]);
    });

    test('cqf-library is the policy library, which the ELM compiles; launchContext names patient, coverage and order', () => {
      expect(extensionsOf(questionnaire, EXT.cqfLibrary).map((e) => e.valueCanonical)).toEqual([`${CANONICAL_BASE}/Library/${LIBRARY}`]);
      for (const p of policies) expect(p.library.name).toBe(LIBRARY);
      expect(elm.library.identifier).toEqual({ id: LIBRARY, version: policy.library.version });
      const contexts = extensionsOf(questionnaire, EXT.launchContext).map((e) => ({
        name: e.extension?.find((s) => s.url === 'name')?.valueCoding,
        type: e.extension?.find((s) => s.url === 'type')?.valueCode,
      }));
      expect(contexts.map((c) => [c.name?.code, c.type])).toEqual([
        ['patient', 'Patient'],
        ['coverage', 'Coverage'],
        ['order', 'MedicationRequest'],
      ]);
      expect(contexts[0]?.name?.system).toBe(SDC_LAUNCH_CONTEXT);
      for (const c of contexts.slice(1)) {
        expect(codeSystems.find((cs) => cs.url === c.name?.system)?.concept?.map((x) => x.code)).toContain(c.name?.code);
      }
    });
  });

  describe(`${questionnaire.id}: items and the answers the CQL reads`, () => {
    test('linkIds are unique; every item has text; groups hold items; display items carry no code', () => {
      expect(new Set(entries.map((e) => e.item.linkId)).size).toBe(entries.length);
      for (const { item } of entries) {
        expect(item.text?.trim()).toBeTruthy();
        if (item.type === 'group') expect(item.item?.length).toBeGreaterThan(0);
        if (item.type === 'display') expect([item.linkId, item.code, item.required]).toEqual([item.linkId, undefined, undefined]);
        expect([item.linkId, item.readOnly ?? false]).toEqual([item.linkId, false]);
        expect(extensionsOf(item, EXT.hidden).filter((e) => e.valueBoolean === true)).toEqual([]);
        expect(extensionsOf(item, EXT.calculatedExpression)).toEqual([]);
      }
    });

    test('every answer the CQL reads has a question of a type the reading function accepts', () => {
      expect(readByCql.size).toBeGreaterThan(0);
      const problems = [...readByCql].flatMap(([linkId, types]) => {
        const item = byLinkId.get(linkId)?.item;
        if (!item) return [`${linkId}: no such item`];
        if (!isQuestion(item)) return [`${linkId}: is a ${item.type}, not a question`];
        return types && !types.includes(item.type) ? [`${linkId}: type ${item.type}, CQL reads ${types.join('/')}`] : [];
      });
      expect(problems).toEqual([]);
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

    test('every answer a criterion reads is listed in its questionnaireItems', () => {
      const problems = criteria.flatMap((c) => [...criterionReads(c).keys()].filter((l) => !(c.questionnaireItems ?? []).includes(l)).map((l) => `${c.indication} ${c.id}: reads ${l}`));
      expect(problems).toEqual([]);
    });
  });

  describe(`${questionnaire.id}: pre-population`, () => {
    test('initialExpressions are text/cql "Library"."Definition" naming ELM definitions that read only the record', () => {
      const expressions = entries.flatMap(({ item }) => extensionsOf(item, EXT.initialExpression).map((e) => [item.linkId, e.valueExpression] as const));
      expect(expressions.length).toBeGreaterThanOrEqual(5);
      for (const [linkId, expression] of expressions) {
        expect([linkId, expression?.language]).toEqual([linkId, 'text/cql']);
        const match = INITIAL_EXPRESSION.exec(expression?.expression ?? '');
        expect([linkId, match?.[1]]).toEqual([linkId, LIBRARY]);
        const statement = statements.get(match?.[2] ?? '');
        expect([linkId, statement !== undefined && statement.type !== 'FunctionDef']).toEqual([linkId, true]);
        expect([linkId, closure(match![2]!).has('Response')]).toEqual([linkId, false]);
      }
    });

    test('the items the record can answer are pre-populated', () => {
      expect(Object.fromEntries(prePopulated)).toEqual(config.prePopulated);
    });
  });

  describe(`${questionnaire.id}: answer options and citations`, () => {
    test('answer options come from catalog ValueSets (expanded) or inline codings of known systems', () => {
      for (const { item } of entries.filter((e) => e.item.answerValueSet || e.item.answerOption)) {
        expect(item.answerValueSet && item.answerOption).toBeFalsy();
        const options = optionsOf(item);
        expect([item.linkId, options.length > 0]).toEqual([item.linkId, true]);
        for (const o of options) expect([item.linkId, o.system && o.code && o.display ? 'ok' : 'incomplete']).toEqual([item.linkId, 'ok']);
      }
    });

    test('the indication choices are exactly the catalog indications, defined in our own CodeSystem', () => {
      const indication = byLinkId.get('indication')!.item;
      const vs = valueSets.find((v) => v.url === indication.answerValueSet);
      expect(vs?.id).toMatch(/^questionnaire-/);
      const contains = vs?.expansion?.contains ?? [];
      for (const p of policies) expect(contains.map((c) => c.code).sort()).toEqual(p.indications.map((i) => i.id).sort());
      for (const code of contains) {
        expect(codeSystems.find((cs) => cs.url === code.system)?.concept?.find((c) => c.code === code.code)?.display).toBe(code.display);
      }
      const codeSystem = /codesystem\s+"([^"]+ Indication)":\s*'([^']+)'/.exec(cql);
      const codes = [...cql.matchAll(/code\s+"Indication [^"]+":\s*'([^']+)'\s+from\s+"([^"]+)"\s+display\s+'((?:[^'\\]|\\.)*)'/g)];
      expect(codes.length).toBeGreaterThan(0);
      for (const [, code, system, display] of codes) {
        expect(system).toBe(codeSystem?.[1]);
        expect(contains).toContainEqual(expect.objectContaining({ system: codeSystem?.[2], code, display: display!.replace(/\\(.)/g, '$1') }));
      }
    });

    const knownSections = [...new Set([...criteria.map((c) => c.id), ...phases.map((p) => p.section), ...(config.extraSections ?? [])])];
    const compatible = (a: string, b: string): boolean => a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`) || a.startsWith(`${b}(`);
    const sectionsOf = (item: QuestionnaireItem): string[] =>
      (item.code ?? []).filter((c) => c.system === CITATION_SYSTEM && c.code?.startsWith(prefix)).map((c) => c.code!.slice(prefix.length));

    test(`every question cites a section of ${policy.citationPrefix}`, () => {
      for (const { item } of questions) {
        const sections = sectionsOf(item);
        expect([item.linkId, sections.length > 0]).toEqual([item.linkId, true]);
        for (const section of sections) expect([item.linkId, section, knownSections.some((k) => compatible(section, k))]).toEqual([item.linkId, section, true]);
        for (const code of item.code ?? []) expect(code.display).toBeTruthy();
      }
    });

    test('each answer a criterion reads cites that criterion', () => {
      const problems = [...readByCql.keys()].filter((linkId) => {
        const sections = sectionsOf(byLinkId.get(linkId)!.item);
        return !criteria.some((c) => criterionReads(c).has(linkId) && sections.some((s) => compatible(s, c.id)));
      });
      expect(problems).toEqual([]);
    });

    test('help items are display children of questions, marked with the help item control', () => {
      const helps = entries.filter((e) => extensionsOf(e.item, EXT.itemControl).some((x) => x.valueCodeableConcept?.coding?.some((c) => c.code === 'help')));
      for (const { item, parents } of helps) {
        expect(item.type).toBe('display');
        expect(parents.at(-1) && isQuestion(parents.at(-1)!)).toBe(true);
      }
    });
  });

  // Relevance: which questions show for each indication and phase.
  const indicationItem = byLinkId.get('indication')!.item;
  const indicationSystem = optionsOf(indicationItem)[0]?.system ?? '';
  const indicationAnswer = (code: string): Coding => ({ system: indicationSystem, code });
  const conditionHolds = (condition: QuestionnaireItemEnableWhen, answer: Answer | undefined): boolean => {
    if (condition.operator === 'exists') return (answer !== undefined) === condition.answerBoolean;
    if (answer === undefined) return false;
    const expected: Answer | undefined = condition.answerBoolean ?? condition.answerDecimal ?? condition.answerInteger ?? condition.answerString ?? condition.answerCoding;
    const equal = typeof answer === 'object' && typeof expected === 'object' ? answer.system === expected.system && answer.code === expected.code : answer === expected;
    if (condition.operator === '=') return equal;
    if (condition.operator === '!=') return !equal;
    throw new Error(`operator ${condition.operator} not modelled by this test`);
  };
  const ownConditionsHold = (item: QuestionnaireItem, holds: (c: QuestionnaireItemEnableWhen) => boolean): boolean => {
    const conditions = item.enableWhen ?? [];
    if (conditions.length === 0) return true;
    return item.enableBehavior === 'any' ? conditions.some(holds) : conditions.every(holds);
  };
  const reachableFor = (fixed: Record<string, Answer>): Set<string> => {
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
  };

  describe(`${questionnaire.id}: enableWhen`, () => {
    test('every enableWhen names an earlier question, with an answer among its options', () => {
      for (const { item, order } of entries) {
        for (const condition of item.enableWhen ?? []) {
          const target = byLinkId.get(condition.question);
          expect([item.linkId, condition.question, target !== undefined && isQuestion(target.item)]).toEqual([item.linkId, condition.question, true]);
          expect([item.linkId, (target?.order ?? Infinity) < order]).toEqual([item.linkId, true]);
          if (target?.item.type === 'boolean' && condition.operator !== 'exists') expect(typeof condition.answerBoolean).toBe('boolean');
          if (target?.item.type === 'choice' && condition.answerCoding) {
            expect(optionsOf(target.item).some((o) => o.system === condition.answerCoding?.system && o.code === condition.answerCoding?.code)).toBe(true);
          }
        }
        if ((item.enableWhen?.length ?? 0) > 1) expect(['all', 'any']).toContain(item.enableBehavior);
      }
    });

    const scenarios = phases
      .filter((p) => p.disposition !== 'review')
      .flatMap((p) =>
        (config.scenarioAnswers?.[p.indication] ?? [{}]).map((extra) => [`${p.indication} ${p.phase} ${JSON.stringify(extra)}`, p, extra] as const),
      );
    describe.each(scenarios)('%s', (_name, scenario, extra) => {
      const fixed: Record<string, Answer> = { indication: indicationAnswer(scenario.indication), 'continued-therapy': scenario.phase === 'continuation', ...extra };
      const reachable = reachableFor(fixed);
      const sameAnswer = (x: Answer | undefined, y: Answer): boolean =>
        typeof x === 'object' && typeof y === 'object' ? x.system === y.system && x.code === y.code : x === y;
      const neededHere = (linkId: string): boolean =>
        Object.entries(config.neededOnlyWhen?.[linkId] ?? {}).every(([question, value]) => sameAnswer(fixed[question], value));
      const needed = new Set(scenario.criteria.flatMap((c) => [...criterionReads(c).keys()]).filter(neededHere));

      test('every answer its criteria read can be given', () => {
        expect([...needed].filter((l) => !reachable.has(l))).toEqual([]);
      });

      test('no question shows that its criteria do not read', () => {
        expect([...reachable].filter((l) => !needed.has(l) && !config.navigation.includes(l))).toEqual([]);
      });
    });
  });

  describe(`${questionnaire.id}: pre-population on the fixtures`, () => {
    const valueSetIndex = buildValueSetIndex(loadValueSets(path.join(REPO_ROOT, 'catalog', 'valuesets')));
    const libraries = loadLibraries(path.join(REPO_ROOT, 'dist', 'elm'));
    const definitions = [...new Set(prePopulated.values())];
    const fitsItem = (linkId: string, value: unknown): boolean => {
      if (value === null) return true;
      const item = byLinkId.get(linkId)!.item;
      switch (item.type) {
        case 'boolean':
          return typeof value === 'boolean';
        case 'decimal':
          return typeof value === 'number';
        case 'integer':
          return Number.isInteger(value);
        case 'date':
          return typeof value === 'object' && (value as { isDate?: boolean }).isDate === true;
        case 'choice': {
          const code = value as { system?: string; code?: string };
          return optionsOf(item).some((o) => o.system === code.system && o.code === code.code);
        }
        default:
          return false;
      }
    };

    test.each(Object.entries(config.fixtures.expected))('%s: every pre-populated answer fits its item, and the known ones are right', async (fixture, expected) => {
      const { bundle } = preparePatientData(readJson<Bundle>('fixtures', config.fixtures.folder, `${fixture}.json`));
      const results = await evaluateExpressions(
        libraries,
        LIBRARY,
        definitions,
        bundle,
        { orderId: config.fixtures.orderId ?? 'medreq-kineret', lineOfBusiness: [], diagnoses: [], priorAuthorizations: [], evaluationDate: new Date('2026-11-20T15:00:00Z') },
        codeServiceFor(valueSetIndex),
      );
      const values = new Map<string, unknown>();
      for (const [linkId, definition] of prePopulated) {
        const result = results.get(definition);
        if (!result || 'error' in result) throw new Error(`${definition}: ${result && 'error' in result ? result.error.message : 'not evaluated'}`);
        values.set(linkId, result.value ?? null);
      }
      expect([...values].filter(([linkId, value]) => !fitsItem(linkId, value))).toEqual([]);
      for (const [linkId, value] of Object.entries(expected)) {
        const actual = values.get(linkId);
        if (byLinkId.get(linkId)?.item.type === 'choice') expect([linkId, (actual as { code?: string } | null)?.code ?? null]).toEqual([linkId, value]);
        else expect([linkId, actual]).toEqual([linkId, value]);
      }
    });
  });
}
