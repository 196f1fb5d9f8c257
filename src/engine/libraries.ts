/**
 * The compiled CQL (ELM JSON in dist/elm/, produced by `npm run build:cql`), read once at start
 * (src/core/knowledge.ts). Requests never read or compile CQL.
 */
import { Library, Repository } from 'cql-execution';
import { loadCutFhirModel, loadElmFiles, type CutFhirModel, type ElmFile } from '../core/knowledge';
import { resourceWrapper, type ResourceWrapper } from './data-provider';
import { withoutNeedlessDistinct } from './elm-rewrite';

export interface ElmLibrary {
  name: string;
  version: string | undefined;
  /** Raw ELM JSON, as the translator wrote it. */
  elm: ElmJson;
}

export interface ElmJson {
  library: {
    identifier: { id: string; version?: string };
    includes?: { def?: { localIdentifier: string; path: string; version?: string }[] };
    parameters?: { def?: { name: string }[] };
    valueSets?: { def?: { name: string; id: string }[] };
    statements?: { def?: { name: string; locator?: string; context?: string }[] };
  };
}

export interface LibrarySet {
  readonly libraries: ReadonlyMap<string, ElmLibrary>;
  /** The executable cql-execution Library for a policy library, built once. */
  executable(name: string): Library;
  /** `line:col` where a definition starts, for error messages. */
  locator(name: string, expression: string): string | undefined;
  has(name: string, expression: string): boolean;
  /** Wraps patient resources for these libraries' retrieves (the FHIR model cut to what they reach). */
  readonly wrapper: ResourceWrapper;
}

export function loadLibraries(elmFolder: string): LibrarySet {
  return librariesOf(loadElmFiles(elmFolder), elmFolder, loadCutFhirModel(elmFolder));
}

/** The LibrarySet of ELM files already read (src/core/knowledge.ts), by library name. */
export function librariesOf(files: ReadonlyMap<string, ElmFile>, elmFolder: string, fhirModel?: CutFhirModel): LibrarySet {
  const libraries = new Map<string, ElmLibrary>();
  for (const { json } of files.values()) {
    const elm = json as ElmJson;
    const { id, version } = elm.library.identifier;
    libraries.set(id, { name: id, version, elm });
  }
  return librarySetOf(libraries, (name) => `no ${name}.json in ${elmFolder}`, fhirModel);
}

/**
 * A LibrarySet over ELM already in memory (the DTR app's, from a questionnaire package, uses it
 * too). `missing` says where a library was looked for, for the error; without `fhirModel`, resources
 * are wrapped with the full FHIR model.
 */
export function librarySetOf(libraries: Map<string, ElmLibrary>, missing: (name: string) => string, fhirModel?: CutFhirModel): LibrarySet {
  // What runs is the ELM rewritten for speed (./elm-rewrite); `libraries` keeps it as written. Built
  // on the first evaluation: a thread that never evaluates (the server's main one) never pays for it.
  let runnable: { elm: Map<string, ElmJson>; repository: Repository } | undefined;
  const runnableElm = () => {
    if (!runnable) {
      const elm = new Map([...libraries].map(([name, lib]) => [name, withoutNeedlessDistinct(lib.elm)]));
      runnable = { elm, repository: new Repository(Object.fromEntries(elm)) };
    }
    return runnable;
  };
  const executables = new Map<string, Library>();
  const statement = (name: string, expression: string) =>
    libraries.get(name)?.elm.library.statements?.def?.find((d) => d.name === expression);

  return {
    libraries,
    executable(name) {
      let lib = executables.get(name);
      if (!lib) {
        const { elm, repository } = runnableElm();
        const source = elm.get(name);
        if (!source) throw new Error(`CQL library ${name} is not compiled (${missing(name)})`);
        lib = new Library(source, repository);
        executables.set(name, lib);
      }
      return lib;
    },
    locator: (name, expression) => statement(name, expression)?.locator,
    has: (name, expression) => statement(name, expression) !== undefined,
    wrapper: resourceWrapper(fhirModel),
  };
}
