/**
 * Suites that read ../shared (HL7 IG example instances, Synthea records). Run from .ci/run,
 * where that folder sits beside the clone; never part of `npm test`.
 */
const base = require('./jest.config.js');

module.exports = {
  ...base,
  roots: ['<rootDir>/test/shared'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 120000,
};
