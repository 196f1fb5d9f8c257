/**
 * The adaptive form in the DTR app (headless Chromium, real server, test EHR): the launch's
 * appContext names the policy form's adaptive canonical (`<form url>-adaptive`), the package holds
 * the dtr-questionnaire-adapt-search Questionnaire, and the app drives it with
 * `Questionnaire/$next-question`: each round posts the answers, shows the questions the payer adds
 * (pre-filled from the chart where it can), saves the draft to the EHR, until the payer answers
 * `completed`; then the request is submitted as for the static form.
 */
import type { Parameters, Questionnaire, QuestionnaireResponse } from 'fhir/r4';
import { COVERAGE_INFORMATION_URL } from '../../src/crd/types';
import { EXT } from '../../src/dtr/urls';
import { answersByLinkId } from '../../app/dtr/src/response';
import { COVERAGE, formResponse, launchFromCard, newPage, onlyResponse, openHarness, orderSignLaunchLink, PATIENT, populateFor, textOf, until, valueOf, yesNo, type Harness } from './support';

jest.setTimeout(300_000);

const KINERET_Q = 'http://pa.example.org/fhir/Questionnaire/cp-phar-244-kineret';
const ADALIMUMAB = /adalimumab product/;
const TOCILIZUMAB = /Actemra \(tocilizumab\)/;
const TOFACITINIB = /Xeljanz/;

const originsOf = (qr: QuestionnaireResponse | undefined): Map<string, string | undefined> =>
  new Map(
    [...answersByLinkId(qr?.item)].map(([linkId, answers]) => [
      linkId,
      answers[0]?.extension?.find((e) => e.url === EXT.informationOrigin)?.extension?.find((e) => e.url === 'source')?.valueCode,
    ]),
  );

