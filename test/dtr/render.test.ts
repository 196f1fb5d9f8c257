/**
 * Every Questionnaire renders in a real SDC renderer: LHC-Forms (npm `lforms`, prebuilt bundle
 * fetched by scripts/fetch-lforms.sh into build/lforms/) in headless Chromium (Debian `chromium`)
 * driven by playwright-core. For each Questionnaire in questionnaires/ and in the test fixtures:
 * - the package's Questionnaire loads without a page error and every item that is enabled without
 *   answers shows its text; answer lists come from our own `ValueSet/$expand`;
 * - it loads again pre-filled with a QuestionnaireResponse, and the renderer's own export of the
 *   form gives back every pre-filled answer.
 *
 * Needs: /usr/bin/chromium (or CHROMIUM_PATH) and build/lforms; both missing → the suite fails and
 * says what to run.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import type {
  Bundle,
  Questionnaire,
  QuestionnaireItem,
  QuestionnaireResponse,
  QuestionnaireResponseItem,
  QuestionnaireResponseItemAnswer,
  ValueSet,
} from 'fhir/r4';
import { loadConfig, REPO_ROOT } from '../../src/config';
import { loadArtifacts, type ArtifactRepository } from '../../src/dtr/artifacts';
import { questionnairePackage } from '../../src/dtr/questionnaire-package';
import { populate } from '../../src/dtr/populate';
import { createPolicyEngine } from '../../src/engine';
import { EXT } from '../../src/dtr/urls';
import { fixtureArtifacts, medicationOrder, packageInput, packageOf } from './support/fixtures';
import { LFORMS_FILES, startRenderServer, type RenderServer } from './support/render-server';
import { chromiumMissing, openBrowserContext } from '../support/browser';

const LFORMS_DIR = path.join(REPO_ROOT, 'build', 'lforms');
const PREFERRED_TERMINOLOGY_SERVER = 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-preferredTerminologyServer';
const ITEM_CONTROL = 'http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl';

jest.setTimeout(120_000);

function missingPrerequisites(): string[] {
  const problems: string[] = [];
  const chromium = chromiumMissing();
  if (chromium) problems.push(chromium);
  const missing = LFORMS_FILES.filter((f) => !fs.existsSync(path.join(LFORMS_DIR, f)));
  if (missing.length > 0) {
    problems.push(`LHC-Forms files missing in build/lforms (${missing.join(', ')}): run \`scripts/fetch-lforms.sh\`.`);
  }
  return problems;
}

interface FormCase {
  set: string;
  artifacts: ArtifactRepository;
  questionnaire: Questionnaire;
}

const sets: { set: string; artifacts: ArtifactRepository }[] = [
  { set: 'questionnaires/', artifacts: loadArtifacts(loadConfig().paths) },
  { set: 'test fixtures', artifacts: fixtureArtifacts().artifacts },
];
const engine = createPolicyEngine(loadConfig().paths);
/** A fixture chart of the policy (fixtures/<policy-id>/, preferring an approvable one), if it has any. */
function firstFixture(policyId: string): string | undefined {
  const dir = path.join(REPO_ROOT, 'fixtures', policyId);
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];
  const file = files.find((f) => f.includes('approvable')) ?? files[0];
  return file ? path.join(dir, file) : undefined;
}
const cases: [string, FormCase][] = sets.flatMap(({ set, artifacts }) =>
  artifacts.list('Questionnaire').map((questionnaire): [string, FormCase] => [`${set}: ${questionnaire.id}`, { set, artifacts, questionnaire }]),
);

/** Items shown before any answer: no enableWhen / enableWhenExpression on them or their parents, not hidden. */
function alwaysEnabled(items: QuestionnaireItem[] | undefined): QuestionnaireItem[] {
  return (items ?? [])
    .filter(
      (i) =>
        !i.enableWhen?.length &&
        !(i.extension ?? []).some((e) => e.url === EXT.enableWhenExpression || (e.url === EXT.hidden && e.valueBoolean === true)),
    )
    .flatMap((i) => [i, ...alwaysEnabled(i.item)]);
}

/** Texts the page must show: popup-style display items (help, flyover, legal) are icons, not text. */
function expectedTexts(questionnaire: Questionnaire): string[] {
  return alwaysEnabled(questionnaire.item)
    .filter((i) => !(i.type === 'display' && (i.extension ?? []).some((e) => e.url === ITEM_CONTROL)))
    .map((i) => i.text ?? '')
    .filter((t) => t.trim() !== '');
}

const normalize = (text: string): string => text.replace(/\s+/g, ' ').trim();

