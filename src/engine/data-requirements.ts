/**
 * What the policy CQL reads from a patient's record, from the ELM `Retrieve` nodes: one FHIR
 * `DataRequirement` per distinct retrieve (type, profile, code filter). DTR publishes them on each
 * Library; CRD derives its prefetch templates from them (src/crd/discovery.ts), so a new policy
 * library needs no TypeScript for its data to be gathered.
 *
 * Supports: retrieves of FHIR types, code filters by value set (ValueSetRef) or by codes (CodeRef,
 * ConceptRef, lists of them), across included libraries.
 * Does not support: date filters and other retrieve properties (the CQL applies them itself).
 */
import type { Coding, DataRequirement, DataRequirementCodeFilter } from 'fhir/r4';
import type { ValueSetIndex } from '../catalog/terminology';
import { isRecord } from '../fhir/json';

/** The parts of an ELM library a retrieve's code filter refers to. */
export interface ElmTerminology {
  library: {
    includes?: { def?: { localIdentifier: string; path: string }[] };
    valueSets?: { def?: { name: string; id: string; version?: string }[] };
    codeSystems?: { def?: { name: string; id: string; version?: string }[] };
    codes?: { def?: { name: string; id: string; display?: string; codeSystem: { name: string; libraryName?: string } }[] };
    concepts?: { def?: { name: string; code: { name: string; libraryName?: string }[] }[] };
  };
}

const FHIR_NAMESPACE = '{http://hl7.org/fhir}';

export function dataRequirementsOf(elm: ElmTerminology, elmOf: (name: string) => ElmTerminology | undefined): DataRequirement[] {
  const aliases = new Map((elm.library.includes?.def ?? []).map((d) => [d.localIdentifier, d.path]));
  const scope = (libraryName: string | undefined): ElmTerminology | undefined =>
    libraryName === undefined ? elm : elmOf(aliases.get(libraryName) ?? libraryName);

  const found = new Map<string, DataRequirement>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const child of node) visit(child);
      return;
    }
    if (!isRecord(node)) return;
    if (node.type === 'Retrieve' && typeof node.dataType === 'string' && node.dataType.startsWith(FHIR_NAMESPACE)) {
      const requirement: DataRequirement = { type: node.dataType.slice(FHIR_NAMESPACE.length) };
      if (typeof node.templateId === 'string') requirement.profile = [node.templateId];
      const filter = codeFilterOf(node, scope);
      if (filter) requirement.codeFilter = [filter];
      found.set(JSON.stringify(requirement), requirement);
    }
    for (const [key, value] of Object.entries(node)) {
      if (key !== 'annotation') visit(value);
    }
  };
  visit(elm.library);
  return [...found.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, r]) => r);
}
function codeFilterOf(
  retrieve: Record<string, unknown>,
  scope: (libraryName: string | undefined) => ElmTerminology | undefined,
): DataRequirementCodeFilter | undefined {
  const codes = retrieve.codes;
  if (!isRecord(codes)) return undefined;
  const filter: DataRequirementCodeFilter = typeof retrieve.codeProperty === 'string' ? { path: retrieve.codeProperty } : {};
  if (codes.type === 'ValueSetRef' && typeof codes.name === 'string') {
    const owner = scope(typeof codes.libraryName === 'string' ? codes.libraryName : undefined);
    const def = owner?.library.valueSets?.def?.find((v) => v.name === codes.name);
    if (!def) return undefined;
    return { ...filter, valueSet: def.version ? `${def.id}|${def.version}` : def.id };
  }
  const codings = codingsOf(codes, scope);
  return codings.length > 0 ? { ...filter, code: codings } : undefined;
}

/** Codes named by CodeRef / ConceptRef / ToList / List nodes, resolved to Codings. */
function codingsOf(node: Record<string, unknown>, scope: (libraryName: string | undefined) => ElmTerminology | undefined): Coding[] {
  const libraryName = typeof node.libraryName === 'string' ? node.libraryName : undefined;
  switch (node.type) {
    case 'ToList':
      return isRecord(node.operand) ? codingsOf(node.operand, scope) : [];
    case 'List':
      return Array.isArray(node.element) ? node.element.filter(isRecord).flatMap((e) => codingsOf(e, scope)) : [];
    case 'CodeRef': {
      const owner = scope(libraryName);
      const code = owner?.library.codes?.def?.find((c) => c.name === node.name);
      if (!owner || !code) return [];
      const systemOwner = code.codeSystem.libraryName ? scope(code.codeSystem.libraryName) : owner;
      const system = systemOwner?.library.codeSystems?.def?.find((s) => s.name === code.codeSystem.name);
      const coding: Coding = { code: code.id };
      if (system) coding.system = system.id;
      if (system?.version) coding.version = system.version;
      if (code.display) coding.display = code.display;
      return [coding];
    }
    case 'ConceptRef': {
      const owner = scope(libraryName);
      const concept = owner?.library.concepts?.def?.find((c) => c.name === node.name);
      return (concept?.code ?? []).flatMap((ref) =>
        codingsOf({ type: 'CodeRef', name: ref.name, ...(ref.libraryName ? { libraryName: ref.libraryName } : libraryName ? { libraryName } : {}) }, scope),
      );
    }
    default:
      return [];
  }
}


/** What a patient's chart must hold for a set of libraries, one entry per FHIR type. */
export interface ChartRequirement {
  type: string;
  /** Set when every retrieve of the type filters `code` by codes known here: those codes. Unset: every resource of the type. */
  codes?: Pick<Coding, 'system' | 'code'>[];
}

/** The codes a requirement is filtered to on `code`, or undefined when it is not (or by codes unknown here). */
function filterCodes(requirement: DataRequirement, valueSets: ValueSetIndex): Pick<Coding, 'system' | 'code'>[] | undefined {
  const filter = requirement.codeFilter?.[0];
  if (!filter || filter.path !== 'code') return undefined;
  const codes = filter.valueSet ? (valueSets.has(filter.valueSet) ? valueSets.codes(filter.valueSet) : []) : (filter.code ?? []);
  const known = codes.filter((c) => c.code).map((c) => ({ ...(c.system ? { system: c.system } : {}), code: c.code }));
  return known.length > 0 ? known : undefined;
}

const cache = new WeakMap<object, ChartRequirement[]>();

/**
 * The chart requirements of every library in `libraries` (each with the value sets' expansions),
 * sorted by type and code; computed once per library set.
 */
export function chartRequirements(libraries: { libraries: ReadonlyMap<string, { elm: ElmTerminology }> }, valueSets: ValueSetIndex): ChartRequirement[] {
  const cached = cache.get(libraries);
  if (cached) return cached;
  const byType = new Map<string, Map<string, Pick<Coding, 'system' | 'code'>> | null>();
  const elmOf = (name: string) => libraries.libraries.get(name)?.elm;
  for (const { elm } of libraries.libraries.values()) {
    for (const requirement of dataRequirementsOf(elm, elmOf)) {
      const codes = filterCodes(requirement, valueSets);
      const sofar = byType.get(requirement.type);
      if (!codes || sofar === null) {
        byType.set(requirement.type, null);
        continue;
      }
      const merged = sofar ?? new Map();
      for (const c of codes) merged.set(`${c.system ?? ''}|${c.code}`, c);
      byType.set(requirement.type, merged);
    }
  }
  const result = [...byType.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([type, codes]): ChartRequirement =>
      codes ? { type, codes: [...codes.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, c]) => c) } : { type },
    );
  cache.set(libraries, result);
  return result;
}
