/**
 * Suites that read ../shared (HL7 IG example instances, Synthea records). Run from .ci/run,
 * where that folder sits beside the clone; never part of `npm test`.
 */
const project = require('./test/jest-project.js');

module.exports = {
  ...project,
  globalSetup: '<rootDir>/test/global-setup.js',
  globalTeardown: '<rootDir>/test/global-teardown.js',
  roots: ['<rootDir>/test/shared'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 120000,
};
