/**
 * The DTR SMART app end to end, in headless Chromium against the real server and a test EHR:
 * CRD order-sign gives the "launch SMART application" card; the EHR launches its link (SMART EHR
 * launch: discovery, authorization code with PKCE, launch context with the card's appContext);
 * the app reads the order and coverage, gets the questionnaire package, runs the package's CQL
 * against the EHR, shows the form pre-filled (the same answers as the server's `$populate` for the
 * same chart), saves drafts to the EHR, and submits the prior authorization request (PAS).
 * Failures (an expired session, an EHR that answers 500, a package with a warning) say so and
 * lose no answer. Standalone launch: the user picks the order. No console errors, 1280×800.
 */
import type { Page } from 'playwright-core';
import type { QuestionnaireResponse } from 'fhir/r4';
import { EXT } from '../../src/dtr/urls';
import { answersByLinkId } from '../../app/dtr/src/response';
import {
  COVERAGE,
  formReady,
  formResponse,
  launchFromCard,
  newPage,
  onlyResponse,
  orderSignLaunchLink,
  populateFor,
  responsesIn,
  openHarness,
  PATIENT,
  textOf,
  until,
  valueOf,
  yesNo,
  type Harness,
} from './support';

jest.setTimeout(240_000);


const ADALIMUMAB = /adalimumab product/;
const TOCILIZUMAB = /Actemra \(tocilizumab\)/;
const TOFACITINIB = /Xeljanz/;

function originOf(qr: QuestionnaireResponse | undefined, linkId: string): { value: unknown; origin?: string } | undefined {
  const answer = answersByLinkId(qr?.item).get(linkId)?.[0];
  if (!answer) return undefined;
  const origin = answer.extension?.find((e) => e.url === EXT.informationOrigin)?.extension?.find((e) => e.url === 'source')?.valueCode;
  return { value: valueOf(answer), ...(origin ? { origin } : {}) };
}

async function answerCdai(page: Page, score: string): Promise<void> {
  const box = page.getByRole('textbox', { name: /Baseline CDAI/ });
  await box.fill(score);
  await box.press('Tab');
}

/** The app launched from the order-sign card for the partial RA chart, with step therapy answered "not tried" and a CDAI of 32. */
async function answeredPartialChart(h: Harness, orderNumber: string) {
  const link = await orderSignLaunchLink(h, 'ra-chart-only-partial', orderNumber);
  const app = await newPage(h);
  await launchFromCard(h, app, link, PATIENT, COVERAGE);
  await yesNo(app.page, ADALIMUMAB, 'No').click();
  await yesNo(app.page, TOCILIZUMAB, 'No').click();
  await answerCdai(app.page, '32');
  return app;
}

