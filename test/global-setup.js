/**
 * Once per jest run, before any suite:
 * - the product CQL and the DTR fixture CQL are compiled (scripts/build-cql.mjs skips the
 *   translator when no .cql changed), so no suite spawns the translator itself;
 * - an empty PGlite cluster is initialised once and dumped to build/test-pglite/, where every
 *   suite's in-memory store loads it (test/support/pglite-template.ts) instead of running initdb;
 * - Chromium starts once for the browser tests (closed by test/global-teardown.js).
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

// The evaluation budget (5 s in production) would turn answers into pends on a loaded test machine;
// suites that test the budget set their own. Workers inherit the variable.
process.env.EVALUATION_TIMEOUT_MS ??= '60000';

const ROOT = path.resolve(__dirname, '..');
/** Where the DTR fixture libraries' ELM goes (test/dtr/support/fixtures.ts reads it). */
const FIXTURE_ELM = path.join(ROOT, 'build', 'test-elm', 'dtr-fixtures');
const PGLITE_DIR = path.join(ROOT, 'build', 'test-pglite');

function buildCql(...args) {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-cql.mjs'), ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
}

async function emptyCluster() {
  const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', '@electric-sql', 'pglite', 'package.json'), 'utf8'));
  const file = path.join(PGLITE_DIR, `empty-${version}.tar`);
  if (!fs.existsSync(file)) {
    const { PGlite } = require('@electric-sql/pglite');
    const seed = await PGlite.create();
    const dump = await seed.dumpDataDir('none');
    await seed.close();
    fs.mkdirSync(PGLITE_DIR, { recursive: true });
    const partial = `${file}.${process.pid}`;
    fs.writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
    fs.renameSync(partial, file);
  }
  return file;
}

/** One Chromium for the run's browser tests (test/support/browser.ts connects to it); none where it is not installed. */
async function startChromium() {
  const { chromiumMissing, launchOptions } = require('./support/browser.ts');
  if (chromiumMissing()) return;
  const { chromium } = require('playwright-core');
  const server = await chromium.launchServer(launchOptions());
  globalThis.__paChromium = server;
  process.env.PA_TEST_CHROMIUM_ENDPOINT = server.wsEndpoint();
}

module.exports = async function globalSetup() {
  buildCql();
  buildCql(path.join(ROOT, 'test', 'dtr', 'fixtures', 'cql'), FIXTURE_ELM);
  // Workers start after this and inherit the environment.
  const [template] = await Promise.all([emptyCluster(), startChromium()]);
  process.env.PA_TEST_PGLITE_TEMPLATE = template;
};
module.exports.FIXTURE_ELM = FIXTURE_ELM;
