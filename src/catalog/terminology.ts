/**
 * The value sets in `catalog/valuesets/`: FHIR ValueSets with expansions, read once (src/core/knowledge.ts).
 * No terminology server at run time: every membership test reads these expansions.
 */
import type { Coding, ValueSet } from 'fhir/r4';
import { loadValueSetFiles, type Knowledge } from '../core/knowledge';

export interface ValueSetIndex {
  /** Every ValueSet, keyed by canonical url (without version). */
  readonly valueSets: ReadonlyMap<string, ValueSet>;
  has(url: string): boolean;
  /** True when the coding (system + code) is in the value set's expansion. */
  contains(url: string, coding: Pick<Coding, 'system' | 'code'>): boolean;
  /** The expansion's codes (system, code, display), built once and frozen: callers copy what they change. */
  codes(url: string): readonly Readonly<Coding>[];
}

function stripVersion(url: string): string {
  const bar = url.indexOf('|');
  return bar < 0 ? url : url.slice(0, bar);
}

export function buildValueSetIndex(valueSets: ValueSet[]): ValueSetIndex {
  const byUrl = new Map<string, ValueSet>();
  const members = new Map<string, Set<string>>();
  // Built here rather than per call: a CRD answer asks for an alternative's first code on every hook.
  const codeLists = new Map<string, readonly Readonly<Coding>[]>();
  for (const vs of valueSets) {
    if (!vs.url) throw new Error(`ValueSet ${vs.id ?? '(no id)'} has no url`);
    if (byUrl.has(vs.url)) throw new Error(`ValueSet url ${vs.url} is defined twice`);
    if (!vs.expansion?.contains?.length) throw new Error(`ValueSet ${vs.url} has no expansion`);
    byUrl.set(vs.url, vs);
    members.set(vs.url, new Set(vs.expansion.contains.map((c) => `${c.system}|${c.code}`)));
    const codes = vs.expansion.contains.map((c) =>
      Object.freeze({ ...(c.system ? { system: c.system } : {}), ...(c.code ? { code: c.code } : {}), ...(c.display ? { display: c.display } : {}) }),
    );
    codeLists.set(vs.url, Object.freeze(codes));
  }
  return {
    valueSets: byUrl,
    has: (url) => byUrl.has(stripVersion(url)),
    contains: (url, coding) => members.get(stripVersion(url))?.has(`${coding.system}|${coding.code}`) ?? false,
    codes: (url) => codeLists.get(stripVersion(url)) ?? [],
  };
}

/** The index of the value sets read with the rest of the knowledge (src/core/knowledge.ts). */
export function valueSetIndexOf(knowledge: Pick<Knowledge, 'valueSets'>): ValueSetIndex {
  return buildValueSetIndex(knowledge.valueSets.map((f) => f.resource));
}

export function loadValueSets(folder: string): ValueSet[] {
  return loadValueSetFiles(folder).map((f) => f.resource);
}
