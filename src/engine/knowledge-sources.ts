/**
 * The files a policy engine is built from, read and indexed once: the ELM, the value sets and the
 * FHIR model cut (src/core/knowledge.ts). Reading them needs neither the CQL engine nor the
 * catalog's schema library, so the main thread reads them (./sources.ts) before it loads either,
 * and each worker thread reads them without zod.
 */
import type { Config } from '../config';
import type { PolicyDefinition } from '../catalog/types';
import { valueSetIndexOf, type ValueSetIndex } from '../catalog/terminology';
import { loadKnowledge, type Knowledge } from '../core/knowledge';

/** What an engine is built from: files read once, and the catalog's policies, validated (./sources.ts). */
export interface EngineSources {
  knowledge: Knowledge;
  valueSets: ValueSetIndex;
  policies: readonly PolicyDefinition[];
}

/** The files of EngineSources, read and indexed; the policies come from the catalog (./sources.ts) or, in a worker, from the main thread. */
export function readKnowledgeSources(paths: Pick<Config['paths'], 'elm' | 'valueSets'>): Omit<EngineSources, 'policies'> {
  const knowledge = loadKnowledge(paths);
  return { knowledge, valueSets: valueSetIndexOf(knowledge) };
}
