/** After the run: the Chromium that test/global-setup.js started. */
module.exports = async function globalTeardown() {
  await globalThis.__paChromium?.close();
};
