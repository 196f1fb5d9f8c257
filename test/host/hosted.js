/** A package for code under test: the copy test/host/environment.js loaded outside the sandbox. */
module.exports = function hosted(name) {
  const host = globalThis.__hostModule;
  if (!host) throw new Error(`${name} is mapped to the host copy, but the jest environment did not provide it (testEnvironment must be test/host/environment.js)`);
  return host(name);
};
