/**
 * The policy knowledge on disk, read and parsed once at start-up: the compiled CQL (ELM JSON in
 * dist/elm/) and the catalog's ValueSets. The engine (src/engine) and the DTR artifact repository
 * (src/dtr/artifacts.ts) both build from one `Knowledge`; the engine's worker threads read their
 * own copy in their own isolate.
 *
 * Each file is read once: its text is kept beside the parsed JSON for DTR, which publishes the ELM
 * as it is (Library.content). Nothing here checks more than JSON and resourceType; each consumer
 * checks what it needs (ids and urls for publishing, expansions for the engine).
 *
 * Beside the ELM, `npm run build:cql` writes the FHIR model info cut to the types that ELM reaches
 * (scripts/fhir-model.mjs): the engine wraps resources with it (src/engine/data-provider.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ValueSet } from 'fhir/r4';

export class ArtifactLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArtifactLoadError';
  }
}

export interface ElmFile {
  file: string;
  /** The file's text, as the translator wrote it. */
  text: string;
  /** The parsed ELM (not checked beyond being JSON). */
  json: unknown;
}

export interface ValueSetFile {
  file: string;
  resource: ValueSet;
}

/** cql-exec-fhir's FHIR model info cut to the types some ELM reaches, and the names of those types. */
export interface CutFhirModel {
  types: readonly string[];
  xml: string;
}

export interface Knowledge {
  elmFolder: string;
  /** By file name without `.json` (the translator names each file after its library). */
  elm: ReadonlyMap<string, ElmFile>;
  /** Absent when the ELM folder has none (ELM built elsewhere): the engine then uses the full model. */
  fhirModel?: CutFhirModel;
  /** In file order. */
  valueSets: readonly ValueSetFile[];
}

/** `extension` files under `dir` (sub-folders too when `deep`), sorted; none when `dir` is absent. */
export function listFiles(dir: string, extension: string, deep = true): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return deep ? listFiles(full, extension) : [];
      return entry.name.endsWith(extension) ? [full] : [];
    })
    .sort();
}

function parse(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ArtifactLoadError(`${file}: not valid JSON (${(error as Error).message})`);
  }
}

export function readJson(file: string): unknown {
  return parse(file, fs.readFileSync(file, 'utf8'));
}

export function loadElmFiles(elmFolder: string): Map<string, ElmFile> {
  if (!fs.existsSync(elmFolder)) throw new ArtifactLoadError(`No compiled CQL in ${elmFolder}: run \`npm run build:cql\` first.`);
  const elm = new Map<string, ElmFile>();
  for (const file of listFiles(elmFolder, '.json', false)) {
    const text = fs.readFileSync(file, 'utf8');
    elm.set(path.basename(file, '.json'), { file, text, json: parse(file, text) });
  }
  return elm;
}

export function loadValueSetFiles(folder: string): ValueSetFile[] {
  return listFiles(folder, '.json').map((file) => {
    const json = readJson(file) as { resourceType?: unknown } | null;
    if (json?.resourceType !== 'ValueSet') throw new ArtifactLoadError(`${file}: expected a ValueSet resource`);
    return { file, resource: json as ValueSet };
  });
}

/** `<elmFolder>/model/fhir-modelinfo.json`, when the build wrote one. */
export function loadCutFhirModel(elmFolder: string): CutFhirModel | undefined {
  const file = path.join(elmFolder, 'model', 'fhir-modelinfo.json');
  if (!fs.existsSync(file)) return undefined;
  const json = readJson(file) as Partial<CutFhirModel> | null;
  if (!Array.isArray(json?.types) || !json.types.every((t) => typeof t === 'string') || typeof json.xml !== 'string') {
    throw new ArtifactLoadError(`${file}: expected { types: string[], xml: string } (run \`npm run build:cql\`)`);
  }
  return { types: json.types, xml: json.xml };
}

export function loadKnowledge(paths: { elm: string; valueSets: string }): Knowledge {
  const fhirModel = loadCutFhirModel(paths.elm);
  return { elmFolder: paths.elm, elm: loadElmFiles(paths.elm), valueSets: loadValueSetFiles(paths.valueSets), ...(fhirModel ? { fhirModel } : {}) };
}
