/** `@electric-sql/pglite` for code under test: the copy jest-environment.js loaded outside the sandbox. */
const host = globalThis.__hostPglite;
if (!host) throw new Error('@electric-sql/pglite is mapped to the host copy, but the jest environment did not provide it (testEnvironment must be test/store/jest-environment.js)');
module.exports = host;
