/**
 * What a policy engine is built from (./policy-engine.ts), read from disk once: the ELM, the value
 * sets and the FHIR model cut (src/core/knowledge.ts), and the catalog's policies, validated
 * (src/catalog/load.ts). The main thread reads them before it starts the worker threads, which are
 * given the validated policies and read the rest themselves.
 */
import type { Config } from '../config';
import { loadPolicies } from '../catalog/load';
import { readKnowledgeSources, type EngineSources } from './knowledge-sources';

export function readEngineSources(paths: Pick<Config['paths'], 'elm' | 'valueSets' | 'catalog'>): EngineSources {
  const read = readKnowledgeSources(paths);
  return { ...read, policies: loadPolicies(paths.catalog, read.valueSets) };
}
