/** The product's test suite: needs nothing outside this repository. */
module.exports = {
  preset: 'ts-jest',
  // PGlite must load outside jest's sandbox (see test/store/jest-environment.js).
  testEnvironment: '<rootDir>/test/store/jest-environment.js',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/shared/'],
  // jose 6 and fhir-kit-client 2 ship ESM only: compile them to CommonJS for jest, and point
  // fhir-kit-client (whose exports map has only an "import" condition) at its entry file.
  transform: {
    '^.+\\.ts$': 'ts-jest',
    '^.+\\.js$': ['ts-jest', { tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2022', isolatedModules: true } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(jose|fhir-kit-client)/)'],
  moduleNameMapper: {
    '^fhir-kit-client$': '<rootDir>/node_modules/fhir-kit-client/dist/index.js',
    '^@electric-sql/pglite$': '<rootDir>/test/store/pglite-host.js',
  },
  testTimeout: 30000,
};
