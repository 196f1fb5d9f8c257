/**
 * The DTR app against the server as deployed: /fhir closed (SMART_CLIENTS set) and the test EHR
 * listed in DTR_EHRS. The app exchanges its EHR launch for a payer token (RFC 8693, checked by the
 * EHR's introspection) and uses it for $questionnaire-package and Claim/$submit; the claim is filed
 * for the organization configured for that EHR. An expired EHR session is said plainly, answers kept.
 */
import request from 'supertest';
import { answersByLinkId } from '../../app/dtr/src/response';
import {
  EHR_ORGANIZATION,
  COVERAGE,
  launchFromCard,
  newPage,
  orderSignLaunchLink,
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


describe('server with SMART_CLIENTS: the app gets its payer token by exchanging the EHR launch', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness('RX-DTR-AUTH-1', { authenticated: true });
  });
  afterAll(async () => h?.close());

  // First: once the request is approved, CRD answers with the authorization on file, no launch card.
  test('an EHR session that expired before the exchange: the payer refuses it, the app says so plainly', async () => {
    const link = await orderSignLaunchLink(h, 'ra-chart-only-partial', 'RX-DTR-AUTH-1');
    const app = await newPage(h);
    const { page } = app;
    // The EHR session ends just as the app asks the payer for its token.
    await page.route(`${h.baseUrl}/auth/token`, async (route) => {
      h.ehr.expireTokens();
      await route.continue();
    });
    const launch = h.ehr.launch({ patient: PATIENT, fhirContext: ['MedicationRequest/medreq-kineret', COVERAGE], ...(link.appContext ? { appContext: link.appContext } : {}) });
    const url = new URL(link.url);
    url.searchParams.set('launch', launch);
    url.searchParams.set('iss', h.ehr.fhirBase);
    await page.goto(url.toString());
    await textOf(page.getByRole('alert'), 'Your EHR session has expired, so the app could not give the questionnaire for this order. Launch the app again from the EHR.', 60_000);
    expect(await page.locator('#formContainer wc-lhc-form').count()).toBe(0);
    expect(app.errors.filter((e) => !/status of 400/.test(e))).toEqual([]);
    await page.close();
  });

  test('package and $submit with an exchanged token: A1, filed for the EHR organization; no token is 401', async () => {
    // The server is closed: the operations the app calls need a token.
    expect((await request(h.server.app).post('/fhir/Questionnaire/$questionnaire-package').send({ resourceType: 'Parameters' })).status).toBe(401);

    const link = await orderSignLaunchLink(h, 'ra-chart-only-partial', 'RX-DTR-AUTH-1');
    const app = await newPage(h);
    const { page } = app;
    const payerCalls: Array<{ path: string; authorized: boolean; status?: number }> = [];
    page.on('request', (r) => {
      const url = new URL(r.url());
      if (url.origin === h.baseUrl && (url.pathname.startsWith('/fhir/') || url.pathname === '/auth/token')) payerCalls.push({ path: url.pathname, authorized: /^Bearer /.test(r.headers().authorization ?? '') });
    });
    await launchFromCard(h, app, link, PATIENT, COVERAGE);
    expect(h.ehr.introspections).toBeGreaterThanOrEqual(1);
    const shown = answersByLinkId((await page.evaluate(() =>
      (globalThis as unknown as { LForms: { Util: { getFormFHIRData: (t: string, v: string, el: string) => unknown } } }).LForms.Util.getFormFHIRData('QuestionnaireResponse', 'R4', 'formContainer'),
    ) as { item?: never[] }).item);
    expect(valueOf(shown.get('mtx-trial-failed')?.[0])).toEqual({ valueBoolean: true });

    await yesNo(page, /adalimumab product/, 'Yes').click();
    await yesNo(page, /Xeljanz/, 'Yes').click();
    await yesNo(page, /Actemra \(tocilizumab\)/, 'Yes').click();
    const box = page.getByRole('textbox', { name: /Baseline CDAI/ });
    await box.fill('32');
    await box.press('Tab');
    // The draft follows the form (as the clinician would see "Draft saved"), then the request goes.
    await until(() => expect(valueOf(answersByLinkId(responsesIn(h.ehr)[0]?.item).get('baseline-cdai')?.[0])).toEqual({ valueDecimal: 32 }));
    await page.getByRole('button', { name: 'Submit prior authorization' }).click();
    const result = page.locator('#result');
    await textOf(result, 'Approved', 60_000).catch(async (error: unknown) => {
      throw new Error(`${(error as Error).message.split('\n')[0]}; the page says: ${await page.locator("#alert").innerText()} ${await page.locator("#status").innerText()} ${await result.innerText()}`);
    });
    await textOf(result, /authorization PA-\d{8}-[A-Z0-9]+/);

    // One exchange, then every payer FHIR call carried the payer token.
    expect(payerCalls.filter((c) => c.path === '/auth/token')).toHaveLength(1);
    const fhirCalls = payerCalls.filter((c) => c.path.startsWith('/fhir/'));
    expect(fhirCalls.map((c) => c.path)).toEqual(expect.arrayContaining(['/fhir/Questionnaire/$questionnaire-package', '/fhir/Claim/$submit']));
    expect(fhirCalls.every((c) => c.authorized)).toBe(true);
    // Filed for the organization configured for this EHR, by the exchanged token's client.
    const filed = await h.server.ctx.store.findClaimsBySubmitter({ submitterKeys: [`${EHR_ORGANIZATION.system}|${EHR_ORGANIZATION.value}`] });
    expect(filed).toHaveLength(1);
    const audit = await h.server.ctx.store.listAudit(50);
    expect(audit.map((a) => a.actor)).toContain(`pa-dtr-app@${h.ehr.fhirBase}`);
    expect(responsesIn(h.ehr).map((qr) => qr.status)).toEqual(['completed']);
    expect(app.errors).toEqual([]);
    await page.close();
  });
});
