/**
 * jest setup file: in-memory stores load the empty PGlite cluster that test/global-setup.js dumped
 * once for the whole run (about 0.5 s) instead of running initdb in every test file (about 2.5 s),
 * and PGlite's WebAssembly is compiled once per jest worker (test/host/environment.js keeps it).
 */
import fs from 'node:fs';
import { keepCompiledPgliteIn, useEmptyClusterDump } from '../../src/store/sql';

const file = process.env.PA_TEST_PGLITE_TEMPLATE;
if (file) useEmptyClusterDump(() => new Blob([fs.readFileSync(file)]));
keepCompiledPgliteIn((globalThis as unknown as { __hostCache: Record<string, never> }).__hostCache);
