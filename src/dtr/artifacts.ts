/**
 * The knowledge artifacts the DTR side publishes, loaded once at start:
 * - every Questionnaire in `questionnaires/`;
 * - every ValueSet in `catalog/valuesets/`;
 * - every CQL library in `cql/` (with its ELM from `dist/elm/<Name>.json`) as a FHIR Library
 *   (CQL IG / SDC library: type logic-library, url, version, unique name, depends-on closure,
 *   dataRequirement from the ELM retrieves, content text/cql + application/elm+json in base64).
 *
 * Loading fails with an `ArtifactLoadError` naming the file when content is inconsistent
 * (duplicate names or canonicals, missing or stale ELM, unresolved includes), so a broken
 * policy never starts serving half a package.
 *
 * Resources handed out are deep-frozen: callers clone before they change anything.
 */
import fs from 'node:fs';
import path from 'node:path';
import type {
  Library,
  Questionnaire,
  QuestionnaireItem,
  RelatedArtifact,
  ValueSet,
  ValueSetExpansion,
  ValueSetExpansionContains,
} from 'fhir/r4';
import { CANONICAL_BASE } from '../config';
import { LIBRARY_TYPE_SYSTEM, SDC_LIBRARY_PROFILE, splitCanonical } from './urls';
import { isRecord } from '../fhir/json';
import { dataRequirementsOf } from '../engine/data-requirements';
import { ArtifactLoadError, listFiles, loadElmFiles, loadValueSetFiles, readJson, type ElmFile, type Knowledge, type ValueSetFile } from '../core/knowledge';
import { deepFreeze } from '../core/freeze';

export interface ArtifactPaths {
  cql: string;
  elm: string;
  valueSets: string;
  questionnaires: string;
}

export interface LoadOptions {
  canonicalBase?: string;
  /** ELM and value sets already read (shared with the engine); read from `paths` when absent. */
  knowledge?: Knowledge;
  /** Time used for generated expansions and as a fallback `lastUpdated`; defaults to now. */
  loadedAt?: Date;
}

export { ArtifactLoadError };

export type ArtifactType = 'Questionnaire' | 'Library' | 'ValueSet';
export type Artifact = Questionnaire | Library | ValueSet;
type ArtifactOf<T extends ArtifactType> = T extends 'Questionnaire' ? Questionnaire : T extends 'Library' ? Library : ValueSet;

/** The parts of an ELM library this module reads. */
export interface ElmLibrary {
  library: {
    identifier: { id: string; version?: string };
    includes?: { def?: ElmInclude[] };
    valueSets?: { def?: { name: string; id: string; version?: string }[] };
    codeSystems?: { def?: { name: string; id: string; version?: string }[] };
    codes?: { def?: { name: string; id: string; display?: string; codeSystem: { name: string; libraryName?: string } }[] };
    concepts?: { def?: { name: string; code: { name: string; libraryName?: string }[] }[] };
    statements?: { def?: { name: string; type?: string }[] };
  };
}

interface ElmInclude {
  localIdentifier: string;
  path: string;
  version?: string;
}

export interface LoadedLibrary {
  name: string;
  version: string;
  resource: Library;
  elm: ElmLibrary;
  /** Names of the libraries this one includes directly. */
  includes: string[];
  /** `url|version` of every ValueSet the ELM declares. */
  valueSets: string[];
  /** Names of the CQL definitions (expressions and functions) the library declares. */
  definitions: string[];
}

export interface ArtifactRepository {
  readonly canonicalBase: string;
  list<T extends ArtifactType>(type: T): readonly ArtifactOf<T>[];
  /** By logical id (Library: also by library name). */
  byId<T extends ArtifactType>(type: T, id: string): ArtifactOf<T> | undefined;
  /** By canonical `url` or `url|version`; without a version, the highest version. */
  byCanonical<T extends ArtifactType>(type: T, canonical: string): ArtifactOf<T> | undefined;
  /** Search by url (optionally `url|version`), version and name. */
  search<T extends ArtifactType>(type: T, criteria: { url?: string; version?: string; name?: string }): ArtifactOf<T>[];
  library(name: string): LoadedLibrary | undefined;
  /** The library and every library it includes, transitively (names, the library first). */
  libraryClosure(name: string): string[];
  /**
   * The ValueSet with an expansion: the stored one, or one computed from an enumerated compose.
   * Undefined when the value set is unknown or cannot be expanded without a terminology server.
   */
  expandValueSet(canonical: string): ValueSet | undefined;
  /** `meta.lastUpdated` of an artifact as a Date. */
  lastUpdated(resource: Artifact): Date;
}

