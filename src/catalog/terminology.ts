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
  /** The expansion's codes, for the CQL engine's code service. */
  codes(url: string): Coding[];
}

function stripVersion(url: string): string {
  const bar = url.indexOf('|');
  return bar < 0 ? url : url.slice(0, bar);
}

export function buildValueSetIndex(valueSets: ValueSet[]): ValueSetIndex {
  const byUrl = new Map<string, ValueSet>();
  const members = new Map<string, Set<string>>();
  for (const vs of valueSets) {
    if (!vs.url) throw new Error(`ValueSet ${vs.id ?? '(no id)'} has no url`);
    if (byUrl.has(vs.url)) throw new Error(`ValueSet url ${vs.url} is defined twice`);
    if (!vs.expansion?.contains?.length) throw new Error(`ValueSet ${vs.url} has no expansion`);
    byUrl.set(vs.url, vs);
    members.set(vs.url, new Set(vs.expansion.contains.map((c) => `${c.system}|${c.code}`)));
  }
  return {
    valueSets: byUrl,
    has: (url) => byUrl.has(stripVersion(url)),
    contains: (url, coding) => members.get(stripVersion(url))?.has(`${coding.system}|${coding.code}`) ?? false,
    codes: (url) =>
      (byUrl.get(stripVersion(url))?.expansion?.contains ?? []).map((c) => ({
        ...(c.system ? { system: c.system } : {}),
        ...(c.code ? { code: c.code } : {}),
        ...(c.display ? { display: c.display } : {}),
      })),
  };
}

/** The index of the value sets read with the rest of the knowledge (src/core/knowledge.ts). */
export function valueSetIndexOf(knowledge: Pick<Knowledge, 'valueSets'>): ValueSetIndex {
  return buildValueSetIndex(knowledge.valueSets.map((f) => f.resource));
}

export function loadValueSets(folder: string): ValueSet[] {
  return loadValueSetFiles(folder).map((f) => f.resource);
}
