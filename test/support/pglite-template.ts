/**
 * jest setup file: in-memory stores load the empty PGlite cluster that test/global-setup.js dumped
 * once for the whole run (about 0.5 s) instead of running initdb in every test file (about 2.5 s);
 * PGlite's WebAssembly is compiled once per jest worker, and a closed in-memory store's database is
 * emptied and reused by the next (test/host/environment.js keeps both for the worker's test files).
 * The server processes that tests spawn preload it too (`--import`): their stores skip initdb as well.
 */
import fs from 'node:fs';
import { shareEmbeddedStoresIn, useEmptyClusterDump } from '../../src/store/sql';

const file = process.env.PA_TEST_PGLITE_TEMPLATE;
if (file) useEmptyClusterDump(() => new Blob([fs.readFileSync(file)]));
// Only in jest: a spawned server has no worker cache to share.
const hostCache = (globalThis as unknown as { __hostCache?: Record<string, never> }).__hostCache;
if (hostCache) shareEmbeddedStoresIn(hostCache);
