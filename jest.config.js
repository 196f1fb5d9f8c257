/**
 * The product's test suite (`npm test`): needs nothing outside this repository. Two projects:
 * - unit: pure functions and protocol shapes — no CQL evaluation, store, HTTP server or browser;
 * - integration: everything else (policy criteria through the CQL engine, the store on PGlite or
 *   PostgreSQL, the HTTP app, the DTR renderer in Chromium). A new test folder lands here.
 * `npm run test:unit` / `npm run test:integration` run one of them.
 */
const os = require('node:os');
const project = require('./test/jest-project.js');

const UNIT = [
  '**/test/authorization/**/*.test.ts',
  '**/test/catalog/**/*.test.ts',
  '**/test/fhir/parameters.test.ts',
  '**/test/crd/**/*.test.ts',
  '**/test/pas/{context,response,validate,robustness}.test.ts',
  '**/test/dtr/{artifacts,conformance,published,questionnaire-package,resources}.test.ts',
];
const IGNORED = ['/node_modules/', '<rootDir>/test/shared/'];

module.exports = {
  // CQL compiled once per run and the empty PGlite cluster dumped once (test/global-setup.js).
  globalSetup: '<rootDir>/test/global-setup.js',
  globalTeardown: '<rootDir>/test/global-teardown.js',
  // One worker more than the cores: the browser, child-process and delivery-retry suites wait much
  // of their time, and the extra worker keeps every core busy meanwhile (85% use with 2 on 2 cores).
  maxWorkers: os.availableParallelism() + 1,
  // The longest files first, also on a fresh clone without jest's timing cache.
  testSequencer: '<rootDir>/test/sequencer.js',
  testTimeout: 30000,
  // A worker has nothing left to run when jest ends it: 'exit' comes at once, with only jest's IPC
  // pipes active. Node then stops its threads (strace: the main thread joins the spare PGlite
  // thread while that one tears down its isolate and WebAssembly memory), which took 0.3-1.2 s with
  // the other workers doing the same. Past jest's default 500 ms that was a force exit and the
  // "failed to exit gracefully" warning at the end of every full run.
  workerGracefulExitTimeout: 5000,
  projects: [
    { ...project, displayName: 'unit', testMatch: UNIT, testPathIgnorePatterns: IGNORED },
    { ...project, displayName: 'integration', testMatch: ['**/test/**/*.test.ts', ...UNIT.map((glob) => `!${glob}`)], testPathIgnorePatterns: IGNORED },
  ],
};
