#!/usr/bin/env node
/**
 * Test support: translates every .cql under <cqlDir> to ELM JSON in <outDir>/<LibraryName>.json,
 * the same layout scripts/build-cql.mjs produces for cql/. Used for the test-only fixture libraries
 * under test/dtr/fixtures/cql, which the product build does not compile.
 * Usage: node translate-cql.mjs <cqlDir> <outDir>
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import {
  CqlCompilerOptions,
  CqlTranslator,
  LibraryManager,
  ModelManager,
  createLibrarySourceProvider,
  createModelInfoProvider,
  stringAsSource,
} from '@cqframework/cql/cql-to-elm';
import { SystemModelInfoProvider } from '@cqframework/cql/cql';

const [cqlDir, outDir] = process.argv.slice(2);
if (!cqlDir || !outDir) {
  console.error('usage: translate-cql.mjs <cqlDir> <outDir>');
  process.exit(2);
}
const require = createRequire(import.meta.url);

function listCql(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return listCql(full);
    return entry.name.endsWith('.cql') ? [full] : [];
  });
}

const sources = new Map();
for (const file of listCql(cqlDir)) {
  const text = fs.readFileSync(file, 'utf8');
  const match = /^\s*library\s+("[^"]+"|[A-Za-z_][A-Za-z0-9_]*)/m.exec(text);
  if (!match) throw new Error(`${file}: no library declaration`);
  sources.set(match[1].replace(/"/g, ''), { file, text });
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
const libraryManager = new LibraryManager(modelManager, CqlCompilerOptions.defaultOptions());
libraryManager.librarySourceLoader.registerProvider(
  createLibrarySourceProvider((name) => {
    const source = sources.get(name);
    return source ? stringAsSource(source.text) : null;
  }),
);

fs.mkdirSync(outDir, { recursive: true });
const problems = [];
for (const [name, { file, text }] of sources) {
  const elmJson = CqlTranslator.fromText(text, libraryManager).toJson();
  const errors = (JSON.parse(elmJson).library.annotation ?? []).filter(
    (a) => a.type === 'CqlToElmError' && a.errorSeverity === 'error',
  );
  for (const e of errors) problems.push(`${file}:${e.startLine ?? 0}:${e.startChar ?? 0}: ${e.message}`);
  if (errors.length === 0) fs.writeFileSync(path.join(outDir, `${name}.json`), elmJson);
}
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
