/**
 * The review workbench in headless Chromium (playwright-core, system Chromium): open the queue,
 * open a pended request, see its open criteria with citations, be refused a deny without a
 * reason, approve, and see the authorization number.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { BrowserContext, Page } from 'playwright-core';
import request from 'supertest';
import { createTestApp, type TestApp } from '../support/app';
import { openBrowserContext } from '../support/browser';
import { pasRequest } from './support';

jest.setTimeout(120_000);

let t: TestApp;
let server: Server;
let base: string;
let context: BrowserContext;
let kineret: string;
let carvykti: string;

async function submitted(bundle: object): Promise<string> {
  const res = await request(t.app).post('/fhir/Claim/$submit').set('Content-Type', 'application/fhir+json').send(bundle);
  expect(res.status).toBe(200);
  return /(?:^|\/)Claim\/([^/]+)$/.exec(res.body.entry[0].resource.request.reference as string)?.[1] ?? '';
}

beforeAll(async () => {
  // The real clock: the workbench computes overdue against the browser's time.
  t = await createTestApp({}, () => new Date());
  kineret = await submitted(pasRequest('kineret'));
  carvykti = await submitted(pasRequest('carvykti'));
  server = t.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  context = await openBrowserContext();
});

afterAll(async () => {
  await context?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await t?.close();
});

async function open(): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (m) => {
    // The refused deny is a 400 the page handles; the browser logs the failed fetch itself.
    if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) errors.push(m.text());
  });
  await page.goto(`${base}/review`);
  await page.fill('#reviewer-name', 'Dr. Lena Ortiz');
  await page.dispatchEvent('#reviewer-name', 'change');
  await page.selectOption('#reviewer-role', 'physician-reviewer');
  return { page, errors };
}

test('queue → pended request → unmet criteria with citations → deny without reason refused → approve', async () => {
  const { page, errors } = await open();

  // The queue, soonest due first: the expedited Carvykti request (72 h) above the standard Kineret one (7 days).
  const rows = page.locator('tbody tr[data-claim]');
  await rows.first().waitFor();
  const order = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-claim')));
  expect(order.indexOf(carvykti)).toBeLessThan(order.indexOf(kineret));
  await expect(page.locator(`tr[data-claim="${carvykti}"]`).textContent()).resolves.toContain('Expedited');

  // One request per screen.
  await page.click(`tr[data-claim="${kineret}"] a`);
  await page.locator('table[aria-label="Policy criteria"]').waitFor();
  const openCitations = await page.locator('tr[data-status="unknown"], tr[data-status="unmet"]').evaluateAll((trs) => trs.map((tr) => tr.querySelector('code')?.textContent));
  expect(openCitations).toEqual(['CP.PHAR.244 I.A.4', 'CP.PHAR.244 I.A.5.a', 'CP.PHAR.244 I.A.5.b', 'CP.PHAR.244 I.A.5.c', 'CP.PHAR.244 I.A.6', 'CP.PHAR.244 I.A.7']);
  // Evidence links open the resource in place.
  await page.click('tr[data-status="met"] .evidence a >> nth=0');
  await expect(page.locator('#resource-panel pre').textContent()).resolves.toContain('"resourceType"');

  // Deny without a reason: refused, with the server's message.
  await page.click('button[aria-controls="action-form"]:has-text("Deny")');
  await page.check('input[name="criteria"][value="CP.PHAR.244 I.A.4"]');
  await page.click('form[data-action="deny"] button[type="submit"]');
  const refusal = page.locator('#action-message .error');
  await refusal.waitFor();
  await expect(refusal.textContent()).resolves.toMatch(/A denial needs a reason/);

  // Approve with the policy's default period.
  await page.click('button[aria-controls="action-form"]:has-text("Approve")');
  await expect(page.inputValue('#period-start')).resolves.toMatch(/^\d{4}-\d{2}-\d{2}$/);
  await page.click('form[data-action="approve"] button[type="submit"]');
  const done = page.locator('#action-message .done');
  await done.waitFor();
  await expect(done.textContent()).resolves.toMatch(/certified.*Authorization PA-/);
  await expect(page.locator('.facts').textContent()).resolves.toContain('Approved');
  await expect(page.locator('ol[aria-label="Review actions"]').textContent()).resolves.toMatch(/approve by Dr\. Lena Ortiz \(Physician reviewer\)/);

  // Back in the queue, the decided request is gone.
  await page.click('a[href="#/"] >> nth=0');
  await page.locator(`tr[data-claim="${carvykti}"]`).waitFor();
  expect(await page.locator(`tr[data-claim="${kineret}"]`).count()).toBe(0);
  expect(errors).toEqual([]);
});

test('a physician reviewer cannot approve a committee drug; the page says why', async () => {
  const { page } = await open();
  await page.goto(`${base}/review#/claims/${carvykti}`);
  await page.locator('form[data-action="approve"]').waitFor();
  await page.click('form[data-action="approve"] button[type="submit"]');
  const refusal = page.locator('#action-message .error');
  await refusal.waitFor();
  await expect(refusal.textContent()).resolves.toMatch(/pharmacy and therapeutics committee; a physician reviewer may not approve it/);
});
