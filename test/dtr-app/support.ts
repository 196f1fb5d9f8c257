/**
 * Harness for the DTR app tests: the real server (createTestApp) listening on 127.0.0.1 and
 * serving /dtr/, the test EHR (test/support/ehr) holding a CP.PHAR.244 chart and the draft order,
 * a context of the run's headless Chromium (test/support/browser.ts) that reaches only loopback,
 * and helpers that act as the EHR (CRD order-sign, then the SMART launch of the card's link) and
 * as the clinician.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import request from 'supertest';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import type { Bundle, FhirResource, MedicationRequest, Parameters, QuestionnaireResponse, QuestionnaireResponseItemAnswer } from 'fhir/r4';
import { REPO_ROOT, type Config } from '../../src/config';
import type { CdsLink, CdsServiceResponse } from '../../src/crd/types';
import { createTestApp, EVALUATION_DATE, type TestApp } from '../support/app';
import { buildRequest, chartResources, ORDER_NUMBER_SYSTEM } from '../support/crd-requests';
import { startTestEhr, type TestEhr } from '../support/ehr/ehr';
import { smartClients } from '../support/smart-clients';
import { chromiumMissing, openBrowserContext } from '../support/browser';

export const CLIENT_ID = 'pa-dtr-app';

export function missingPrerequisites(): string[] {
  const problems: string[] = [];
  const chromium = chromiumMissing();
  if (chromium) problems.push(chromium);
  for (const file of ['build/dtr-app/app.js', 'build/dtr-app/launch.js', 'build/lforms/webcomponent/lhc-forms.js']) {
    if (!fs.existsSync(path.join(REPO_ROOT, file))) problems.push(`${file} is missing: run \`npm run build:dtr-app\`.`);
  }
  return problems;
}

export interface Harness {
  server: TestApp;
  baseUrl: string;
  ehr: TestEhr;
  browser: BrowserContext;
  close(): Promise<void>;
}

/** The chart the EHR holds: the fixture chart with the draft Kineret order numbered as CRD sees it. */
export function ehrChart(chart: 'ra-chart-only-partial' | 'ra-approvable', orderNumber: string): FhirResource[] {
  return chartResources(chart).map((r) =>
    r.resourceType === 'MedicationRequest' && r.id === 'medreq-kineret' ? { ...(r as MedicationRequest), identifier: [{ use: 'official', system: ORDER_NUMBER_SYSTEM, value: orderNumber }] } : r,
  );
}

/** NPI of the chart's prescribing organization (org-riverside-rheumatology): the EHR submits for it. */
export const EHR_ORGANIZATION = { system: 'http://hl7.org/fhir/sid/us-npi', value: '1826153706' };

/**
 * `authenticated`: the server as deployed, /fhir closed (SMART_CLIENTS set) and the test EHR in
 * DTR_EHRS, so the app must exchange its EHR launch for a payer token.
 */
/** The partial RA chart's member, as the launch context names them. */
export const PATIENT = 'pt-ra-partial';
export const COVERAGE = 'Coverage/cov-pt-ra-partial';

/** The harness on the partial RA chart with the order `orderId`; a clear error when Chromium or the built app is missing. */
export async function openHarness(orderId: string, options: { authenticated?: boolean } = {}): Promise<Harness> {
  const problems = missingPrerequisites();
  if (problems.length > 0) throw new Error(`DTR app test prerequisites missing:\n- ${problems.join('\n- ')}`);
  return startHarness(ehrChart('ra-chart-only-partial', orderId), options);
}

export async function startHarness(chart: FhirResource[], options: { authenticated?: boolean } = {}): Promise<Harness> {
  const ehr = await startTestEhr(chart);
  // The server must know its own URL (card links, the app's payer base) before it is built.
  let handler: http.RequestListener = (_req, res) => res.writeHead(503).end();
  const listener = http.createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
  const auth: Partial<Config> = options.authenticated
    ? {
        smartClients: (await smartClients([['ehr-backend', EHR_ORGANIZATION.value]], 'system/Claim.c system/ClaimResponse.r')).configs,
        dtrEhrs: [
          {
            issuer: ehr.fhirBase,
            introspectionUrl: ehr.introspectionUrl,
            introspectionClientId: ehr.introspection.clientId,
            introspectionClientSecret: ehr.introspection.secret,
            organization: EHR_ORGANIZATION,
          },
        ],
      }
    : {};
  // The evaluation time budget (5 s) guards production; on a loaded test machine it turns criteria into "could not be evaluated".
  const server = await createTestApp({ publicBaseUrl: baseUrl, evaluation: { workers: 0, timeoutMs: 120_000 }, ...auth });
  handler = server.app as unknown as http.RequestListener;
  ehr.registerClient(CLIENT_ID, `${baseUrl}/dtr/`);
  const browser = await openBrowserContext();
  return {
    server,
    baseUrl,
    ehr,
    browser,
    close: async () => {
      await browser.close();
      await ehr.close();
      listener.closeAllConnections();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
      await server.close();
    },
  };
}