const LIBRARY_DECLARATION = /^\s*library\s+("[^"]+"|[A-Za-z_][A-Za-z0-9_]*)(?:\s+version\s+'([^']+)')?/m;

export function loadArtifacts(paths: ArtifactPaths, options: LoadOptions = {}): ArtifactRepository {
  const base = (options.canonicalBase ?? CANONICAL_BASE).replace(/\/$/, '');
  const loadedAt = options.loadedAt ?? new Date();
  // Without an ELM folder only a policy-free repository loads (each CQL source names its missing ELM).
  const knowledge = options.knowledge ?? { elmFolder: paths.elm, elm: fs.existsSync(paths.elm) ? loadElmFiles(paths.elm) : new Map(), valueSets: loadValueSetFiles(paths.valueSets) };
  const questionnaires = loadQuestionnaires(paths.questionnaires, loadedAt);
  const valueSets = loadValueSets(knowledge.valueSets, loadedAt);
  const libraries = loadLibraries(paths.cql, paths.elm, knowledge.elm, base);
  const pinned = questionnaires.map((q) => pinCanonicals(q, [...libraries.values()].map((l) => l.resource), valueSets));
  return new Repository(base, loadedAt, pinned, valueSets, libraries);
}

/**
 * DTR 2.0.1 (dtr-std-questionnaire; "Canonical references ... SHOULD be version-specific"): the
 * Questionnaire's cqf-library and every answerValueSet name the exact version published here,
 * so a DTR app loads the Library and ValueSet the form was written against.
 */
