/** `date-fns` for code under test, loaded outside the sandbox (test/host/environment.js). */
module.exports = require('./hosted')('date-fns');
