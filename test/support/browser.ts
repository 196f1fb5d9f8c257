/**
 * Headless Chromium for the browser tests (playwright-core with Debian's Chromium). One Chromium
 * serves the whole test run: test/global-setup.js starts it as a Playwright server, and each
 * caller gets a context of its own (cookies, storage and cache apart, like a new profile). Run
 * outside jest's global setup, a caller launches its own browser.
 */
import fs from 'node:fs';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or nothing. */
export function chromiumMissing(): string | undefined {
  return fs.existsSync(CHROMIUM) ? undefined : `Chromium not found at ${CHROMIUM}: \`apt-get install -y chromium\` (or set CHROMIUM_PATH).`;
}

/** A new context; closing it also lets go of its browser. Only 127.0.0.1 answers: nothing leaves the machine. */
export async function openBrowserContext(options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const missing = chromiumMissing();
  if (missing) throw new Error(missing);
  const endpoint = process.env.PA_TEST_CHROMIUM_ENDPOINT;
  // A connected browser's close() only disconnects: the run's Chromium stays up for the others.
  const browser: Browser = endpoint ? await chromium.connect(endpoint) : await chromium.launch(launchOptions());
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
  const closeContext = context.close.bind(context);
  context.close = async (closeOptions) => {
    await closeContext(closeOptions);
    await browser.close();
  };
  await context.route('**/*', (route) => (new URL(route.request().url()).hostname === '127.0.0.1' ? route.continue() : route.abort()));
  return context;
}

/** How Chromium starts, for test/global-setup.js too. */
export function launchOptions(): { executablePath: string; headless: true; args: string[] } {
  return {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  };
}