describe('auth-needed chart: the CRD card launches the app, the form opens pre-filled, the request is approved', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness('RX-DTR-APP-1');
  });
  afterAll(async () => h?.close());

  test('pre-filled as $populate, answered by the clinician, submitted: A1 with an authorization number; the EHR holds the completed response', async () => {
    const link = await orderSignLaunchLink(h, 'ra-chart-only-partial', 'RX-DTR-APP-1');
    expect(JSON.parse(link.appContext ?? '{}')).toMatchObject({ questionnaire: ['http://pa.example.org/fhir/Questionnaire/cp-phar-244-kineret'], order: 'MedicationRequest/medreq-kineret' });
    const app = await newPage(h);
    const { page } = app;
    await launchFromCard(h, app, link, PATIENT, COVERAGE);

    // SMART: discovery, then the authorization request with PKCE S256 and the launch, then the token.
    const paths = h.ehr.requests.map((r) => r.path);
    expect(paths[0]).toBe('/fhir/.well-known/smart-configuration');
    const authorize = new URL(paths.find((p) => p.startsWith('/auth/authorize'))!, 'http://x');
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('launch')).toBeTruthy();
    expect(h.ehr.requests.some((r) => r.path === '/auth/token' && r.status === 200)).toBe(true);

    // Pre-filled exactly as the server's $populate fills it for the same chart.
    const populated = answersByLinkId((await populateFor(h, h.ehr.resources(), 'cp-phar-244-kineret', PATIENT)).item);
    const shown = answersByLinkId((await formResponse(page)).item);
    expect(shown.size).toBeGreaterThanOrEqual(5);
    for (const [linkId, answers] of shown) expect({ linkId, value: valueOf(answers[0]) }).toEqual({ linkId, value: valueOf(populated.get(linkId)?.[0]) });
    // Every $populate answer of an item the form shows is there.
    for (const linkId of populated.keys()) {
      if ((await page.locator(`label[id^="label-${linkId}/"]`).count()) > 0) expect(shown.has(linkId)).toBe(true);
    }
    // Each is marked as coming from the chart, as part of its question's label.
    await until(async () => expect(await page.locator('.dtr-origin-chart').count()).toBe(shown.size + 1)); // + the legend
    await until(async () => expect(await page.getByRole('radiogroup', { name: /methotrexate fail.*\(from the chart\)/ }).count()).toBe(1));

    // The draft is in the EHR already, pre-filled answers marked auto, with the DTR profile and context.
    let saved = onlyResponse(h);
    expect(saved.status).toBe('in-progress');
    expect(saved.meta?.profile).toContain('http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-questionnaireresponse');
    expect(saved.extension?.filter((e) => e.url === EXT.qrContext).map((e) => e.valueReference?.reference)).toEqual(expect.arrayContaining([expect.stringMatching(/MedicationRequest\/medreq-kineret$/)]));
    expect(saved.questionnaire).toMatch(/^http:\/\/pa\.example\.org\/fhir\/Questionnaire\/cp-phar-244-kineret\|/);
    expect(saved.subject?.reference).toBe(`Patient/${PATIENT}`);
    expect(saved.author?.reference).toBe('Practitioner/pract-marquez');
    expect(originOf(saved, 'mtx-trial-failed')).toEqual({ value: { valueBoolean: true }, origin: 'auto' });

    // The clinician answers what the chart cannot: by mouse, and one by keyboard.
    await yesNo(page, ADALIMUMAB, 'Yes').click();
    await yesNo(page, TOFACITINIB, 'Yes').click(); // asked once a TNF blocker failed
    await yesNo(page, TOCILIZUMAB, 'Yes').focus();
    await page.keyboard.press('Space');
    await answerCdai(page, '32');
    // …and changes a pre-filled answer back and forth: marked "changed", then "from the chart" again.
    await yesNo(page, /prescribed by a rheumatologist/, 'No').click();
    await until(async () => expect(await page.getByRole('radiogroup', { name: /prescribed by a rheumatologist.*\(changed from the chart\)/ }).count()).toBe(1));
    await yesNo(page, /prescribed by a rheumatologist/, 'Yes').click();
    await until(async () => expect(await page.getByRole('radiogroup', { name: /prescribed by a rheumatologist.*\(from the chart\)/ }).count()).toBe(1));

    // The draft follows the form while it is open.
    await until(() => expect(originOf(responsesIn(h.ehr)[0], 'baseline-cdai')).toEqual({ value: { valueDecimal: 32 }, origin: 'manual' }));

    await page.getByRole('button', { name: 'Submit prior authorization' }).click();
    const result = page.locator('#result');
    await textOf(result, 'Approved', 60_000);
    await textOf(result, /authorization PA-\d{8}-[A-Z0-9]+/);
    await textOf(result, /Valid from 2026-11-20 to 20\d\d-\d\d-\d\d/);
    await textOf(result, 'CP.PHAR.244');
    expect(await result.getAttribute('aria-live')).toBe('polite');
    expect(await page.evaluate('document.activeElement?.id')).toBe('result');

    saved = onlyResponse(h);
    expect(saved.status).toBe('completed');
    // Once the EHR holds the completed response, the tab keeps no copy of the answers.
    expect(await page.evaluate('Object.keys(sessionStorage).filter((k) => k.startsWith("dtr-draft|"))')).toEqual([]);
    expect(originOf(saved, 'adalimumab-failed')).toEqual({ value: { valueBoolean: true }, origin: 'manual' });
    expect(originOf(saved, 'tocilizumab-failed')).toEqual({ value: { valueBoolean: true }, origin: 'manual' });
    expect(originOf(saved, 'rheumatologist-consulted')).toEqual({ value: { valueBoolean: true }, origin: 'auto' });
    // The number the app shows is the payer's: the same the server stored.
    const number = /authorization (PA-\d{8}-[A-Z0-9]+)/.exec((await result.textContent()) ?? '')?.[1];
    expect(number).toBeTruthy();
    expect(app.errors).toEqual([]);
    await page.close();
  });
});

describe('a chart that cannot be approved: the app shows the pend and its reasons', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness('RX-DTR-APP-2');
  });
  afterAll(async () => h?.close());

  test('step therapy not tried: A4, each missing criterion with its CP.PHAR.244 citation', async () => {
    const app = await answeredPartialChart(h, 'RX-DTR-APP-2');
    const { page } = app;
    await page.getByRole('button', { name: 'Submit prior authorization' }).click();
    const result = page.locator('#result');
    await textOf(result, 'Pended for review (A4)', 60_000);
    await textOf(result, 'CP.PHAR.244 I.A.5.a');
    await textOf(result, 'CP.PHAR.244 I.A.5.b');
    expect(await result.textContent()).not.toContain('I.A.6');
    expect(onlyResponse(h).status).toBe('completed');
    expect(app.errors).toEqual([]);
    await page.close();
  });
});

