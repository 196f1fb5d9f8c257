/**
 * The policy comparison (`GET /policies`, docs/policies-compare.*) read in headless Chromium, as a
 * policy author would: one row per indication (matched by diagnosis value set, not by title), each
 * payer's criteria with citations, and the aspects that differ between payers highlighted.
 */
import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { REPO_ROOT } from '../../src/config';
import { renderComparisonHtml, renderComparisonMarkdown } from '../../src/catalog/pages';
import { createTestApp, type TestApp } from '../support/app';
import { openBrowserContext } from '../support/browser';

const RA = 'http://pa.example.org/fhir/ValueSet/rheumatoid-arthritis';
const COVID = 'http://pa.example.org/fhir/ValueSet/covid-19';

let t: TestApp;
let server: Server;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  t = await createTestApp();
  server = t.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  context = await openBrowserContext();
  page = await context.newPage();
  const { port } = server.address() as AddressInfo;
  const response = await page.goto(`http://127.0.0.1:${port}/policies`);
  expect(response?.status()).toBe(200);
}, 60000);

afterAll(async () => {
  await context?.close();
  await new Promise((resolve) => server?.close(resolve));
  await t?.close();
});

/** The text of the cell of `policyId` in the row of `indication` (matched by the column's data-policy). */
async function cell(indication: string, policyId: string): Promise<string> {
  const row = page.locator(`tr[data-indication="${indication}"]`);
  const headers = row.locator('xpath=ancestor::table').locator('tr').first().locator('th');
  const count = await headers.count();
  for (let index = 0; index < count; index++) {
    if ((await headers.nth(index).getAttribute('data-policy')) === policyId) return (await row.locator('xpath=./*').nth(index).textContent()) ?? '';
  }
  return `no column ${policyId}`;
}

test("Molina's moderate to severe RA sits under Rheumatoid arthritis, with its criteria and citations", async () => {
  const rows = await page.locator(`tr[data-indication="${RA}"]`).count();
  expect(rows).toBe(1);
  await expect(page.locator(`tr[data-indication="${RA}"] > th`).textContent()).resolves.toBe('Rheumatoid arthritis');
  // No row of its own for the longer title.
  await expect(page.locator('tr > th', { hasText: /^Moderate to severe rheumatoid arthritis$/ }).count()).resolves.toBe(0);
  for (const policy of ['molina-kineret', 'molina-kineret-tx']) {
    const text = await cell(RA, policy);
    expect(text).not.toContain('not covered by this policy');
    expect(text).toContain('Moderate to severe rheumatoid arthritis');
    expect(text).toContain(`${t.ctx.engine.catalog.get(policy)?.citationPrefix} A.1 Moderate to severe rheumatoid arthritis is documented`);
    expect(text).toMatch(/step therapy: required \(ALL\.3, A\.3\)/);
  }
  for (const policy of ['cp-phar-244', 'nh-phar-244', 'mm-201603']) expect(await cell(RA, policy)).toMatch(/approval: initial: 6 months; continued: 12 months/);
  expect(await cell(RA, 'cp-phar-244')).toContain('CP.PHAR.244 I.A.5.a');
});

test('what differs between payers is highlighted; what is the same is not', async () => {
  const covidReview = page.locator(`tr[data-indication="${COVID}"] li[data-aspect="review"]`);
  await expect(covidReview.count()).resolves.toBe(3);
  await expect(covidReview.first().getAttribute('class')).resolves.toContain('differs');
  type Styles = { getComputedStyle(element: unknown): { backgroundColor: string } };
  const background = await covidReview.first().evaluate((el) => (globalThis as unknown as Styles).getComputedStyle(el).backgroundColor);
  expect(background).toBe('rgb(255, 243, 191)');
  // Every payer that covers RA approves 6 then 12 months: not highlighted.
  await expect(page.locator(`tr[data-indication="${RA}"] li[data-aspect="approval"].differs`).count()).resolves.toBe(0);
  // A payer without the indication says so in its own cell.
  expect(await cell(COVID, 'molina-kineret')).toBe('not covered by this policy');
});

test('docs/policies-compare.{md,html} are what `npm run policies:compare` generates from the catalog', () => {
  const policies = t.ctx.engine.catalog.policies;
  expect(fs.readFileSync(path.join(REPO_ROOT, 'docs', 'policies-compare.md'), 'utf8')).toBe(`${renderComparisonMarkdown(policies)}\n`);
  expect(fs.readFileSync(path.join(REPO_ROOT, 'docs', 'policies-compare.html'), 'utf8')).toBe(renderComparisonHtml(policies));
});