function pinCanonicals(questionnaire: Questionnaire, libraries: Library[], valueSets: ValueSet[]): Questionnaire {
  const pin = (canonical: string, resources: { url?: string; version?: string }[]): string => {
    if (canonical.includes('|')) return canonical;
    const version = resources.find((r) => r.url === canonical)?.version;
    return version ? `${canonical}|${version}` : canonical;
  };
  const pinItems = (items: QuestionnaireItem[] | undefined): QuestionnaireItem[] | undefined =>
    items?.map((item) => ({
      ...item,
      ...(item.answerValueSet ? { answerValueSet: pin(item.answerValueSet, valueSets) } : {}),
      ...(item.item ? { item: pinItems(item.item) } : {}),
    }));
  const extension = questionnaire.extension?.map((e) =>
    e.url === 'http://hl7.org/fhir/StructureDefinition/cqf-library' && e.valueCanonical ? { ...e, valueCanonical: pin(e.valueCanonical, libraries) } : e,
  );
  return {
    ...questionnaire,
    ...(extension ? { extension } : {}),
    ...(questionnaire.item ? { item: pinItems(questionnaire.item) } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Files

function mtime(file: string): Date {
  return fs.statSync(file).mtime;
}

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;


function withLastUpdated<T extends Artifact>(resource: T, when: Date): T {
  return { ...resource, meta: { ...resource.meta, lastUpdated: resource.meta?.lastUpdated ?? when.toISOString() } };
}

// ---------------------------------------------------------------------------------------------
// Questionnaires and ValueSets

function loadQuestionnaires(dir: string, loadedAt: Date): Questionnaire[] {
  return listFiles(dir, '.json').map((file) => {
    const json = readJson(file);
    if (!isRecord(json) || json.resourceType !== 'Questionnaire') {
      throw new ArtifactLoadError(`${file}: expected a Questionnaire resource`);
    }
    const questionnaire = json as unknown as Questionnaire;
    requireIdAndUrl(file, questionnaire);
    return withLastUpdated(questionnaire, fileTime(file, loadedAt));
  });
}

function loadValueSets(files: readonly ValueSetFile[], loadedAt: Date): ValueSet[] {
  return files.map(({ file, resource }) => {
    requireIdAndUrl(file, resource);
    return withLastUpdated(resource, fileTime(file, loadedAt));
  });
}

function fileTime(file: string, fallback: Date): Date {
  try {
    return mtime(file);
  } catch {
    return fallback;
  }
}

function requireIdAndUrl(file: string, resource: Questionnaire | ValueSet): void {
  if (typeof resource.id !== 'string' || !FHIR_ID.test(resource.id)) {
    throw new ArtifactLoadError(`${file}: ${resource.resourceType}.id is missing or not a valid FHIR id`);
  }
  if (typeof resource.url !== 'string' || resource.url.length === 0) {
    throw new ArtifactLoadError(`${file}: ${resource.resourceType}.url is required (it is the canonical clients use)`);
  }
  if (resource.url.includes('|')) {
    throw new ArtifactLoadError(`${file}: ${resource.resourceType}.url must not carry a version; use .version`);
  }
}

// ---------------------------------------------------------------------------------------------
// Libraries

interface CqlSource {
  name: string;
  version: string;
  file: string;
  text: string;
}

function readCqlSources(dir: string): Map<string, CqlSource> {
  const sources = new Map<string, CqlSource>();
  for (const file of listFiles(dir, '.cql')) {
    const text = fs.readFileSync(file, 'utf8');
    const match = LIBRARY_DECLARATION.exec(text);
    if (!match?.[1]) throw new ArtifactLoadError(`${file}: no "library Name version 'x.y.z'" declaration`);
    const name = match[1].replace(/"/g, '');
    if (!match[2]) {
      throw new ArtifactLoadError(`${file}: library ${name} has no version; DTR needs version-specific Library canonicals`);
    }
    const previous = sources.get(name);
    if (previous) throw new ArtifactLoadError(`${file}: library name ${name} is also declared in ${previous.file}`);
    sources.set(name, { name, version: match[2], file, text });
  }
  return sources;
}

function libraryId(name: string): string {
  const id = name.replace(/[^A-Za-z0-9\-.]/g, '-').slice(0, 64);
  return id.length > 0 ? id : 'library';
}

function loadLibraries(cqlDir: string, elmDir: string, elmFiles: ReadonlyMap<string, ElmFile>, base: string): Map<string, LoadedLibrary> {
  const sources = readCqlSources(cqlDir);
  const parsed = new Map<string, { source: CqlSource; elm: ElmLibrary; elmText: string; elmFile: string }>();
  for (const source of sources.values()) {
    const elmFile = path.join(elmDir, `${source.name}.json`);
    const read = elmFiles.get(source.name);
    if (!read) {
      throw new ArtifactLoadError(`${source.file}: no ELM at ${elmFile}; run \`npm run build:cql\``);
    }
    if (mtime(read.file) < mtime(source.file)) {
      throw new ArtifactLoadError(`${elmFile} is older than ${source.file}; run \`npm run build:cql\``);
    }
    const elmText = read.text;
    const elm = read.json as ElmLibrary;
    const identifier = elm?.library?.identifier;
    if (identifier?.id !== source.name || identifier.version !== source.version) {
      throw new ArtifactLoadError(
        `${elmFile}: ELM is for ${identifier?.id ?? '?'} ${identifier?.version ?? '?'}, source declares ${source.name} ${source.version}; run \`npm run build:cql\``,
      );
    }
    parsed.set(source.name, { source, elm, elmText, elmFile });
  }

  // Every include must be one of our libraries, at the version the source declares.
  for (const { source, elm } of parsed.values()) {
    for (const include of elm.library.includes?.def ?? []) {
      const target = parsed.get(include.path);
      if (!target) throw new ArtifactLoadError(`${source.file}: includes ${include.path}, which is not in ${cqlDir}`);
      if (include.version && include.version !== target.source.version) {
        throw new ArtifactLoadError(
          `${source.file}: includes ${include.path} version ${include.version}, but ${target.source.file} is version ${target.source.version}`,
        );
      }
    }
  }

  const ids = new Map<string, string>();
  const libraries = new Map<string, LoadedLibrary>();
  const closure = (name: string): string[] => transitiveIncludes(name, (n) => (parsed.get(n)?.elm.library.includes?.def ?? []).map((d) => d.path));
  for (const { source, elm, elmText } of parsed.values()) {
    const id = libraryId(source.name);
    const clash = ids.get(id);
    if (clash) throw new ArtifactLoadError(`${source.file}: library ${source.name} maps to Library id ${id}, as does ${clash}`);
    ids.set(id, source.name);

    const dependencies = closure(source.name).slice(1);
    const relatedArtifact: RelatedArtifact[] = dependencies.map((dep) => {
      const target = parsed.get(dep)!.source;
      return { type: 'depends-on', display: `Library ${dep} ${target.version}`, resource: `${base}/Library/${dep}|${target.version}` };
    });
    const dataRequirement = dataRequirementsOf(elm, (n) => parsed.get(n)?.elm);
    const resource: Library = {
      resourceType: 'Library',
      id,
      meta: { profile: [SDC_LIBRARY_PROFILE], lastUpdated: mtime(source.file).toISOString() },
      url: `${base}/Library/${source.name}`,
      version: source.version,
      name: source.name,
      title: source.name,
      status: 'active',
      type: { coding: [{ system: LIBRARY_TYPE_SYSTEM, code: 'logic-library', display: 'Logic Library' }] },
      ...(relatedArtifact.length > 0 ? { relatedArtifact } : {}),
      ...(dataRequirement.length > 0 ? { dataRequirement } : {}),
      content: [
        { contentType: 'text/cql', data: Buffer.from(source.text, 'utf8').toString('base64') },
        { contentType: 'application/elm+json', data: Buffer.from(elmText, 'utf8').toString('base64') },
      ],
    };
    libraries.set(source.name, {
      name: source.name,
      version: source.version,
      resource,
      elm,
      includes: (elm.library.includes?.def ?? []).map((d) => d.path),
      valueSets: (elm.library.valueSets?.def ?? []).map((v) => (v.version ? `${v.id}|${v.version}` : v.id)),
      definitions: (elm.library.statements?.def ?? []).map((d) => d.name),
    });
  }
  return libraries;
}

/** Depth-first closure over includes; the start first, each name once, cycles tolerated. */
function transitiveIncludes(start: string, includesOf: (name: string) => string[]): string[] {
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    for (const next of includesOf(name)) visit(next);
  };
  visit(start);
  return [...seen];
}

// ---------------------------------------------------------------------------------------------
// ValueSet expansion (no terminology server at run time)

function enumeratedExpansion(valueSet: ValueSet, expandById: (canonical: string) => ValueSet | undefined, loadedAt: Date): ValueSetExpansion | undefined {
  const compose = valueSet.compose;
  if (!compose) return undefined;
  const key = (c: { system?: string; code?: string }): string => `${c.system ?? ''}|${c.code ?? ''}`;
  const collect = (includes: NonNullable<ValueSet['compose']>['include']): Map<string, ValueSetExpansionContains> | undefined => {
    const out = new Map<string, ValueSetExpansionContains>();
    for (const include of includes) {
      if (include.filter?.length) return undefined;
      if (include.valueSet?.length) {
        // Imported value sets alone: their union. Combined with a system it would be an intersection.
        if (include.system || include.concept?.length) return undefined;
        for (const imported of include.valueSet) {
          const expansion = expandById(imported)?.expansion;
          if (!expansion) return undefined;
          for (const c of expansion.contains ?? []) out.set(key(c), c);
        }
        continue;
      }
      if (!include.system || !include.concept?.length) return undefined; // a whole code system needs a server
      for (const concept of include.concept) {
        const entry: ValueSetExpansionContains = { system: include.system, code: concept.code };
        if (include.version) entry.version = include.version;
        if (concept.display) entry.display = concept.display;
        out.set(key(entry), entry);
      }
    }
    return out;
  };
  const included = collect(compose.include);
  if (!included) return undefined;
  if (compose.exclude?.length) {
    const excluded = collect(compose.exclude);
    if (!excluded) return undefined;
    for (const k of excluded.keys()) included.delete(k);
  }
  const contains = [...included.values()];
  return { timestamp: loadedAt.toISOString(), total: contains.length, contains };
}

// ---------------------------------------------------------------------------------------------

function compareVersions(a: string | undefined, b: string | undefined): number {
  const pa = (a ?? '').split(/[.-]/);
  const pb = (b ?? '').split(/[.-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i += 1) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const nx = Number(x);
    const ny = Number(y);
    const diff = x !== '' && y !== '' && !Number.isNaN(nx) && !Number.isNaN(ny) ? nx - ny : x.localeCompare(y);
    if (diff !== 0) return diff;
  }
  return 0;
}

class Repository implements ArtifactRepository {
  private readonly byType: { [T in ArtifactType]: ArtifactOf<T>[] };
  private readonly expansions = new Map<ValueSet, ValueSet | null>();

  constructor(
    readonly canonicalBase: string,
    private readonly loadedAt: Date,
    questionnaires: Questionnaire[],
    valueSets: ValueSet[],
    private readonly libraries: Map<string, LoadedLibrary>,
  ) {
    this.byType = {
      Questionnaire: questionnaires,
      ValueSet: valueSets,
      Library: [...libraries.values()].map((l) => l.resource),
    };
    for (const type of ['Questionnaire', 'ValueSet', 'Library'] as const) this.checkUnique(type);
    deepFreeze(this.byType);
    for (const library of libraries.values()) deepFreeze(library);
  }

  private checkUnique(type: ArtifactType): void {
    const ids = new Set<string>();
    const canonicals = new Set<string>();
    for (const resource of this.byType[type]) {
      if (ids.has(resource.id!)) throw new ArtifactLoadError(`two ${type} resources have id ${resource.id}`);
      ids.add(resource.id!);
      const canonical = `${resource.url}|${resource.version ?? ''}`;
      if (canonicals.has(canonical)) {
        throw new ArtifactLoadError(`two ${type} resources have url ${resource.url} and version ${resource.version ?? '(none)'}`);
      }
      canonicals.add(canonical);
    }
  }

  list<T extends ArtifactType>(type: T): readonly ArtifactOf<T>[] {
    return this.byType[type] as ArtifactOf<T>[];
  }

  byId<T extends ArtifactType>(type: T, id: string): ArtifactOf<T> | undefined {
    const list = this.byType[type] as ArtifactOf<T>[];
    return list.find((r) => r.id === id) ?? (type === 'Library' ? (list.find((r) => r.name === id) as ArtifactOf<T> | undefined) : undefined);
  }

  byCanonical<T extends ArtifactType>(type: T, canonical: string): ArtifactOf<T> | undefined {
    const { url, version } = splitCanonical(canonical);
    const matches = this.search(type, version ? { url, version } : { url });
    return matches.sort((a, b) => compareVersions(b.version, a.version))[0];
  }

  search<T extends ArtifactType>(type: T, criteria: { url?: string; version?: string; name?: string }): ArtifactOf<T>[] {
    const fromUrl = criteria.url ? splitCanonical(criteria.url) : undefined;
    const version = criteria.version ?? fromUrl?.version;
    return (this.byType[type] as ArtifactOf<T>[]).filter(
      (r) =>
        (fromUrl === undefined || r.url === fromUrl.url) &&
        (version === undefined || r.version === version) &&
        (criteria.name === undefined || r.name === criteria.name),
    );
  }

  library(name: string): LoadedLibrary | undefined {
    return this.libraries.get(name);
  }

  libraryClosure(name: string): string[] {
    if (!this.libraries.has(name)) return [];
    return transitiveIncludes(name, (n) => this.libraries.get(n)?.includes ?? []);
  }

  expandValueSet(canonical: string): ValueSet | undefined {
    return this.expand(canonical, new Set());
  }

  private expand(canonical: string, visiting: Set<string>): ValueSet | undefined {
    const valueSet = this.byCanonical('ValueSet', canonical);
    if (!valueSet) return undefined;
    const cached = this.expansions.get(valueSet);
    if (cached !== undefined) return cached ?? undefined;
    if (visiting.has(canonical)) return undefined;
    visiting.add(canonical);
    let expanded: ValueSet | null = null;
    if (valueSet.expansion?.contains) {
      expanded = valueSet.expansion.timestamp
        ? valueSet
        : { ...valueSet, expansion: { ...valueSet.expansion, timestamp: this.lastUpdated(valueSet).toISOString() } };
    } else {
      const expansion = enumeratedExpansion(valueSet, (c) => this.expand(c, visiting), this.loadedAt);
      if (expansion) expanded = { ...valueSet, expansion };
    }
    visiting.delete(canonical);
    this.expansions.set(valueSet, expanded ? deepFreeze(expanded) : null);
    return expanded ?? undefined;
  }

  lastUpdated(resource: Artifact): Date {
    const stamp = resource.meta?.lastUpdated;
    return stamp ? new Date(stamp) : this.loadedAt;
  }
}