describe('an answer changed while the completed response is being saved', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness('RX-DTR-APP-RACE');
  });
  afterAll(async () => h?.close());

  test('the draft save it asks for neither overwrites the completed response in the EHR nor brings the answers back into the tab', async () => {
    const app = await answeredPartialChart(h, 'RX-DTR-APP-RACE');
    const { page } = app;
    // The EHR is slow to take the completed response; a draft the app sends meanwhile reaches it last.
    let completedSaved!: () => void;
    const completedDone = new Promise<void>((resolve) => (completedSaved = resolve));
    let sawCompleted = false;
    await page.route(`${h.ehr.fhirBase}/QuestionnaireResponse**`, async (route) => {
      const body = route.request().postData() ?? '';
      if (body.includes('"status":"completed"')) {
        sawCompleted = true;
        await new Promise((resolve) => setTimeout(resolve, 1500));
        await route.fulfill({ response: await route.fetch() });
        completedSaved();
        return;
      }
      if (body && sawCompleted) await completedDone;
      await route.continue();
    });
    await page.getByRole('button', { name: 'Submit prior authorization' }).click();
    await until(() => expect(sawCompleted).toBe(true));
    await answerCdai(page, '33');
    await textOf(page.locator('#result'), 'Pended for review (A4)', 60_000);
    await page.waitForTimeout(1500); // time for any draft save still on its way
    expect(onlyResponse(h).status).toBe('completed');
    expect(await page.evaluate('Object.keys(sessionStorage).filter((k) => k.startsWith("dtr-draft|"))')).toEqual([]);
    expect(app.errors).toEqual([]);
    await page.close();
  });
});

describe('failures show a clear message and lose no answer', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness('RX-DTR-APP-3');
  });
  afterAll(async () => h?.close());

  test('a package with a warning, an EHR answering 500, then an expired session: each said plainly; the draft ends up in the EHR', async () => {
    const card = await orderSignLaunchLink(h, 'ra-chart-only-partial', 'RX-DTR-APP-3');
    // The card names a questionnaire the payer no longer publishes besides the right one: the package comes with a warning.
    const appContext = JSON.parse(card.appContext ?? '{}') as { questionnaire: string[] };
    appContext.questionnaire = ['http://pa.example.org/fhir/Questionnaire/kineret-retired-2019', ...appContext.questionnaire];
    const link = { ...card, appContext: JSON.stringify(appContext) };
    const app = await newPage(h);
    const { page } = app;
    await launchFromCard(h, app, link, PATIENT, COVERAGE);
    const notes = page.locator('#payer-notes');
    await notes.waitFor({ state: 'visible' });
    await textOf(notes, 'Questionnaire http://pa.example.org/fhir/Questionnaire/kineret-retired-2019 is not published by this server');
    expect(onlyResponse(h).status).toBe('in-progress');

    // The EHR fails every write: the app says so, keeps the answer, and saves it once the EHR is back.
    h.ehr.failWith(500, (method) => method !== 'GET');
    await yesNo(page, ADALIMUMAB, 'Yes').click();
    const alert = page.getByRole('alert');
    await textOf(alert, 'The EHR had an error and could not save the draft (HTTP 500).', 15_000);
    await textOf(alert, 'Your answers are kept in this browser tab');
    expect(originOf(onlyResponse(h), 'adalimumab-failed')).toBeUndefined();
    h.ehr.failWith(null);
    await page.getByRole('button', { name: 'Save draft' }).click();
    await textOf(page.getByRole('status'), 'Draft saved in the EHR');
    await alert.waitFor({ state: 'hidden' });
    expect(originOf(onlyResponse(h), 'adalimumab-failed')).toEqual({ value: { valueBoolean: true }, origin: 'manual' });

    // The session expires: the answer given after it is kept, and saved after the next launch.
    h.ehr.expireTokens();
    await yesNo(page, TOCILIZUMAB, 'Yes').click();
    await textOf(alert, 'Your EHR session has expired, so the app could not save the draft.', 15_000);
    await textOf(alert, 'launch the app again from the EHR');
    expect(originOf(onlyResponse(h), 'tocilizumab-failed')).toBeUndefined();

    await launchFromCard(h, app, link, PATIENT, COVERAGE);
    const restored = answersByLinkId((await formResponse(page)).item);
    expect(valueOf(restored.get('tocilizumab-failed')?.[0])).toEqual({ valueBoolean: true });
    expect(valueOf(restored.get('adalimumab-failed')?.[0])).toEqual({ valueBoolean: true });
    const saved = onlyResponse(h);
    expect(saved.status).toBe('in-progress');
    expect(originOf(saved, 'tocilizumab-failed')).toEqual({ value: { valueBoolean: true }, origin: 'manual' });
    expect(originOf(saved, 'mtx-trial-failed')).toEqual({ value: { valueBoolean: true }, origin: 'auto' });
    expect(app.errors.filter((e) => !/status of (401|500)/.test(e))).toEqual([]);
    await page.close();
  });

  test('standalone launch: the user picks the order; the saved draft is found again', async () => {
    h.ehr.standalonePatient = PATIENT;
    const app = await newPage(h);
    const { page } = app;
    await page.goto(`${h.baseUrl}/dtr/launch?iss=${encodeURIComponent(h.ehr.fhirBase)}`);
    await page.getByRole('radio', { name: /anakinra/ }).check();
    await page.getByRole('button', { name: 'Open the questionnaire' }).click();
    await formReady(page);
    // The draft of the earlier launch for this order is resumed, not started over.
    const shown = answersByLinkId((await formResponse(page)).item);
    expect(valueOf(shown.get('tocilizumab-failed')?.[0])).toEqual({ valueBoolean: true });
    expect(responsesIn(h.ehr)).toHaveLength(1);

    // The EHR submits itself: the app completes the response and hands back, once every required answer is there.
    await page.getByRole('button', { name: 'Complete and return to the EHR' }).click();
    await textOf(page.getByRole('alert'), 'Some answers are missing or not valid');
    expect(onlyResponse(h).status).toBe('in-progress');
    await yesNo(page, TOFACITINIB, 'Yes').click();
    await page.getByRole('button', { name: 'Complete and return to the EHR' }).click();
    await textOf(page.locator('#result'), 'Saved in the EHR');
    expect(onlyResponse(h).status).toBe('completed');
    expect(originOf(onlyResponse(h), 'tofacitinib-failed')).toEqual({ value: { valueBoolean: true }, origin: 'manual' });
    // Usable at 1280×800: nothing wider than the window.
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(1280);
    expect(app.errors).toEqual([]);
    await page.close();
  });
});

