/**
 * Jest's Node environment, plus PGlite loaded by Node itself rather than inside the test sandbox.
 *
 * PGlite's CommonJS build loads Node built-ins with `import()`, which jest's sandbox refuses unless
 * node runs with --experimental-vm-modules. Loaded here (outside the sandbox) it works with a plain
 * `npx jest`, and its compiled WebAssembly is cached for every test file the worker runs.
 * `test/store/pglite-host.js` hands this module to code that imports `@electric-sql/pglite`.
 */
const { TestEnvironment } = require('jest-environment-node');

class PgliteHostEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    Object.defineProperty(this.global, '__hostPglite', {
      get: () => require('@electric-sql/pglite'),
      configurable: true,
    });
  }
}

module.exports = PgliteHostEnvironment;
