/**
 * Suites that read ../shared (HL7 IG example instances, Synthea records). Run from .ci/run,
 * where that folder sits beside the clone; never part of `npm test`.
 */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test/shared'],
  testMatch: ['**/*.test.ts'],
  testTimeout: 120000,
};