/** CRD order-sign for the chart's draft Kineret order; the card with the smart link. */
export async function orderSignLaunchLink(h: Harness, chart: 'ra-chart-only-partial' | 'ra-approvable', orderNumber: string): Promise<CdsLink> {
  const body = buildRequest({ hook: 'order-sign', chart, hookInstance: crypto.randomUUID(), orderNumber }, h.server.ctx.engine);
  const res = await request(h.server.app).post('/cds-services/pa-order-sign').set('content-type', 'application/json').send(body);
  if (res.status !== 200) throw new Error(`order-sign answered ${res.status}: ${JSON.stringify(res.body)}`);
  const link = (res.body as CdsServiceResponse).cards.flatMap((c) => c.links ?? []).find((l) => l.type === 'smart');
  if (!link) throw new Error(`order-sign gave no smart link: ${JSON.stringify((res.body as CdsServiceResponse).cards.map((c) => c.summary))}`);
  return link;
}

export interface OpenedApp {
  page: Page;
  errors: string[];
}

/** A page that records console errors and page errors, with the browser clock at the evaluation date. */
export async function newPage(h: Harness): Promise<OpenedApp> {
  const page = await h.browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console error: ${m.text()}`);
  });
  // The charts are dated for 2026-11-20, as the server's clock in the tests.
  await page.clock.setFixedTime(EVALUATION_DATE);
  return { page, errors };
}

/** The EHR launches the card's link: a launch with the patient, the order and coverage, and the card's appContext. */
export async function launchFromCard(h: Harness, app: OpenedApp, link: CdsLink, patient: string, coverage: string): Promise<void> {
  const launch = h.ehr.launch({ patient, fhirContext: ['MedicationRequest/medreq-kineret', coverage], ...(link.appContext ? { appContext: link.appContext } : {}) });
  const url = new URL(link.url);
  url.searchParams.set('launch', launch);
  url.searchParams.set('iss', h.ehr.fhirBase);
  await app.page.goto(url.toString());
  await formReady(app.page);
}

/** Waits for the form and its first save; on failure says what the page shows (status and alert). */
export async function formReady(page: Page): Promise<void> {
  try {
    await page.waitForSelector('#formContainer wc-lhc-form', { timeout: 60_000 });
    // A DOM wait, not waitForFunction: the app's CSP (script-src 'self') refuses string evaluation.
    await page.locator('#status').filter({ hasText: /saved in the EHR|Not saved/ }).waitFor({ timeout: 60_000 });
  } catch (error) {
    const shown = await page.locator('body').innerText().catch(() => '');
    throw new Error(`The form did not open (${(error as Error).message.split('\n')[0]}). The page shows:\n${shown.slice(0, 2000)}`);
  }
}

/** What the renderer holds now, as a QuestionnaireResponse. */
export async function formResponse(page: Page): Promise<QuestionnaireResponse> {
  return (await page.evaluate(() =>
    (globalThis as unknown as { LForms: { Util: { getFormFHIRData: (t: string, v: string, el: string) => unknown } } }).LForms.Util.getFormFHIRData('QuestionnaireResponse', 'R4', 'formContainer'),
  )) as QuestionnaireResponse;
}

/** The server's own `$populate` for the same chart (data given as a Bundle). */
export async function populateFor(h: Harness, chart: FhirResource[], questionnaireId: string, patient: string): Promise<QuestionnaireResponse> {
  const body: Parameters = {
    resourceType: 'Parameters',
    parameter: [
      { name: 'subject', valueReference: { reference: `Patient/${patient}` } },
      { name: 'context', part: [{ name: 'name', valueString: 'data' }, { name: 'content', resource: { resourceType: 'Bundle', type: 'collection', entry: chart.map((resource) => ({ resource })) } as Bundle }] },
    ],
  };
  const res = await request(h.server.app).post(`/fhir/Questionnaire/${questionnaireId}/$populate`).set('content-type', 'application/fhir+json').send(body);
  if (res.status !== 200) throw new Error(`$populate answered ${res.status}: ${JSON.stringify(res.body)}`);
  return (res.body as Parameters).parameter!.find((p) => p.name === 'response')!.resource as QuestionnaireResponse;
}

/** The Yes/No radio of the question whose label matches. */
export const yesNo = (page: Page, question: RegExp, answer: 'Yes' | 'No'): Locator => page.getByRole('radiogroup', { name: question }).getByRole('radio', { name: answer, exact: true });

export const valueOf = (a: QuestionnaireResponseItemAnswer | undefined): unknown =>
  a?.valueCoding ? { system: a.valueCoding.system, code: a.valueCoding.code } : a && Object.fromEntries(Object.entries(a).filter(([k]) => k.startsWith('value')));

export function responsesIn(ehr: TestEhr): QuestionnaireResponse[] {
  return ehr.resources().filter((r): r is QuestionnaireResponse => r.resourceType === 'QuestionnaireResponse');
}

/** The one QuestionnaireResponse the EHR holds for the order. */
export function onlyResponse(h: Harness): QuestionnaireResponse {
  const all = responsesIn(h.ehr);
  expect(all).toHaveLength(1);
  return all[0]!;
}

/** Runs `check` until it stops throwing (a jest expect inside), or throws its last error after `timeout` ms. */
export async function until(check: () => Promise<void> | void, timeout = 15_000): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Text of an element, once it contains `expected` (string or RegExp); fails with the last text seen. */
export async function textOf(locator: Locator, expected: string | RegExp, timeout = 15_000): Promise<string> {
  let text = '';
  await until(async () => {
    text = (await locator.textContent()) ?? '';
    if (typeof expected === 'string') expect(text).toContain(expected);
    else expect(text).toMatch(expected);
  }, timeout);
  return text;
}
