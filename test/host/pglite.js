/** `@electric-sql/pglite` for code under test: the copy test/host/environment.js loaded outside the sandbox. */
const host = globalThis.__hostModule;
if (!host) throw new Error('@electric-sql/pglite is mapped to the host copy, but the jest environment did not provide it (testEnvironment must be test/host/environment.js)');
module.exports = host('@electric-sql/pglite');
