/**
 * `cql-exec-fhir` for code under test, loaded outside the sandbox (test/host/environment.js).
 * `FHIRWrapper.FHIRv401()` parses the FHIR model info (~250 ms of CPU); the product parses it once
 * per thread (src/engine/data-provider.ts), and here once per jest worker rather than per test file.
 * A FHIRWrapper holds only that parsed model info, so sharing it changes no result.
 */
const lib = require('./hosted')('cql-exec-fhir');
const cache = globalThis.__hostCache;

class FHIRWrapper extends lib.FHIRWrapper {
  static FHIRv401() {
    cache.fhirWrapperR4 ??= lib.FHIRWrapper.FHIRv401();
    return cache.fhirWrapperR4;
  }
}

module.exports = { ...lib, FHIRWrapper };