describe('relaunch: appContext.response reopens the saved draft', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness('RX-DTR-APP-4');
  });
  afterAll(async () => h?.close());

  test('the EHR relaunches with {"response": "QuestionnaireResponse/<id>"}: that draft is read, shown and updated in place', async () => {
    const link = await orderSignLaunchLink(h, 'ra-chart-only-partial', 'RX-DTR-APP-4');
    const first = await newPage(h);
    await launchFromCard(h, first, link, PATIENT, COVERAGE);
    await yesNo(first.page, ADALIMUMAB, 'Yes').click();
    await answerCdai(first.page, '41');
    await until(() => expect(originOf(responsesIn(h.ehr)[0], 'baseline-cdai')).toEqual({ value: { valueDecimal: 41 }, origin: 'manual' }));
    const draft = onlyResponse(h);
    await first.page.close();

    // Another tab (nothing kept in the browser): only the saved response tells the app the answers.
    const again = await newPage(h);
    const { page } = again;
    const relaunch = { ...link, appContext: JSON.stringify({ response: `QuestionnaireResponse/${draft.id!}` }) };
    const before = h.ehr.requests.length;
    await launchFromCard(h, again, relaunch, PATIENT, COVERAGE);
    expect(h.ehr.requests.slice(before).some((r) => r.method === 'GET' && r.path === `/fhir/QuestionnaireResponse/${draft.id!}` && r.status === 200)).toBe(true);
    const shown = answersByLinkId((await formResponse(page)).item);
    expect(valueOf(shown.get('adalimumab-failed')?.[0])).toEqual({ valueBoolean: true });
    expect(valueOf(shown.get('baseline-cdai')?.[0])).toEqual({ valueDecimal: 41 });
    expect(valueOf(shown.get('mtx-trial-failed')?.[0])).toEqual({ valueBoolean: true });
    // The same resource is updated, not a second one created.
    await yesNo(page, TOCILIZUMAB, 'Yes').click();
    await until(() => expect(originOf(responsesIn(h.ehr)[0], 'tocilizumab-failed')).toEqual({ value: { valueBoolean: true }, origin: 'manual' }));
    const updated = onlyResponse(h);
    expect(updated.id).toBe(draft.id);
    expect(Number(updated.meta?.versionId)).toBeGreaterThan(Number(draft.meta?.versionId));
    expect(originOf(updated, 'adalimumab-failed')).toEqual({ value: { valueBoolean: true }, origin: 'manual' });
    expect(again.errors).toEqual([]);
    await page.close();
  });
});