describe('adaptive form: $next-question drives the form, the draft is saved as it goes, then submitted', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness('RX-DTR-ADAPT-1');
  });
  afterAll(async () => h?.close());

  test('chart answers shown and marked, one criterion per round, draft saved each round, completed by the payer, submitted: A1', async () => {
    const link = await orderSignLaunchLink(h, 'ra-chart-only-partial', 'RX-DTR-ADAPT-1');
    // The EHR (or the card) asks for the adaptive form by its canonical; the app sees it is adaptive from the package.
    const appContext = { ...(JSON.parse(link.appContext ?? '{}') as Record<string, unknown>), questionnaire: [`${KINERET_Q}-adaptive`] };
    const app = await newPage(h);
    const { page } = app;
    const rounds: QuestionnaireResponse[] = [];
    page.on('request', (r) => {
      if (r.method() === 'POST' && r.url().endsWith('/fhir/Questionnaire/$next-question')) rounds.push((JSON.parse(r.postData() ?? '{}') as Parameters).parameter?.find((p) => p.name === 'questionnaire-response')?.resource as QuestionnaireResponse);
    });
    await launchFromCard(h, app, { ...link, appContext: JSON.stringify(appContext) }, PATIENT, COVERAGE);

    // First round: the chart's answers (the static form's $populate, run in the browser) count as asked; the payer adds the first open criterion.
    expect(rounds).toHaveLength(1);
    expect(rounds[0]!.questionnaire).toBe(`${KINERET_Q}-adaptive|1.0.0`);
    const populated = answersByLinkId((await populateFor(h, h.ehr.resources(), 'cp-phar-244-kineret', PATIENT)).item);
    const shown = answersByLinkId((await formResponse(page)).item);
    expect(valueOf(shown.get('mtx-trial-failed')?.[0])).toEqual(valueOf(populated.get('mtx-trial-failed')?.[0]));
    for (const [linkId, answers] of populated) expect({ linkId, value: valueOf(shown.get(linkId)?.[0]) }).toEqual({ linkId, value: valueOf(answers[0]) });
    await until(async () => expect(await page.getByRole('radiogroup', { name: /methotrexate fail.*\(from the chart\)/ }).count()).toBe(1));
    expect(await yesNo(page, ADALIMUMAB, 'Yes').count()).toBe(1);
    expect(await page.getByRole('radiogroup', { name: TOCILIZUMAB }).count()).toBe(0);
    expect(await page.locator('#submit').isVisible()).toBe(false);

    // The EHR holds the adaptive draft: the contained adaptive Questionnaire, DTR profile, chart answers marked auto.
    let saved = onlyResponse(h);
    expect(saved.status).toBe('in-progress');
    expect(saved.questionnaire).toMatch(/^#/);
    const form = saved.contained?.find((r): r is Questionnaire => `#${r.id ?? ''}` === saved.questionnaire);
    expect(form?.meta?.profile).toContain('http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-questionnaire-adapt');
    expect(form?.derivedFrom?.[0]).toMatch(new RegExp(`^${KINERET_Q.replace(/\./g, '\\.')}\\|`));
    expect(saved.meta?.profile).toContain('http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-questionnaireresponse');
    expect(saved.extension?.filter((e) => e.url === EXT.qrContext).map((e) => e.valueReference?.reference)).toEqual(expect.arrayContaining([expect.stringMatching(/MedicationRequest\/medreq-kineret$/)]));
    expect(originsOf(saved).get('mtx-trial-failed')).toBe('auto');
    const firstId = saved.id;

    // A required question left empty: the app says so and does not ask the payer.
    await page.getByRole('button', { name: 'Next questions' }).click();
    await textOf(page.locator('#alert'), 'Some answers are missing');
    expect(rounds).toHaveLength(1);

    // Each round: answer, ask for the next questions; the draft in the EHR follows (same resource).
    const next = async (): Promise<void> => {
      const before = rounds.length;
      await page.getByRole('button', { name: 'Next questions' }).click();
      await until(() => expect(rounds.length).toBe(before + 1), 60_000);
      await page.locator('#status').filter({ hasText: /Draft saved in the EHR/ }).waitFor({ timeout: 60_000 });
    };
    await yesNo(page, ADALIMUMAB, 'Yes').click();
    await next();
    await until(async () => expect(await yesNo(page, TOCILIZUMAB, 'Yes').count()).toBe(1));
    await until(() => expect(originsOf(onlyResponse(h)).get('adalimumab-failed')).toBe('manual'));
    expect(onlyResponse(h).id).toBe(firstId);
    await yesNo(page, TOCILIZUMAB, 'Yes').click();
    await next();
    await yesNo(page, TOFACITINIB, 'Yes').click();
    await next();
    const cdai = page.getByRole('textbox', { name: /Baseline CDAI/ });
    await cdai.fill('32');
    await cdai.press('Tab');
    await next();
    expect(rounds).toHaveLength(5);
    // Each round sent the questions asked so far, with their answers.
    expect(rounds[4]!.questionnaire).toMatch(/^#/);
    expect(valueOf(answersByLinkId(rounds[4]!.item).get('baseline-cdai')?.[0])).toEqual({ valueDecimal: 32 });

    // The payer has no more questions: submit as for the static form.
    await textOf(page.locator('#status'), 'no more questions');
    expect(await page.locator('#next').isVisible()).toBe(false);
    await page.getByRole('button', { name: 'Submit prior authorization' }).click();
    const result = page.locator('#result');
    await textOf(result, 'Approved', 60_000);
    await textOf(result, /authorization PA-\d{8}-[A-Z0-9]+/);

    saved = onlyResponse(h);
    expect(saved.id).toBe(firstId);
    expect(saved.status).toBe('completed');
    expect(Number(saved.meta?.versionId)).toBeGreaterThanOrEqual(5);
    expect(originsOf(saved).get('mtx-trial-failed')).toBe('auto');
    expect(originsOf(saved).get('tofacitinib-failed')).toBe('manual');
    // The payer's completed answer carries its coverage information; the app keeps it.
    expect(saved.extension?.some((e) => e.url === COVERAGE_INFORMATION_URL)).toBe(true);
    expect(app.errors).toEqual([]);
    await page.close();
  });
});

describe('adaptive form on the server as deployed (SMART_CLIENTS, DTR_EHRS): $next-question with the exchanged payer token', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness('RX-DTR-ADAPT-2', { authenticated: true });
  });
  afterAll(async () => h?.close());

  test('every $next-question round carries the Bearer token and is answered 200', async () => {
    const link = await orderSignLaunchLink(h, 'ra-chart-only-partial', 'RX-DTR-ADAPT-2');
    const appContext = { ...(JSON.parse(link.appContext ?? '{}') as Record<string, unknown>), questionnaire: [`${KINERET_Q}-adaptive`] };
    const app = await newPage(h);
    const { page } = app;
    const calls: Array<{ authorized: boolean; status: number }> = [];
    page.on('response', (r) => {
      if (r.url().endsWith('/fhir/Questionnaire/$next-question')) calls.push({ authorized: /^Bearer /.test(r.request().headers().authorization ?? ''), status: r.status() });
    });
    await launchFromCard(h, app, { ...link, appContext: JSON.stringify(appContext) }, PATIENT, COVERAGE);
    await yesNo(page, ADALIMUMAB, 'Yes').click();
    await page.getByRole('button', { name: 'Next questions' }).click();
    await until(async () => expect(await yesNo(page, TOCILIZUMAB, 'Yes').count()).toBe(1), 60_000);
    expect(calls).toEqual([
      { authorized: true, status: 200 },
      { authorized: true, status: 200 },
    ]);
    expect(app.errors).toEqual([]);
    await page.close();
  });
});