/** One plausible answer per always-enabled question, drawn from the item's own constraints. */
function answerFor(item: QuestionnaireItem, valueSets: ValueSet[]): QuestionnaireResponseItemAnswer | undefined {
  const min = (item.extension ?? []).find((e) => e.url === 'http://hl7.org/fhir/StructureDefinition/minValue');
  switch (item.type) {
    case 'boolean':
      return { valueBoolean: true };
    case 'decimal':
      return { valueDecimal: (min?.valueDecimal ?? min?.valueInteger ?? 0) + 1.5 };
    case 'integer':
      return { valueInteger: (min?.valueInteger ?? 0) + 2 };
    case 'date':
      return { valueDate: '2024-05-01' };
    case 'string':
    case 'text':
      return { valueString: 'Answer written by the render test' };
    case 'choice':
    case 'open-choice': {
      const option = item.answerOption?.[0];
      if (option?.valueCoding) return { valueCoding: option.valueCoding };
      if (option?.valueString !== undefined) return { valueString: option.valueString };
      const code = valueSets.find((v) => v.url === item.answerValueSet?.split('|')[0])?.expansion?.contains?.[0];
      return code ? { valueCoding: { system: code.system, code: code.code, display: code.display } } : undefined;
    }
    default:
      return undefined;
  }
}

function prefilledResponse(draft: QuestionnaireResponse, questionnaire: Questionnaire, valueSets: ValueSet[]): { response: QuestionnaireResponse; answers: Map<string, QuestionnaireResponseItemAnswer> } {
  const answers = new Map<string, QuestionnaireResponseItemAnswer>();
  for (const item of alwaysEnabled(questionnaire.item)) {
    const answer = answerFor(item, valueSets);
    if (answer) answers.set(item.linkId, answer);
  }
  const origin = { url: EXT.informationOrigin, extension: [{ url: 'source', valueCode: 'auto' }] };
  const fill = (items: QuestionnaireItem[] | undefined): QuestionnaireResponseItem[] =>
    (items ?? [])
      .filter((i) => i.type === 'group' || answers.has(i.linkId))
      .map((i): QuestionnaireResponseItem => {
        if (i.type === 'group') return { linkId: i.linkId, text: i.text, item: fill(i.item) };
        return { linkId: i.linkId, text: i.text, answer: [{ ...answers.get(i.linkId)!, extension: [origin] }] };
      })
      .filter((i) => i.answer || i.item?.length);
  return { response: { ...draft, item: fill(questionnaire.item) }, answers };
}

function answersByLinkId(items: QuestionnaireResponseItem[] | undefined, into = new Map<string, QuestionnaireResponseItemAnswer[]>()): Map<string, QuestionnaireResponseItemAnswer[]> {
  for (const item of items ?? []) {
    if (item.answer) into.set(item.linkId, item.answer);
    answersByLinkId(item.item, into);
    for (const answer of item.answer ?? []) answersByLinkId(answer.item, into);
  }
  return into;
}

const problems = missingPrerequisites();

