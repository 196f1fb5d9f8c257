#!/usr/bin/env node
/**
 * Translates every cql/**\/*.cql to ELM JSON in dist/elm/<LibraryName>.json.
 * `node scripts/build-cql.mjs <cqlDir> <outDir>` does the same for another folder (test fixtures).
 *
 * CQL is source code: a translator error fails the build with file:line:col: message.
 * Uses @cqframework/cql (cql-to-elm) with the System model info it ships, the FHIR 4.0.1
 * model info that cql-exec-fhir ships, and a UCUM service backed by @lhncbc/ucum-lhc so that
 * quantities with units ('mg', 'kg', 'mg/kg/d') are validated at build time.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import {
  CqlCompilerOptions,
  CqlTranslator,
  LibraryManager,
  ModelManager,
  createLibrarySourceProvider,
  createModelInfoProvider,
  createUcumService,
  stringAsSource,
} from '@cqframework/cql/cql-to-elm';
import { SystemModelInfoProvider } from '@cqframework/cql/cql';
import { writeFhirModel } from './fhir-model.mjs';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [cqlArg, outArg] = process.argv.slice(2);
const cqlDir = path.resolve(cqlArg ?? path.join(root, 'cql'));
const outDir = path.resolve(outArg ?? path.join(root, 'dist', 'elm'));

function listCql(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return listCql(full);
    return entry.name.endsWith('.cql') ? [full] : [];
  });
}

/** Reads `library Name version 'x'` from the source; the file name does not have to match. */
function libraryIdentity(file, text) {
  const match = /^\s*library\s+("[^"]+"|[A-Za-z_][A-Za-z0-9_]*)(?:\s+version\s+'([^']+)')?/m.exec(text);
  if (!match) throw new Error(`${path.relative(root, file)}:1:1: no library declaration`);
  return { name: match[1].replace(/"/g, ''), version: match[2] ?? null };
}

const sources = new Map(); // library name -> { file, text, version }
for (const file of listCql(cqlDir)) {
  const text = fs.readFileSync(file, 'utf8');
  const { name, version } = libraryIdentity(file, text);
  if (sources.has(name)) {
    throw new Error(`${path.relative(root, file)}: library ${name} is also declared in ${path.relative(root, sources.get(name).file)}`);
  }
  sources.set(name, { file, text, version });
}

// Skip the translator (~20 s) when no .cql changed: a hash of every source and of the
// translator's version, kept next to the ELM. `--force` rebuilds anyway.
const translatorVersion = JSON.parse(fs.readFileSync(path.join(root, 'node_modules', '@cqframework', 'cql', 'package.json'), 'utf8')).version;
// The script itself is hashed too: a change of translator options must rebuild.
const hash = crypto.createHash('sha256').update(`translator ${translatorVersion}\n`).update(fs.readFileSync(new URL(import.meta.url)));
for (const [name, { text }] of [...sources].sort(([a], [b]) => a.localeCompare(b))) hash.update(`${name}\n${text}\n`);
const digest = hash.digest('hex');
const hashFile = path.join(outDir, '.cql-hash');
const upToDate =
  !process.argv.includes('--force') &&
  fs.existsSync(hashFile) &&
  fs.readFileSync(hashFile, 'utf8').trim() === digest &&
  [...sources.keys()].every((name) => fs.existsSync(path.join(outDir, `${name}.json`)));
if (upToDate) {
  // A checkout may touch a .cql without changing it; the DTR loader rejects ELM older than its source.
  const now = new Date();
  for (const name of sources.keys()) fs.utimesSync(path.join(outDir, `${name}.json`), now, now);
  console.log(`CQL: ${sources.size} libraries unchanged (content hash), ELM in ${path.relative(root, outDir)} kept`);
  writeFhirModel(outDir);
  process.exit(0);
}

const fhirModelInfo = fs.readFileSync(
  path.join(path.dirname(require.resolve('cql-exec-fhir')), 'modelInfos', 'fhir-modelinfo-4.0.1.xml'),
  'utf8',
);

const modelManager = new ModelManager();
modelManager.modelInfoLoader.registerModelInfoProvider(new SystemModelInfoProvider(), true);
modelManager.modelInfoLoader.registerModelInfoProvider(
  createModelInfoProvider((id, _system, version) =>
    id === 'FHIR' && (version == null || version === '4.0.1') ? stringAsSource(fhirModelInfo) : null,
  ),
);

const ucum = require('@lhncbc/ucum-lhc').UcumLhcUtils.getInstance();
const ucumService = createUcumService(
  (value, from, to) => {
    const result = ucum.convertUnitTo(from, Number(value), to);
    if (result.status !== 'succeeded') throw new Error(`cannot convert ${from} to ${to}: ${(result.msg ?? []).join('; ')}`);
    return String(result.toVal);
  },
  (unit) => {
    const result = ucum.validateUnitString(unit, true);
    return result.status === 'valid' ? null : (result.msg ?? []).join('; ') || `invalid UCUM unit '${unit}'`;
  },
  // Quantity arithmetic is evaluated by cql-execution at run time, not folded by the translator.
  () => {
    throw new Error('UCUM multiplication is not used at translation time');
  },
  () => {
    throw new Error('UCUM division is not used at translation time');
  },
);

// The defaults minus EnableAnnotations: annotations bring a localId on every ELM node, and
// cql-execution then records every node's result per evaluation (~15% of its time). Locators
// stay: error messages cite the CQL line. DTR clients execute the published ELM and need neither.
const compilerOptions = new CqlCompilerOptions().withOptions([
  CqlCompilerOptions.Options.EnableLocators,
  CqlCompilerOptions.Options.DisableListDemotion,
  CqlCompilerOptions.Options.DisableListPromotion,
]);
const libraryManager = new LibraryManager(modelManager, compilerOptions, null, ucumService);
libraryManager.librarySourceLoader.registerProvider(
  createLibrarySourceProvider((name) => {
    const source = sources.get(name);
    return source ? stringAsSource(source.text) : null;
  }),
);

fs.mkdirSync(outDir, { recursive: true });
const problems = [];
let built = 0;
for (const [name, { file, text }] of sources) {
  const translator = CqlTranslator.fromText(text, libraryManager);
  const elmJson = translator.toJson();
  const elm = JSON.parse(elmJson);
  // Errors are reported in the ELM annotations with their library and position.
  const errors = (elm.library.annotation ?? []).filter(
    (a) => a.type === 'CqlToElmError' && a.errorSeverity === 'error',
  );
  for (const error of errors) {
    const where = error.libraryId && error.libraryId !== name ? sources.get(error.libraryId)?.file ?? error.libraryId : file;
    problems.push(`${path.relative(root, where)}:${error.startLine ?? 0}:${error.startChar ?? 0}: ${error.message}`);
  }
  if (errors.length === 0) {
    fs.writeFileSync(path.join(outDir, `${name}.json`), elmJson);
    built += 1;
  }
}

if (problems.length > 0) {
  fs.rmSync(hashFile, { force: true });
  for (const line of [...new Set(problems)]) console.error(line);
  console.error(`CQL build failed: ${problems.length} error(s)`);
  process.exit(1);
}
fs.writeFileSync(hashFile, `${digest}\n`);
console.log(`CQL: ${built} librar${built === 1 ? 'y' : 'ies'} translated to ${path.relative(root, outDir)}`);
console.log(`FHIR model info cut to the ${writeFhirModel(outDir)} types the ELM reaches (${path.relative(root, outDir)}/model)`);
