/**
 * The order test files start in (jest.config.js `testSequencer`): the longest first, so that no
 * long file starts late and runs alone at the end (2 cores, 3 workers). Jest's own sequencer knows
 * the lengths from its timing cache; on a fresh clone it has none and orders by file size, which
 * starts the small but slow child-process files (test/http/shutdown, test/subscriptions/crash) last.
 * Here a file without a cached time takes its figure from EXPECTED; files in neither come last,
 * largest first. Files that failed last time still come first, as in jest's own.
 */
const path = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;

/**
 * Seconds each file took in one `npm test` on a loaded 2-core machine (only the relative lengths
 * matter): the files of 15 s or more.
 */
const EXPECTED = {
  'test/http/crd.test.ts': 69,
  'test/dtr-app/app.test.ts': 63,
  'test/http/shutdown.test.ts': 59,
  'test/dtr/render.test.ts': 51,
  'test/fhir/consistency.test.ts': 51,
  'test/subscriptions/crash.test.ts': 51,
  'test/fuzz/mutants.test.ts': 41,
  'test/store/store.test.ts': 37,
  'test/review/oidc.test.ts': 33,
  'test/dtr-app/adaptive.test.ts': 32,
  'test/engine/budget.test.ts': 31,
  'test/cp-phar-244/ra-initial.test.ts': 29,
  'test/cp-phar-533/criteria.test.ts': 25,
  'test/dtr-app/authenticated.test.ts': 23,
  'test/http/dtr.test.ts': 22,
  'test/cp-phar-533/decisions.test.ts': 20,
  'test/mm-201603/continuation.test.ts': 19,
  'test/http/ops.test.ts': 18,
  'test/dtr/standalone-package.test.ts': 18,
  'test/review/workbench.test.ts': 18,
  'test/http/structure-checker.test.ts': 18,
  'test/dtr/questionnaire-submit.test.ts': 15,
  'test/http/crd-pas.test.ts': 15,
  'test/http/policies-compare.test.ts': 15,
  'test/review/api.test.ts': 15,
};

class LongestFirst extends Sequencer {
  sort(tests) {
    const size = (test) => test.context.hasteFS.getSize(test.path) ?? 0;
    for (const test of tests) {
      const expected = EXPECTED[path.relative(test.context.config.rootDir, test.path).split(path.sep).join('/')];
      test.duration = this.time(test) ?? (expected === undefined ? undefined : expected * 1000);
    }
    return tests.sort((a, b) => Number(this.hasFailed(b)) - Number(this.hasFailed(a)) || (b.duration ?? 0) - (a.duration ?? 0) || size(b) - size(a));
  }
}

module.exports = LongestFirst;