describe('LHC-Forms renders every Questionnaire', () => {
  let context: BrowserContext;
  let server: RenderServer;

  beforeAll(async () => {
    if (problems.length > 0) throw new Error(`Renderer test prerequisites missing:\n- ${problems.join('\n- ')}`);
    server = await startRenderServer(LFORMS_DIR, sets[0]!.artifacts);
    context = await openBrowserContext();
  });

  afterAll(async () => {
    await context?.close();
    await server?.close();
  });

  test('there is at least one Questionnaire to render', () => {
    expect(cases.length).toBeGreaterThan(0);
  });

  async function openPage(): Promise<{ page: Page; errors: string[] }> {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(`console error: ${message.text()}`);
    });
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => typeof (globalThis as unknown as { LForms?: { Util?: unknown } }).LForms?.Util === 'object');
    return { page, errors };
  }

  async function render(page: Page, questionnaire: Questionnaire, response?: QuestionnaireResponse): Promise<string[]> {
    return page.evaluate(
      async ({ q, qr }) => {
        const lforms = (globalThis as unknown as { LForms: { Util: { addFormToPage: (q: unknown, el: string, o: unknown) => Promise<void> } } }).LForms;
        try {
          await lforms.Util.addFormToPage(q, 'formContainer', { fhirVersion: 'R4', ...(qr ? { questionnaireResponse: qr } : {}) });
          return [];
        } catch (error) {
          return (Array.isArray(error) ? error : [error]).map((e) => (e instanceof Error ? e.message : JSON.stringify(e)));
        }
      },
      { q: questionnaire, qr: response },
    );
  }

  describe.each(cases)('%s', (_label, { artifacts, questionnaire: published }) => {
    let bundle: Bundle;
    let questionnaire: Questionnaire;
    let valueSets: ValueSet[];

    beforeAll(async () => {
      server.use(artifacts);
      const { body } = await questionnairePackage(packageInput({ questionnaire: [`${published.url}|${published.version}`], order: [medicationOrder()] }), { artifacts });
      bundle = packageOf(body);
      // As a DTR client would: point the renderer's terminology lookups at the payer ($expand).
      // On the root and on each item with an answerValueSet: LHC-Forms reads the item's own when it
      // merges a QuestionnaireResponse.
      questionnaire = structuredClone(bundle.entry![0]!.resource as Questionnaire);
      const terminology = { url: PREFERRED_TERMINOLOGY_SERVER, valueUrl: `${server.url}/fhir` };
      questionnaire.extension = [...(questionnaire.extension ?? []), terminology];
      const mark = (items: QuestionnaireItem[] | undefined): void =>
        (items ?? []).forEach((i) => {
          if (i.answerValueSet) i.extension = [...(i.extension ?? []), terminology];
          mark(i.item);
        });
      mark(questionnaire.item);
      valueSets = bundle.entry!.map((e) => e.resource!).filter((r): r is ValueSet => r.resourceType === 'ValueSet');
    });

    test('loads without errors and shows every item enabled before any answer', async () => {
      const { page, errors } = await openPage();
      try {
        const renderErrors = await render(page, questionnaire);
        expect(renderErrors).toEqual([]);
        await page.waitForSelector('#formContainer wc-lhc-form');
        const text = normalize(await page.locator('#formContainer').innerText());
        const missing = expectedTexts(questionnaire).filter((t) => !text.includes(normalize(t)));
        expect(missing).toEqual([]);
        // Answer lists of the enabled items came from our $expand.
        const used = alwaysEnabled(questionnaire.item).flatMap((i) => (i.answerValueSet ? [i.answerValueSet] : []));
        expect(server.expandRequests).toEqual(expect.arrayContaining(used));
        expect(errors).toEqual([]);
      } finally {
        await page.close();
      }
    });

    // The policy forms are also rendered pre-filled with what `$populate` answers from a real chart
    // (the first fixture of the policy), as a DTR client without a CQL engine would show them.
    const policy = engine.catalog.policies.find((p) => p.questionnaire === published.url);
    const chartFile = policy ? firstFixture(policy.id) : undefined;
    if (chartFile) test(`loads pre-filled with the $populate answers for ${path.basename(chartFile)}`, async () => {
      const chart = JSON.parse(fs.readFileSync(chartFile, 'utf8')) as Bundle;
      const patientId = chart.entry?.find((e) => e.resource?.resourceType === 'Patient')?.resource?.id ?? '';
      const { body } = await populate(
        {
          resourceType: 'Parameters',
          parameter: [
            { name: 'subject', valueReference: { reference: `Patient/${patientId}` } },
            { name: 'context', part: [{ name: 'name', valueString: 'data' }, { name: 'content', resource: chart }] },
          ],
        },
        { engine, artifacts, now: () => new Date('2026-11-20T12:00:00Z') },
        published.id,
      );
      const populated = body.parameter?.find((p) => p.name === 'response')?.resource as QuestionnaireResponse;
      const answers = answersByLinkId(populated.item);
      expect(answers.size).toBeGreaterThan(0);
      const { page, errors } = await openPage();
      try {
        expect(await render(page, questionnaire, populated)).toEqual([]);
        const exported = (await page.evaluate(() =>
          (globalThis as unknown as { LForms: { Util: { getFormFHIRData: (t: string, v: string, el: string) => unknown } } }).LForms.Util.getFormFHIRData(
            'QuestionnaireResponse',
            'R4',
            'formContainer',
          ),
        )) as QuestionnaireResponse;
        // The renderer shows (and exports) the pre-filled answers of the items enabled for this chart's
        // indication; each must be the value $populate gave, unchanged.
        const got = answersByLinkId(exported.item);
        expect(got.size).toBeGreaterThan(0);
        const comparable = (a: QuestionnaireResponseItemAnswer | undefined) =>
          a?.valueCoding ? { code: a.valueCoding.code, system: a.valueCoding.system } : a && Object.fromEntries(Object.entries(a).filter(([k]) => k.startsWith('value')));
        for (const [linkId, [value]] of got) {
          expect({ linkId, value: comparable(value) }).toEqual({ linkId, value: comparable(answers.get(linkId)?.[0]) });
        }
        expect(errors).toEqual([]);
      } finally {
        await page.close();
      }
    });

    test('loads pre-filled with a QuestionnaireResponse and gives back every pre-filled answer', async () => {
      const draft = bundle.entry!.map((e) => e.resource!).find((r): r is QuestionnaireResponse => r.resourceType === 'QuestionnaireResponse')!;
      const { response, answers } = prefilledResponse(draft, questionnaire, valueSets);
      expect(answers.size).toBeGreaterThan(0);
      const { page, errors } = await openPage();
      try {
        expect(await render(page, questionnaire, response)).toEqual([]);
        const exported = (await page.evaluate(() =>
          (globalThis as unknown as { LForms: { Util: { getFormFHIRData: (t: string, v: string, el: string) => unknown } } }).LForms.Util.getFormFHIRData(
            'QuestionnaireResponse',
            'R4',
            'formContainer',
          ),
        )) as QuestionnaireResponse;
        const got = answersByLinkId(exported.item);
        for (const [linkId, answer] of answers) {
          const value = got.get(linkId)?.[0];
          expect({ linkId, value: value?.valueCoding ? { code: value.valueCoding.code, system: value.valueCoding.system } : value }).toEqual({
            linkId,
            value: answer.valueCoding ? { code: answer.valueCoding.code, system: answer.valueCoding.system } : expect.objectContaining(answer),
          });
        }
        expect(errors).toEqual([]);
      } finally {
        await page.close();
      }
    });
  });
});
